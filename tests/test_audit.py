"""The IAM checklist: each check on records made for it, on the real logs, and with moto's IAM."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

import trailmin
from tests.conftest import ROOT, fake_aws_env, log_name, make_record, reset_moto, write_delivery
from trailmin.iam import audit as checklist

A = "111122223333"
ROOT_ARN = f"arn:aws:iam::{A}:root"


# A console sign-in's fields, and a failed one as CloudTrail writes it: no errorCode, only the
# message.
SIGNIN: dict[str, Any] = {
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "eventType": "AwsConsoleSignIn",
}
FAILED_SIGNIN: dict[str, Any] = {
    **SIGNIN,
    "errorMessage": "Failed authentication",
    "responseElements": {"ConsoleLogin": "Failure"},
    "additionalEventData": {"MFAUsed": "No"},
}


def root_identity() -> dict[str, Any]:
    return {
        "type": "Root",
        "principalId": A,
        "arn": ROOT_ARN,
        "accountId": A,
        "accessKeyId": "ASIAROOT",
    }


def user(name: str, key: str = "ASIAEXAMPLE") -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": f"arn:aws:iam::{A}:user/{name}",
        "accountId": A,
        "accessKeyId": key,
        "userName": name,
    }


def at(day: int, n: int) -> str:
    return (
        (datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=day, minutes=n))
        .isoformat()
        .replace("+00:00", "Z")
    )


def lake_of(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    write_delivery(tmp_path / "logs" / log_name(A, "us-east-1", "20261001T0000Z", "a"), records)
    lake = tmp_path / "lake"
    trailmin.ingest([tmp_path / "logs"], lake=lake, workers=1)
    return lake


@pytest.fixture
def made(tmp_path):
    """Records made so that each check of the lake fires once, and a clean principal beside."""
    records = []
    n = 0

    def add(day: int, **fields: Any) -> None:
        nonlocal n
        records.append(make_record(n, eventTime=at(day, n), **fields))
        n += 1

    # A clean principal: the same role, services, region and network every day, no denial.
    clean = {
        "type": "AssumedRole",
        "principalId": "AROACLEAN:s",
        "arn": f"arn:aws:sts::{A}:assumed-role/clean/s",
        "accountId": A,
        "accessKeyId": "ASIACLEAN",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROACLEAN",
                "arn": f"arn:aws:iam::{A}:role/clean",
                "accountId": A,
                "userName": "clean",
            }
        },
    }
    for day in range(10):
        for _ in range(3):
            add(day, userIdentity=clean, sourceIPAddress="198.51.100.7")
    # A function outside a VPC: the same work every day, from a new AWS address each day.
    lambda_role = {
        **clean,
        "principalId": "AROALAMBDA:fn",
        "arn": f"arn:aws:sts::{A}:assumed-role/fn-role/fn",
        "sessionContext": {
            "sessionIssuer": {
                **clean["sessionContext"]["sessionIssuer"],
                "arn": f"arn:aws:iam::{A}:role/fn-role",
            }
        },
    }
    for day in range(10):
        for _ in range(3):
            add(day, userIdentity=lambda_role, sourceIPAddress=f"3.{day + 10}.7.9")
    # bob: a baseline of S3 in us-east-1 from one network, then EC2 in eu-west-1 from another,
    # and a burst of refusals.
    for day in range(9):
        for _ in range(3):
            add(day, userIdentity=user("bob"), sourceIPAddress="198.51.100.8")
    add(
        9,
        userIdentity=user("bob"),
        eventSource="ec2.amazonaws.com",
        eventName="DescribeInstances",
        awsRegion="eu-west-1",
        sourceIPAddress="203.0.113.50",
    )
    for _ in range(6):
        add(
            9,
            userIdentity=user("bob"),
            eventSource="iam.amazonaws.com",
            eventName="ListUsers",
            errorCode="AccessDenied",
            errorMessage="no",
            sourceIPAddress="198.51.100.8",
        )
    # Root: a sign-in without MFA (a root task) and a call that is not one.
    add(
        8,
        userIdentity=root_identity(),
        additionalEventData={"MFAUsed": "No"},
        responseElements={"ConsoleLogin": "Success"},
        **SIGNIN,
    )
    add(
        8,
        userIdentity=root_identity(),
        eventSource="ec2.amazonaws.com",
        eventName="DescribeRegions",
    )
    # A user's console sign-in without MFA, and one with.
    add(
        7,
        userIdentity=user("carol"),
        additionalEventData={"MFAUsed": "No"},
        **SIGNIN,
    )
    # A failed sign-in (no errorCode, as CloudTrail writes them): not a sign-in.
    add(
        7,
        userIdentity={k: v for k, v in user("carol").items() if k != "arn"} | {"accessKeyId": ""},
        **FAILED_SIGNIN,
    )
    add(
        7,
        userIdentity=user("dave"),
        additionalEventData={"MFAUsed": "Yes"},
        **SIGNIN,
    )
    # Long-term keys: one from a laptop, one from a Lambda function.
    add(
        6,
        userIdentity=user("laptop", "AKIALAPTOP0000000001"),
        sourceIPAddress="192.0.2.10",
        userAgent="aws-cli/2.15.0",
    )
    add(
        6,
        userIdentity=user("app", "AKIAAPPKEY0000000002"),
        sourceIPAddress="3.5.140.2",
        userAgent="Boto3/1.34 md/Botocore#1.34 exec-env/AWS_Lambda_python3.12",
    )
    return lake_of(tmp_path, records)


def audit_cli(lake: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trailmin", "audit", "--lake", str(lake), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def findings(result, code):
    return [f for f in result.findings if f.code == code]


def test_each_check_of_the_lake_fires_on_its_records(made):
    result = trailmin.audit(made, recent_days=1)
    (root,) = findings(result, "ROOT_ACCOUNT_USED")
    assert root.severity == "high"
    assert root.principals == (ROOT_ARN,)
    assert "ec2:DescribeRegions" in root.message
    (task,) = findings(result, "ROOT_TASK")
    assert "signin:ConsoleLogin" in task.message
    signins = {f.principals[0]: f.severity for f in findings(result, "CONSOLE_SIGNIN_WITHOUT_MFA")}
    assert signins == {ROOT_ARN: "high", f"arn:aws:iam::{A}:user/carol": "medium"}
    keys = {f.principals[0].rsplit("/", 1)[-1]: f for f in findings(result, "LONG_TERM_KEY_IN_USE")}
    assert set(keys) == {"laptop", "app"}
    assert keys["app"].severity == "high"  # a user's key inside Lambda
    assert "give it a role" in keys["app"].message
    assert keys["laptop"].severity == "medium"
    assert keys["laptop"].evidence[0]["source_ips"] == ["192.0.2.10"]
    bob = f"arn:aws:iam::{A}:user/bob"
    new = {(f.code, f.principals[0]): f for f in result.findings if f.code.startswith("NEW_")}
    assert set(new) == {("NEW_SERVICE", bob), ("NEW_REGION", bob), ("NEW_NETWORK", bob)}
    assert [e["value"] for e in new["NEW_SERVICE", bob].evidence] == ["ec2", "iam"]
    assert [e["value"] for e in new["NEW_NETWORK", bob].evidence] == ["203.0.113.0/24"]
    (spike,) = findings(result, "DENIED_SPIKE")
    assert spike.principals == (bob,)
    assert spike.evidence[0]["refused_calls"] == ["iam:ListUsers"]
    clean = f"arn:aws:iam::{A}:role/clean"
    assert not [f for f in result.findings if clean in f.principals]
    # The function's new address every day is its normal: not judged, and the audit says so.
    churning = f"arn:aws:iam::{A}:role/fn-role"
    assert not [f for f in result.findings if churning in f.principals]
    (note,) = [n for n in result.notes if "change all the time" in n]
    assert churning in note
    assert clean not in note
    (carol,) = [
        f
        for f in findings(result, "CONSOLE_SIGNIN_WITHOUT_MFA")
        if f.principals[0].endswith("carol")
    ]
    assert len(carol.evidence) == 1  # the failed attempt is left out
    # Most severe first.
    order = [checklist.SEVERITY_ORDER[f.severity] for f in result.findings]
    assert order == sorted(order)


def test_the_markdown_names_the_principals_and_the_evidence(made):
    text = trailmin.audit(made, recent_days=1).to_markdown()
    assert f"`DENIED_SPIKE` `arn:aws:iam::{A}:user/bob`: 6 access-denied calls" in text
    assert "  - access_key_id: AKIAAPPKEY0000000002; calls: 1; source_ips: 3.5.140.2" in text
    assert "1 call as the root user (ec2:DescribeRegions)" in text


def test_a_lake_without_a_baseline_says_so(made):
    result = trailmin.audit(made, recent_days=30)
    assert not [f for f in result.findings if f.code.startswith("NEW_") or f.code == "DENIED_SPIKE"]
    assert any("no event before the recent 30 days" in note for note in result.notes)


def test_churning_networks_need_two_and_more_than_one_every_two_days():
    start = datetime(2026, 10, 8, tzinfo=UTC)

    def rows(principal, networks, days):
        return [
            {
                "principal_arn": principal,
                "kind": "network",
                "value": f"203.0.{i}.0/24",
                "first_seen": start - timedelta(days=1),
                "baseline_events": 50,
                "baseline_active_days": days,
            }
            for i in range(networks)
        ]

    firsts = rows("home-and-office", 2, 7) + rows("ci", 2, 2) + rows("one", 1, 1)
    assert checklist.varied_networks(firsts, recent_start=start) == {"ci"}


def test_the_real_logs(real_logs, tmp_path_factory):
    """Root use, console sign-ins without MFA and long-term keys in ../shared/real_logs."""
    lake = tmp_path_factory.mktemp("audit") / "lake"
    trailmin.ingest([real_logs], lake=lake, workers=1)
    result = trailmin.audit(lake, days=5000, recent_days=1)
    assert {f.principals[0] for f in findings(result, "ROOT_ACCOUNT_USED")} == {
        "arn:aws:iam::123456789012:root"
    }
    assert {f.principals[0] for f in findings(result, "CONSOLE_SIGNIN_WITHOUT_MFA")} == {
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::111122223333:user/anaya",
        "arn:aws:iam::123456789012:user/Mary_Major",
        "arn:aws:iam::123837392027:user/stratus-red-team-nmfalu-gfjyeaypjt",
    }
    keys = {
        (f.principals[0], f.evidence[0]["access_key_id"])
        for f in findings(result, "LONG_TERM_KEY_IN_USE")
    }
    assert ("arn:aws:iam::123837392027:user/bert-jan", "AKIATFQR7NSC8Q4X20BJ") in keys
    assert ("arn:aws:iam::123456789012:root", "AKIAIOSFODNN7EXAMPLE") in keys
    root_key = next(
        f for f in findings(result, "LONG_TERM_KEY_IN_USE") if f.principals[0].endswith(":root")
    )
    assert root_key.severity == "high"
    # 111122223333's root: a failed sign-in, then the sign-in, password and MFA set-up that
    # only root can do.
    (failed,) = findings(result, "ROOT_SIGNIN_FAILED")
    assert failed.principals == ("arn:aws:iam::111122223333:root",)
    (tasks,) = findings(result, "ROOT_TASK")
    assert "iam:EnableMFADevice, signin:ConsoleLogin, signin:PasswordUpdated" in tasks.message


# As GetCredentialReport gives it: root with MFA, carol (password, no MFA, an old key and a key
# never used), dave (password, MFA, a key of 21 days).
REPORT = (ROOT / "tests" / "data" / "credential-report.csv").read_text()


def test_the_credential_report_checks(made):
    now = datetime(2026, 10, 11, tzinfo=UTC)
    result = trailmin.audit(made, credential_report=REPORT, recent_days=1, now=now)
    (mfa,) = findings(result, "USER_PASSWORD_WITHOUT_MFA")
    assert mfa.principals == (f"arn:aws:iam::{A}:user/carol",)
    (old,) = findings(result, "ACCESS_KEY_OLD")
    assert old.principals == (f"arn:aws:iam::{A}:user/carol",)
    assert "283 days old" in old.message
    (unused,) = findings(result, "ACCESS_KEY_UNUSED")
    assert unused.evidence[0]["key"] == "2"
    assert "never used" in unused.message
    shorter = trailmin.audit(
        made, credential_report=REPORT, recent_days=1, now=now, max_key_age_days=10
    )
    assert {f.principals[0] for f in findings(shorter, "ACCESS_KEY_OLD")} == {
        f"arn:aws:iam::{A}:user/carol",
        f"arn:aws:iam::{A}:user/dave",
    }


@pytest.fixture(scope="module")
def sample_audit(tmp_path_factory):
    """The audit of sample_logs with the sample's authorization details and credential report,
    with the defaults (the last 90 days, the last 7 against the 7 before)."""
    lake = tmp_path_factory.mktemp("sample") / "lake"
    trailmin.ingest([ROOT / "sample_logs"], lake=lake, workers=1)
    details = trailmin.authorization_details(auth_file=ROOT / "examples" / "sample-auth.json")
    report = (ROOT / "examples" / "sample-credential-report.csv").read_text()
    now = datetime(2026, 10, 19, tzinfo=UTC)
    return trailmin.audit(lake, details=details, credential_report=report, now=now)


def _subject(finding):
    if finding.principals:
        return finding.principals[0]
    evidence = finding.evidence[0]
    return str(evidence.get("policy") or evidence.get("group") or "")


def test_every_finding_occurs_in_the_sample_logs(sample_audit):
    # All but ROOT_WITHOUT_MFA: the sample's root signs in with MFA.
    assert sample_audit.codes() == {
        "ROOT_ACCOUNT_USED",
        "ROOT_TASK",
        "ROOT_SIGNIN_FAILED",
        "ROOT_ACCESS_KEY",
        "CONSOLE_SIGNIN_WITHOUT_MFA",
        "USER_PASSWORD_WITHOUT_MFA",
        "LONG_TERM_KEY_IN_USE",
        "ACCESS_KEY_OLD",
        "ACCESS_KEY_UNUSED",
        "UNUSED_PRINCIPAL",
        "NEW_SERVICE",
        "NEW_REGION",
        "NEW_NETWORK",
        "DENIED_SPIKE",
        "AWS_MANAGED_POLICY_ATTACHED",
        "USER_INLINE_POLICY",
        "USER_ATTACHED_POLICY",
        "SERVICE_WIDE_GRANT",
        # what examples/sample-auth.json plants for issue 18: an unattached policy, a group with
        # no member (holding a full-administrator policy), the trust policies, a role never used
        "UNUSED_POLICY",
        "EMPTY_GROUP",
        "FULL_ADMIN_POLICY",
        "TRUST_ANYONE",
        "TRUST_OIDC_NO_SUBJECT",
        "TRUST_OIDC_NO_AUDIENCE",
        "TRUST_THIRD_PARTY_NO_EXTERNAL_ID",
        "ROLE_NEVER_USED",
        # and what sample_logs plants: the leaked key checked while the nightly run uses it
        "POSSIBLY_SHARED_IDENTITY",
    }
    # A finding on a policy or a group names no principal: its evidence names what it is about.
    by = {
        (f.code, _subject(f).rsplit(":", 1)[-1])
        for f in sample_audit.findings
        if f.principals or f.evidence
    }
    # The planted cases, each on the principal it was planted on.
    assert {
        ("ROOT_ACCOUNT_USED", "root"),
        ("ROOT_SIGNIN_FAILED", "root"),
        ("ROOT_ACCESS_KEY", "root"),
        ("CONSOLE_SIGNIN_WITHOUT_MFA", "user/bob"),
        ("USER_PASSWORD_WITHOUT_MFA", "user/bob"),
        ("LONG_TERM_KEY_IN_USE", "user/legacy-batch"),
        ("LONG_TERM_KEY_IN_USE", "user/export-job"),
        ("ACCESS_KEY_OLD", "user/legacy-batch"),
        ("ACCESS_KEY_UNUSED", "user/legacy-batch"),
        ("UNUSED_PRINCIPAL", "role/old-etl"),
        ("DENIED_SPIKE", "user/legacy-batch"),
        ("NEW_NETWORK", "user/legacy-batch"),
        ("NEW_REGION", "user/legacy-batch"),
        ("NEW_SERVICE", "user/legacy-batch"),
        ("AWS_MANAGED_POLICY_ATTACHED", "user/legacy-batch"),
        ("USER_INLINE_POLICY", "user/legacy-batch"),
        ("USER_INLINE_POLICY", "user/export-job"),
        ("USER_ATTACHED_POLICY", "user/legacy-batch"),
        ("SERVICE_WIDE_GRANT", "role/service/app-backend"),  # legacy-admin-bits: iam:*
        ("SERVICE_WIDE_GRANT", "role/old-etl"),  # its inline s3:* on *
        ("SERVICE_WIDE_GRANT", "user/export-job"),  # s3:* on its bucket
        ("UNUSED_POLICY", "policy/old-etl-s3-2023"),
        ("EMPTY_GROUP", "group/contractors-2024"),
        ("FULL_ADMIN_POLICY", "policy/break-glass-admin"),
        ("TRUST_OIDC_NO_SUBJECT", "role/ci-deploy"),  # GitHub, no sub condition: any repository
        ("TRUST_OIDC_NO_AUDIENCE", "role/ci-deploy"),
        ("TRUST_ANYONE", "role/old-etl"),  # {"AWS": "*"}, only an external id
        ("TRUST_THIRD_PARTY_NO_EXTERNAL_ID", "role/old-etl"),  # account 999988887777
        ("ROLE_NEVER_USED", "role/reports-2024"),  # created 2024, no RoleLastUsed, no event
        ("POSSIBLY_SHARED_IDENTITY", "user/legacy-batch"),
    } <= by
    # old-etl was used, before the window (its RoleLastUsed): unused, not never used.
    (unused,) = findings(sample_audit, "UNUSED_PRINCIPAL")
    assert unused.principals == ("arn:aws:iam::111122223333:role/old-etl",)
    assert unused.evidence[0]["last_used"] == "2026-03-11T02:10:44Z"
    (never,) = findings(sample_audit, "ROLE_NEVER_USED")
    assert never.evidence[0]["created"] == "2024-01-15T11:00:00Z"
    assert never.evidence[0]["role_last_used"] is None
    # ci-deploy's permissions boundary grants cloudformation:* and more: a boundary grants
    # nothing, and IAM.21 leaves boundaries out.
    assert not [f for f in findings(sample_audit, "SERVICE_WIDE_GRANT") if "ci-" in f.message]
    keys = {
        f.principals[0].rsplit("/", 1)[-1]: f
        for f in findings(sample_audit, "LONG_TERM_KEY_IN_USE")
    }
    assert keys["export-job"].severity == "high"  # a user's key inside a Lambda function
    assert keys["legacy-batch"].severity == "medium"
    assert len(keys["legacy-batch"].evidence[0]["source_ips"]) == 2  # the script's and another
    # On the last day, someone checks legacy-batch's leaked key with the CLI from their own
    # network while the nightly script calls with it from its server: those two addresses.
    (shared,) = findings(sample_audit, "POSSIBLY_SHARED_IDENTITY")
    (occurrence,) = shared.evidence
    assert occurrence["slot"] == "2026-10-18T01:00:00Z"
    assert occurrence["user_agents"] == ["Boto3/1.34.0", "aws-cli/2.15.30"]
    assert occurrence["source_ips"] == sorted(keys["legacy-batch"].evidence[0]["source_ips"])
    assert occurrence["credentials"] == [keys["legacy-batch"].evidence[0]["access_key_id"]]
    (spike,) = findings(sample_audit, "DENIED_SPIKE")
    assert spike.evidence[0]["recent_denied"] == 7
    assert spike.evidence[0]["baseline_denied"] == 0
    assert "iam:ListUsers" in spike.evidence[0]["refused_calls"]
    (region,) = findings(sample_audit, "NEW_REGION")
    assert [e["value"] for e in region.evidence] == ["eu-west-1"]
    (signins,) = findings(sample_audit, "CONSOLE_SIGNIN_WITHOUT_MFA")
    assert len(signins.evidence) == 11  # of his 13, bob's two failed sign-ins are not sign-ins
    (managed,) = findings(sample_audit, "AWS_MANAGED_POLICY_ATTACHED")
    # Of what AmazonS3ReadOnlyAccess grants, the proposal keeps s3:GetObject and s3:ListBucket
    # (its ec2 and ssm actions come from the user's inline policy).
    assert managed.evidence[0]["proposed"] == 2
    assert managed.evidence[0]["granted"] > 90
    assert f"({managed.evidence[0]['granted'] - 2} fewer)" in managed.message
    old = {f.evidence[0]["key"] for f in findings(sample_audit, "ACCESS_KEY_OLD")}
    assert old == {"1", "2"}


def test_clean_principals_raise_nothing_in_the_sample(sample_audit):
    """The application role and the CI role: the same work every day, nothing to report. Their
    addresses change from run to run (Lambda outside a VPC, GitHub-hosted runners): the audit
    says it does not judge their networks, rather than flagging each new one."""
    # What a principal holds is not what it does: app-backend's planted iam:* is a finding on
    # its policy (SERVICE_WIDE_GRANT), not on its activity; ci-deploy's trust policy without a
    # sub condition is one on who may assume it.
    holdings = {"SERVICE_WIDE_GRANT", "FULL_ADMIN_POLICY", "TRUST_OIDC_NO_SUBJECT"}
    holdings |= {"TRUST_OIDC_NO_AUDIENCE"}
    for clean in (f"arn:aws:iam::{A}:role/service/app-backend", f"arn:aws:iam::{A}:role/ci-deploy"):
        found = [f for f in sample_audit.findings if clean in f.principals]
        assert not [f for f in found if f.code not in holdings], clean
        assert any(clean in note for note in sample_audit.notes)


def test_moto_provides_the_report_and_the_details(made, moto_server, tmp_path, monkeypatch):
    fake_aws_env(monkeypatch, tmp_path)
    reset_moto(moto_server)
    iam = boto3.session.Session().client("iam", endpoint_url=moto_server, region_name="us-east-1")
    iam.create_user(UserName="erin")
    iam.create_login_profile(UserName="erin", Password="correct-Horse-battery-9")
    iam.create_access_key(UserName="erin")
    run = audit_cli(
        made, "--from-aws", "--endpoint-url", moto_server, "--format", "json", "--recent-days", "1"
    )
    assert run.returncode == 0, run.stderr
    codes = {
        # the password policy's findings are the account's, of no principal
        (f["code"], (f["principals"] or [""])[0].rsplit(":", 1)[-1])
        for f in json.loads(run.stdout)["findings"]
    }
    assert ("NO_PASSWORD_POLICY", "") in codes  # --from-aws reads it too: moto's has none
    assert ("USER_PASSWORD_WITHOUT_MFA", "user/erin") in codes
    assert ("UNUSED_PRINCIPAL", "user/erin") in codes
    # erin's key was made a moment ago: not yet "unused".
    assert ("ACCESS_KEY_UNUSED", "user/erin") not in codes
    markdown = audit_cli(made)
    assert markdown.returncode == 0
    assert "`ROOT_ACCOUNT_USED`" in markdown.stdout
    assert "no credential report" in markdown.stdout


def test_the_password_policy_is_read_from_iam(made, moto_server, tmp_path, monkeypatch):
    """audit --from-aws reads the account password policy (GetAccountPasswordPolicy) from
    moto's IAM: a weak one is judged against the CIS values; none at all is NO_PASSWORD_POLICY."""
    fake_aws_env(monkeypatch, tmp_path)
    reset_moto(moto_server)
    iam = boto3.session.Session().client("iam", endpoint_url=moto_server, region_name="us-east-1")

    def policy_codes() -> set[str]:
        run = audit_cli(made, "--from-aws", "--endpoint-url", moto_server, "--format", "json")
        assert run.returncode == 0, run.stderr
        found = json.loads(run.stdout)
        assert not any("password policy" in n for n in found["notes"])  # it was checked
        return {f["code"] for f in found["findings"]} & {
            "NO_PASSWORD_POLICY",
            "PASSWORD_TOO_SHORT",
            "PASSWORD_REUSE_ALLOWED",
            "PASSWORD_EXPIRY_LONG",
        }

    assert policy_codes() == {"NO_PASSWORD_POLICY"}
    iam.update_account_password_policy(
        MinimumPasswordLength=8, PasswordReusePrevention=24, MaxPasswordAge=90
    )
    assert policy_codes() == {"PASSWORD_TOO_SHORT"}
    assert trailmin.password_policy(from_aws=True, endpoint_url=moto_server) == {
        **trailmin.password_policy(from_aws=True, endpoint_url=moto_server),
        "MinimumPasswordLength": 8,
        "PasswordReusePrevention": 24,
        "MaxPasswordAge": 90,
    }


