"""Crashes, broken downloads and refused credentials: each says what happened and exits apart.

AWS is moto's threaded server; what moto does not do itself (a reset mid-body, an expired token)
comes from the fault-injecting proxy of ``tests.s3_proxy`` in front of it (issue 14, point 8).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import botocore.credentials
import botocore.exceptions
import botocore.tokens
import pytest
from typer.testing import CliRunner

import trailmin
from tests import s3_proxy
from tests.conftest import ROOT, fake_aws_env, log_name, make_record
from trailmin import api, cli
from trailmin.errors import CredentialsError, SourceReadError
from trailmin.iam import fetch as iam
from trailmin.ingestion.s3 import (
    READ_ATTEMPTS,
    iter_s3_bodies,
    list_cloudtrail_objects,
    make_client,
)
from trailmin.ingestion.sources import SourceObject

PREFIX = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/05/"
STAMPS = ("20261005T1200Z", "20261005T1205Z", "20261005T1210Z")
KEYS = [PREFIX + log_name("111122223333", "us-east-1", stamp, "abc") for stamp in STAMPS]
# Fake credentials that no message may show.
KEY_ID, SECRET, TOKEN = "AKIAFAKEKEYID0000001", "fake-secret-Xq9", "fake-session-token-Zw7"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_aws_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # botocore fixes ~/.aws/sso/cache when imported; the test's own takes its place.
    for provider in (botocore.credentials.SSOProvider, botocore.tokens.SSOTokenProvider):
        monkeypatch.setattr(provider, "_SSO_TOKEN_CACHE_DIR", str(tmp_path / "sso-cache"))


def _records(n: int) -> list[dict[str, object]]:
    return [make_record(100 * n + i, eventID=f"evt-{n}-{i}") for i in range(150)]


def _fill(endpoint: str, bucket: str) -> dict[str, list[str]]:
    """Put three deliveries in ``bucket``; return each one's URI with its event ids."""
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=bucket)
    landed: dict[str, list[str]] = {}
    for n, key in enumerate(KEYS):
        records = _records(n)
        body = gzip.compress(json.dumps({"Records": records}).encode(), mtime=0)
        client.put_object(Bucket=bucket, Key=key, Body=body)
        landed[f"s3://{bucket}/{key}"] = [str(r["eventID"]) for r in records]
    return landed


def _resets_first(times: int) -> tuple[Callable[[s3_proxy.Request], s3_proxy.Action], Counter[str]]:
    """Return a rule resetting the first ``times`` GetObject of each key, and its count."""
    gets: Counter[str] = Counter()
    lock = threading.Lock()

    def rule(request: s3_proxy.Request) -> s3_proxy.Action:
        if request.operation != "GetObject":
            return s3_proxy.PASS
        with lock:
            gets[request.key] += 1
            return s3_proxy.RESET if gets[request.key] <= times else s3_proxy.PASS

    return rule, gets


# --- crashes -------------------------------------------------------------------------------------


def test_a_crash_exits_70_with_a_plain_traceback_and_says_it_is_a_bug(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An exception no command turned into a message exits 70 (not 1, "skipped", nor 2), prints
    a plain traceback without local variables, and says it is a bug in trailmin."""
    held = "-".join(["local", "credential", "value"])  # only in a local variable, never in source

    def broken(lake: object) -> None:
        secret = held
        raise RuntimeError(f"an internal invariant broke ({len(secret)})")

    monkeypatch.setattr(api, "lake_info", broken)

    result = CliRunner().invoke(cli.app, ["lake", "info", "--lake", str(tmp_path)])

    assert result.exit_code == cli.EXIT_CRASH == 70
    assert result.stdout == ""
    assert "Traceback (most recent call last):" in result.stderr
    assert "RuntimeError: an internal invariant broke (22)" in result.stderr
    assert "error: trailmin crashed (RuntimeError): this is a bug in trailmin" in result.stderr
    assert "The traceback above (on stderr)" in result.stderr
    assert held not in result.stderr
    assert "╭" not in result.stderr  # not rich's traceback, which can show the locals


def test_the_exit_codes_are_distinct_and_documented_in_help_and_readme() -> None:
    """Every exit code is its own, listed by `trailmin --help` and in the README's table."""
    codes = [cli.EXIT_CLEAN, cli.EXIT_SKIPPED, cli.EXIT_ERROR, cli.EXIT_REVIEW, cli.EXIT_CRASH]
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]

    help_text = CliRunner().invoke(cli.app, ["--help"]).stdout

    assert len(set(codes)) == len(codes)
    assert codes == [0, 1, 2, 3, 70]
    assert " ".join(cli.EXIT_CODES_HELP.split()) in " ".join(help_text.split())
    assert sorted({int(c) for c in re.findall(r"^\| `(\d+)` \|", table, re.MULTILINE)}) == [
        *codes,
        130,
    ]


