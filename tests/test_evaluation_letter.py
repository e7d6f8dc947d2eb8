"""The evaluator to the letter of AWS's documentation (issue 15): principals in resource policies,
NotPrincipal, boundaries and session policies against resource policies, KMS across accounts,
variables only after the fifth colon, and plain operators on multi-valued keys.

Rules are numbered as in shared/reference/iam-evaluation.md, extended in
trailmin/policy/evaluate.py's module docstring (R3.9, R6.3, R8.5-R8.8). Each row cites the page it
follows."""

from __future__ import annotations

import pytest

from trailmin.policy.evaluate import OPTIMISTIC, PESSIMISTIC, Layers, Request, evaluate

A = "111122223333"  # the resource's account, unless a row says otherwise
B = "444455556666"
ROLE = f"arn:aws:iam::{A}:role/ops/deploy"  # a path: the session ARN drops it
SESSION = f"arn:aws:sts::{A}:assumed-role/deploy/i-0abc"
OTHER_SESSION = f"arn:aws:sts::{A}:assumed-role/deploy/i-0def"
USER = f"arn:aws:iam::{A}:user/bob"
ALICE = f"arn:aws:iam::{A}:user/alice"
FEDERATED = f"arn:aws:sts::{A}:federated-user/bob-app"
B_ROLE = f"arn:aws:iam::{B}:role/deploy"
B_SESSION = f"arn:aws:sts::{B}:assumed-role/deploy/ci"
B_USER = f"arn:aws:iam::{B}:user/bob"
OBJECT = "arn:aws:s3:::bucket/key"


def statement(effect, principal=None, action="s3:GetObject", resource="*", **extra):
    found = {"Effect": effect, "Action": action, "Resource": resource, **extra}
    if principal is not None:
        found["Principal"] = principal if principal == "*" else {"AWS": principal}
    return found


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


EVERYTHING = policy(statement("Allow", action="*"))
NOTHING = policy()
S3 = policy(statement("Allow", action="s3:*"))
EC2 = policy(statement("Allow", action="ec2:*"))


def decide(
    resource_policy,
    caller,
    *,
    session=None,
    identity=EVERYTHING,
    owner=A,
    boundary=None,
    session_policy=None,
    mode="three-valued",
    action="s3:GetObject",
    resource=OBJECT,
):
    request = Request(action, resource, principal=caller, session=session, resource_account=owner)
    layers = Layers(
        identity=[identity],
        boundaries=[boundary] if boundary is not None else None,
        session=session_policy,
        resource=resource_policy,
    )
    return evaluate(request, layers, mode=mode).decision.value


# --- point 1 (R8.5): a role ARN names the role's sessions, a user ARN the user's federated ones ---
# "AWS JSON policy elements: Principal", IAM role principals: "When they use those session
# credentials to perform operations in AWS, they become a role session principal"; the
# assumed-role ARN is arn:aws:sts::ACCT:assumed-role/role-name/role-session-name (no path).

