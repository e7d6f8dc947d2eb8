"""Role trust policies: the evaluator on hand-written trust documents and AssumeRole* requests
from IAM principals, services and federated callers.

Rules are numbered as in shared/reference/iam-evaluation.md, extended in
trailmin/policy/evaluate.py's module docstring (R8.5-R8.7, R8.11-R8.14). Each row cites the page
it follows; where the docs are silent a row expects Unknown, never Allow."""

from __future__ import annotations

import pytest

from trailmin.policy.evaluate import (
    OPTIMISTIC,
    PESSIMISTIC,
    THREE_VALUED,
    Decision,
    Layers,
    Request,
    evaluate,
    evaluate_trust,
)

A = "111122223333"  # the role's account
B = "444455556666"
TARGET = f"arn:aws:iam::{A}:role/deploy"  # the role being assumed
A_ROOT = f"arn:aws:iam::{A}:root"
A_SESSION = f"arn:aws:sts::{A}:assumed-role/builder/i-0abc"
A_USER = f"arn:aws:iam::{A}:user/alice"
B_ROOT = f"arn:aws:iam::{B}:root"
B_ROLE = f"arn:aws:iam::{B}:role/ci"
B_SESSION = f"arn:aws:sts::{B}:assumed-role/ci/run-1"
B_OTHER = f"arn:aws:sts::{B}:assumed-role/audit/run-1"
GITHUB = f"arn:aws:iam::{A}:oidc-provider/token.actions.githubusercontent.com"
GITLAB = f"arn:aws:iam::{A}:oidc-provider/gitlab.com"
OKTA = f"arn:aws:iam::{A}:saml-provider/Okta"
LAMBDA = "lambda.amazonaws.com"
ECS_TASKS = "ecs-tasks.amazonaws.com"
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"
MAIN = "repo:octo-org/app:ref:refs/heads/main"
SIGNIN = "https://signin.aws.amazon.com/saml"

ASSUME = "sts:AssumeRole"
WEB = "sts:AssumeRoleWithWebIdentity"
SAML = "sts:AssumeRoleWithSAML"


def statement(effect, principal, action=ASSUME, **extra):
    found = {"Effect": effect, "Action": action, **extra}
    if principal is not None:
        found["Principal"] = principal
    return found


def allow(principal, action=ASSUME, **extra):
    return statement("Allow", principal, action, **extra)


def deny(principal, action=ASSUME, **extra):
    return statement("Deny", principal, action, **extra)