# --- what the review found: cases a security engineer expects ----------------------------------


@pytest.fixture
def more(tmp_path):
    """Records for root's edge cases, steady refusals, a key used inside a VPC, and roles used
    only by services."""
    records = []

    def add(day: int, **fields: Any) -> None:
        n = len(records)
        records.append(make_record(n, eventTime=at(day, n), **fields))

    root = root_identity()
    add(1, userIdentity={**root, "invokedBy": "support.amazonaws.com"}, eventName="DescribeCases")
    add(1, userIdentity=root, eventType="AwsServiceEvent", eventName="SomethingAwsDid")
    add(2, userIdentity=root, **FAILED_SIGNIN)
    add(3, userIdentity=root, eventSource="s3.amazonaws.com", eventName="PutBucketPolicy")
    add(3, userIdentity=root, eventSource="iam.amazonaws.com", eventName="CreateAccessKey")
    # steady: refused six times every day, the recent day no more than the others.
    for day in range(10):
        for _ in range(6):
            add(
                day,
                userIdentity=user("steady"),
                eventSource="iam.amazonaws.com",
                eventName="ListRoles",
                errorCode="AccessDenied",
                errorMessage="no",
            )
    # A user's key from a private address: only a VPC endpoint gives CloudTrail one.
    add(4, userIdentity=user("vpc", "AKIAVPCKEY0000000003"), sourceIPAddress="10.0.3.17")
    # Lambda assumes fn-exec: the role's own calls are not logged, the AssumeRole is.
    add(
        5,
        userIdentity={"type": "AWSService", "invokedBy": "lambda.amazonaws.com"},
        eventSource="sts.amazonaws.com",
        eventName="AssumeRole",
        sourceIPAddress="lambda.amazonaws.com",
        requestParameters={"roleArn": f"arn:aws:iam::{A}:role/fn-exec", "roleSessionName": "f"},
        resources=[{"ARN": f"arn:aws:iam::{A}:role/fn-exec", "type": "AWS::IAM::Role"}],
    )
    # A role with a path, whose records (no sessionIssuer) spell it without: its ID matches.
    add(
        6,
        userIdentity={
            "type": "AssumedRole",
            "principalId": "AROAPATHED:s",
            "arn": f"arn:aws:sts::{A}:assumed-role/pathed/s",
            "accountId": A,
        },
    )
    return lake_of(tmp_path, records)