PRINCIPAL_ROWS = [
    # (principal named, effect, caller, session, identity, owner, expected)
    # a Deny naming the role denies its session, given as the session ARN or as role + session
    (ROLE, "Deny", SESSION, None, EVERYTHING, A, "ExplicitDeny"),
    (ROLE, "Deny", ROLE, SESSION, EVERYTHING, A, "ExplicitDeny"),
    (ROLE, "Deny", ROLE, None, EVERYTHING, A, "ExplicitDeny"),
    (f"arn:aws:iam::{A}:role/audit", "Deny", SESSION, None, EVERYTHING, A, "Allow"),
    (f"arn:aws:iam::{A}:role/Deploy", "Deny", SESSION, None, EVERYTHING, A, "Allow"),  # case
    (f"arn:aws:iam::{B}:role/deploy", "Deny", SESSION, None, EVERYTHING, A, "Allow"),  # account
    # an Allow naming the role allows its session in the same account (no identity policy
    # needed: "How AWS enforcement code logic evaluates requests", resource-based policies)
    (ROLE, "Allow", SESSION, None, NOTHING, A, "Allow"),
    (ROLE, "Allow", ROLE, SESSION, NOTHING, A, "Allow"),
    (f"arn:aws:iam::{A}:role/audit", "Allow", SESSION, None, NOTHING, A, "ImplicitDeny"),
    # a session ARN names that session only
    (SESSION, "Allow", SESSION, None, NOTHING, A, "Allow"),
    (SESSION, "Allow", OTHER_SESSION, None, NOTHING, A, "ImplicitDeny"),
    (SESSION, "Deny", ROLE, OTHER_SESSION, EVERYTHING, A, "Allow"),
    # a role given without its session: a policy naming one of its sessions may be about it
    (SESSION, "Deny", ROLE, None, EVERYTHING, A, "Unknown"),
    # an IAM user ARN names the user and the user's federated sessions (Principal page, "IAM
    # user principals" and "AWS STS federated user session principals")
    (USER, "Deny", USER, None, EVERYTHING, A, "ExplicitDeny"),
    (USER, "Deny", USER, FEDERATED, EVERYTHING, A, "ExplicitDeny"),
    (USER, "Deny", ALICE, None, EVERYTHING, A, "Allow"),
    (USER, "Allow", USER, None, NOTHING, A, "Allow"),
    (FEDERATED, "Deny", USER, FEDERATED, EVERYTHING, A, "ExplicitDeny"),
    (FEDERATED, "Deny", USER, None, EVERYTHING, A, "Allow"),  # bob, not in that session
    # "*" names everyone
    ("*", "Deny", SESSION, None, EVERYTHING, A, "ExplicitDeny"),
    ("*", "Allow", SESSION, None, NOTHING, A, "Allow"),
    # cross-account: both the resource policy and the caller's identity policies must allow
    # ("Cross-account policy evaluation logic"); a Deny naming the caller's role denies
    (B_ROLE, "Allow", B_SESSION, None, EVERYTHING, A, "Allow"),
    (B_ROLE, "Allow", B_SESSION, None, NOTHING, A, "ImplicitDeny"),
    (B_ROLE, "Deny", B_SESSION, None, EVERYTHING, A, "ExplicitDeny"),
    (B_USER, "Allow", B_USER, None, EVERYTHING, A, "Allow"),
    (B_USER, "Allow", f"arn:aws:iam::{B}:user/eve", None, EVERYTHING, A, "ImplicitDeny"),
    (B, "Allow", B_SESSION, None, EVERYTHING, A, "Allow"),  # the account delegates
    (A, "Allow", B_SESSION, None, EVERYTHING, A, "ImplicitDeny"),
]


@pytest.mark.parametrize(
    ("named", "effect", "caller", "session", "identity", "owner", "expected"), PRINCIPAL_ROWS
)
def test_a_role_or_user_arn_names_its_sessions(
    named, effect, caller, session, identity, owner, expected
):
    resource_policy = policy(statement(effect, named, resource="arn:aws:s3:::bucket/*"))
    assert (
        decide(resource_policy, caller, session=session, identity=identity, owner=owner) == expected
    )


def test_an_unknown_session_is_reported_and_ends_by_mode():
    """R8.5, R9: a role given without its session, and a Deny naming one of its sessions."""
    resource_policy = policy(statement("Deny", SESSION))
    request = Request("s3:GetObject", OBJECT, principal=ROLE, resource_account=A)
    result = evaluate(request, Layers(identity=[EVERYTHING], resource=resource_policy))
    assert result.unknown == {("Principal", "aws:userid")}
    assert decide(resource_policy, ROLE, mode=OPTIMISTIC) == "Allow"
    assert decide(resource_policy, ROLE, mode=PESSIMISTIC) == "ExplicitDeny"


# --- point 2 (R8.6): NotPrincipal ---------------------------------------------------------------
# "AWS JSON policy elements: NotPrincipal": with Deny, "explicitly denied to all principals except
# for the ones specified"; "you must also specify the account ARN of the not-denied principal";
# for an assumed-role user "AWS might validate the account first, then the role, and then the
# assumed-role user"; with a permissions boundary attached it "will always deny"; with Allow
# "not supported".

A_ROOT = f"arn:aws:iam::{A}:root"
B_ROOT = f"arn:aws:iam::{B}:root"