def trust(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def call(action=ASSUME, *, mode=THREE_VALUED, document, unknown=(), **caller):
    """The trust policy's decision on ``action`` by ``caller`` (principal, service, federated,
    context), as a Decision value."""
    request = Request(action, TARGET, unknown_keys=frozenset(unknown), **caller)
    return evaluate_trust(request, document, mode=mode).decision.value


# --- R8.11 service principals ---------------------------------------------------------------------
# "AWS JSON policy elements: Principal", AWS service principals and opt-in Regions.

SERVICE_ROWS = [
    # (Principal, calling service, expected)
    ({"Service": LAMBDA}, LAMBDA, "Allow"),
    ({"Service": ECS_TASKS}, ECS_TASKS, "Allow"),
    # "an array of multiple service principals as the value of a single Service element"
    (
        {"Service": ["ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com"]},
        "elasticloadbalancing.amazonaws.com",
        "Allow",
    ),
    ({"Service": LAMBDA}, "ec2.amazonaws.com", "ImplicitDeny"),
    ({"Service": [ECS_TASKS, "ec2.amazonaws.com"]}, LAMBDA, "ImplicitDeny"),
    ({"Service": ECS_TASKS}, "ecs.amazonaws.com", "ImplicitDeny"),
    # the regionalized name is another principal: "will only be successful if you specify the
    # regionalized service principal name"
    ({"Service": "s3.amazonaws.com"}, "s3.ap-east-1.amazonaws.com", "ImplicitDeny"),
    ({"Service": "s3.ap-east-1.amazonaws.com"}, "s3.amazonaws.com", "ImplicitDeny"),
    # "You cannot use a wildcard to match part of a principal name or ARN"
    ({"Service": "*.amazonaws.com"}, LAMBDA, "ImplicitDeny"),
    # an account or a role does not name a service
    ({"AWS": A_ROOT}, LAMBDA, "ImplicitDeny"),
    ({"AWS": TARGET}, LAMBDA, "ImplicitDeny"),
    ({"Federated": "cognito-identity.amazonaws.com"}, LAMBDA, "ImplicitDeny"),
    # "*" specifies all principals, services among them
    ("*", LAMBDA, "Allow"),
    # the docs are silent: {"AWS": "*"} for a service, the case of a name, the China form
    ({"AWS": "*"}, LAMBDA, "Unknown"),
    ({"Service": "Lambda.amazonaws.com"}, LAMBDA, "Unknown"),
    ({"Service": "lambda.amazonaws.com.cn"}, LAMBDA, "Unknown"),
    ({"Service": LAMBDA}, "lambda.amazonaws.com.cn", "Unknown"),
    # "The service principal in an IAM policy can't be "Service": "*"": IAM refuses it (R1.5)
    ({"Service": "*"}, LAMBDA, "Unknown"),
]


@pytest.mark.parametrize(("principal", "service", "expected"), SERVICE_ROWS)
def test_a_service_principal_names_that_service_only(principal, service, expected):
    assert call(document=trust(allow(principal)), service=service) == expected


def test_an_unknown_service_naming_is_reported():
    """R8.11: the pair says which principal element made the decision unknown."""
    request = Request(ASSUME, TARGET, service=LAMBDA)
    result = evaluate_trust(request, trust(allow({"Service": "LAMBDA.amazonaws.com"})))
    assert result.decision is Decision.UNKNOWN
    assert result.unknown == {("Principal", "Service")}
    assert call(mode=PESSIMISTIC, document=trust(allow({"Service": "*"})), service=LAMBDA) == (
        "ImplicitDeny"
    )


def test_a_service_principal_does_not_name_an_iam_caller():
    """R8.11: a Service value names services; an IAM role of the same account is not one."""
    document = trust(allow({"Service": LAMBDA}))
    assert call(document=document, principal=A_SESSION) == "ImplicitDeny"


def test_the_match_says_how_the_trust_named_the_caller():
    """R8.14: each match of the trust layer says its level."""
    request = Request(ASSUME, TARGET, service=LAMBDA)
    result = evaluate_trust(request, trust(allow({"Service": LAMBDA}, Sid="Lambda")))
    assert [(m.layer, m.sid, m.named) for m in result.statements] == [
        ("trust", "Lambda", "service")
    ]


def test_a_service_trust_for_another_action_refuses():
    """R2: the trust names the service, but for sts:TagSession only."""
    document = trust(allow({"Service": LAMBDA}, action="sts:TagSession"))
    assert call(document=document, service=LAMBDA) == "ImplicitDeny"


# --- R8.12 GitHub Actions (OIDC) ------------------------------------------------------------------
# Principal {"Federated": the IAM OIDC provider's ARN} (Principal page, OIDC federated principals,
# with GitHub as its example), and conditions on the token's audience and subject keys, named
# after the provider's host: the usual audience sts.amazonaws.com, the subject
# repo:ORG/REPO:ref:refs/heads/BRANCH.

GITHUB_EQUALS = trust(
    allow(
        {"Federated": GITHUB},
        WEB,
        Condition={"StringEquals": {AUD: "sts.amazonaws.com", SUB: MAIN}},
    )
)
GITHUB_LIKE = trust(
    allow(
        {"Federated": GITHUB},
        WEB,
        Condition={
            "StringEquals": {AUD: "sts.amazonaws.com"},
            "StringLike": {SUB: "repo:octo-org/app:*"},
        },
    )
)
TOKEN = {AUD: "sts.amazonaws.com", SUB: MAIN}

GITHUB_ROWS = [
    # (trust, provider, context, expected)
    (GITHUB_EQUALS, GITHUB, TOKEN, "Allow"),
    (GITHUB_EQUALS, GITHUB, {**TOKEN, SUB: "repo:octo-org/app:ref:refs/heads/dev"}, "ImplicitDeny"),
    (
        GITHUB_EQUALS,
        GITHUB,
        {**TOKEN, SUB: "repo:octo-org/other:ref:refs/heads/main"},
        "ImplicitDeny",
    ),
    (
        GITHUB_EQUALS,
        GITHUB,
        {**TOKEN, SUB: "repo:octo-org/app:ref:refs/heads/Main"},
        "ImplicitDeny",
    ),
    (GITHUB_EQUALS, GITHUB, {**TOKEN, AUD: "https://github.com/octo-org"}, "ImplicitDeny"),
    (GITHUB_LIKE, GITHUB, TOKEN, "Allow"),
    (GITHUB_LIKE, GITHUB, {**TOKEN, SUB: "repo:octo-org/app:pull_request"}, "Allow"),
    (
        GITHUB_LIKE,
        GITHUB,
        {**TOKEN, SUB: "repo:octo-org/other:ref:refs/heads/main"},
        "ImplicitDeny",
    ),
    # the glob is the whole value: a repository whose name starts with "app" is another one
    (
        GITHUB_LIKE,
        GITHUB,
        {**TOKEN, SUB: "repo:octo-org/app-fork:ref:refs/heads/main"},
        "ImplicitDeny",
    ),
    # R6.1: an absent subject fails StringEquals and StringLike
    (GITHUB_EQUALS, GITHUB, {AUD: "sts.amazonaws.com"}, "ImplicitDeny"),
    (GITHUB_LIKE, GITHUB, {AUD: "sts.amazonaws.com"}, "ImplicitDeny"),
    # another provider: GitLab, or GitHub registered in another account
    (GITHUB_EQUALS, GITLAB, TOKEN, "ImplicitDeny"),
    (GITHUB_EQUALS, GITHUB.replace(A, B), TOKEN, "ImplicitDeny"),
    # R8.12: the docs do not say whether a provider ARN compares without case
    (GITHUB_EQUALS, GITHUB.replace("token.actions", "Token.Actions"), TOKEN, "Unknown"),
]


@pytest.mark.parametrize(("document", "provider", "context", "expected"), GITHUB_ROWS)
def test_a_github_oidc_trust_checks_the_provider_audience_and_subject(
    document, provider, context, expected
):
    assert call(WEB, document=document, federated=provider, context=context) == expected


@pytest.mark.parametrize(
    ("mode", "expected"),
    [(THREE_VALUED, "Unknown"), (PESSIMISTIC, "ImplicitDeny"), (OPTIMISTIC, "Allow")],
)
def test_a_subject_the_record_cannot_tell_ends_by_mode(mode, expected):
    """R6.6, R9: the subject is a key the request cannot tell."""
    context = {AUD: "sts.amazonaws.com"}
    decision = call(
        WEB, mode=mode, document=GITHUB_LIKE, federated=GITHUB, context=context, unknown=[SUB]
    )
    assert decision == expected


def test_an_unknown_subject_is_reported_with_its_operator():
    """R6.6: the pair is the operator and the key, as the policy writes them."""
    request = Request(
        WEB, TARGET, {AUD: "sts.amazonaws.com"}, unknown_keys=frozenset({SUB}), federated=GITHUB
    )
    result = evaluate_trust(request, GITHUB_LIKE)
    assert result.unknown == {("StringLike", SUB)}


def test_a_web_identity_trust_allows_only_the_web_identity_action():
    """R2: the token is right, but the trust allows AssumeRoleWithWebIdentity, not AssumeRole."""
    assert call(ASSUME, document=GITHUB_EQUALS, federated=GITHUB, context=TOKEN) == "ImplicitDeny"


# Built-in providers are named by name: "cognito-identity.amazonaws.com", "www.amazon.com",
# "graph.facebook.com", "accounts.google.com" (Principal page, OIDC federated principals).
COGNITO = trust(
    allow(
        {"Federated": "cognito-identity.amazonaws.com"},
        WEB,
        Condition={
            "StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:pool-1"},
            "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
        },
    )
)