def role(name: str, role_id: str, *, path: str = "/", last_used: str | None = None):
    found: dict[str, Any] = {
        "Path": path,
        "RoleName": name,
        "RoleId": role_id,
        "Arn": f"arn:aws:iam::{A}:role{path}{name}",
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
    }
    if last_used is not None:
        found["RoleLastUsed"] = {"LastUsedDate": last_used, "Region": "us-east-1"}
    return found


def test_root_use_is_root_acting_itself(more):
    result = trailmin.audit(more, recent_days=1)
    (used,) = findings(result, "ROOT_ACCOUNT_USED")
    # Not the call support made for root, nor the service event: the bucket policy (a root task
    # only when the old policy shut everyone out, which the record cannot tell) and a new key.
    assert {e["event"] for e in used.evidence} == {
        "s3.amazonaws.com PutBucketPolicy",
        "iam.amazonaws.com CreateAccessKey",
    }
    assert "s3:PutBucketPolicy is one only if the policy it replaces denies every principal" in (
        used.message
    )
    (failed,) = findings(result, "ROOT_SIGNIN_FAILED")
    assert failed.severity == "medium"
    assert not findings(result, "CONSOLE_SIGNIN_WITHOUT_MFA")  # a failure is not a sign-in


def test_steady_refusals_are_not_a_spike(more):
    """Six refusals a day for ten days: the recent day is the baseline's rate, whatever the
    window (the lake's days are the baseline, not the 90 days asked for)."""
    result = trailmin.audit(more, recent_days=1, days=90)
    assert not findings(result, "DENIED_SPIKE")