NOT_PRINCIPAL_ROWS = [
    # (NotPrincipal AWS list, caller, session, boundary, expected); identity allows everything
    ([USER, A_ROOT], USER, None, None, "Allow"),
    ([USER, A], USER, None, None, "Allow"),  # the account by its id
    ([USER], USER, None, None, "ExplicitDeny"),  # its account is not listed
    ([USER, A_ROOT], ALICE, None, None, "ExplicitDeny"),
    ([A_ROOT], USER, None, None, "ExplicitDeny"),  # the account, but not bob
    ([SESSION, ROLE, A_ROOT], SESSION, None, None, "Allow"),
    ([SESSION, ROLE, A_ROOT], ROLE, SESSION, None, "Allow"),
    ([ROLE, A_ROOT], SESSION, None, None, "ExplicitDeny"),  # the session is not listed
    ([SESSION, A_ROOT], SESSION, None, None, "ExplicitDeny"),  # the role is not listed
    ([SESSION, ROLE], SESSION, None, None, "ExplicitDeny"),  # the account is not listed
    ([SESSION, ROLE, A_ROOT], OTHER_SESSION, None, None, "ExplicitDeny"),
    ([ROLE, A_ROOT], ROLE, None, None, "ExplicitDeny"),  # no session of the role is listed
    ([SESSION, ROLE, A_ROOT], ROLE, None, None, "Unknown"),  # the one listed may be it
    ([FEDERATED, A_ROOT], USER, FEDERATED, None, "Allow"),
    ([USER, A_ROOT], USER, FEDERATED, None, "ExplicitDeny"),  # the federated user is not listed
    (["*"], SESSION, None, None, "Allow"),
    # a boundary attached: denied whatever the list says ("Don't use resource-based policy
    # statements that include a NotPrincipal policy element with a Deny effect for IAM users or
    # roles that have a permissions boundary policy attached")
    ([USER, A_ROOT], USER, None, EVERYTHING, "ExplicitDeny"),
    ([SESSION, ROLE, A_ROOT], SESSION, None, EVERYTHING, "ExplicitDeny"),
    # cross-account: the caller's own account and ARN must be listed
    ([B_USER, B_ROOT], B_USER, None, None, "Allow"),
    ([B_USER], B_USER, None, None, "ExplicitDeny"),
    ([B_SESSION, B_ROLE, B_ROOT], B_SESSION, None, None, "Allow"),
    ([B_SESSION, B_ROOT], B_SESSION, None, None, "ExplicitDeny"),
]


@pytest.mark.parametrize(
    ("listed", "caller", "session", "boundary", "expected"), NOT_PRINCIPAL_ROWS
)
def test_not_principal_with_deny_spares_only_whom_it_lists_fully(
    listed, caller, session, boundary, expected
):
    resource_policy = policy(
        statement("Deny", action="s3:*", NotPrincipal={"AWS": listed}),
        statement("Allow", "*"),  # the grant cross-account callers also need
    )
    assert decide(resource_policy, caller, session=session, boundary=boundary) == expected


@pytest.mark.parametrize(
    ("listed", "caller", "identity", "expected"),
    [
        # "Using it with "Effect":"Allow" is not supported": it grants nothing to whom it lists
        # (the caller, its role or its account) and is unknown for the others (R1.5)
        ([USER], USER, NOTHING, "ImplicitDeny"),
        ([USER], ALICE, NOTHING, "Unknown"),
        ([USER, A_ROOT], ALICE, NOTHING, "ImplicitDeny"),  # alice's account is listed
        ([ROLE], SESSION, NOTHING, "ImplicitDeny"),
        ([USER], ALICE, EVERYTHING, "Allow"),  # the identity policy allows anyway
        ([USER], f"arn:aws:iam::{B}:user/eve", EVERYTHING, "Unknown"),  # cross-account
    ],
)
def test_not_principal_with_allow_is_not_supported(listed, caller, identity, expected):
    resource_policy = policy(statement("Allow", NotPrincipal={"AWS": listed}))
    assert decide(resource_policy, caller, identity=identity) == expected


# --- point 3 (R8.7): what a same-account resource-policy Allow lifts ----------------------------
# "How AWS enforcement code logic evaluates requests to allow or deny access", resource-based
# policies: a grant "directly to the IAM user or the session principal" is not limited by an
# implicit deny in the identity policies, the boundary or the session policy; one to "an IAM role
# ARN" is limited by the boundary and the session policy; one to "the ARN of the IAM user who
# federated" too. Also "Permissions boundaries for IAM entities" and "Session policies"
# ("A resource-based policy can specify the ARN of the session as a principal … The
# resource-based policy permissions are not limited by the session policy").

