"""Trust policies from who really assumed each role (issue 18, section 1): hand-made records of
every kind of caller, the proposals, the replay check, the diff and the findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import trailmin
from tests.conftest import (
    ROOT,
    SAMPLE_LOGS,
    log_name,
    make_record,
    role_session,
    sts_record,
    write_delivery,
)
from trailmin.cli import app
from trailmin.iam import trust
from trailmin.iam.details import parse_authorization_details
from trailmin.policy.evaluate import as_list

ROLE_ACCOUNT = "111122223333"
PARTNER = "444455556666"  # an account of the organization, its logs in the lake too
VENDOR = "999988887777"  # a third party: no logs, no details
APP = f"arn:aws:iam::{ROLE_ACCOUNT}:role/service/app"
CI = f"arn:aws:iam::{ROLE_ACCOUNT}:role/ci-deploy"
OKTA_ROLE = f"arn:aws:iam::{ROLE_ACCOUNT}:role/okta-admins"
PARTNER_READ = f"arn:aws:iam::{ROLE_ACCOUNT}:role/partner-read"
VENDOR_ROLE = f"arn:aws:iam::{ROLE_ACCOUNT}:role/vendor-audit"
ADMIN = f"arn:aws:iam::{ROLE_ACCOUNT}:role/admin"
REPORTER = f"arn:aws:iam::{PARTNER}:role/reporter"
ALICE = f"arn:aws:iam::{ROLE_ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ROLE_ACCOUNT}:user/bob"
GITHUB = f"arn:aws:iam::{ROLE_ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
OKTA = f"arn:aws:iam::{ROLE_ACCOUNT}:saml-provider/Okta"
MAIN = "repo:acme/app:ref:refs/heads/main"
PROD = "repo:acme/app:environment:prod"


def _service(n: int, service: str, role: str) -> dict:
    identity = {"type": "AWSService", "invokedBy": service}
    return sts_record(n, "AssumeRole", identity, {"roleArn": role, "roleSessionName": f"s{n}"})


def _github(n: int, subject: str) -> dict:
    identity = {
        "type": "WebIdentityUser",
        "principalId": f"{GITHUB}:sts.amazonaws.com:{subject}",
        "userName": subject,
        "identityProvider": GITHUB,
    }
    params = {"roleArn": CI, "roleSessionName": "GitHubActions", "durationSeconds": 3600}
    return sts_record(n, "AssumeRoleWithWebIdentity", identity, params)


def _saml(n: int, person: str) -> dict:
    identity = {
        "type": "SAMLUser",
        "principalId": f"Ab1CdE2fGh3IjK4lMn5OpQ6rSt8=:{person}",
        "userName": person,
        "identityProvider": "Ab1CdE2fGh3IjK4lMn5OpQ6rSt8=",
    }
    params = {"roleArn": OKTA_ROLE, "roleSessionName": person, "principalArn": OKTA}
    return sts_record(n, "AssumeRoleWithSAML", identity, params)


def records() -> dict[str, list[dict]]:
    """Return the role account's records and the partner account's."""
    mine = [_service(n, "lambda.amazonaws.com", APP) for n in range(1, 4)]
    mine.append(_service(4, "ecs-tasks.amazonaws.com", APP))
    mine += [_github(n, MAIN) for n in range(5, 8)] + [_github(8, PROD)]
    mine += [_saml(9, "li.wei@acme.example"), _saml(10, "dev.patel@acme.example")]
    # The partner's reporter, as the role's account sees it: only its account and ID.
    across = {
        "type": "AWSAccount",
        "principalId": "AROAREPORTER0000001:nightly",
        "accountId": PARTNER,
    }
    mine += [
        sts_record(n, "AssumeRole", across, {"roleArn": PARTNER_READ, "roleSessionName": "nightly"})
        for n in (11, 12)
    ]
    vendor = {"type": "AWSAccount", "principalId": "AROAVENDOR00000001:scan", "accountId": VENDOR}
    mine.append(
        sts_record(
            13,
            "AssumeRole",
            vendor,
            {"roleArn": VENDOR_ROLE, "roleSessionName": "scan", "externalId": "ext-4242"},
        )
    )
    mine.append(
        sts_record(
            14,
            "AssumeRole",
            make_record(0)["userIdentity"],  # alice
            {
                "roleArn": ADMIN,
                "roleSessionName": "alice",
                "sourceIdentity": "alice",
                "tags": [{"key": "team", "value": "infra"}],
            },
        )
    )
    bob = {
        **make_record(0)["userIdentity"],
        "arn": BOB,
        "userName": "bob",
        "principalId": "AIDABOB",
    }
    mine.append(
        sts_record(
            15,
            "AssumeRole",
            bob,
            None,
            errorCode="AccessDenied",
            errorMessage=f"User: {BOB} is not authorized to perform: sts:AssumeRole on resource: "
            f"{ADMIN}",
        )
    )
    # The reporter's own account logs the same calls with its ARN, and its other calls.
    reporter = role_session(REPORTER, "AROAREPORTER0000001")
    theirs = [
        sts_record(
            n,
            "AssumeRole",
            reporter,
            {"roleArn": PARTNER_READ, "roleSessionName": "nightly"},
            recipientAccountId=PARTNER,
        )
        for n in (111, 112)
    ]
    theirs.append(make_record(113, userIdentity=reporter, recipientAccountId=PARTNER))
    return {ROLE_ACCOUNT: mine, PARTNER: theirs}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trust")
    for account, batch in records().items():
        name = log_name(account, "us-east-1", "20261005T1200Z", "trust")
        folder = root / "logs" / "AWSLogs" / account / "CloudTrail" / "us-east-1" / "2026/10/05"
        write_delivery(folder / name, batch)
    summary = trailmin.ingest([root / "logs"], lake=root / "lake")
    assert summary.records_skipped == 0
    return root / "lake"


def _trust_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _role(arn: str, document: dict[str, Any]) -> dict[str, Any]:
    name = arn.rsplit("/", 1)[1]
    return {
        "RoleName": name,
        "Arn": arn,
        "Path": arn.split(":role", 1)[1][: -len(name)],
        "RoleId": f"AROA{name.upper().replace('-', '')}",
        "AssumeRolePolicyDocument": document,
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
    }


TODAY = {
    APP: _trust_policy(
        {
            "Effect": "Allow",
            "Principal": {
                "Service": ["lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "ec2.amazonaws.com"]
            },
            "Action": "sts:AssumeRole",
        }
    ),
    CI: _trust_policy(
        {
            "Effect": "Allow",
            "Principal": {"Federated": GITHUB},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
            },
        }
    ),
    OKTA_ROLE: _trust_policy(
        {
            "Effect": "Allow",
            "Principal": {"Federated": OKTA},
            "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
            "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
        }
    ),
    PARTNER_READ: _trust_policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:root"},
            "Action": "sts:AssumeRole",
        }
    ),
    VENDOR_ROLE: _trust_policy(
        {"Effect": "Allow", "Principal": {"AWS": VENDOR}, "Action": "sts:AssumeRole"}
    ),
    ADMIN: _trust_policy(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ROLE_ACCOUNT}:user/carol"},
            "Action": "sts:AssumeRole",
        },
    ),
}


@pytest.fixture(scope="module")
def details() -> Any:
    return parse_authorization_details(
        {"RoleDetailList": [_role(arn, doc) for arn, doc in TODAY.items()], "UserDetailList": []}
    )


def test_every_kind_of_caller_is_read_from_its_record(lake: Path) -> None:
    report = trailmin.trust(lake, days="all")
    seen = {
        (a.role, a.kind, a.caller, a.subject, a.calls, a.refused)
        for r in report.roles
        for a in r.assumptions
    }
    assert seen == {
        (APP, trust.CallerKind.SERVICE, "ecs-tasks.amazonaws.com", None, 1, False),
        (APP, trust.CallerKind.SERVICE, "lambda.amazonaws.com", None, 3, False),
        (CI, trust.CallerKind.WEB_IDENTITY, GITHUB, MAIN, 3, False),
        (CI, trust.CallerKind.WEB_IDENTITY, GITHUB, PROD, 1, False),
        (OKTA_ROLE, trust.CallerKind.SAML, OKTA, "dev.patel@acme.example", 1, False),
        (OKTA_ROLE, trust.CallerKind.SAML, OKTA, "li.wei@acme.example", 1, False),
        # counted once, though both accounts logged it, and named by its ARN from its own logs
        (PARTNER_READ, trust.CallerKind.AWS, REPORTER, None, 2, False),
        # a third party known only by its ID: its account is what the logs show
        (VENDOR_ROLE, trust.CallerKind.AWS, f"arn:aws:iam::{VENDOR}:root", None, 1, False),
        (ADMIN, trust.CallerKind.AWS, ALICE, None, 1, False),
        (ADMIN, trust.CallerKind.AWS, BOB, None, 1, True),  # the role from the error message
    }
    ci = report.role(CI)
    assert ci is not None
    assert {a.audience for a in ci.assumptions} == {"sts.amazonaws.com"}
    vendor = report.role(VENDOR_ROLE)
    assert vendor is not None
    assert vendor.assumptions[0].unique_id == "AROAVENDOR00000001"
    assert vendor.assumptions[0].external_id == "ext-4242"
    # The listing of callers says an external id was given; only the proposal, which must
    # require it, holds its value.
    listed = json.dumps([a.to_dict() for r in report.roles for a in r.assumptions])
    assert "ext-4242" not in listed
    assert '"external_id": "given"' in listed


def test_proposals_allow_exactly_the_callers_seen(lake: Path) -> None:
    report = trailmin.trust(lake, days="all")
    documents = {r.role: r.proposal.document for r in report.roles}
    statements = {role: doc["Statement"] if doc else None for role, doc in documents.items()}
    assert statements[APP] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"]},
            "Action": "sts:AssumeRole",
            "Sid": "Trust1",
        }
    ]
    assert statements[CI] == [
        {
            "Effect": "Allow",
            "Principal": {"Federated": GITHUB},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": [PROD, MAIN],
                }
            },
            "Sid": "Trust1",
        }
    ]
    assert statements[PARTNER_READ] == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": REPORTER},
            "Action": "sts:AssumeRole",
            "Sid": "Trust1",
        }
    ]
    assert statements[VENDOR_ROLE] == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{VENDOR}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "ext-4242"}},
            "Sid": "Trust1",
        }
    ]
    # tags and a source identity need their own actions; bob's refused attempt is not trusted
    assert statements[ADMIN] == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": ALICE},
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
            "Sid": "Trust1",
        }
    ]
    vendor = report.role(VENDOR_ROLE)
    assert vendor is not None
    assert any("known only by its ID" in n for n in vendor.proposal.notes)
    for item in report.roles:
        assert item.proposal.refusals == (), item.role
        assert item.proposal.replayed == sum(1 for a in item.assumptions if not a.refused)


def test_conditions_the_records_cannot_show_are_kept_from_today(lake: Path, details: Any) -> None:
    report = trailmin.trust(lake, details, days="all")
    okta = report.role(OKTA_ROLE)
    assert okta is not None
    assert okta.proposal.document is not None
    assert okta.proposal.document["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Federated": OKTA},
            # a SAML assertion's tags are not in the record: today's TagSession is kept
            "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
            "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
            "Sid": "Trust1",
        }
    ]
    assert okta.proposal.carried == ("SAML:aud",)
    assert okta.proposal.refusals == ()


def test_a_hand_narrowed_trust_policy_fails_with_exactly_the_caller_dropped(
    lake: Path, tmp_path: Path
) -> None:
    proposal = trailmin.trust(lake, days="all").role(CI)
    assert proposal is not None
    assert proposal.proposal.document is not None
    narrowed = json.loads(json.dumps(proposal.proposal.document))
    narrowed["Statement"][0]["Condition"]["StringEquals"][
        "token.actions.githubusercontent.com:sub"
    ] = MAIN
    path = tmp_path / "narrowed.json"
    path.write_text(json.dumps(narrowed))
    checked = trailmin.verify_trust(path, lake, CI, days="all")
    assert [(r.caller, r.subject, r.action, r.calls) for r in checked.refusals] == [
        (GITHUB, PROD, "sts:AssumeRoleWithWebIdentity", 1)
    ]
    result = CliRunner().invoke(
        app, ["trust", "--lake", str(lake), "--days", "all", "--role", CI, "--check", str(path)]
    )
    assert result.exit_code == 1, result.output
    assert f"{GITHUB} (subject {PROD}) (sts:AssumeRoleWithWebIdentity), 1 call" in result.output
    assert "Replayed 2 assumptions (4 calls)" in result.output


def test_dropping_a_cross_account_caller_or_a_tag_action_fails_too(
    lake: Path, tmp_path: Path
) -> None:
    path = tmp_path / "admin.json"
    path.write_text(
        json.dumps(
            _trust_policy(
                {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "sts:AssumeRole"}
            )
        )
    )
    checked = trailmin.verify_trust(path, lake, ADMIN, days="all")
    assert [(r.caller, r.action) for r in checked.refusals] == [
        (ALICE, "sts:SetSourceIdentity"),
        (ALICE, "sts:TagSession"),
    ]
    path.write_text(
        json.dumps(
            _trust_policy(
                {"Effect": "Allow", "Principal": {"AWS": REPORTER}, "Action": "sts:AssumeRole"}
            )
        )
    )
    assert trailmin.verify_trust(path, lake, PARTNER_READ, days="all").passed
    path.write_text(
        json.dumps(
            _trust_policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:role/other"},
                    "Action": "sts:AssumeRole",
                }
            )
        )
    )
    refused = trailmin.verify_trust(path, lake, PARTNER_READ, days="all").refusals
    assert [(r.caller, r.decision) for r in refused] == [(REPORTER, "ImplicitDeny")]


def test_a_role_nobody_assumed_is_said_not_passed(lake: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(TODAY[APP]))
    with pytest.raises(trailmin.NothingMatched, match="ci-deplyo was not assumed"):
        trailmin.verify_trust(path, lake, CI.replace("deploy", "deplyo"), days="all")
    path.write_text(json.dumps({"Version": "2012-10-17"}))
    with pytest.raises(trailmin.UsageError, match=r"t\.json is not a trust policy"):
        trailmin.verify_trust(path, lake, CI, days="all")


def test_the_diff_against_todays_trust_policies(lake: Path, details: Any) -> None:
    report = trailmin.trust(lake, details, days="all")
    app_role = report.role(APP)
    assert app_role is not None
    assert app_role.diff is not None
    assert [(e.kind, e.value) for e in app_role.diff.unused] == [("Service", "ec2.amazonaws.com")]
    partner = report.role(PARTNER_READ)
    assert partner is not None
    assert partner.diff is not None
    assert [(e.value, e.used_by) for e in partner.diff.wider] == [
        (f"arn:aws:iam::{PARTNER}:root", (REPORTER,))
    ]
    ci = report.role(CI)
    assert ci is not None
    assert ci.diff is not None
    (wide,) = ci.diff.wider
    assert "no token.actions.githubusercontent.com:sub condition" in (wide.note or "")
    assert MAIN in (wide.note or "")
    assert PROD in (wide.note or "")
    admin = report.role(ADMIN)
    assert admin is not None
    assert admin.diff is not None
    assert [(e.kind, e.value) for e in admin.diff.unused] == [
        ("AWS", f"arn:aws:iam::{ROLE_ACCOUNT}:user/carol")
    ]
    assert [a.caller for a in admin.diff.attempts] == [BOB]
    # alice's tags and source identity: today's policy allows AssumeRole only
    assert [(r.caller, r.action) for r in admin.diff.untrusted] == [
        (ALICE, "sts:SetSourceIdentity"),
        (ALICE, "sts:TagSession"),
    ]


def test_findings_on_dangerous_shapes(lake: Path, details: Any) -> None:
    report = trailmin.trust(lake, details, days="all")
    found = {(f.code, f.severity, r.role) for r in report.roles for f in r.findings}
    assert found == {
        ("TRUST_ANYONE", "high", ADMIN),
        ("TRUST_OIDC_NO_SUBJECT", "high", CI),
        ("TRUST_THIRD_PARTY_NO_EXTERNAL_ID", "medium", VENDOR_ROLE),
    }


@pytest.mark.parametrize(
    ("statement", "codes"),
    [
        ({"Principal": "*"}, {"TRUST_ANYONE"}),
        (
            {
                "Principal": {"AWS": "*"},
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
            },
            set(),
        ),
        (
            {
                "Principal": {"AWS": "*"},
                "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-x"}},
            },
            {"TRUST_ANYONE"},
        ),
        (
            {"Principal": {"AWS": "*"}, "Condition": {"StringLike": {"aws:PrincipalArn": "*"}}},
            {"TRUST_ANYONE"},
        ),
        (
            {"Principal": {"Federated": "cognito-identity.amazonaws.com"}},
            {"TRUST_OIDC_NO_AUDIENCE", "TRUST_OIDC_NO_SUBJECT"},
        ),
        (
            {
                "Principal": {"Federated": GITHUB},
                "Condition": {
                    "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"},
                    "StringEquals": {
                        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com"
                    },
                },
            },
            set(),
        ),
        (
            {"Principal": {"AWS": "arn:aws:iam::123456789012:root"}},
            {"TRUST_THIRD_PARTY_NO_EXTERNAL_ID"},
        ),
        (
            {
                "Principal": {"AWS": "123456789012"},
                "Condition": {"StringEquals": {"sts:ExternalId": "x"}},
            },
            set(),
        ),
        ({"Principal": {"AWS": f"arn:aws:iam::{PARTNER}:root"}}, set()),  # a known account
        ({"Principal": {"Service": "lambda.amazonaws.com"}}, set()),
    ],
)
def test_each_shape_rule(statement: dict[str, Any], codes: set[str]) -> None:
    document = _trust_policy({"Effect": "Allow", "Action": "sts:AssumeRole", **statement})
    found = trust.trust_findings(ADMIN, document, known_accounts=[PARTNER])
    assert {f.code for f in found} == codes


def test_roles_aws_manages_get_no_proposal() -> None:
    now = trailmin.parse_time("2026-10-05")
    assert now is not None
    linked = (
        "arn:aws:iam::111122223333:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS"
    )
    seen = trust.Assumption(
        linked, "sts:AssumeRole", trust.CallerKind.SERVICE, "rds.amazonaws.com", None, 1, now, now
    )
    proposal = trust.propose_trust(linked, [seen])
    assert proposal.document is None
    assert "service-linked" in (proposal.skipped or "")


@pytest.mark.parametrize(
    ("principal_id", "user_name", "expected"),
    [
        (
            f"{GITHUB}:sts.amazonaws.com:{MAIN}",
            MAIN,
            (GITHUB, "sts.amazonaws.com", MAIN),
        ),
        (
            "cognito-identity.amazonaws.com:us-east-1:1111-aaaa:us-east-1:2222-bbbb",
            "us-east-1:2222-bbbb",
            ("cognito-identity.amazonaws.com", "us-east-1:1111-aaaa", "us-east-1:2222-bbbb"),
        ),
        (
            "accounts.google.com:client-1:1234567",
            "1234567",
            ("accounts.google.com", "client-1", "1234567"),
        ),
        # no userName: the default audience (no colon in it) tells where the subject starts
        (f"{GITHUB}:sts.amazonaws.com:{MAIN}", None, (GITHUB, "sts.amazonaws.com", MAIN)),
        (f"{GITHUB}:my-audience:{MAIN}", None, (GITHUB, None, None)),
        (None, None, (None, None, None)),
    ],
)
def test_web_identity_principal_ids(
    principal_id: str | None, user_name: str | None, expected: tuple[Any, ...]
) -> None:
    assert trust.web_identity(principal_id, user_name) == expected


def test_files_for_each_output(lake: Path, tmp_path: Path) -> None:
    report = trailmin.trust(lake, days="all")
    item = report.role(CI)
    assert item is not None
    json_files = trust.render_trust(report, "json")
    assert json.loads(json_files[f"trust/{item.slug}/trust-policy.json"]) == item.proposal.document
    # a role's trust folder is named as its permission proposal's: path and all
    app_role = report.role(APP)
    assert app_role is not None
    assert app_role.slug == "111122223333-role-service-app"
    assert f"trust/{app_role.slug}/trust-policy.json" in json_files
    assert json.loads(json_files["trust/index.json"])["roles"][0]["role"] == ADMIN
    tf = trust.render_trust(report, "terraform")[f"trust/{item.slug}/main.tf"]
    assert "ci_deploy_assume_role_policy = jsonencode(" in tf
    import yaml

    cfn = yaml.safe_load(
        trust.render_trust(report, "cloudformation")[f"trust/{item.slug}/template.yaml"]
    )
    assert cfn["AssumeRolePolicyDocument"] == item.proposal.document
    result = CliRunner().invoke(
        app,
        [
            "trust",
            "--lake",
            str(lake),
            "--days",
            "all",
            "--out",
            str(tmp_path / "o"),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "trust" / item.slug / "trust-policy.json").exists()
    assert json.loads(result.stdout)["roles"]


def test_the_callers_side_needs_the_session_actions_too(lake: Path) -> None:
    """The caller's identity policy must allow what its AssumeRole passed: tags and a source
    identity (mapping/data/session_on_assume.csv)."""
    used = trailmin.usage(lake, days="all", principals=[ALICE])
    needed = {(row.action, row.resource) for row in used.itertuples()}
    assert needed == {
        ("sts:AssumeRole", ADMIN),
        ("sts:TagSession", ADMIN),
        ("sts:SetSourceIdentity", ADMIN),
    }


def test_conditions_the_records_cannot_tell_are_no_difference(lake: Path, details: Any) -> None:
    """Today's SAML:aud condition: the records do not carry the audience, and today's policy
    did let these people in; the entry is used, and nothing is 'used but not trusted'."""
    okta = trailmin.trust(lake, details, days="all").role(OKTA_ROLE)
    assert okta is not None
    assert okta.diff is not None
    assert okta.diff.unused == ()
    assert okta.diff.untrusted == ()
    assert okta.diff.empty


def test_every_assume_call_of_the_real_logs(real_logs: Path, tmp_path_factory: Any) -> None:
    """../shared/real_logs: every AssumeRole* record the lake holds is read into a caller of a
    role (the refused ones with the role from the error message), and every proposal passes
    its replay."""
    lake = tmp_path_factory.mktemp("real-trust") / "lake"
    trailmin.ingest([real_logs], lake=lake, workers=1)
    events = trailmin.read_events(lake)
    assume = events[events["event_name"].astype(str).str.startswith("AssumeRole")]
    report = trailmin.trust(lake, days="all")
    assumptions = [a for r in report.roles for a in r.assumptions]
    assert sum(a.calls for a in assumptions) == len(assume) == 57
    assert sum(a.calls for a in assumptions if a.refused) == 13
    assert {a.kind for a in assumptions} == {trust.CallerKind.SERVICE, trust.CallerKind.AWS}
    for item in report.roles:
        assert item.proposal.refusals == (), item.role
    linked = [r for r in report.roles if "aws-service-role" in r.role]
    assert linked
    assert all(r.proposal.document is None for r in linked)


def test_todays_conditions_on_a_wider_principal_are_kept(lake: Path) -> None:
    """Today's statement trusts the partner's whole account with MFA required: the proposal
    names the reporter, and keeps the MFA condition, which no record of the role side tells."""
    today = _trust_policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": PARTNER},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    )
    details = parse_authorization_details({"RoleDetailList": [_role(PARTNER_READ, today)]})
    item = trailmin.trust(lake, details, days="all").role(PARTNER_READ)
    assert item is not None
    assert item.proposal.document is not None
    assert item.proposal.document["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": REPORTER},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            "Sid": "Trust1",
        }
    ]
    assert item.proposal.refusals == ()
    assert item.diff is not None
    assert item.diff.untrusted == ()


def test_the_cross_account_callers_side_is_proposed_from_its_own_logs(lake: Path) -> None:
    """The partner's reporter: its account's logs hold its AssumeRole, so its own proposal
    allows sts:AssumeRole on the role in the other account."""
    (proposal,) = trailmin.generate(lake, days="all", principals=[REPORTER])
    granted = {
        (action, resource)
        for policy in proposal.policies
        for statement in policy.document()["Statement"]
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
    assert ("sts:AssumeRole", PARTNER_READ) in granted


def test_services_documented_to_send_the_source_account(lake: Path) -> None:
    """ecs-tasks.amazonaws.com: AWS documents aws:SourceAccount in its roles' trust policies
    (data/service_source_conditions.csv); Lambda's pages show none. By default a note says so;
    with source_account the role's own account is required of ECS alone, and the replay still
    passes (the rule's key is one the records cannot tell)."""
    plain = trailmin.trust(lake, days="all").role(APP)
    assert plain is not None
    assert any(
        n.startswith("ecs-tasks.amazonaws.com: AWS documents aws:SourceAccount")
        for n in plain.proposal.notes
    )
    ruled = trailmin.trust(lake, days="all", source_account=True).role(APP)
    assert ruled is not None
    assert ruled.proposal.document is not None
    assert ruled.proposal.document["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Sid": "Trust1",
        },
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ROLE_ACCOUNT}},
            "Sid": "Trust2",
        },
    ]
    assert ruled.proposal.refusals == ()
    assert any("a rule: AWS documents" in n for n in ruled.proposal.notes)


