"""The scheduled job end to end, over HTTP to moto's server: a log bucket and IAM in one account."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import hcl2
import pytest

from tests.conftest import (
    ROOT,
    SAMPLE_LOGS,
    act_in_account,
    fake_aws_env,
    log_name,
    make_record,
    reset_moto,
    role_session,
    write_delivery,
)
from trailmin.errors import UsageError
from trailmin.job.config import load_config
from trailmin.job.propose import EXIT_CHANGES, EXIT_NOTHING, propose
from trailmin.policy.generate import MANAGED_POLICY_SIZE, policy_size

A = "111122223333"
BUCKET = "org-trail"
AUTH = ROOT / "examples" / "sample-auth.json"
# The job on sample_logs, as the tests of its index run it.
SAMPLE_JOB = f"""
[sources]
paths = ["{SAMPLE_LOGS}"]
[lake]
path = "lake"
[policies]
auth_file = "{AUTH}"
[output]
directory = "out"
formats = ["json"]
"""


def build_iam_from(details: dict[str, Any], iam: Any) -> None:
    """Create in IAM the users, groups, roles and customer policies of an authorization file."""
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    arns: dict[str, str] = {}
    for policy in details["Policies"]:
        # moto does not load AWS-managed policies by default: the same document, as the account's.
        document = next(v["Document"] for v in policy["PolicyVersionList"] if v["IsDefaultVersion"])
        created = iam.create_policy(
            PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document)
        )
        arns[policy["Arn"]] = created["Policy"]["Arn"]
    for group in details["GroupDetailList"]:
        iam.create_group(GroupName=group["GroupName"])
        for inline in group["GroupPolicyList"]:
            iam.put_group_policy(
                GroupName=group["GroupName"],
                PolicyName=inline["PolicyName"],
                PolicyDocument=json.dumps(inline["PolicyDocument"]),
            )
    for user in details["UserDetailList"]:
        iam.create_user(UserName=user["UserName"])
        for group in user["GroupList"]:
            iam.add_user_to_group(GroupName=group, UserName=user["UserName"])
        for inline in user["UserPolicyList"]:
            iam.put_user_policy(
                UserName=user["UserName"],
                PolicyName=inline["PolicyName"],
                PolicyDocument=json.dumps(inline["PolicyDocument"]),
            )
        for attached in user["AttachedManagedPolicies"]:
            iam.attach_user_policy(UserName=user["UserName"], PolicyArn=arns[attached["PolicyArn"]])
    for role in details["RoleDetailList"]:
        extra = {}
        if "PermissionsBoundary" in role:
            extra["PermissionsBoundary"] = role["PermissionsBoundary"]["PermissionsBoundaryArn"]
        iam.create_role(
            RoleName=role["RoleName"], Path=role["Path"], AssumeRolePolicyDocument=trust, **extra
        )
        for inline in role["RolePolicyList"]:
            iam.put_role_policy(
                RoleName=role["RoleName"],
                PolicyName=inline["PolicyName"],
                PolicyDocument=json.dumps(inline["PolicyDocument"]),
            )
        for attached in role["AttachedManagedPolicies"]:
            iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=arns[attached["PolicyArn"]])


@pytest.fixture
def org(moto_server, tmp_path, monkeypatch):
    """A log bucket holding sample_logs, and IAM as examples/sample-auth.json describes it."""
    fake_aws_env(monkeypatch, tmp_path)
    reset_moto(moto_server)
    act_in_account(moto_server, A, monkeypatch)
    session = boto3.session.Session()
    s3 = session.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    iam = session.client("iam", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    for path in sorted(SAMPLE_LOGS.rglob("*.json.gz")):
        s3.put_object(
            Bucket=BUCKET, Key=path.relative_to(SAMPLE_LOGS).as_posix(), Body=path.read_bytes()
        )
    build_iam_from(json.loads(AUTH.read_text()), iam)
    config = tmp_path / "trailmin.toml"
    config.write_text(
        f"""