BOUNDARY_ROWS = [
    # (named, caller, session, identity, boundary, session policy, expected)
    (ROLE, SESSION, None, NOTHING, EC2, None, "ImplicitDeny"),
    (ROLE, ROLE, SESSION, NOTHING, EC2, None, "ImplicitDeny"),
    (ROLE, SESSION, None, NOTHING, S3, None, "Allow"),  # the boundary allows: the role is enough
    (ROLE, SESSION, None, S3, EC2, None, "ImplicitDeny"),
    (ROLE, SESSION, None, NOTHING, None, EC2, "ImplicitDeny"),
    (ROLE, SESSION, None, NOTHING, None, S3, "Allow"),
    (SESSION, SESSION, None, NOTHING, EC2, None, "Allow"),
    (SESSION, ROLE, SESSION, NOTHING, EC2, EC2, "Allow"),
    (SESSION, SESSION, None, NOTHING, None, EC2, "Allow"),
    (USER, USER, None, NOTHING, EC2, None, "Allow"),
    (USER, USER, FEDERATED, NOTHING, None, EC2, "ImplicitDeny"),
    (USER, USER, FEDERATED, NOTHING, EC2, S3, "ImplicitDeny"),
    (USER, USER, FEDERATED, NOTHING, None, S3, "Allow"),
    (FEDERATED, USER, FEDERATED, NOTHING, EC2, EC2, "Allow"),
    ("*", SESSION, None, NOTHING, EC2, EC2, "Allow"),
    (A, SESSION, None, NOTHING, S3, None, "ImplicitDeny"),  # the account delegates
    (A, SESSION, None, S3, S3, None, "Allow"),
    # cross-account nothing stands in: the caller's boundary and session policy apply
    (B_SESSION, B_SESSION, None, S3, EC2, None, "ImplicitDeny"),
    (B_SESSION, B_SESSION, None, S3, None, EC2, "ImplicitDeny"),
    (B_SESSION, B_SESSION, None, S3, S3, S3, "Allow"),
]


@pytest.mark.parametrize(
    ("named", "caller", "session", "identity", "boundary", "session_policy", "expected"),
    BOUNDARY_ROWS,
)
def test_only_a_grant_to_the_session_or_user_lifts_the_boundary_and_session_policy(
    named, caller, session, identity, boundary, session_policy, expected
):
    resource_policy = policy(statement("Allow", named, resource="arn:aws:s3:::bucket/*"))
    found = decide(
        resource_policy,
        caller,
        session=session,
        identity=identity,
        boundary=boundary,
        session_policy=session_policy,
    )
    assert found == expected


def test_an_explicit_deny_in_the_boundary_still_denies_a_session_grant():
    """R8.1: "An explicit deny in any of these policies overrides the allow"."""
    resource_policy = policy(statement("Allow", SESSION))
    boundary = policy(statement("Allow", action="*"), statement("Deny", action="s3:GetObject"))
    assert decide(resource_policy, SESSION, identity=NOTHING, boundary=boundary) == "ExplicitDeny"


# --- point 4 (R8.8): KMS across accounts --------------------------------------------------------
# KMS developer guide, "Allowing users in other accounts to use a KMS key": "the key policy for
# the KMS key must give the external account (or users and roles in the external account)
# permission to use the KMS key" and "IAM policies in the external account must delegate the key
# policy permissions to its users and roles". Within the key's account, "Key policies in AWS
# KMS" / default key policy: the root statement "enables IAM policies".

KEY_B = f"arn:aws:kms:us-east-1:{B}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_A = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
A_SESSION = SESSION
DECRYPT = policy(statement("Allow", action="kms:Decrypt"))


def key_statement(effect, principal, action="kms:Decrypt"):
    return statement(effect, principal, action=action)