def test_a_user_key_from_inside_a_vpc_is_high(more):
    (vpc,) = findings(trailmin.audit(more, recent_days=1), "LONG_TERM_KEY_IN_USE")
    assert vpc.severity == "high"
    assert "inside a VPC" in vpc.message


def test_unused_principals_use_ids_role_last_used_and_assumptions(more):
    details = trailmin.iam.details.parse_authorization_details(
        {
            "UserDetailList": [],
            "RoleDetailList": [
                role("fn-exec", "AROAFNEXEC"),  # assumed by Lambda in the lake
                role("pathed", "AROAPATHED", path="/team/"),  # acting, its path not in records
                role("by-glue", "AROAGLUE", last_used="2026-10-09T08:00:00Z"),  # RoleLastUsed
                role("idle", "AROAIDLE", last_used="2025-01-02T08:00:00Z"),
                role(
                    "AWSReservedSSO_ReadOnly_0123456789abcdef",
                    "AROASSO",
                    path="/aws-reserved/sso.amazonaws.com/",
                ),
                role("AWSServiceRoleForSupport", "AROASLR", path="/aws-service-role/support/"),
            ],
        }
    )
    result = trailmin.audit(more, details=details, recent_days=1)
    unused = {f.principals[0].rsplit("/", 1)[-1]: f for f in findings(result, "UNUSED_PRINCIPAL")}
    assert set(unused) == {"idle", "AWSReservedSSO_ReadOnly_0123456789abcdef"}
    assert "last used 2025-01-02T08:00:00Z" in unused["idle"].message
    assert "IAM Identity Center" in unused["AWSReservedSSO_ReadOnly_0123456789abcdef"].message
    # The lake holds ten days, not ninety: the note says the shorter time is what was judged.
    assert any("inside the 90-day window" in note for note in result.notes)