[sources]
paths = ["s3://{BUCKET}/AWSLogs/"]
endpoint_url = "{moto_server}"
[lake]
path = "lake"
[window]
days = 90
[policies]
from_aws = true
endpoint_url = "{moto_server}"
[output]
directory = "proposals"
formats = ["json", "terraform"]
"""
    )
    yield {"config": config, "s3": s3, "iam": iam, "out": tmp_path / "proposals"}
    reset_moto(moto_server)


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.read_text())
        for p in folder.rglob("*")
        if p.is_file()
    }


def statuses(summary) -> dict[str, str]:
    return {s.principal.rsplit("/", 1)[-1]: s.status for s in summary.statuses}


def test_the_scheduled_job_end_to_end(org):
    config = load_config(org["config"])
    out = org["out"]
    first = propose(config)
    assert first.exit_code == EXIT_CHANGES
    found = statuses(first)
    assert found["app-backend"] == "new"
    assert found["ci-deploy"] == "new"
    assert found["old-etl"] == "new"
    assert set(found.values()) == {"new"}
    check_files(out)

    # A second run with no new logs: everything unchanged, nothing rewritten.
    before = snapshot(out)
    second = propose(config)
    assert second.exit_code == EXIT_NOTHING
    assert set(statuses(second).values()) == {"unchanged"}
    assert second.written == []
    assert second.removed == []
    assert snapshot(out) == before

    # New logs with a new action for one role change that role's proposal only.
    record = make_record(
        9001,
        eventTime="2026-10-07T12:00:00Z",
        eventSource="sqs.amazonaws.com",
        eventName="GetQueueAttributes",
        awsRegion="us-east-1",
        requestParameters={"queueUrl": f"https://sqs.us-east-1.amazonaws.com/{A}/order-events"},
        userIdentity={
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEAPP:app",
            "arn": f"arn:aws:sts::{A}:assumed-role/app-backend/app",
            "accountId": A,
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEAPP",
                    "arn": f"arn:aws:iam::{A}:role/service/app-backend",
                    "accountId": A,
                    "userName": "app-backend",
                },
                "attributes": {"creationDate": "2026-10-07T11:00:00Z", "mfaAuthenticated": "false"},
            },
        },
    )
    key = f"AWSLogs/{A}/CloudTrail/us-east-1/2026/10/07/" + log_name(
        A, "us-east-1", "20261007T1205Z", "new1"
    )
    org["s3"].put_object(
        Bucket=BUCKET, Key=key, Body=gzip.compress(json.dumps({"Records": [record]}).encode())
    )
    third = propose(config)
    assert third.exit_code == EXIT_CHANGES
    found = statuses(third)
    assert found.pop("app-backend") == "changed"
    assert set(found.values()) == {"unchanged"}
    assert all(
        w.startswith("111122223333-role-service-app-backend/")
        or w in {"index.md", "proposals.json"}
        for w in third.written
    )
    policies = "".join(
        p.read_text()
        for p in (out / "111122223333-role-service-app-backend").glob("trailmin-*.json")
    )
    assert "sqs:GetQueueAttributes" in policies

    # A role deleted in IAM is reported gone and its folder removed.
    iam = org["iam"]
    iam.delete_role_policy(RoleName="old-etl", PolicyName="etl")
    iam.delete_role(RoleName="old-etl")
    fourth = propose(config)
    assert statuses(fourth)["old-etl"] == "gone"
    assert not (out / "111122223333-role-old-etl").exists()
    index = (out / "index.md").read_text()
    # Named once: as gone, in what changed since the last run.
    assert [line for line in index.splitlines() if "old-etl" in line] == [
        f"- arn:aws:iam::{A}:role/old-etl **gone**: no longer found"
    ]
    check_files(out)


def check_files(out: Path) -> None:
    """Policy JSON within the size limit, Terraform well formed, index.md's links resolve."""
    policies = list(out.glob("*/trailmin-*.json"))
    assert policies
    for path in policies:
        assert policy_size(json.loads(path.read_text())) <= MANAGED_POLICY_SIZE
    for path in out.glob("*/main.tf"):
        hcl2.loads(path.read_text())
    index = (out / "index.md").read_text()
    links = re.findall(r"\]\((\./[^)]+)\)", index)
    assert links
    for link in links:
        assert (out / link).exists(), link
    machine = json.loads((out / "proposals.json").read_text())
    assert {p["folder"] for p in machine} == {p.name for p in out.iterdir() if p.is_dir()}