KMS_ROWS = [
    # (key, key policy statements, caller, identity, expected)
    # the key in B allows account A; A's principal allowed by its own IAM policy
    (
        KEY_B,
        [key_statement("Allow", B_ROOT, "kms:*"), key_statement("Allow", A_ROOT)],
        A_SESSION,
        DECRYPT,
        "Allow",
    ),
    (KEY_B, [key_statement("Allow", A_ROOT)], A_SESSION, DECRYPT, "Allow"),  # no B root statement
    (KEY_B, [key_statement("Allow", A)], A_SESSION, DECRYPT, "Allow"),
    (KEY_B, [key_statement("Allow", ROLE)], A_SESSION, DECRYPT, "Allow"),
    (KEY_B, [key_statement("Allow", ROLE)], ROLE, DECRYPT, "Allow"),
    (KEY_B, [key_statement("Allow", A_ROOT)], A_SESSION, NOTHING, "ImplicitDeny"),
    (KEY_B, [key_statement("Allow", A_ROOT)], A_SESSION, S3, "ImplicitDeny"),
    (KEY_B, [key_statement("Allow", B_ROOT, "kms:*")], A_SESSION, DECRYPT, "ImplicitDeny"),
    (
        KEY_B,
        [key_statement("Allow", f"arn:aws:iam::{A}:role/audit")],
        A_SESSION,
        DECRYPT,
        "ImplicitDeny",
    ),
    (
        KEY_B,
        [key_statement("Allow", A_ROOT), key_statement("Deny", ROLE)],
        A_SESSION,
        DECRYPT,
        "ExplicitDeny",
    ),
    (KEY_B, [key_statement("Allow", A_ROOT, "kms:Encrypt")], A_SESSION, DECRYPT, "ImplicitDeny"),
    # within the key's account: the root statement enables IAM policies; naming the caller
    # grants without them
    (KEY_A, [key_statement("Allow", A_ROOT, "kms:*")], A_SESSION, DECRYPT, "Allow"),
    (KEY_A, [key_statement("Allow", A_ROOT, "kms:*")], A_SESSION, NOTHING, "ImplicitDeny"),
    (
        KEY_A,
        [key_statement("Allow", f"arn:aws:iam::{A}:role/audit", "kms:*")],
        A_SESSION,
        DECRYPT,
        "ImplicitDeny",
    ),
    (KEY_A, [key_statement("Allow", A_SESSION)], A_SESSION, NOTHING, "Allow"),
    (KEY_A, [key_statement("Allow", ROLE)], A_SESSION, NOTHING, "Allow"),
]


@pytest.mark.parametrize(("key", "statements", "caller", "identity", "expected"), KMS_ROWS)
def test_a_key_policy_allowing_another_account_needs_only_its_iam_policies(
    key, statements, caller, identity, expected
):
    found = decide(
        policy(*statements),
        caller,
        identity=identity,
        owner=None,
        action="kms:Decrypt",
        resource=key,
    )
    assert found == expected


def test_a_cross_account_key_user_is_still_held_by_its_boundary():
    """R8.7, R8.8: cross-account, the caller's own side decides with its boundary."""
    key_policy = policy(key_statement("Allow", A_ROOT))
    found = decide(
        key_policy,
        A_SESSION,
        identity=DECRYPT,
        boundary=EC2,
        owner=None,
        action="kms:Decrypt",
        resource=KEY_B,
    )
    assert found == "ImplicitDeny"


# --- point 5 (R3.9): policy variables only after the fifth colon --------------------------------
# "IAM policy elements: Variables and tags", Resource element: "You can use a policy variable in
# the Resource element, but only in the resource portion of the ARN. This portion of the ARN
# appears after the fifth colon (:). You can't use a variable to replace parts of the ARN before
# the fifth colon, such as the service or account."

CONTEXT = {
    "aws:PrincipalTag/partition": "aws",
    "aws:PrincipalTag/service": "sqs",
    "aws:RequestedRegion": "us-east-1",
    "aws:PrincipalAccount": A,
    "aws:username": "bob",
}
QUEUE = f"arn:aws:sqs:us-east-1:{A}:bob"