BUILT_IN_ROWS = [
    # (trust, provider, context, expected)
    (
        COGNITO,
        "cognito-identity.amazonaws.com",
        {
            "cognito-identity.amazonaws.com:aud": "us-east-1:pool-1",
            "cognito-identity.amazonaws.com:amr": ["authenticated", "graph.facebook.com"],
        },
        "Allow",
    ),
    (
        COGNITO,
        "cognito-identity.amazonaws.com",
        {
            "cognito-identity.amazonaws.com:aud": "us-east-1:pool-1",
            "cognito-identity.amazonaws.com:amr": ["unauthenticated"],
        },
        "ImplicitDeny",
    ),
    (
        COGNITO,
        "cognito-identity.amazonaws.com",
        {
            "cognito-identity.amazonaws.com:aud": "us-east-1:pool-2",
            "cognito-identity.amazonaws.com:amr": ["authenticated"],
        },
        "ImplicitDeny",
    ),
    (COGNITO, "accounts.google.com", {}, "ImplicitDeny"),
    (trust(allow({"Federated": "accounts.google.com"}, WEB)), "accounts.google.com", {}, "Allow"),
    (
        trust(allow({"Federated": "accounts.google.com"}, WEB)),
        "graph.facebook.com",
        {},
        "ImplicitDeny",
    ),
    # R8.12: an IAM OIDC provider for Google's issuer and the built-in name: not documented
    (
        trust(allow({"Federated": "accounts.google.com"}, WEB)),
        f"arn:aws:iam::{A}:oidc-provider/accounts.google.com",
        {},
        "Unknown",
    ),
]