# --- broken downloads ----------------------------------------------------------------------------


def test_a_connection_reset_mid_body_is_retried_and_every_object_lands(
    moto_server: str, tmp_path: Path
) -> None:
    """Two resets of each object mid-body: the third GetObject reads it; the run is clean."""
    landed = _fill(moto_server, "reset-twice")
    rule, gets = _resets_first(2)

    with s3_proxy.start(moto_server, rule) as proxy:
        summary = trailmin.ingest(
            ["s3://reset-twice/AWSLogs/"], lake=tmp_path / "lake", workers=1, endpoint_url=proxy
        )

    frame = trailmin.read_events(tmp_path / "lake", columns=["event_id", "source"])
    assert summary.clean, summary.skipped
    assert sorted(frame["event_id"]) == sorted(e for ids in landed.values() for e in ids)
    assert set(frame["source"]) == set(landed)
    assert gets == Counter(dict.fromkeys(KEYS, 3))
    assert Counter(proxy.operations)["s3:GetObject"] == 3 * len(KEYS)


def test_a_download_that_keeps_breaking_says_so_and_to_retry_not_to_check_access(
    moto_server: str, tmp_path: Path
) -> None:
    """A reset on every attempt: after READ_ATTEMPTS, the object is skipped, its reason names it
    and says the connection was reset and to run again; `ingest` exits 1, as for any skip."""
    landed = _fill(moto_server, "reset-always")
    rule, gets = _resets_first(10**6)

    with s3_proxy.start(moto_server, rule) as proxy:
        result = CliRunner().invoke(
            cli.app,
            [
                "ingest",
                "s3://reset-always/AWSLogs/",
                "--lake",
                str(tmp_path / "lake"),
                "--workers",
                "1",
                "--max-in-flight",
                "3",
                "--endpoint-url",
                proxy,
                "--format",
                "json",
            ],
        )

    summary = json.loads(result.stdout)
    assert result.exit_code == cli.EXIT_SKIPPED, result.output
    assert READ_ATTEMPTS == 4
    assert gets == Counter(dict.fromkeys(KEYS, READ_ATTEMPTS))
    assert sorted(summary["skipped"], key=lambda s: s["source"]) == [
        {
            "source": uri,
            "reason": f"could not be read: the connection was reset while reading {uri} "
            "(4 attempts); run ingest again to retry",
        }
        for uri in sorted(landed)
    ]


def test_iter_s3_bodies_gives_a_source_read_error_after_its_attempts(moto_server: str) -> None:
    """iter_s3_bodies hands over the SourceReadError, caused by botocore's streaming error."""
    _fill(moto_server, "reset-lib")
    rule, _gets = _resets_first(10**6)
    obj = SourceObject(uri=f"s3://reset-lib/{KEYS[0]}", size=0)

    with s3_proxy.start(moto_server, rule) as proxy:
        [(got, body)] = list(iter_s3_bodies(make_client(endpoint_url=proxy), [obj]))

    assert got == obj
    assert isinstance(body, SourceReadError)
    assert str(body) == (
        f"the connection was reset while reading {obj.uri} (4 attempts); run ingest again to retry"
    )
    assert proxy.operations == ["s3:GetObject"] * READ_ATTEMPTS


# --- refused credentials -------------------------------------------------------------------------

CREDENTIAL_CODES = [
    ("ExpiredToken", "have expired (ExpiredToken)"),
    ("ExpiredTokenException", "have expired (ExpiredTokenException)"),
    ("TokenRefreshRequired", "have expired (TokenRefreshRequired)"),
    ("RequestExpired", "as expired (RequestExpired)"),
    ("InvalidClientTokenId", "does not accept the credentials of profile 'audit'"),
    ("UnrecognizedClientException", "does not accept the credentials of profile 'audit'"),
    ("SignatureDoesNotMatch", "does not accept the credentials of profile 'audit'"),
    ("InvalidAccessKeyId", "does not accept the credentials of profile 'audit'"),
]
# Words of a missing permission, which a credentials problem must never be reported as.
PERMISSION_WORDS = ("the caller needs", "Access denied", "allow s3:", "check access")


def _profile(home: Path) -> None:
    """Configure profile "audit" with static session credentials."""
    (home / "config").write_text(
        f"[profile audit]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"
        f"aws_session_token = {TOKEN}\nregion = us-east-1\n"
    )


def _assert_credentials_message(message: str, fact: str) -> None:
    assert fact in message
    assert "aws sso login --profile audit" in message
    assert not [word for word in PERMISSION_WORDS if word in message]
    assert not [value for value in (KEY_ID, SECRET, TOKEN) if value in message]