VARIABLE_ROWS = [
    # (element, pattern, resource, expected)
    (
        "Resource",
        f"arn:${{aws:PrincipalTag/partition}}:sqs:us-east-1:{A}:bob",
        QUEUE,
        "ImplicitDeny",
    ),
    ("Resource", f"arn:aws:${{aws:PrincipalTag/service}}:us-east-1:{A}:bob", QUEUE, "ImplicitDeny"),
    ("Resource", f"arn:aws:sqs:${{aws:RequestedRegion}}:{A}:bob", QUEUE, "ImplicitDeny"),
    ("Resource", "arn:aws:sqs:us-east-1:${aws:PrincipalAccount}:bob", QUEUE, "ImplicitDeny"),
    ("Resource", "arn:aws:sqs:*:${aws:PrincipalAccount}:*", QUEUE, "ImplicitDeny"),
    # after the fifth colon they are substituted, including a value after a colon of the rest
    ("Resource", f"arn:aws:sqs:us-east-1:{A}:${{aws:username}}", QUEUE, "Allow"),
    ("Resource", f"arn:aws:sqs:*:{A}:${{aws:username}}", QUEUE, "Allow"),
    (
        "Resource",
        f"arn:aws:logs:us-east-1:{A}:log-group:${{aws:username}}:*",
        f"arn:aws:logs:us-east-1:{A}:log-group:bob:log-stream:x",
        "Allow",
    ),
    ("Resource", "arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::home/bob/x", "Allow"),
    # NotResource: a head variable names no real ARN, so everything else is matched
    ("NotResource", "arn:aws:sqs:us-east-1:${aws:PrincipalAccount}:bob", QUEUE, "Allow"),
    ("NotResource", f"arn:aws:sqs:us-east-1:{A}:${{aws:username}}", QUEUE, "ImplicitDeny"),
]


@pytest.mark.parametrize(("element", "pattern", "resource", "expected"), VARIABLE_ROWS)
def test_variables_only_after_the_fifth_colon(element, pattern, resource, expected):
    grant = {"Effect": "Allow", "Action": "*", element: pattern}
    request = Request("sqs:SendMessage", resource, CONTEXT, principal=USER)
    assert evaluate(request, Layers(identity=[policy(grant)])).decision.value == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("arn:aws:sqs:us-east-1:${aws:PrincipalAccount}:*", "Allow"),  # not substituted: no deny
        (f"arn:aws:sqs:us-east-1:{A}:${{aws:username}}", "ExplicitDeny"),
    ],
)
def test_a_deny_with_a_variable_in_the_head_does_not_deny(pattern, expected):
    identity = policy(
        statement("Allow", action="*"), statement("Deny", action="*", resource=pattern)
    )
    request = Request("sqs:SendMessage", QUEUE, CONTEXT, principal=USER)
    assert evaluate(request, Layers(identity=[identity])).decision.value == expected


def test_a_bucket_policy_variable_in_the_key_is_substituted():
    """R3.9 in a resource policy: the object key is the resource part."""
    bucket = policy(statement("Allow", USER, resource="arn:aws:s3:::home/${aws:username}/*"))
    request = Request(
        "s3:GetObject",
        "arn:aws:s3:::home/bob/x",
        {"aws:username": "bob"},
        principal=USER,
        resource_account=A,
    )
    layers = Layers(identity=[NOTHING], resource=bucket)
    assert evaluate(request, layers).decision.value == "Allow"


# --- R6.3: plain operators on multi-valued keys --------------------------------------------------
# "Single-valued vs. multivalued context keys": "Multivalued context keys require a condition set
# operator"; measured: a plain StringEquals on a two-valued aws:CalledVia matches nothing
# (boogy/iam-policy-validator#161). A negated operator is neither documented nor measured.

CALLED_VIA = {"aws:CalledVia": ["athena.amazonaws.com", "glue.amazonaws.com"]}


@pytest.mark.parametrize(
    ("effect", "operator", "value", "expected"),
    [
        ("Allow", "StringEquals", "athena.amazonaws.com", "ImplicitDeny"),
        ("Allow", "StringLike", "*", "ImplicitDeny"),
        ("Allow", "StringEqualsIfExists", "athena.amazonaws.com", "ImplicitDeny"),
        ("Allow", "ForAnyValue:StringEquals", "athena.amazonaws.com", "Allow"),
        ("Deny", "StringEquals", "athena.amazonaws.com", "Allow"),  # the deny does not apply
        ("Deny", "ForAnyValue:StringEquals", "athena.amazonaws.com", "ExplicitDeny"),
        ("Allow", "StringNotEquals", "s3.amazonaws.com", "Unknown"),
        ("Deny", "StringNotEquals", "s3.amazonaws.com", "Unknown"),
    ],
)
def test_a_plain_operator_on_a_multivalued_key(effect, operator, value, expected):
    conditional = {
        "Effect": effect,
        "Action": "*",
        "Resource": "*",
        "Condition": {operator: {"aws:CalledVia": value}},
    }
    statements = (
        [conditional] if effect == "Allow" else [statement("Allow", action="*"), conditional]
    )
    request = Request("s3:GetObject", OBJECT, CALLED_VIA, principal=USER)
    assert evaluate(request, Layers(identity=[policy(*statements)])).decision.value == expected


