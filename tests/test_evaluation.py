"""The evaluator against the reference cases (iam-eval-cases.json) and the spec's rules."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ROOT
from trailmin.policy.evaluate import (
    OPTIMISTIC,
    PESSIMISTIC,
    Decision,
    Layers,
    Request,
    evaluate,
    match_action,
)

CASES = json.loads((ROOT.parent / "shared" / "reference" / "iam-eval-cases.json").read_text())


def layers_of(case: dict) -> Layers:
    return Layers(
        identity=case["policy"],
        boundaries=case.get("permission_boundaries"),
        session=case.get("session_policy"),
        scps=case.get("scps", ()),
    )


def request_of(case: dict) -> Request:
    return Request(
        action=case["action"],
        resource=case["resource"],
        context=case.get("context", {}),
        principal=case.get("principal"),
    )


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reference_case(case):
    result = evaluate(request_of(case), layers_of(case))
    if result.decision is Decision.UNKNOWN:
        # R6.3: a multi-valued key without a set operator is unknown; the case, marked low
        # confidence, records iam-simulate's answer, which is the pessimistic one.
        assert case.get("confidence") == "low", result
        result = evaluate(request_of(case), layers_of(case), mode=PESSIMISTIC)
    assert result.decision.value == case["expected"], case.get("notes")


# --- the rules, one by one -----------------------------------------------------------------------

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"


def allow(action="*", resource="*", condition=None, **extra):
    statement = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    if condition:
        statement["Condition"] = condition
    return statement


def deny(action="*", resource="*", condition=None, **extra):
    statement = allow(action, resource, condition, **extra)
    statement["Effect"] = "Deny"
    return statement


def policy(*statements, version="2012-10-17"):
    return {"Version": version, "Statement": list(statements)}


def decide(statements, action, resource="*", context=None, mode="three-valued", **options):
    layers = Layers(identity=[policy(*statements)], **options.pop("layers", {}))
    request = Request(
        action, resource, context or {}, principal=options.pop("principal", ROLE), **options
    )
    return evaluate(request, layers, mode=mode).decision.value


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("*", "s3:GetObject", True),
        ("s3:*", "s3:GetObject", True),
        ("S3:getobject", "s3:GetObject", True),  # R2.3, R2.4
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:Get?", "s3:GetObject", False),
        ("s3:Get*Acl", "s3:GetObjectAcl", True),
        ("s3:", "s3:GetObject", False),  # R2.5
        (" s3:GetObject", "s3:GetObject", False),
        ("s3:GetObject ", "s3:GetObject", False),
        ("s3:GetObject,PutObject", "s3:GetObject", False),
        ("s3", "s3:GetObject", False),  # R2.2
        ("s3:Get.bject", "s3:GetObject", False),  # R4: "." is literal
        ("ec2:*", "s3:GetObject", False),
    ],
)
def test_action_matching(pattern, action, expected):
    assert match_action(pattern, action) is expected


@pytest.mark.parametrize(
    ("statements", "action", "resource", "expected"),
    [
        # R2.6 NotAction
        ([allow(NotAction="iam:*", action=None)], "s3:GetObject", "*", "Allow"),
        ([allow(NotAction="iam:*", action=None)], "iam:GetRole", "*", "ImplicitDeny"),
        # R3.1, R3.2
        ([allow("s3:ListAllMyBuckets", "*")], "s3:ListAllMyBuckets", "*", "Allow"),
        (
            [allow("s3:ListAllMyBuckets", "arn:aws:s3:::*")],
            "s3:ListAllMyBuckets",
            "*",
            "ImplicitDeny",
        ),
        ([allow(), deny("s3:*", "arn:aws:s3:::b")], "s3:ListAllMyBuckets", "*", "Allow"),
        (
            [allow("s3:*", NotResource="arn:aws:s3:::b", resource=None)],
            "s3:ListAllMyBuckets",
            "*",
            "Allow",
        ),
        # R3.4 a short pattern in an identity policy is padded with "*"
        ([allow("s3:*", "arn:aws:s3")], "s3:GetObject", "arn:aws:s3:::b/k", "Allow"),
        # R3.5 segments: globs do not cross a colon; case-insensitive
        (
            [allow("sqs:*", "arn:aws:sqs:*:123456789012:q")],
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:123456789012:q",
            "Allow",
        ),
        (
            [allow("sqs:*", "arn:aws:sqs:us-*:123456789012:q")],
            "sqs:SendMessage",
            "arn:aws:sqs:eu-west-1:123456789012:q",
            "ImplicitDeny",
        ),
        (
            [allow("sqs:*", "arn:AWS:SQS:us-east-1:123456789012:q")],
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:123456789012:q",
            "Allow",
        ),
        # R3.6 the rest: case-sensitive, "*" spans "/" and ":", "?" one character
        (
            [allow("s3:*", "arn:aws:s3:::b/reports/*")],
            "s3:GetObject",
            "arn:aws:s3:::b/Reports/x",
            "ImplicitDeny",
        ),
        ([allow("s3:*", "arn:aws:s3:::b/*")], "s3:GetObject", "arn:aws:s3:::b/a:b/c", "Allow"),
        ([allow("s3:*", "arn:aws:s3:::b/?")], "s3:GetObject", "arn:aws:s3:::b/xy", "ImplicitDeny"),
        (
            [allow("s3:*", "arn:aws:s3:::b/k.txt")],
            "s3:GetObject",
            "arn:aws:s3:::b/kxtxt",
            "ImplicitDeny",
        ),
        (
            [allow("logs:*", "arn:aws:logs:us-east-1:123456789012:log-group:g:*")],
            "logs:PutLogEvents",
            "arn:aws:logs:us-east-1:123456789012:log-group:g:log-stream:s",
            "Allow",
        ),
        # R7.2 statement order never matters; a Deny wins
        ([deny("s3:GetObject"), allow()], "s3:GetObject", "arn:aws:s3:::b/k", "ExplicitDeny"),
        ([allow(), deny("s3:GetObject")], "s3:GetObject", "arn:aws:s3:::b/k", "ExplicitDeny"),
        # no statement at all
        ([], "s3:GetObject", "arn:aws:s3:::b/k", "ImplicitDeny"),
    ],
)
def test_statements(statements, action, resource, expected):
    for statement in statements:
        if statement.get("Action") is None:
            statement.pop("Action")
        if statement.get("Resource") is None:
            statement.pop("Resource")
    assert decide(statements, action, resource) == expected


@pytest.mark.parametrize(
    ("resource_pattern", "version", "context", "resource", "expected"),
    [
        (
            "arn:aws:s3:::home/${aws:username}/*",
            "2012-10-17",
            {"aws:username": "bob"},
            "arn:aws:s3:::home/bob/x",
            "Allow",
        ),
        (
            "arn:aws:s3:::home/${aws:username}/*",
            "2012-10-17",
            {"aws:username": "bob"},
            "arn:aws:s3:::home/eve/x",
            "ImplicitDeny",
        ),
        (
            "arn:aws:s3:::home/${AWS:UserName}/*",
            "2012-10-17",
            {"aws:username": "bob"},
            "arn:aws:s3:::home/bob/x",
            "Allow",
        ),
        # R5.2 absent or multi-valued: the entry matches nothing (not the empty string)
        (
            "arn:aws:s3:::home/${aws:username}*",
            "2012-10-17",
            {},
            "arn:aws:s3:::home/x",
            "ImplicitDeny",
        ),
        (
            "arn:aws:s3:::t/${aws:TagKeys}",
            "2012-10-17",
            {"aws:TagKeys": ["a", "b"]},
            "arn:aws:s3:::t/a",
            "ImplicitDeny",
        ),
        # R5.1 a default
        (
            "arn:aws:s3:::t/${aws:PrincipalTag/team, 'none'}/*",
            "2012-10-17",
            {},
            "arn:aws:s3:::t/none/x",
            "Allow",
        ),
        # R5.3 ${*} is a literal "*"
        ("arn:aws:s3:::b/${*}", "2012-10-17", {}, "arn:aws:s3:::b/*", "Allow"),
        ("arn:aws:s3:::b/${*}", "2012-10-17", {}, "arn:aws:s3:::b/x", "ImplicitDeny"),
        # R5.4 a substituted value is literal
        (
            "arn:aws:s3:::home/${aws:username}/x",
            "2012-10-17",
            {"aws:username": "*"},
            "arn:aws:s3:::home/bob/x",
            "ImplicitDeny",
        ),
        # R1.3 without Version 2012-10-17, ${...} is text
        (
            "arn:aws:s3:::home/${aws:username}/x",
            "2008-10-17",
            {"aws:username": "bob"},
            "arn:aws:s3:::home/bob/x",
            "ImplicitDeny",
        ),
        (
            "arn:aws:s3:::home/${aws:username}/x",
            "2008-10-17",
            {},
            "arn:aws:s3:::home/${aws:username}/x",
            "Allow",
        ),
    ],
)
def test_policy_variables(resource_pattern, version, context, resource, expected):
    layers = Layers(identity=[policy(allow("s3:*", resource_pattern), version=version)])
    result = evaluate(Request("s3:GetObject", resource, context, principal=ROLE), layers)
    assert result.decision.value == expected


def cond(operator, key, values, context, expected, action="s3:ListAllMyBuckets"):
    return (operator, key, values, context, expected, action)


CONDITIONS = [
    # R6.1 an absent key
    cond("StringEquals", "aws:username", "bob", {}, "ImplicitDeny"),
    cond("StringEqualsIfExists", "aws:username", "bob", {}, "Allow"),
    cond("StringNotEquals", "aws:username", "bob", {}, "Allow"),
    cond("StringNotLike", "aws:username", "b*", {}, "Allow"),
    cond("NumericNotEquals", "s3:max-keys", "5", {}, "Allow"),
    cond("ArnNotLike", "aws:SourceArn", "arn:aws:sns:*:*:t", {}, "Allow"),
    cond("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", {}, "Allow"),
    cond("ForAllValues:StringEquals", "aws:TagKeys", ["a"], {}, "Allow"),
    cond("ForAnyValue:StringEquals", "aws:TagKeys", ["a"], {}, "ImplicitDeny"),
    cond("ForAnyValue:StringNotEquals", "aws:TagKeys", ["a"], {}, "ImplicitDeny"),
    cond("ForAllValues:StringEquals", "aws:TagKeys", ["a"], {"aws:TagKeys": []}, "Allow"),
    cond("Null", "aws:TokenIssueTime", "true", {}, "Allow"),
    cond("Null", "aws:TokenIssueTime", "false", {}, "ImplicitDeny"),
    cond(
        "Null",
        "aws:TokenIssueTime",
        "false",
        {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"},
        "Allow",
    ),
    cond("Bool", "aws:MultiFactorAuthPresent", "true", {}, "ImplicitDeny"),
    cond("BoolIfExists", "aws:MultiFactorAuthPresent", "true", {}, "Allow"),
    # R6.2 single values: any policy value (OR); negated: none (AND)
    cond("StringEquals", "aws:username", ["alice", "bob"], {"aws:username": "bob"}, "Allow"),
    cond(
        "StringNotEquals", "aws:username", ["alice", "bob"], {"aws:username": "bob"}, "ImplicitDeny"
    ),
    cond("StringNotEquals", "aws:username", ["alice", "bob"], {"aws:username": "eve"}, "Allow"),
    cond("StringEquals", "aws:username", "Bob", {"aws:username": "bob"}, "ImplicitDeny"),
    cond("StringEqualsIgnoreCase", "aws:username", "BOB", {"aws:username": "bob"}, "Allow"),
    cond("StringEqualsIgnoreCase", "aws:username", "ss", {"aws:username": "ß"}, "ImplicitDeny"),
    cond("StringLike", "s3:prefix", "home/*", {"s3:prefix": "home/a/b"}, "Allow"),
    cond("StringLike", "s3:prefix", "home/?", {"s3:prefix": "home/ab"}, "ImplicitDeny"),
    cond("StringLike", "s3:prefix", "Home/*", {"s3:prefix": "home/a"}, "ImplicitDeny"),
    cond("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": "9.5"}, "Allow"),
    cond("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": "10"}, "ImplicitDeny"),
    cond("NumericLessThanEquals", "s3:max-keys", "10", {"s3:max-keys": "10"}, "Allow"),
    cond("NumericEquals", "s3:max-keys", "10", {"s3:max-keys": "ten"}, "ImplicitDeny"),
    cond("NumericGreaterThan", "s3:max-keys", "1e1", {"s3:max-keys": "11"}, "Allow"),
    cond(
        "DateGreaterThan",
        "aws:CurrentTime",
        "2020-01-01T00:00:00Z",
        {"aws:CurrentTime": "2020-01-01T00:00:01+00:00"},
        "Allow",
    ),
    cond(
        "DateLessThan",
        "aws:CurrentTime",
        "2020-01-01T01:00:00+01:00",
        {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
        "ImplicitDeny",
    ),
    cond(
        "DateLessThan",
        "aws:CurrentTime",
        "1577836800",
        {"aws:CurrentTime": "2019-12-31T23:59:59Z"},
        "Allow",
    ),
    cond(
        "DateEquals",
        "aws:CurrentTime",
        "2020-01-01",
        {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
        "Allow",
    ),
    cond(
        "DateEquals",
        "aws:CurrentTime",
        "not a date",
        {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
        "ImplicitDeny",
    ),
    cond("Bool", "aws:SecureTransport", "TRUE", {"aws:SecureTransport": "true"}, "Allow"),
    cond("Bool", "aws:SecureTransport", "yes", {"aws:SecureTransport": "yes"}, "ImplicitDeny"),
    cond("Bool", "aws:SecureTransport", True, {"aws:SecureTransport": "true"}, "Allow"),
    cond("BinaryEquals", "k:bin", "QmluYXJ5VmFsdWU=", {"k:bin": "QmluYXJ5VmFsdWU="}, "Allow"),
    cond("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "203.0.113.9"}, "Allow"),
    cond("IpAddress", "aws:SourceIp", "203.0.113.9", {"aws:SourceIp": "203.0.113.9"}, "Allow"),
    cond(
        "IpAddress", "aws:SourceIp", "203.0.113.9", {"aws:SourceIp": "203.0.113.8"}, "ImplicitDeny"
    ),
    cond("IpAddress", "aws:SourceIp", "2001:db8::/32", {"aws:SourceIp": "2001:db8::1"}, "Allow"),
    cond(
        "IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "not-an-ip"}, "ImplicitDeny"
    ),
    cond(
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:sns:*:123456789012:t-*",
        {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:t-1"},
        "Allow",
    ),
    cond(
        "ArnEquals",
        "aws:SourceArn",
        "arn:aws:sns:*:123456789012:t-*",
        {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:t-1"},
        "Allow",
    ),
    cond(
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:sns:*:123456789012:t",
        {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:T"},
        "ImplicitDeny",
    ),
    cond(
        "StringLike",
        "aws:userid",
        "*:${aws:username}",
        {"aws:userid": "AIDA:bob", "aws:username": "bob"},
        "Allow",
    ),
    cond(
        "NumericEquals",
        "s3:max-keys",
        "${aws:username}",
        {"s3:max-keys": "5", "aws:username": "5"},
        "ImplicitDeny",
    ),
    # R6.4 set operators
    cond("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], {"aws:TagKeys": ["a"]}, "Allow"),
    cond(
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        ["a", "b"],
        {"aws:TagKeys": ["a", "c"]},
        "ImplicitDeny",
    ),
    cond(
        "ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"], {"aws:TagKeys": ["c", "b"]}, "Allow"
    ),
    cond(
        "ForAnyValue:StringLike",
        "aws:TagKeys",
        ["x-*"],
        {"aws:TagKeys": ["c", "d"]},
        "ImplicitDeny",
    ),
    cond(
        "ForAllValues:StringNotEquals",
        "aws:TagKeys",
        ["secret"],
        {"aws:TagKeys": ["a", "b"]},
        "Allow",
    ),
    # R6.3 several values without a set operator: a positive operator matches nothing (measured,
    # boogy/iam-policy-validator#161); a negated one is unknown (neither documented nor measured)
    cond("StringEquals", "aws:TagKeys", "a", {"aws:TagKeys": ["a", "b"]}, "ImplicitDeny"),
    cond("StringNotEquals", "aws:TagKeys", "c", {"aws:TagKeys": ["a", "b"]}, "Unknown"),
    # R1.5 an unknown operator: unknown, never false
    cond("StringEqualz", "aws:username", "bob", {"aws:username": "bob"}, "Unknown"),
    cond("stringEquals", "aws:username", "bob", {"aws:username": "bob"}, "Unknown"),
]


@pytest.mark.parametrize(("operator", "key", "values", "context", "expected", "action"), CONDITIONS)
def test_conditions(operator, key, values, context, expected, action):
    statement = allow(action, "*", {operator: {key: values}})
    assert decide([statement], action, "*", context) == expected


def test_condition_keys_are_case_insensitive_and_pairs_are_anded():
    both = {"StringEquals": {"AWS:UserName": "bob"}, "Bool": {"aws:SecureTransport": "true"}}
    assert (
        decide(
            [allow(condition=both)],
            "s3:ListAllMyBuckets",
            "*",
            {"aws:username": "bob", "aws:securetransport": "true"},
        )
        == "Allow"
    )
    assert (
        decide(
            [allow(condition=both)],
            "s3:ListAllMyBuckets",
            "*",
            {"aws:username": "bob", "aws:securetransport": "false"},
        )
        == "ImplicitDeny"
    )


def test_an_unknown_operator_on_a_deny_is_never_an_allow():
    statements = [allow(), deny(condition={"StringEqualz": {"aws:username": "bob"}})]
    assert decide(statements, "s3:ListAllMyBuckets", "*", {"aws:username": "bob"}) == "Unknown"
    assert decide(statements, "s3:ListAllMyBuckets", "*", mode=PESSIMISTIC) == "ExplicitDeny"


@pytest.mark.parametrize(
    ("statements", "three", "optimistic", "pessimistic"),
    [
        # R6.6/R9: a condition on a key the record cannot tell
        (
            [allow(condition={"StringEquals": {"aws:PrincipalTag/team": "a"}})],
            "Unknown",
            "Allow",
            "ImplicitDeny",
        ),
        (
            [allow(), deny(condition={"StringEquals": {"aws:PrincipalTag/team": "a"}})],
            "Unknown",
            "Allow",
            "ExplicitDeny",
        ),
        # unknown AND false is false; unknown OR true is true
        (
            [
                allow(
                    condition={
                        "StringEquals": {"aws:PrincipalTag/team": "a", "aws:username": "eve"}
                    }
                )
            ],
            "ImplicitDeny",
            "ImplicitDeny",
            "ImplicitDeny",
        ),
        (
            [allow(condition={"StringEquals": {"aws:PrincipalTag/team": "a"}}), allow()],
            "Allow",
            "Allow",
            "Allow",
        ),
        # a deny whose condition is false for a known key is out, whatever the unknowns
        (
            [
                allow(),
                deny(
                    condition={
                        "StringEquals": {"aws:PrincipalTag/team": "a", "aws:username": "eve"}
                    }
                ),
            ],
            "Allow",
            "Allow",
            "Allow",
        ),
        # an unknown variable in a Resource
        (
            [allow("s3:*", "arn:aws:s3:::t-${aws:PrincipalTag/team}/*")],
            "Unknown",
            "Allow",
            "ImplicitDeny",
        ),
    ],
)
def test_unknown_keys(statements, three, optimistic, pessimistic):
    options = {"unknown_keys": frozenset({"aws:PrincipalTag/team"})}
    context = {"aws:username": "bob"}
    resource = "arn:aws:s3:::t-a/x"
    assert decide(statements, "s3:GetObject", resource, context, **dict(options)) == three
    assert (
        decide(statements, "s3:GetObject", resource, context, mode=OPTIMISTIC, **dict(options))
        == optimistic
    )
    assert (
        decide(statements, "s3:GetObject", resource, context, mode=PESSIMISTIC, **dict(options))
        == pessimistic
    )


def test_unknown_pairs_are_reported():
    layers = Layers(
        identity=[policy(allow(condition={"StringEquals": {"aws:PrincipalTag/team": "a"}}))]
    )
    result = evaluate(
        Request("s3:ListAllMyBuckets", "*", unknown_keys=frozenset({"aws:PrincipalTag/team"})),
        layers,
    )
    assert result.unknown == {("StringEquals", "aws:PrincipalTag/team")}


# --- R8 layers -----------------------------------------------------------------------------------

EVERYTHING = policy(allow())
NOTHING = policy()
S3_ONLY = policy(allow("s3:*"))
DENY_S3 = policy(deny("s3:*"))


@pytest.mark.parametrize(
    ("layers", "principal", "expected"),
    [
        (Layers(identity=[EVERYTHING], boundaries=[S3_ONLY]), ROLE, "Allow"),
        (Layers(identity=[S3_ONLY], boundaries=[policy(allow("ec2:*"))]), ROLE, "ImplicitDeny"),
        (Layers(identity=[EVERYTHING], boundaries=[EVERYTHING, DENY_S3]), ROLE, "ExplicitDeny"),
        (Layers(identity=[EVERYTHING], session=policy(allow("ec2:*"))), ROLE, "ImplicitDeny"),
        (Layers(identity=[EVERYTHING], scps=[[EVERYTHING], [S3_ONLY]]), ROLE, "Allow"),
        (Layers(identity=[EVERYTHING], scps=[[EVERYTHING], [NOTHING]]), ROLE, "ImplicitDeny"),
        (Layers(identity=[EVERYTHING], scps=[[EVERYTHING, DENY_S3]]), ROLE, "ExplicitDeny"),
        # SCPs do not apply to service-linked roles
        (
            Layers(identity=[EVERYTHING], scps=[[NOTHING]]),
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX",
            "Allow",
        ),
        # but a service-linked role's own policies still decide
        (
            Layers(identity=[NOTHING], scps=[[NOTHING]]),
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX",
            "ImplicitDeny",
        ),
        (Layers(identity=[EVERYTHING], rcps=[[NOTHING]]), ROLE, "ImplicitDeny"),
        # a same-account resource policy can stand in for the identity policies
        (
            Layers(
                identity=[NOTHING],
                resource=policy(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": ROLE})),
            ),
            ROLE,
            "Allow",
        ),
        (
            Layers(
                identity=[NOTHING],
                resource=policy(
                    allow(
                        "s3:GetObject",
                        "arn:aws:s3:::b/*",
                        Principal={"AWS": "arn:aws:iam::999999999999:role/x"},
                    )
                ),
            ),
            ROLE,
            "ImplicitDeny",
        ),
        (
            Layers(
                identity=[EVERYTHING],
                resource=policy(deny("s3:*", "arn:aws:s3:::b/*", Principal="*")),
            ),
            ROLE,
            "ExplicitDeny",
        ),
        # R8.7: naming the role ARN does not lift its boundary's implicit deny ("Resource-based
        # policies that grant permissions to an IAM role ARN are limited by an implicit deny in
        # a permissions boundary or session policy", issue 15 point 3)
        (
            Layers(
                identity=[NOTHING],
                boundaries=[policy(allow("ec2:*"))],
                resource=policy(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": ROLE})),
            ),
            ROLE,
            "ImplicitDeny",
        ),
        (
            Layers(
                identity=[NOTHING],
                boundaries=[policy(allow("ec2:*"))],
                resource=policy(
                    allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": ACCOUNT})
                ),
            ),
            ROLE,
            "ImplicitDeny",
        ),
    ],
)
def test_layers(layers, principal, expected):
    request = Request("s3:GetObject", "arn:aws:s3:::b/k", principal=principal)
    assert evaluate(request, layers).decision.value == expected


def test_cross_account_needs_both_sides():
    other = "arn:aws:iam::999999999999:role/x"
    resource = policy(allow("sqs:SendMessage", "*", Principal={"AWS": other}))
    request = Request("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:q", principal=other)
    assert (
        evaluate(request, Layers(identity=[NOTHING], resource=resource)).decision
        is Decision.IMPLICIT_DENY
    )
    assert (
        evaluate(request, Layers(identity=[EVERYTHING], resource=resource)).decision
        is Decision.ALLOW
    )
    assert evaluate(request, Layers(identity=[EVERYTHING])).decision is Decision.IMPLICIT_DENY


def test_the_deciding_statements_are_named():
    layers = Layers(
        identity=[policy(allow("s3:*", Sid="Reads"), deny("s3:DeleteObject", Sid="NoDeletes"))]
    )
    allowed = evaluate(Request("s3:GetObject", "arn:aws:s3:::b/k"), layers)
    assert [(m.sid, m.effect) for m in allowed.statements] == [("Reads", "Allow")]
    denied = evaluate(Request("s3:DeleteObject", "arn:aws:s3:::b/k"), layers)
    assert [(m.sid, m.effect) for m in denied.statements] == [("NoDeletes", "Deny")]


def test_statement_may_be_a_single_object_and_values_single_strings():
    single = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
    }
    assert (
        evaluate(Request("s3:GetObject", "arn:aws:s3:::b/k"), Layers(identity=[single])).decision
        is Decision.ALLOW
    )


def test_a_long_resource_list_decides_as_a_short_one():
    arns = [f"arn:aws:s3:::b/k{n}" for n in range(50)]
    layers = Layers(identity=[policy(allow("s3:GetObject", [*arns, "arn:aws:s3:::c/*"]))])
    for resource, expected in [
        ("arn:aws:s3:::b/k7", "Allow"),
        ("arn:AWS:S3:::b/k7", "Allow"),  # R3.5: the head compares without case
        ("arn:aws:s3:::b/K7", "ImplicitDeny"),  # R3.6: the rest with case
        ("arn:aws:s3:::c/anything", "Allow"),
        ("arn:aws:s3:::b/k70", "ImplicitDeny"),
        ("*", "ImplicitDeny"),
    ]:
        assert evaluate(Request("s3:GetObject", resource), layers).decision.value == expected


KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    ("key_policy", "identity", "expected"),
    [
        # The usual key policy enables the account: IAM policies decide.
        (
            policy(allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})),
            EVERYTHING,
            "Allow",
        ),
        (
            policy(allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})),
            NOTHING,
            "ImplicitDeny",
        ),
        # A key policy naming only another role: the account's IAM policies do not count.
        (
            policy(allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"})),
            EVERYTHING,
            "ImplicitDeny",
        ),
        # ... unless the key policy names the caller itself.
        (policy(allow("kms:Decrypt", "*", Principal={"AWS": ROLE})), NOTHING, "Allow"),
    ],
)
def test_a_key_policy_must_enable_the_account(key_policy, identity, expected):
    request = Request("kms:Decrypt", KEY, principal=ROLE)
    assert (
        evaluate(request, Layers(identity=[identity], resource=key_policy)).decision.value
        == expected
    )


def test_a_trust_policy_must_allow_assume_role():
    target = f"arn:aws:iam::{ACCOUNT}:role/deploy"
    request = Request("sts:AssumeRole", target, principal=ROLE)
    trusting = policy(allow("sts:AssumeRole", None, Principal={"AWS": ROLE}))
    trusting["Statement"][0].pop("Resource")
    closed = policy(allow("sts:AssumeRole", None, Principal={"Service": "lambda.amazonaws.com"}))
    closed["Statement"][0].pop("Resource")
    assert (
        evaluate(request, Layers(identity=[EVERYTHING], resource=trusting)).decision
        is Decision.ALLOW
    )
    assert (
        evaluate(request, Layers(identity=[EVERYTHING], resource=closed)).decision
        is Decision.IMPLICIT_DENY
    )


def test_naming_the_account_delegates_to_its_iam_policies():
    account_root = policy(
        allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    )
    request = Request("s3:GetObject", "arn:aws:s3:::b/k", principal=ROLE, resource_account=ACCOUNT)
    assert (
        evaluate(request, Layers(identity=[NOTHING], resource=account_root)).decision
        is Decision.IMPLICIT_DENY
    )
    assert (
        evaluate(request, Layers(identity=[EVERYTHING], resource=account_root)).decision
        is Decision.ALLOW
    )
    other = "arn:aws:iam::999999999999:role/x"
    for_other = policy(
        allow(
            "s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": "arn:aws:iam::999999999999:root"}
        )
    )
    cross = Request("s3:GetObject", "arn:aws:s3:::b/k", principal=other, resource_account=ACCOUNT)
    assert (
        evaluate(cross, Layers(identity=[EVERYTHING], resource=for_other)).decision
        is Decision.ALLOW
    )
    assert (
        evaluate(cross, Layers(identity=[NOTHING], resource=for_other)).decision
        is Decision.IMPLICIT_DENY
    )


# --- regressions found in review: each a rule the first version got wrong ------------------------

USER = f"arn:aws:iam::{ACCOUNT}:user/alice"


def test_a_variable_in_an_arn_head_is_not_substituted():
    """R3.9 (issue 15 point 5): "You can't use a variable to replace parts of the ARN before the
    fifth colon, such as the service or account" (IAM policy elements: Variables and tags); an
    ArnLike condition value keeps its variables (R5)."""
    layers = Layers(
        identity=[policy(allow("iam:GetUser", "arn:aws:iam::${aws:PrincipalAccount}:user/x"))]
    )
    request = Request(
        "iam:GetUser", f"arn:aws:iam::{ACCOUNT}:user/x", {"aws:PrincipalAccount": ACCOUNT}
    )
    assert evaluate(request, layers).decision is Decision.IMPLICIT_DENY
    other = Request(
        "iam:GetUser", "arn:aws:iam::999999999999:user/x", {"aws:PrincipalAccount": ACCOUNT}
    )
    assert evaluate(other, layers).decision is Decision.IMPLICIT_DENY
    arn_like = policy(
        allow(condition={"ArnLike": {"aws:SourceArn": "arn:aws:sns:${aws:RequestedRegion}:*:t"}})
    )
    context = {"aws:SourceArn": "arn:aws:sns:eu-west-1:1:t", "aws:RequestedRegion": "eu-west-1"}
    assert (
        evaluate(Request("s3:ListAllMyBuckets", "*", context), Layers(identity=[arn_like])).decision
        is Decision.ALLOW
    )


def test_a_trailing_newline_is_not_matched():
    """R4: anchored at the very end; "$" alone would accept one more newline."""
    statement = allow(condition={"StringLike": {"aws:username": "abc"}})
    assert (
        decide([statement], "s3:ListAllMyBuckets", "*", {"aws:username": "abc\n"}) == "ImplicitDeny"
    )
    assert (
        decide([allow("s3:*", "arn:aws:s3:::b/k?")], "s3:GetObject", "arn:aws:s3:::b/kk\n")
        == "ImplicitDeny"
    )
    assert not match_action("s3:Get?bject", "s3:GetObject\n")


def test_a_date_too_large_is_a_value_that_does_not_parse():
    statement = allow(condition={"DateEquals": {"aws:CurrentTime": "99999999999999999"}})
    assert (
        decide([statement], "s3:ListAllMyBuckets", "*", {"aws:CurrentTime": "2020-01-01T00:00:00Z"})
        == "ImplicitDeny"
    )
    statement = allow(condition={"DateLessThan": {"aws:CurrentTime": "9" * 25}})
    assert (
        decide([statement], "s3:ListAllMyBuckets", "*", {"aws:CurrentTime": "2020-01-01T00:00:00Z"})
        == "ImplicitDeny"
    )


def test_malformed_statements_and_operators_are_unknown():
    both = {"Effect": "Deny", "Action": "s3:*", "NotAction": "s3:GetObject", "Resource": "*"}
    assert decide([allow(), both], "s3:PutObject", "arn:aws:s3:::b/k") == "Unknown"
    both_resources = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "NotResource": "arn:aws:s3:::x",
    }
    assert decide([allow(), both_resources], "s3:PutObject", "arn:aws:s3:::b/k") == "Unknown"
    null_if_exists = deny(condition={"NullIfExists": {"aws:SourceIp": "true"}})
    assert decide([allow(), null_if_exists], "s3:ListAllMyBuckets", "*") == "Unknown"
    doubled = deny(condition={"ForAllValues:ForAnyValue:StringEquals": {"aws:TagKeys": "a"}})
    assert (
        decide([allow(), doubled], "s3:ListAllMyBuckets", "*", {"aws:TagKeys": ["a"]}) == "Unknown"
    )


def test_scps_do_not_apply_to_the_management_account_or_service_linked_roles_at_all():
    layers = Layers(identity=[EVERYTHING], scps=[[policy(deny())]])
    assert (
        evaluate(
            Request("s3:GetObject", "arn:aws:s3:::b/k", principal=ROLE, management_account=True),
            layers,
        ).decision
        is Decision.ALLOW
    )
    linked = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX"
    assert (
        evaluate(Request("s3:GetObject", "arn:aws:s3:::b/k", principal=linked), layers).decision
        is Decision.ALLOW
    )
    assert (
        evaluate(Request("s3:GetObject", "arn:aws:s3:::b/k", principal=ROLE), layers).decision
        is Decision.EXPLICIT_DENY
    )


@pytest.mark.parametrize("reverse", [False, True])
def test_an_unknown_policy_value_does_not_hide_a_known_match(reverse):
    """R6.6: OR(U, T) = T, whatever the order of the values."""
    values = ["${aws:PrincipalTag/x}", "alice"]
    values = values[::-1] if reverse else values
    request = Request(
        "s3:ListAllMyBuckets",
        "*",
        {"aws:username": "alice"},
        unknown_keys=frozenset({"aws:PrincipalTag/x"}),
    )
    allowed = Layers(identity=[policy(allow(condition={"StringEquals": {"aws:username": values}}))])
    assert evaluate(request, allowed).decision is Decision.ALLOW
    not_denied = Layers(
        identity=[policy(allow(), deny(condition={"StringNotEquals": {"aws:username": values}}))]
    )
    assert evaluate(request, not_denied).decision is Decision.ALLOW


def test_an_unknown_resource_policy_stand_in_is_unknown_not_a_denial():
    conditional = policy(
        allow(
            "s3:GetObject",
            "arn:aws:s3:::b/*",
            {"StringEquals": {"aws:SourceVpc": "vpc-1"}},
            Principal={"AWS": USER},
        )
    )
    request = Request(
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        principal=USER,
        resource_account=ACCOUNT,
        unknown_keys=frozenset({"aws:SourceVpc"}),
    )
    layers = Layers(identity=[policy(allow("ec2:*"))], resource=conditional)
    assert evaluate(request, layers).decision is Decision.UNKNOWN
    assert evaluate(request, layers, mode=OPTIMISTIC).decision is Decision.ALLOW
    assert evaluate(request, layers, mode=PESSIMISTIC).decision is Decision.IMPLICIT_DENY


def test_an_unknown_key_policy_is_unknown_not_a_denial():
    key_policy = policy(
        allow(
            "kms:*",
            "*",
            {"StringEquals": {"aws:SourceVpc": "vpc-1"}},
            Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        )
    )
    request = Request("kms:Decrypt", KEY, principal=ROLE, unknown_keys=frozenset({"aws:SourceVpc"}))
    layers = Layers(identity=[EVERYTHING], resource=key_policy)
    assert evaluate(request, layers).decision is Decision.UNKNOWN
    assert evaluate(request, layers, mode=OPTIMISTIC).decision is Decision.ALLOW


def test_only_an_allow_naming_the_caller_directly_lifts_its_boundary():
    """R8.7: "*" grants directly ("Permissions boundaries and session policies do not limit
    permissions granted using the aws:PrincipalArn condition key with a wildcard(*) in the
    Principal element", How AWS enforcement code logic evaluates requests); the account does
    not (it delegates to the account's IAM policies)."""
    everyone = policy(
        allow("s3:GetObject", "arn:aws:s3:::b/*", Principal="*"),
        deny("s3:DeleteObject", "arn:aws:s3:::b/*", Principal={"AWS": USER}),
    )
    account = policy(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": ACCOUNT}))
    request = Request("s3:GetObject", "arn:aws:s3:::b/k", principal=USER, resource_account=ACCOUNT)
    bounded = {"identity": [NOTHING], "boundaries": [policy(allow("ec2:*"))]}
    assert evaluate(request, Layers(**bounded, resource=everyone)).decision is Decision.ALLOW
    assert evaluate(request, Layers(**bounded, resource=account)).decision is Decision.IMPLICIT_DENY


def test_a_key_policy_without_version_2012_reads_variables_as_text():
    key_policy = {
        "Version": "2008-10-17",
        "Statement": [
            allow(
                "kms:*",
                "*",
                {"StringEquals": {"aws:username": "${aws:username}"}},
                Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            )
        ],
    }
    request = Request("kms:Decrypt", KEY, {"aws:username": "alice"}, principal=ROLE)
    assert (
        evaluate(request, Layers(identity=[EVERYTHING], resource=key_policy)).decision
        is Decision.IMPLICIT_DENY
    )