def _always(reply: s3_proxy.Reply) -> Callable[[s3_proxy.Request], s3_proxy.Action]:
    return lambda _request: reply


@pytest.mark.parametrize(("code", "fact"), CREDENTIAL_CODES)
def test_refused_credentials_listing_s3_say_so_not_a_permission(
    moto_server: str, tmp_path: Path, code: str, fact: str
) -> None:
    """Listing the bucket with credentials AWS refuses raises a CredentialsError saying so,
    with the profile and how to refresh it."""
    _profile(tmp_path)
    reply = s3_proxy.s3_error(400 if code == "ExpiredToken" else 403, code, "Refused.")

    with s3_proxy.start(moto_server, _always(reply)) as proxy:
        client = make_client(profile="audit", endpoint_url=proxy)
        with pytest.raises(CredentialsError) as raised:
            list_cloudtrail_objects(client, "any-bucket", "AWSLogs/")

    _assert_credentials_message(str(raised.value), fact)
    assert "while listing s3://any-bucket/AWSLogs/" in str(raised.value)
    assert set(proxy.operations) == {"s3:ListObjectsV2"}


@pytest.mark.parametrize(("code", "fact"), CREDENTIAL_CODES)
def test_refused_credentials_reading_iam_say_so_not_a_missing_iam_permission(
    moto_server: str, tmp_path: Path, code: str, fact: str
) -> None:
    """GetAccountAuthorizationDetails refused for the credentials, not the permission, says so."""
    _profile(tmp_path)
    reply = s3_proxy.query_error(400 if code == "RequestExpired" else 403, code, "Refused.")

    with (
        s3_proxy.start(moto_server, _always(reply)) as proxy,
        pytest.raises(CredentialsError) as raised,
    ):
        iam.fetch_authorization_details(profile="audit", endpoint_url=proxy)

    _assert_credentials_message(str(raised.value), fact)
    assert "iam:" not in str(raised.value)
    assert set(proxy.operations) == {"iam:GetAccountAuthorizationDetails"}


def test_an_expired_token_reading_an_object_skips_it_saying_to_refresh(
    moto_server: str, tmp_path: Path
) -> None:
    """GetObject refused with ExpiredToken: the object comes with a CredentialsError."""
    _profile(tmp_path)
    _fill(moto_server, "expired-get")
    obj = SourceObject(uri=f"s3://expired-get/{KEYS[0]}", size=0)
    reply = s3_proxy.s3_error(400, "ExpiredToken", "The provided token has expired.")

    with s3_proxy.start(moto_server, _always(reply)) as proxy:
        client = make_client(profile="audit", endpoint_url=proxy)
        [(_obj, body)] = list(iter_s3_bodies(client, [obj]))

    assert isinstance(body, CredentialsError)
    _assert_credentials_message(str(body), "have expired (ExpiredToken)")
    assert f"while reading {obj.uri}" in str(body)


def test_an_expired_token_in_the_credential_report_cli_exits_2_saying_to_refresh(
    moto_server: str, tmp_path: Path
) -> None:
    """`trailmin audit --from-aws` with an expired token: exit 2 and the credentials message."""
    _profile(tmp_path)
    records = [make_record(1)]
    source = tmp_path / "src" / "trail.json.gz"
    source.parent.mkdir()
    source.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    lake = str(tmp_path / "lake")
    runner = CliRunner()
    assert runner.invoke(cli.app, ["ingest", str(source.parent), "--lake", lake]).exit_code == 0
    expired = s3_proxy.query_error(403, "ExpiredToken", "The security token is expired")

    def rule(request: s3_proxy.Request) -> s3_proxy.Action:
        return s3_proxy.PASS if request.operation == "GetAccountAuthorizationDetails" else expired

    with s3_proxy.start(moto_server, rule) as proxy:
        result = runner.invoke(
            cli.app,
            ["audit", "--lake", lake, "--from-aws", "--profile", "audit", "--endpoint-url", proxy],
        )

    message = " ".join(result.stderr.split())
    assert result.exit_code == cli.EXIT_ERROR, result.output
    _assert_credentials_message(message, "have expired (ExpiredToken)")
    assert "credential report" in message
    assert proxy.operations == [
        "iam:GetAccountAuthorizationDetails",
        "iam:GenerateCredentialReport",
    ]


def _sso_profile(home: Path) -> str:
    """Configure profile "audit" as an IAM Identity Center (legacy SSO) profile; return its
    start URL."""
    start_url = "https://example.awsapps.com/start"
    (home / "config").write_text(
        f"[profile audit]\nsso_start_url = {start_url}\nsso_region = us-east-1\n"
        "sso_account_id = 111122223333\nsso_role_name = Reader\nregion = us-east-1\n"
    )
    return start_url