ROOT_ROW = (
    "<root_account>,arn:aws:iam::111122223333:root,2020-01-01T00:00:00+00:00,not_supported,"
    "2026-10-08T00:00:00+00:00,not_supported,not_supported,false,true,2024-01-01T00:00:00+00:00,"
    "2026-10-09T00:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
)


def test_the_root_row_of_the_credential_report():
    """Root's password_enabled is always not_supported: its MFA and keys are checked on their
    own, and an active root key is never merely 'old'."""
    header = REPORT.splitlines()[0]
    report = checklist.parse_credential_report(header + "\n" + ROOT_ROW + "\n")
    now = datetime(2026, 10, 11, tzinfo=UTC)
    codes = {f.code: f for f in checklist.passwords_without_mfa(report)}
    assert set(codes) == {"ROOT_WITHOUT_MFA"}
    assert codes["ROOT_WITHOUT_MFA"].severity == "high"
    keys = checklist.access_keys(report, now=now, max_age_days=90, days=90)
    assert [(f.code, f.severity) for f in keys] == [("ROOT_ACCESS_KEY", "high")]
    assert "delete it" in keys[0].message


def test_new_keys_get_a_week_before_they_are_unused():
    header = REPORT.splitlines()[0]
    row = (
        "frank,arn:aws:iam::111122223333:user/frank,2026-10-01T00:00:00+00:00,false,N/A,N/A,N/A,"
        "false,true,{made},N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
    )
    now = datetime(2026, 10, 11, tzinfo=UTC)

    def unused(made: str) -> list[str]:
        report = checklist.parse_credential_report(header + "\n" + row.format(made=made))
        found = checklist.access_keys(report, now=now, max_age_days=90, days=90)
        return [f.message for f in found if f.code == "ACCESS_KEY_UNUSED"]

    assert unused("2026-10-10T12:00:00+00:00") == []  # a day old
    (message,) = unused("2026-10-01T00:00:00+00:00")  # ten days, never used
    assert "never used in its 10 days" in message