@pytest.mark.parametrize(("document", "provider", "context", "expected"), BUILT_IN_ROWS)
def test_a_built_in_provider_is_named_by_its_name(document, provider, context, expected):
    assert call(WEB, document=document, federated=provider, context=context) == expected


# --- R8.12 SAML -----------------------------------------------------------------------------------
# Principal {"Federated": the saml-provider ARN} (Principal page, SAML federated principals), and
# the usual condition StringEquals SAML:aud https://signin.aws.amazon.com/saml.

OKTA_TRUST = trust(
    allow({"Federated": OKTA}, SAML, Condition={"StringEquals": {"SAML:aud": SIGNIN}})
)

SAML_ROWS = [
    # (provider, context, unknown keys, mode, expected)
    (OKTA, {"SAML:aud": SIGNIN}, (), THREE_VALUED, "Allow"),
    (
        OKTA,
        {"SAML:aud": "https://signin.aws.amazon.com/saml/acs/other"},
        (),
        THREE_VALUED,
        "ImplicitDeny",
    ),
    (OKTA, {}, (), THREE_VALUED, "ImplicitDeny"),
    (
        f"arn:aws:iam::{A}:saml-provider/AzureAD",
        {"SAML:aud": SIGNIN},
        (),
        THREE_VALUED,
        "ImplicitDeny",
    ),
    (OKTA, {}, ("SAML:aud",), THREE_VALUED, "Unknown"),
    (OKTA, {}, ("SAML:aud",), PESSIMISTIC, "ImplicitDeny"),
    # R8.12: a provider name differing in case only: not documented
    (f"arn:aws:iam::{A}:saml-provider/okta", {"SAML:aud": SIGNIN}, (), THREE_VALUED, "Unknown"),
]


@pytest.mark.parametrize(("provider", "context", "unknown", "mode", "expected"), SAML_ROWS)
def test_a_saml_trust_checks_the_provider_and_the_audience(
    provider, context, unknown, mode, expected
):
    decision = call(
        SAML, mode=mode, document=OKTA_TRUST, federated=provider, context=context, unknown=unknown
    )
    assert decision == expected


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # R8.12: STS wants the provider "specified in the role's trust policy"; "*" lets in
        # "all principals": whether it lets a federated caller in is not documented
        (trust(allow("*", SAML)), "Unknown"),
        (trust(allow({"AWS": "*"}, SAML)), "Unknown"),
        # ... but a Deny with "*" applies to it
        (trust(allow({"Federated": OKTA}, SAML), deny("*", SAML)), "ExplicitDeny"),
        # an account does not name a federated caller
        (trust(allow({"AWS": A_ROOT}, SAML)), "ImplicitDeny"),
    ],
)
def test_a_federated_caller_is_let_in_by_its_provider(document, expected):
    assert call(SAML, document=document, federated=OKTA) == expected


# --- R8.5 AWS principals: a role in another account, an account -----------------------------------

AWS_ROWS = [
    # (Principal, caller, expected, how it is named)
    ({"AWS": B_ROLE}, B_SESSION, "Allow", "entity"),
    ({"AWS": B_ROLE}, B_OTHER, "ImplicitDeny", None),
    ({"AWS": B_ROLE}, B_SESSION.replace(B, "999999999999"), "ImplicitDeny", None),
    ({"AWS": B_SESSION}, B_SESSION, "Allow", "direct"),
    # "This delegates authority to the account": the trust allows at the account's level
    ({"AWS": B_ROOT}, B_SESSION, "Allow", "account"),
    ({"AWS": B}, B_OTHER, "Allow", "account"),
    ({"AWS": B_ROOT}, A_SESSION, "ImplicitDeny", None),
    ({"AWS": [A_ROOT, B_ROLE]}, B_SESSION, "Allow", "entity"),
    # "*" names everyone, directly
    ("*", B_SESSION, "Allow", "direct"),
    ({"AWS": "*"}, A_USER, "Allow", "direct"),
]


