"""Shared fixtures: where the real logs are, and small helpers to build trails."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
REAL_LOGS = ROOT.parent / "shared" / "real_logs"
SAMPLE_LOGS = ROOT / "sample_logs"


@pytest.fixture(scope="session")
def real_logs() -> Path:
    if not REAL_LOGS.is_dir():
        pytest.fail(
            f"{REAL_LOGS} is missing: the tests need ../shared/real_logs beside the project"
        )
    return REAL_LOGS


def fake_aws_env(mp: pytest.MonkeyPatch, home: Path) -> None:
    """Fake credentials in os.environ (spawned workers and subprocesses inherit them).

    Config and credentials files point into ``home``, so no real profile is ever read.
    """
    mp.setenv("AWS_ACCESS_KEY_ID", "testing")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    mp.setenv("AWS_CONFIG_FILE", str(home / "config"))
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        mp.delenv(name, raising=False)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """Run moto's server on a free loopback port for a test module; return its endpoint URL.

    Each test fills its own bucket: an in-process ``mock_aws`` elsewhere resets moto's state.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def make_record(n: int, **overrides: Any) -> dict[str, Any]:
    """Return a valid record numbered ``n`` (its eventID is ``evt-<n>``)."""
    base: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333",
            "accessKeyId": "AKIAEXAMPLE",
            "userName": "alice",
        },
        "eventTime": f"2026-10-05T12:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.1",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"n": n},
        "responseElements": None,
        "eventID": f"evt-{n}",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "111122223333",
    }
    base.update(overrides)
    return base


def sts_record(
    n: int, name: str, identity: dict[str, Any], params: Any, **extra: Any
) -> dict[str, Any]:
    """Return a record numbered ``n`` of the STS call ``name`` (AssumeRole, …) by ``identity``."""
    return make_record(
        n,
        userIdentity=identity,
        eventSource="sts.amazonaws.com",
        eventName=name,
        requestParameters=params,
        readOnly=True,
        **extra,
    )


def role_session(arn: str, role_id: str, **extra: Any) -> dict[str, Any]:
    """Return the userIdentity of a session of the role ``arn``."""
    name, account = arn.rsplit("/", 1)[1], arn.split(":")[4]
    issuer = {
        "type": "Role",
        "principalId": role_id,
        "arn": arn,
        "accountId": account,
        "userName": name,
    }
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:session",
        "arn": f"arn:aws:sts::{account}:assumed-role/{name}/session",
        "accountId": account,
        "accessKeyId": "ASIAEXAMPLESESSION",
        "sessionContext": {
            "sessionIssuer": issuer,
            "attributes": {"creationDate": "2026-10-05T11:00:00Z", "mfaAuthenticated": "false"},
        },
        **extra,
    }


def write_delivery(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write ``records`` as a gzipped CloudTrail delivery file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode(), mtime=0))
    return path


def log_name(account: str, region: str, stamp: str, suffix: str) -> str:
    """Return a CloudTrail log file name."""
    return f"{account}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"


def reset_moto(endpoint: str) -> None:
    """Empty moto's server (its reset API): each test builds its own bucket and IAM."""
    import urllib.request

    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request) as response:
        assert response.status == 200


def act_in_account(endpoint: str, account: str, mp: pytest.MonkeyPatch) -> None:
    """Put credentials of a role in ``account`` in os.environ, from moto's STS.

    moto's own account is 123456789012; a security team's tooling works in an account through a
    role in it, and moto then keeps that account's IAM and S3 apart.
    """
    import boto3

    sts = boto3.session.Session().client("sts", endpoint_url=endpoint, region_name="us-east-1")
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/audit", RoleSessionName="audit"
    )["Credentials"]
    mp.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    mp.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    mp.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])


def templated_actions() -> Iterator[Any]:
    """Yield every catalog action with a resource type that has an ARN template."""
    from trailmin.aws import catalog

    for prefix in sorted(catalog.services()):
        for action in catalog.actions_for(prefix):
            if any(rt.arn_template for rt in action.resource_types):
                yield action