def test_the_cli_json_of_the_credential_report_is_read_and_a_wrong_file_is_refused(made, tmp_path):
    import base64

    saved = tmp_path / "report.json"
    saved.write_text(
        json.dumps(
            {
                "Content": base64.b64encode(REPORT.encode()).decode(),
                "ReportFormat": "text/csv",
                "GeneratedTime": "2026-10-11T00:00:00Z",
            }
        )
    )
    rows = checklist.parse_credential_report(saved.read_text())
    assert [r["user"] for r in rows] == ["<root_account>", "carol", "dave"]
    wrong = tmp_path / "not-a-report.csv"
    wrong.write_text("name,size\na,1\n")
    run = audit_cli(made, "--credential-report", str(wrong))
    assert run.returncode == 2
    assert str(wrong) in run.stderr
    assert "get-credential-report" in run.stderr


# --- the account password policy -----------------------------------------------------------------


def password_policy_file(moto_server: str, where: Path, **policy: Any) -> Path:
    """Return the saved ``get-account-password-policy`` output of moto's IAM holding ``policy``
    (none when empty), written as the AWS CLI writes it."""
    reset_moto(moto_server)
    iam = boto3.session.Session().client("iam", endpoint_url=moto_server, region_name="us-east-1")
    if policy:
        iam.update_account_password_policy(**policy)
        answer = iam.get_account_password_policy()
        saved = {"PasswordPolicy": answer["PasswordPolicy"]}
    else:
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_account_password_policy()
        saved = {}
    path = where / "password-policy.json"
    path.write_text(json.dumps(saved, default=str))
    return path