@pytest.mark.parametrize(("principal", "caller", "expected", "named"), AWS_ROWS)
def test_an_aws_principal_names_a_role_session_or_an_account(principal, caller, expected, named):
    result = evaluate_trust(Request(ASSUME, TARGET, principal=caller), trust(allow(principal)))
    assert result.decision.value == expected
    assert [m.named for m in result.statements] == ([named] if named else [])


ORG = trust(allow("*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}))


@pytest.mark.parametrize(
    ("context", "unknown", "expected"),
    [
        ({"aws:PrincipalOrgID": "o-abc123"}, (), "Allow"),
        ({"aws:PrincipalOrgID": "o-other"}, (), "ImplicitDeny"),
        ({}, (), "ImplicitDeny"),  # R6.1: absent
        ({}, ("aws:PrincipalOrgID",), "Unknown"),
    ],
)
def test_principal_star_with_a_condition_lets_in_only_whom_it_matches(context, unknown, expected):
    assert call(document=ORG, principal=B_SESSION, context=context, unknown=unknown) == expected


# --- sts:ExternalId -------------------------------------------------------------------------------
# "How to use an external ID when granting access to your AWS resources to a third party".

VENDOR = trust(allow({"AWS": B_ROOT}, Condition={"StringEquals": {"sts:ExternalId": "Example987"}}))


@pytest.mark.parametrize(
    ("context", "unknown", "expected"),
    [
        ({"sts:ExternalId": "Example987"}, (), "Allow"),
        ({"sts:ExternalId": "Example988"}, (), "ImplicitDeny"),
        ({"sts:ExternalId": "example987"}, (), "ImplicitDeny"),  # StringEquals keeps case
        ({}, (), "ImplicitDeny"),  # R6.1: absent
        ({}, ("sts:ExternalId",), "Unknown"),
    ],
)
def test_the_external_id_must_be_given_and_equal(context, unknown, expected):
    assert call(document=VENDOR, principal=B_SESSION, context=context, unknown=unknown) == expected


# --- Deny and NotPrincipal in a trust policy ------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "context", "mode", "expected"),
    [
        ({"principal": B_SESSION}, {"aws:PrincipalOrgID": "o-abc123"}, THREE_VALUED, "Allow"),
        ({"principal": B_SESSION}, {"aws:PrincipalOrgID": "o-other"}, THREE_VALUED, "ExplicitDeny"),
        ({"principal": B_SESSION}, {}, THREE_VALUED, "ExplicitDeny"),  # R6.1: negated, absent
        # the Deny's key unknown: unknown three-valued, a deny pessimistically (R9)
        ({"principal": B_SESSION, "unknown": ["aws:PrincipalOrgID"]}, {}, THREE_VALUED, "Unknown"),
        (
            {"principal": B_SESSION, "unknown": ["aws:PrincipalOrgID"]},
            {},
            PESSIMISTIC,
            "ExplicitDeny",
        ),
        ({"principal": B_SESSION, "unknown": ["aws:PrincipalOrgID"]}, {}, OPTIMISTIC, "Allow"),
    ],
)
def test_a_deny_outside_the_organization_overrides_the_allow(caller, context, mode, expected):
    document = trust(
        allow({"AWS": B_ROOT}),
        deny("*", Condition={"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}}, Sid="Org"),
    )
    assert call(mode=mode, document=document, context=context, **caller) == expected


def test_an_explicit_deny_is_reported_with_its_statement():
    """R8.1: the deciding statements are the Deny's."""
    document = trust(allow({"Service": LAMBDA}), deny({"Service": LAMBDA}, Sid="NoLambda"))
    result = evaluate_trust(Request(ASSUME, TARGET, service=LAMBDA), document)
    assert result.decision is Decision.EXPLICIT_DENY
    assert [(m.sid, m.effect) for m in result.statements] == [("NoLambda", "Deny")]


# "AWS JSON policy elements: NotPrincipal": "You can use it in the trust policies for IAM roles";
# with Deny "explicitly denied to all principals except for the ones specified", a role session
# spared only when its account, its role and its session are listed (R8.6).
NOT_PRINCIPAL_ROWS = [
    # (NotPrincipal, caller, expected)
    ({"AWS": [B_ROOT, B_ROLE, B_SESSION]}, {"principal": B_SESSION}, "Allow"),
    ({"AWS": [B_ROOT, B_ROLE]}, {"principal": B_SESSION}, "ExplicitDeny"),  # session not listed
    ({"AWS": [B_ROLE, B_SESSION]}, {"principal": B_SESSION}, "ExplicitDeny"),  # account not
    ({"AWS": [B_ROOT, B_ROLE, B_SESSION]}, {"principal": B_OTHER}, "ExplicitDeny"),
    ({"Service": LAMBDA}, {"service": LAMBDA}, "Allow"),
    ({"Service": LAMBDA}, {"service": ECS_TASKS}, "ExplicitDeny"),
    ({"Service": "LAMBDA.amazonaws.com"}, {"service": LAMBDA}, "Unknown"),  # R8.11: case
    ({"Federated": OKTA}, {"federated": OKTA}, "Allow"),
    ({"Federated": OKTA}, {"federated": GITHUB}, "ExplicitDeny"),
    ({"AWS": [B_ROOT, B_ROLE, B_SESSION]}, {"service": LAMBDA}, "ExplicitDeny"),
    ({"AWS": "*"}, {"service": LAMBDA}, "Unknown"),  # R8.11: {"AWS": "*"} and a service
]


@pytest.mark.parametrize(("listed", "caller", "expected"), NOT_PRINCIPAL_ROWS)
def test_a_not_principal_deny_spares_only_whom_it_lists(listed, caller, expected):
    document = trust(
        allow({"AWS": B_ROOT}, action="sts:AssumeRole*"),
        allow({"Service": [LAMBDA, ECS_TASKS]}),
        allow({"Federated": [OKTA, GITHUB]}),
        {"Effect": "Deny", "Action": "sts:*", "NotPrincipal": listed},
    )
    assert call(document=document, **caller) == expected


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        # R8.6: "Using it with "Effect":"Allow" is not supported": nothing for whom it lists,
        # unknown for the others
        ({"service": LAMBDA}, "ImplicitDeny"),
        ({"service": ECS_TASKS}, "Unknown"),
        ({"principal": B_SESSION}, "Unknown"),
    ],
)
def test_a_not_principal_allow_is_not_supported(caller, expected):
    document = trust({"Effect": "Allow", "Action": ASSUME, "NotPrincipal": {"Service": LAMBDA}})
    assert call(document=document, **caller) == expected


# --- R1.4 condition keys in any case --------------------------------------------------------------
# "IAM JSON policy elements: Condition": "Condition key names are not case-sensitive"; the
# service pages: "The condition tag key Owner matches both Owner and owner because condition key
# names are not case-sensitive". Values keep their case (R6.5).

KEY_CASE_ROWS = [
    # (key in the policy, key in the request, value)
    (SUB, "Token.Actions.GitHubUserContent.com:SUB", MAIN),
    ("TOKEN.ACTIONS.GITHUBUSERCONTENT.COM:Sub", SUB, MAIN),
    ("cognito-identity.amazonaws.com:aud", "Cognito-Identity.AmazonAWS.com:AUD", "us-east-1:p"),
    ("COGNITO-IDENTITY.AMAZONAWS.COM:aud", "cognito-identity.amazonaws.com:aud", "us-east-1:p"),
    ("SAML:aud", "saml:AUD", SIGNIN),
    ("sts:ExternalId", "STS:EXTERNALID", "Example987"),
    ("sts:SourceIdentity", "Sts:sourceidentity", "DevUser"),
    ("aws:RequestTag/Project", "aws:requesttag/project", "Automation"),
]


@pytest.mark.parametrize(("policy_key", "request_key", "value"), KEY_CASE_ROWS)
def test_condition_keys_match_in_any_case(policy_key, request_key, value):
    document = trust(allow("*", Condition={"StringEquals": {policy_key: value}}))
    assert call(document=document, principal=B_SESSION, context={request_key: value}) == "Allow"
    assert call(document=document, principal=B_SESSION, unknown=[request_key]) == "Unknown"
    wrong = value.swapcase()
    assert call(document=document, principal=B_SESSION, context={request_key: wrong}) == (
        "ImplicitDeny"
    )


def test_a_condition_key_in_a_policy_variable_matches_in_any_case():
    """R1.4, R5: ${...} resolves its key without case too."""
    document = trust(
        allow(
            {"Federated": GITHUB},
            WEB,
            Condition={
                "StringEquals": {
                    "aws:RequestTag/Repo": "${Token.Actions.GitHubUserContent.com:SUB}"
                }
            },
        )
    )
    context = {SUB: MAIN, "aws:RequestTag/Repo": MAIN}
    assert call(WEB, document=document, federated=GITHUB, context=context) == "Allow"


def test_a_service_confined_by_its_source_account():
    """The confused-deputy guard of a service trust ("The confused deputy problem")."""
    document = trust(
        allow({"Service": LAMBDA}, Condition={"StringEquals": {"aws:SourceAccount": A}})
    )
    assert call(document=document, service=LAMBDA, context={"aws:SourceAccount": A}) == "Allow"
    assert call(document=document, service=LAMBDA, context={"aws:SourceAccount": B}) == (
        "ImplicitDeny"
    )


# --- R8.14 session tags and source identity -------------------------------------------------------

TAGGING = trust(
    allow({"AWS": A_USER}),
    allow(
        {"AWS": A_USER},
        action="sts:TagSession",
        Condition={"StringEquals": {"aws:RequestTag/Department": ["Engineering", "Marketing"]}},
    ),
    allow(
        {"AWS": A_USER},
        action="sts:SetSourceIdentity",
        Condition={"StringEquals": {"sts:SourceIdentity": "DevUser"}},
    ),
)


@pytest.mark.parametrize(
    ("action", "context", "expected"),
    [
        ("sts:TagSession", {"aws:RequestTag/Department": "Engineering"}, "Allow"),
        ("sts:TagSession", {"aws:RequestTag/Department": "Sales"}, "ImplicitDeny"),
        ("sts:SetSourceIdentity", {"sts:SourceIdentity": "DevUser"}, "Allow"),
        ("sts:SetSourceIdentity", {"sts:SourceIdentity": "Mallory"}, "ImplicitDeny"),
    ],
)
def test_session_tags_and_source_identity_are_allowed_by_their_own_statements(
    action, context, expected
):
    assert call(action, document=TAGGING, principal=A_USER, context=context) == expected


def test_a_trust_without_tag_session_refuses_session_tags_whatever_the_identity_policy():
    """R8.14: "This action must be allowed before the user can pass session tags" (of the role
    trust policy): an identity policy allowing sts:* does not make up for it."""
    everything = trust(allow(None, action="*", Resource="*"))
    request = Request("sts:TagSession", TARGET, {"aws:RequestTag/Department": "Sales"}, A_USER)
    layers = Layers(identity=[everything], resource=trust(allow({"AWS": A_USER})))
    assert evaluate(request, layers).decision is Decision.IMPLICIT_DENY
    named = Layers(identity=[everything], resource=TAGGING)
    tagged = Request("sts:TagSession", TARGET, {"aws:RequestTag/Department": "Marketing"}, A_USER)
    assert evaluate(tagged, named).decision is Decision.ALLOW


# --- the full evaluation: what the trust's Allow stands in for (R8.7, R8.13) ----------------------

NOTHING = {"Version": "2012-10-17", "Statement": []}
ASSUME_ANY = trust(allow(None, action="sts:AssumeRole*", Resource="*"))


@pytest.mark.parametrize(
    ("document", "caller", "identity", "expected"),
    [
        # same account, named by the trust: "no additional identity-based policy is required"
        (trust(allow({"AWS": f"arn:aws:iam::{A}:role/builder"})), A_SESSION, NOTHING, "Allow"),
        (trust(allow({"AWS": A_USER})), A_USER, NOTHING, "Allow"),
        # same account, the account named: delegated to the identity policies
        (trust(allow({"AWS": A_ROOT})), A_SESSION, NOTHING, "ImplicitDeny"),
        (trust(allow({"AWS": A_ROOT})), A_SESSION, ASSUME_ANY, "Allow"),
        # another account: its identity policies must allow too
        (trust(allow({"AWS": B_ROLE})), B_SESSION, NOTHING, "ImplicitDeny"),
        (trust(allow({"AWS": B_ROLE})), B_SESSION, ASSUME_ANY, "Allow"),
        # the identity policy allows, the trust does not name the caller
        (trust(allow({"AWS": B_ROLE})), A_SESSION, ASSUME_ANY, "ImplicitDeny"),
    ],
)
def test_the_full_evaluation_of_an_iam_caller(document, caller, identity, expected):
    request = Request(ASSUME, TARGET, principal=caller)
    layers = Layers(identity=[identity], resource=document)
    assert evaluate(request, layers).decision.value == expected


@pytest.mark.parametrize(
    ("context", "expected"),
    [(TOKEN, "Allow"), ({**TOKEN, SUB: "repo:octo-org/app:ref:refs/heads/dev"}, "ImplicitDeny")],
)
def test_a_federated_caller_needs_no_identity_policy(context, expected):
    """R8.13: "Calling AssumeRoleWithWebIdentity does not require the use of AWS security
    credentials": the trust policy alone decides."""
    request = Request(WEB, TARGET, context, federated=GITHUB)
    assert evaluate(request, Layers(resource=GITHUB_EQUALS)).decision.value == expected


@pytest.mark.parametrize(
    ("mode", "expected"),
    [(THREE_VALUED, "Unknown"), (PESSIMISTIC, "ImplicitDeny"), (OPTIMISTIC, "Allow")],
)
def test_what_a_service_needs_beyond_its_trust_is_not_documented(mode, expected):
    """R8.13: evaluate does not guess that a service needs nothing but the trust."""
    request = Request(ASSUME, TARGET, service=LAMBDA)
    result = evaluate(request, Layers(resource=trust(allow({"Service": LAMBDA}))), mode=mode)
    assert result.decision.value == expected
    assert ("Service", "identity") in result.unknown


def test_the_trust_alone_allows_the_service():
    """R8.13, R8.14: evaluate_trust gives the trust policy's own decision, with nothing unknown."""
    request = Request(ASSUME, TARGET, service=LAMBDA)
    result = evaluate_trust(request, trust(allow({"Service": LAMBDA})), mode=PESSIMISTIC)
    assert (result.decision, result.unknown) == (Decision.ALLOW, frozenset())


def test_a_service_the_trust_does_not_name_is_refused_by_the_full_evaluation():
    """R8.11: no mode lets in a service the trust does not name."""
    request = Request(ASSUME, TARGET, service="ec2.amazonaws.com")
    layers = Layers(resource=trust(allow({"Service": LAMBDA})))
    assert [
        evaluate(request, layers, mode=m).decision.value for m in (THREE_VALUED, OPTIMISTIC)
    ] == [
        "ImplicitDeny",
        "ImplicitDeny",
    ]


def test_the_new_fields_come_last():
    """Positional callers of Request keep their meaning; service and federated are keywords."""
    request = Request(ASSUME, TARGET, {}, B_SESSION, frozenset(), None, False, None, LAMBDA)
    assert (request.principal, request.session, request.service, request.federated) == (
        B_SESSION,
        None,
        LAMBDA,
        None,
    )


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="is not one of"):
        evaluate_trust(Request(ASSUME, TARGET, service=LAMBDA), trust(), mode="hopeful")


def test_the_callers_side_alone_of_a_cross_account_request() -> None:
    """R8.15: a replay of identity policies checks the caller's side; without a resource
    policy a cross-account request is refused, unless only the caller's side is asked."""
    from trailmin.policy.evaluate import Decision, Layers, Request, evaluate

    role = "arn:aws:iam::111122223333:role/partner-read"
    caller = "arn:aws:iam::444455556666:role/reporter"
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}],
    }
    request = Request("sts:AssumeRole", role, principal=caller)
    assert evaluate(request, Layers(identity=[allow])).decision is Decision.IMPLICIT_DENY
    assert (
        evaluate(request, Layers(identity=[allow], caller_side_only=True)).decision
        is Decision.ALLOW
    )
    elsewhere = {**allow, "Statement": [{**allow["Statement"][0], "Resource": f"{role}-x"}]}
    assert (
        evaluate(request, Layers(identity=[elsewhere], caller_side_only=True)).decision
        is Decision.IMPLICIT_DENY
    )
    boundary = {**allow, "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    bounded = Layers(identity=[allow], boundaries=[boundary], caller_side_only=True)
    assert evaluate(request, bounded).decision is Decision.IMPLICIT_DENY