# --- found by an independent review against the same pages -----------------------------------


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("kms:Decrypt", "Allow"),
        ("kms:GenerateDataKey", "Allow"),
        ("kms:DescribeKey", "Allow"),
        ("kms:CreateGrant", "Allow"),
        ("kms:ScheduleKeyDeletion", "ImplicitDeny"),
        ("kms:PutKeyPolicy", "ImplicitDeny"),
        ("kms:DisableKey", "ImplicitDeny"),
    ],
)
def test_a_key_allows_another_account_only_the_documented_operations(action, expected):
    """R8.8, "Allowing users in other accounts to use a KMS key": "Cross-account permission is
    effective only for the following operations: [the cryptographic operations, CreateGrant,
    DescribeKey, …]"; "if you give … kms:ScheduleKeyDeletion permission … in a key policy, the
    user's attempts to call those operations on your resources still fail"."""
    key_policy = policy(key_statement("Allow", A_ROOT, action="kms:*"))
    found = decide(
        key_policy,
        A_SESSION,
        identity=policy(statement("Allow", action="kms:*")),
        owner=None,
        action=action,
        resource=KEY_B,
    )
    assert found == expected


def test_the_key_account_root_statement_is_read_in_every_partition():
    """R8.4, "Default key policy": the statement naming arn:PARTITION:iam::ACCOUNT:root lets the
    account's IAM policies grant the key, in aws-cn as in aws."""
    key = f"arn:aws-cn:kms:cn-north-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    root = f"arn:aws-cn:iam::{A}:root"
    caller = f"arn:aws-cn:iam::{A}:user/bob"
    enabled = decide(
        policy(key_statement("Allow", root, action="kms:*")),
        caller,
        identity=DECRYPT,
        owner=None,
        action="kms:Decrypt",
        resource=key,
    )
    assert enabled == "Allow"
    not_enabled = decide(
        policy(key_statement("Allow", f"arn:aws-cn:iam::{A}:user/alice")),
        caller,
        identity=DECRYPT,
        owner=None,
        action="kms:Decrypt",
        resource=key,
    )
    assert not_enabled == "ImplicitDeny"


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ({}, "Allow"),  # no policy at all: the root user has full access
        ({"scps": [[policy(statement("Allow", action="ec2:*"))]]}, "ImplicitDeny"),
        ({"identity": [policy(statement("Deny", action="s3:*"))]}, "ExplicitDeny"),
    ],
)
def test_the_root_user_needs_no_identity_policy(layers, expected):
    """R8.9, "How AWS enforcement code logic evaluates requests": "all requests are implicitly
    denied with the exception of the AWS account root user, which has full access"; SCPs and
    explicit denies still apply."""
    request = Request("s3:GetObject", OBJECT, principal=A_ROOT, resource_account=A)
    found = evaluate(
        request, Layers(identity=layers.get("identity", []), scps=layers.get("scps", []))
    )
    assert found.decision.value == expected


def test_a_service_linked_roles_session_is_exempt_from_scps():
    """R8.10, SCPs "don't affect service-linked roles": CloudTrail records their sessions as
    assumed-role/AWSServiceRoleFor…, which are exempt like the role."""
    deny_all = [[policy(statement("Deny", action="*"))]]
    for caller in (
        f"arn:aws:iam::{A}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
        f"arn:aws:sts::{A}:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling",
    ):
        request = Request("ec2:RunInstances", "*", principal=caller)
        found = evaluate(request, Layers(identity=[EVERYTHING], scps=deny_all))
        assert found.decision.value == "Allow", caller
    request = Request("ec2:RunInstances", "*", principal=SESSION)
    assert evaluate(request, Layers(identity=[EVERYTHING], scps=deny_all)).decision.value == (
        "ExplicitDeny"
    )