def test_the_password_policy_against_cis(made, moto_server, tmp_path, monkeypatch):
    fake_aws_env(monkeypatch, tmp_path)
    weak = password_policy_file(
        moto_server, tmp_path, MinimumPasswordLength=8, PasswordReusePrevention=5
    )
    run = audit_cli(made, "--password-policy", str(weak), "--format", "json")
    assert run.returncode == 0, run.stderr
    found = {f["code"]: f for f in json.loads(run.stdout)["findings"]}
    assert found["PASSWORD_TOO_SHORT"]["message"] == (
        "the password policy asks for 8 characters, under the 14 of CIS 1.8"
    )
    assert found["PASSWORD_REUSE_ALLOWED"]["message"] == (
        "the password policy remembers 5 passwords, under the 24 of CIS 1.9"
    )
    assert found["PASSWORD_EXPIRY_LONG"]["severity"] == "low"
    assert "NO_PASSWORD_POLICY" not in found

    strong = password_policy_file(
        moto_server,
        tmp_path,
        MinimumPasswordLength=14,
        PasswordReusePrevention=24,
        MaxPasswordAge=90,
    )
    result = trailmin.audit(made, password_policy=trailmin.read_password_policy(strong))
    assert not [f for f in result.findings if "PASSWORD" in f.code]
    assert not [n for n in result.notes if "password policy" in n]

    none = password_policy_file(moto_server, tmp_path)
    result = trailmin.audit(made, password_policy=trailmin.read_password_policy(none))
    (missing,) = findings(result, "NO_PASSWORD_POLICY")
    assert missing.severity == "medium"
    assert "IAM then asks for 8 characters and prevents no reuse" in missing.message


def test_without_a_password_policy_the_audit_says_it_did_not_check(made):
    result = trailmin.audit(made)
    assert "no password policy given: its length, reuse and expiry are not checked" in result.notes
    assert not [f for f in result.findings if "PASSWORD_" in f.code and "MFA" not in f.code]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON"),
        ('["MinimumPasswordLength"]', "is not a password policy"),
        ('{"PasswordPolicy": {"MinimumPasswordLength": "14"}}', "MinimumPasswordLength is '14'"),
        ('{"MinimumPasswordLength": true}', "MinimumPasswordLength is True"),
    ],
)
def test_a_bad_password_policy_file_names_the_file_and_the_fix(tmp_path, text, message):
    path = tmp_path / "policy.json"
    path.write_text(text)
    with pytest.raises(trailmin.UsageError, match=message) as raised:
        trailmin.read_password_policy(path)
    assert str(path) in str(raised.value)