def test_the_source_account_table_has_a_source_for_every_row() -> None:
    import csv

    from tests.conftest import ROOT

    table = ROOT / "trailmin" / "data" / "service_source_conditions.csv"
    rows = list(csv.DictReader(table.read_text().splitlines()))
    assert rows
    for row in rows:
        assert row["service_principal"].endswith(".amazonaws.com"), row
        assert row["source_account"] in {"yes", "no", "unknown"}, row
        assert row["url"].startswith("https://docs.aws.amazon.com/"), row
        assert row["quote"], row
    assert "lambda.amazonaws.com" not in trust.source_account_services()


# ---------------------------------------------------------------------- the committed sample

SAMPLE_VENDOR_ROLE = f"arn:aws:iam::{ROLE_ACCOUNT}:role/vendor-audit"
SAMPLE_EXTERNAL_ID = "acme-cloudaudit-7Qd2vX"  # what examples/sample-auth.json requires


@pytest.fixture(scope="module")
def sample_trust(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The trust report of sample_logs, with the sample's authorization details."""
    lake = tmp_path_factory.mktemp("sample") / "lake"
    trailmin.ingest([SAMPLE_LOGS], lake=lake, workers=1)
    details = trailmin.authorization_details(auth_file=ROOT / "examples" / "sample-auth.json")
    return trailmin.trust(lake, details, days="all")


def test_the_samples_vendor_gets_its_external_id_and_tag_session(sample_trust: Any) -> None:
    """The sample's vendor (a third party, no logs of its own) assumes role/vendor-audit each
    week with an external ID and session tags: the proposal requires the ID, allows
    sts:TagSession and names the vendor's account, its caller being known by its ID only."""
    item = sample_trust.role(SAMPLE_VENDOR_ROLE)
    assert item is not None
    (seen,) = item.assumptions
    assert (seen.kind, seen.caller, seen.account, seen.calls) == (
        trust.CallerKind.AWS,
        f"arn:aws:iam::{VENDOR}:root",
        VENDOR,
        3,  # the first day, then weekly
    )
    assert (seen.external_id, seen.tagged, seen.refused) == (SAMPLE_EXTERNAL_ID, True, False)
    assert seen.unique_id is not None
    assert seen.unique_id.startswith("AROA")
    assert not seen.resolved
    assert item.proposal.document is not None
    assert item.proposal.document["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{VENDOR}:root"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {"sts:ExternalId": SAMPLE_EXTERNAL_ID}},
            "Sid": "Trust1",
        }
    ]
    assert any(f"known only by its ID {seen.unique_id}" in n for n in item.proposal.notes)
    assert item.proposal.refusals == ()
    assert item.proposal.replayed == 1
    # Today's policy requires the same external ID: no finding on a third party without one.
    assert item.current is not None
    (today,) = item.current["Statement"]
    assert today["Condition"] == {"StringEquals": {"sts:ExternalId": SAMPLE_EXTERNAL_ID}}
    assert item.findings == ()


def test_the_samples_vendor_tags_are_used_but_not_trusted(sample_trust: Any) -> None:
    """Today's trust policy of role/vendor-audit allows sts:AssumeRole only: the vendor's calls
    passed session tags, which also need sts:TagSession, so the diff lists them."""
    item = sample_trust.role(SAMPLE_VENDOR_ROLE)
    assert item is not None
    assert item.diff is not None
    assert [(r.caller, r.action, r.calls) for r in item.diff.untrusted] == [
        (f"arn:aws:iam::{VENDOR}:root", "sts:TagSession", 3)
    ]