def _list_s3() -> object:
    return list_cloudtrail_objects(make_client(profile="audit"), "any-bucket", "AWSLogs/")


def _read_iam() -> object:
    return iam.fetch_authorization_details(profile="audit")


@pytest.mark.parametrize("read", [_list_s3, _read_iam])
def test_no_sso_login_says_to_run_aws_sso_login(tmp_path: Path, read: Callable[[], object]) -> None:
    """A profile whose SSO login was never made (no cached token): botocore's SSOTokenLoadError
    becomes a CredentialsError naming the profile and `aws sso login`, before any request."""
    _sso_profile(tmp_path)

    with pytest.raises(CredentialsError) as raised:
        read()

    message = str(raised.value)
    assert isinstance(raised.value.__cause__, botocore.exceptions.SSOTokenLoadError)
    assert message.startswith("The SSO login of profile 'audit' has expired or was never made")
    _assert_credentials_message(message, "run `aws sso login --profile audit`")


def test_an_sso_session_ended_says_to_run_aws_sso_login(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached SSO token that the portal no longer accepts (GetRoleCredentials answers
    UnauthorizedException): botocore's UnauthorizedSSOTokenError says to log in again."""
    start_url = _sso_profile(tmp_path)
    cache = tmp_path / "sso-cache"
    cache.mkdir(parents=True)
    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    token = {"startUrl": start_url, "region": "us-east-1", "accessToken": TOKEN}
    token["expiresAt"] = expires
    (cache / f"{hashlib.sha1(start_url.encode()).hexdigest()}.json").write_text(json.dumps(token))
    unauthorized = s3_proxy.Reply(
        401,
        b'{"message": "Session token not found or invalid"}',
        {"Content-Type": "application/json", "x-amzn-ErrorType": "UnauthorizedException"},
    )

    with s3_proxy.start(moto_server, _always(unauthorized)) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", proxy)
        with pytest.raises(CredentialsError) as raised:
            iam.fetch_authorization_details(profile="audit", endpoint_url=proxy)

    message = str(raised.value)
    assert message.startswith("The SSO login of profile 'audit' has expired or was never made")
    _assert_credentials_message(message, "run `aws sso login --profile audit`")
    assert isinstance(raised.value.__cause__, botocore.exceptions.UnauthorizedSSOTokenError)
    assert [r.path for r in proxy.requests] == ["/federation/credentials"]


def test_no_credentials_at_all_say_where_to_set_them(tmp_path: Path) -> None:
    """No key, no profile, no role: a CredentialsError saying to set a profile."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("AWS_ACCESS_KEY_ID")
        mp.delenv("AWS_SECRET_ACCESS_KEY")
        with pytest.raises(CredentialsError) as raised:
            list_cloudtrail_objects(make_client(), "any-bucket", "AWSLogs/")

    assert str(raised.value) == (
        "No AWS credentials found while listing s3://any-bucket/AWSLogs/; set --profile or "
        "AWS_PROFILE (after `aws sso login --profile <profile>` for an SSO profile), or run where "
        "a role provides them"
    )


def test_credentials_refused_mid_ingest_stop_the_run_once_keeping_what_committed(
    moto_server: str, tmp_path: Path
) -> None:
    """Listing works, then every GetObject is refused with ExpiredToken: the run stops at the
    first with exit 2 and one message (not one skipped object after another), and a re-run
    with good credentials lands every object once."""
    _profile(tmp_path)
    landed = _fill(moto_server, "expired-mid")
    reply = s3_proxy.s3_error(400, "ExpiredToken", "The provided token has expired.")

    def rule(request: s3_proxy.Request) -> s3_proxy.Action:
        return reply if request.operation == "GetObject" else s3_proxy.PASS

    lake = str(tmp_path / "lake")
    command = [
        "ingest",
        "s3://expired-mid/AWSLogs/",
        "--lake",
        lake,
        "--workers",
        "1",
        "--profile",
        "audit",
    ]
    with s3_proxy.start(moto_server, rule) as proxy:
        stopped = CliRunner().invoke(cli.app, [*command, "--endpoint-url", proxy])

    assert stopped.exit_code == 2, stopped.output
    assert stopped.output.count("have expired (ExpiredToken)") == 1
    assert SECRET not in stopped.output
    assert TOKEN not in stopped.output

    again = CliRunner().invoke(cli.app, [*command, "--endpoint-url", moto_server])
    assert again.exit_code == 0, again.output
    ids = sorted(trailmin.read_events(lake, columns=["event_id"])["event_id"])
    assert ids == sorted(i for batch in landed.values() for i in batch)