def test_propose_command_exit_codes(org):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "trailmin",
            "propose",
            "--config",
            str(org["config"]),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == EXIT_CHANGES, run.stderr
    summary = json.loads(run.stdout)
    assert summary["exit_code"] == EXIT_CHANGES
    again = subprocess.run(
        [sys.executable, "-m", "trailmin", "propose", "--config", str(org["config"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == EXIT_NOTHING, again.stderr
    assert "0 new, 0 changed" in again.stdout


def test_refused_calls_are_candidates_unless_accepted(tmp_path):
    out = tmp_path / "out"
    config = tmp_path / "t.toml"
    base = SAMPLE_JOB
    config.write_text(base)
    propose(load_config(config))
    ci = out / "111122223333-role-ci-deploy"
    assert "iam:PassRole" not in (ci / "trailmin-ci-deploy.json").read_text()
    index = (out / "index.md").read_text()
    assert "Candidate additions" in index
    # Someone else's refused calls with legacy-batch's key: flagged, not offered plainly.
    candidates = index.split("## Candidate additions", 1)[1].split("\n## ", 1)[0]
    (batch,) = [
        line
        for line in candidates.splitlines()
        if line.startswith("- [") and "legacy-batch" in line
    ]
    assert (
        "flags unusual activity for this principal "
        "(DENIED_SPIKE, NEW_NETWORK, NEW_REGION, NEW_SERVICE)" in batch
    )
    (ci_line,) = [
        line for line in candidates.splitlines() if line.startswith("- [") and "ci-deploy" in line
    ]
    assert "unusual" not in ci_line
    config.write_text(base + "[generate]\naccept_denied = true\n")
    summary = propose(load_config(config))
    assert statuses(summary)["ci-deploy"] == "changed"
    assert "iam:PassRole" in (ci / "trailmin-ci-deploy.json").read_text()


BASE = "[sources]\npaths = ['.']\n[lake]\npath = 'l'\n[output]\ndirectory = 'o'\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[lake]\npath = 'x'\n", "sources.paths is required"),
        (
            BASE + "[window]\ndays = 0\n",
            "window.days = 0",
        ),
        ("[sources]\npaths = ['.']\npath = 'typo'\n", "unknown key sources.path"),
        ("[sauces]\npaths = []\n", "unknown table [sauces]"),
        ("[window]\ndays = 'ninety'\n", "window.days = 'ninety' is not a whole number"),
        ("[window]\ndays = true\n", 'window.days = True is not a whole number or "all"'),
        (
            BASE,
            "say where current policies come from",
        ),
        (
            BASE + "[policies]\nauth_file = 'missing.json'\n",
            "policies.auth_file",
        ),
        (
            BASE + "formats = ['pdf']\n[policies]\nfrom_aws = true\n",
            "output.formats has 'pdf'",
        ),
        ("this is not toml", "is not valid TOML"),
        (
            BASE + "[policies]\nfrom_aws = true\n[generate]\nmax_breakage = 5\n",
            "generate.max_breakage = 5.0: give a share from 0 to 1",
        ),
        (
            BASE + "[policies]\nfrom_aws = true\n[generate]\nmax_breakage = 'low'\n",
            "generate.max_breakage = 'low' is not",
        ),
    ],
)
def test_bad_configuration_stops_before_any_work(tmp_path, text, message):
    config = tmp_path / "t.toml"
    config.write_text(text)
    with pytest.raises(UsageError, match=re.escape(message)):
        load_config(config)
    assert not (tmp_path / "l").exists()


def test_a_missing_configuration_file_says_the_fix(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_trailmins_own_policy_is_what_trailmin_generates():
    committed = (ROOT / "examples" / "trailmin-policy.json").read_text()
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_self_policy.py"), "--stdout"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert run.stdout == committed
    document = json.loads(committed)
    actions = sorted(
        a
        for s in document["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )
    assert actions == [
        "iam:GenerateCredentialReport",
        "iam:GetAccountAuthorizationDetails",
        "iam:GetAccountPasswordPolicy",
        "iam:GetCredentialReport",
        "s3:GetObject",
        "s3:ListBucket",
    ]


SSO_ADMIN = (
    "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
    "AWSReservedSSO_AdministratorAccess_ef13406b01f4da88"
)


def test_index_starts_with_what_to_review_first(tmp_path):
    out = tmp_path / "out"
    config = tmp_path / "t.toml"
    base = SAMPLE_JOB
    config.write_text(base)
    propose(load_config(config))
    index = (out / "index.md").read_text()
    assert index.startswith(
        "# Least-privilege proposals\n\n**Made from** the last 90 days up to the newest event "
        "(the default), 2026-07-20 23:39 to 2026-10-18 23:39 UTC: 1,409 events of 14 principals; "
        "no event of the lake fell outside it.\n\nThis is the first run: there is no state of a "
        # 10 users and roles (vendor-audit and reports-2024 among them), and 3 groups: devs, and
        # the two users' own policies moved into groups (IAM.2)
        "last run to compare with, so every proposal is new (13 principals).\n\n"
        "## Review first\n\n"
    )
    first = index.split("\n## Review first\n", 1)[1].split("\n## Proposals\n", 1)[0].splitlines()
    # Unusual activity with statements to read first, then statements, then unusual activity.
    assert [line for line in first if line.startswith(("### ", "- ", "**"))] == [
        f"### [{SSO_ADMIN}](./111122223333-role-aws-reserved-sso.amazonaws.com-eu-west-1-"
        "AWSReservedSSO_AdministratorAccess_ef13406b01f4da88/)",
        "**The checklist flags unusual activity for this principal (NEW_SERVICE).**",
        "- `lambda:UpdateFunctionConfiguration` on "
        "`arn:aws:lambda:us-east-1:111122223333:function:app-backend-api`: privilege escalation, "
        "statement `LambdaEB3948F8`",
        "### [arn:aws:iam::111122223333:role/ci-deploy](./111122223333-role-ci-deploy/)",
        "- `cloudformation:UpdateStack` on 2 resources: privilege escalation, "
        "statement `Cloudformation56E8FE33`",
        "- `lambda:UpdateFunctionCode` on 2 resources: privilege escalation, "
        "statement `Lambda5E4FF416`",
        "### [arn:aws:iam::111122223333:user/legacy-batch](./111122223333-user-legacy-batch/)",
        "**The checklist flags unusual activity for this principal "
        "(DENIED_SPIKE, NEW_NETWORK, NEW_REGION, NEW_SERVICE).** "
        "No statement of its proposal is listed here.",
    ]

    def reviewed(folder: str) -> tuple[list[tuple[str, str, bool]], list[str]]:
        document = json.loads((out / folder / "proposal.json").read_text())
        items = [(r["action"], r["category"], r["any_resource"]) for r in document["review"]]
        return items, document["unusual_activity"]

    assert reviewed("111122223333-role-ci-deploy") == (
        [
            ("cloudformation:UpdateStack", "privilege-escalation", False),
            ("lambda:UpdateFunctionCode", "privilege-escalation", False),
        ],
        [],
    )
    assert reviewed("111122223333-user-legacy-batch") == (
        [],
        ["DENIED_SPIKE", "NEW_NETWORK", "NEW_REGION", "NEW_SERVICE"],
    )
    assert reviewed("111122223333-user-alice") == ([], [])
    # Granting what was refused grants ci-deploy iam:PassRole: the review says so.
    config.write_text(base + "[generate]\naccept_denied = true\n")
    propose(load_config(config))
    assert ("iam:PassRole", "privilege-escalation", False) in reviewed(
        "111122223333-role-ci-deploy"
    )[0]
    assert (
        "- `iam:PassRole` on `arn:aws:iam::111122223333:role/service/app-backend`: "
        "privilege escalation, statement `IamC2E93295`"
    ) in (out / "index.md").read_text().splitlines()


def test_each_principal_has_its_backtest_figure(tmp_path):
    """index.md gives each proposal's backtest (made from the first 2/3 of the window, replayed
    on the rest) and lists those above max_breakage as not yet stable."""
    config = tmp_path / "t.toml"
    base = SAMPLE_JOB
    config.write_text(base)
    summary = propose(load_config(config))
    figures = {s.principal.rsplit(":", 1)[-1]: s for s in summary.statuses}
    assert figures["user/legacy-batch"].breakage == 0.0
    assert figures["user/legacy-batch"].later_calls == 30
    assert figures["role/ci-deploy"].breakage == pytest.approx(0.1)
    assert figures["role/ci-deploy"].broken == (
        "s3:PutObject on arn:aws:s3:::acme-ci-artifacts-111122223333/builds/app-backend/"
        "84147a2e358edeb243897858eac4ac5558971707.zip (resource, 1 call)",
    )
    assert figures["role/old-etl"].breakage is None
    index = (tmp_path / "out" / "index.md").read_text()
    rows = {
        line.split("](", 1)[0][3:]: line for line in index.splitlines() if line.startswith("| [")
    }
    # Its own policies move to a group (IAM.2): the user holds no policy; the group one.
    assert rows["arn:aws:iam::111122223333:user/legacy-batch"].endswith("| 0 | 0.0% of 30 |")
    assert rows["arn:aws:iam::111122223333:group/legacy-batch-direct"].endswith("| 1 | n/a |")
    assert rows["arn:aws:iam::111122223333:role/ci-deploy"].endswith(
        "| 1 | 10.0% of 10 **not yet stable** |"
    )
    assert rows["arn:aws:iam::111122223333:role/old-etl"].endswith("| 0 | n/a |")
    unstable = index.split("## Not yet stable", 1)[1].split("\n## ", 1)[0]
    listed = {
        line.split("](", 1)[0][3:] for line in unstable.splitlines() if line.startswith("- [")
    }
    assert listed == {
        "arn:aws:iam::111122223333:role/ci-deploy",
        "arn:aws:iam::111122223333:user/alice",
        SSO_ADMIN,
    }
    # The threshold is the configuration's: at 50 %, nothing of the sample is unstable.
    config.write_text(base + "[generate]\nmax_breakage = 0.5\n")
    propose(load_config(config))
    assert "## Not yet stable" not in (tmp_path / "out" / "index.md").read_text()


def test_a_window_that_moved_past_a_principal_holds_its_proposal(tmp_path):
    """A principal with no call in the window, whose calls the lake holds, is held: its folder
    and state stay, and index.md says why (issue 14: a window must not silently empty it)."""
    config = tmp_path / "t.toml"
    config.write_text(SAMPLE_JOB)
    propose(load_config(config))
    out = tmp_path / "out"
    folder = (
        "111122223333-role-aws-reserved-sso.amazonaws.com-eu-west-1-AWSReservedSSO_"
        "AdministratorAccess_ef13406b01f4da88"
    )
    assert (out / folder).is_dir()
    config.write_text(SAMPLE_JOB + "[window]\ndays = 1\n")
    summary = propose(load_config(config))
    held = {s.principal: s for s in summary.statuses if s.status == "held"}
    # The people who did not work on the last day; the workloads ran that day.
    assert set(held) == {SSO_ADMIN, "arn:aws:iam::111122223333:user/alice"}
    assert held[SSO_ADMIN].skipped.startswith(
        "no call in the window (2026-10-17 23:39 UTC to 2026-10-18 23:39 UTC), though the lake "
        "holds 97 of its calls, the last on 2026-10-15 "
    )
    assert "the last proposal is kept until a person removes its folder" in held[SSO_ADMIN].skipped
    assert (out / folder).is_dir()
    assert summary.exit_code == 3
    index = (out / "index.md").read_text()
    assert f"- [{SSO_ADMIN}](./{folder}/): no call in the window" in index
    state = json.loads((out / ".trailmin-state.json").read_text())
    assert SSO_ADMIN in state["principals"]


# --- roles AWS manages ---------------------------------------------------------------------------

SERVICE_LINKED = (
    f"arn:aws:iam::{A}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
)
SSO_READ = (
    f"arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
    "AWSReservedSSO_ReadOnly_0123456789abcdef"
)
# A role under /aws-reserved/ that is no permission set's: AWS keeps the path for its own roles.
RESERVED = f"arn:aws:iam::{A}:role/aws-reserved/example.amazonaws.com/ExampleReservedRole"
WORKERS = f"arn:aws:iam::{A}:role/service/workers"
MANAGED_BY_AWS = {
    WORKERS: "AROAEXAMPLEWORK",
    SERVICE_LINKED: "AROAEXAMPLEASG",
    SSO_READ: "AROAEXAMPLESSO",
    RESERVED: "AROAEXAMPLERES",
}


def managed_by_aws_job(where: Path, principals: str = "") -> Path:
    """Return a job's configuration over one day on which a workload role, a service-linked
    role, an IAM Identity Center role and another AWS-reserved role each called EC2; the auth
    file lets each describe EC2. ``principals`` is the body of its [principals] table."""
    records = []
    for n, (arn, role_id) in enumerate(MANAGED_BY_AWS.items()):
        identity = role_session(arn, role_id)
        if arn == SERVICE_LINKED:
            identity["invokedBy"] = "autoscaling.amazonaws.com"
        records.append(
            make_record(
                n,
                userIdentity=identity,
                eventSource="ec2.amazonaws.com",
                eventName="DescribeInstances",
                requestParameters={},
            )
        )
    logs = where / "logs" / "AWSLogs" / A / "CloudTrail" / "us-east-1" / "2026" / "10" / "05"
    write_delivery(logs / log_name(A, "us-east-1", "20261005T1200Z", "aws"), records)
    describe = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
    }
    roles = []
    for arn, role_id in MANAGED_BY_AWS.items():
        path, name = arn.split(":role", 1)[1].rsplit("/", 1)
        roles.append(
            {
                "Path": path + "/",
                "RoleName": name,
                "RoleId": role_id,
                "Arn": arn,
                "RolePolicyList": [{"PolicyName": "describe", "PolicyDocument": describe}],
                "AttachedManagedPolicies": [],
            }
        )
    auth = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": roles, "Policies": []}
    (where / "auth.json").write_text(json.dumps(auth))
    config = where / "trailmin.toml"
    config.write_text(
        f'[sources]\npaths = ["{where / "logs"}"]\n[lake]\npath = "lake"\n[window]\ndays = "all"\n'
        f"[principals]\n{principals}\n"
        '[policies]\nauth_file = "auth.json"\n[output]\ndirectory = "out"\nformats = ["json"]\n'
    )
    return config


def folders_of(summary) -> dict[str, str]:
    """Return each principal of the run with its folder."""
    return {s.principal: s.folder for s in summary.statuses}


def test_roles_aws_manages_get_no_folder_by_default(tmp_path):
    """By default the job leaves out service-linked and AWS-reserved roles (README: "left out by
    default"); an IAM Identity Center role is proposed for, as its permission set's policy."""
    summary = propose(load_config(managed_by_aws_job(tmp_path)))
    out = tmp_path / "out"
    sso_folder = (
        f"{A}-role-aws-reserved-sso.amazonaws.com-eu-west-1-"
        "AWSReservedSSO_ReadOnly_0123456789abcdef"
    )
    assert folders_of(summary) == {
        WORKERS: f"{A}-role-service-workers",
        SSO_READ: sso_folder,
    }
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(
        [f"{A}-role-service-workers", sso_folder]
    )
    sso = json.loads((out / sso_folder / "proposal.json").read_text())
    assert sso["target"] == {
        "kind": "permission-set",
        "name": "ReadOnly",
        "account": A,
        "path": "/aws-reserved/sso.amazonaws.com/eu-west-1/",
    }
    assert [s["Action"] for p in sso["policies"] for s in p["document"]["Statement"]] == [
        "ec2:DescribeInstances"
    ]
    index = (out / "index.md").read_text()
    # All four called in the window; the two roles AWS manages are not named.
    assert "4 events of 4 principals" in index
    assert "AWSServiceRoleForAutoScaling" not in index
    assert "ExampleReservedRole" not in index


def test_include_service_roles_shows_the_reserved_roles_and_why_they_get_no_policy(tmp_path):
    """With include_service_roles = true an AWS-reserved role has a folder with its diff and the
    reason it gets no policy ("Service-linked roles, AWS-reserved roles … get no proposal, and say
    why"); the Identity Center role is proposed for as by default."""
    config = managed_by_aws_job(tmp_path, "include_service_roles = true")
    summary = propose(load_config(config))
    out = tmp_path / "out"
    folders = folders_of(summary)
    assert set(folders) >= {WORKERS, SSO_READ, RESERVED}
    reserved = next(s for s in summary.statuses if s.principal == RESERVED)
    why = "an AWS-reserved role: AWS manages it and it cannot be changed"
    assert reserved.skipped == why
    assert reserved.policies == 0
    assert next(s for s in summary.statuses if s.principal == SSO_READ).policies == 1
    folder = out / folders[RESERVED]
    # trust.json: who assumed it; AWS manages its trust policy, so none is proposed
    assert sorted(p.name for p in folder.iterdir()) == [
        "diff.json",
        "diff.md",
        "proposal.json",
        "trust.json",
    ]
    trusted = json.loads((folder / "trust.json").read_text())
    assert "AWS manages its trust policy" in trusted["proposal"]["skipped"]
    written = json.loads((folder / "proposal.json").read_text())
    assert (written["target"], written["skipped"], written["policies"]) == (None, why, [])
    assert f"- [{RESERVED}](./{folders[RESERVED]}/): {why}" in (out / "index.md").read_text()


def test_include_service_roles_shows_the_service_linked_role(tmp_path):
    """include_service_roles covers "service-linked and AWS-reserved roles" (config docstring,
    examples/trailmin.toml): with it, the service-linked role has a folder that says why it gets
    no policy, as the AWS-reserved role does."""
    summary = propose(load_config(managed_by_aws_job(tmp_path, "include_service_roles = true")))
    assert SERVICE_LINKED in folders_of(summary)
    linked = next(s for s in summary.statuses if s.principal == SERVICE_LINKED)
    assert linked.policies == 0
    assert "service-linked" in linked.skipped
    # AWS defines its policies: there is nothing to diff, so the folder holds the evidence and
    # who assumed it (its service; AWS defines the trust policy too).
    folder = tmp_path / "out" / folders_of(summary)[SERVICE_LINKED]
    assert sorted(p.name for p in folder.iterdir()) == ["proposal.json", "trust.json"]
    trusted = json.loads((folder / "trust.json").read_text())
    assert "service-linked" in trusted["proposal"]["skipped"]


@pytest.mark.parametrize(
    ("arn", "kind", "by_default", "with_service_roles"),
    [
        pytest.param(WORKERS, "Role", True, True, id="role"),
        pytest.param(f"arn:aws:iam::{A}:user/alice", "IAMUser", True, True, id="user"),
        pytest.param(SSO_READ, "IdentityCenterRole", True, True, id="identity-center"),
        pytest.param(SERVICE_LINKED, "ServiceLinkedRole", False, True, id="service-linked"),
        # A service-linked role is told by its path alone, or by its type alone.
        pytest.param(SERVICE_LINKED, "Role", False, True, id="service-linked-path"),
        pytest.param(
            f"arn:aws:iam::{A}:role/odd/AWSServiceRoleForX",
            "ServiceLinkedRole",
            False,
            True,
            id="service-linked-type",
        ),
        pytest.param(RESERVED, "Role", False, True, id="aws-reserved"),
        pytest.param(f"arn:aws:iam::{A}:root", "Root", False, False, id="root"),
        pytest.param("autoscaling.amazonaws.com", "AWSService", False, False, id="aws-service"),
    ],
)
def test_which_principals_the_job_proposes_for(tmp_path, arn, kind, by_default, with_service_roles):
    """The job's principal rule (``_wanted``): users and roles, without service-linked and
    AWS-reserved roles unless include_service_roles; never root or an AWS service."""
    from trailmin.job.propose import _wanted

    config = tmp_path / "t.toml"
    config.write_text(SAMPLE_JOB)
    default = load_config(config)
    config.write_text(SAMPLE_JOB + "[principals]\ninclude_service_roles = true\n")
    including = load_config(config)
    assert _wanted(arn, kind, default) is by_default
    assert _wanted(arn, kind, including) is with_service_roles


def test_each_role_folder_has_its_trust_and_index_lists_the_differences(tmp_path):
    """Issue 18: the job proposes trust policies beside the permission policies, and index.md
    lists the roles whose trust policy differs from its use or has a risky shape."""
    config = tmp_path / "t.toml"
    config.write_text(SAMPLE_JOB.replace('formats = ["json"]', 'formats = ["json", "terraform"]'))
    propose(load_config(config))
    out = tmp_path / "out"
    ci = out / "111122223333-role-ci-deploy"
    assert json.loads((ci / "trust-policy.json").read_text())["Statement"] == [
        {
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": (
                        "repo:acme/app-backend:ref:refs/heads/main"
                    ),
                }
            },
            "Effect": "Allow",
            "Principal": {
                "Federated": "arn:aws:iam::111122223333:oidc-provider/"
                "token.actions.githubusercontent.com"
            },
            "Sid": "Trust1",
        }
    ]
    assert "ci_deploy_assume_role_policy = jsonencode(" in (ci / "trust.tf").read_text()
    trusted = json.loads((ci / "trust.json").read_text())
    assert [f["code"] for f in trusted["findings"]] == [
        "TRUST_OIDC_NO_SUBJECT",
        "TRUST_OIDC_NO_AUDIENCE",
    ]
    assert trusted["proposal"]["replay"] == {"assumptions": 1, "refused": []}
    section = (out / "index.md").read_text().split("## Trust policies\n", 1)[1].split("\n## ")[0]
    assert [line for line in section.splitlines() if line.startswith("- ")] == [
        "- `arn:aws:iam::111122223333:role/ci-deploy` (`111122223333-role-ci-deploy/`): 1 entry "
        "wider than used; high TRUST_OIDC_NO_SUBJECT; medium TRUST_OIDC_NO_AUDIENCE",
        "- `arn:aws:iam::111122223333:role/old-etl` (`111122223333-role-old-etl/`): 2 principals "
        "trusted, never used; medium TRUST_THIRD_PARTY_NO_EXTERNAL_ID; high TRUST_ANYONE",
        # a role never assumed (ROLE_NEVER_USED): its Lambda trust unused
        "- `arn:aws:iam::111122223333:role/reports-2024` (`111122223333-role-reports-2024/`): "
        "1 principal trusted, never used",
        "- `arn:aws:iam::111122223333:role/service/app-backend` "
        "(`111122223333-role-service-app-backend/`): 1 principal trusted, never used",
        # the vendor passes session tags; today's policy allows sts:AssumeRole only
        "- `arn:aws:iam::111122223333:role/vendor-audit` (`111122223333-role-vendor-audit/`): "
        "1 used but not trusted",
    ]
