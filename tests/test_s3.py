"""S3 as a source: URI parsing, clients, layout-pruned listing and bounded concurrent fetching."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import enable_iam_authentication

from tests.conftest import fake_aws_env
from trailmin.errors import SourceError, UsageError
from trailmin.ingestion.s3 import iter_s3_bodies, list_cloudtrail_objects, make_client, parse_s3_uri
from trailmin.ingestion.sources import SourceObject

BUCKET = "trail-logs"
ORG = "o-abc123defg"
ORG_ACCOUNTS = ("111111111111", "222222222222")
PLAIN_ACCOUNT = "333333333333"
CUSTOM_ACCOUNT = "444444444444"
REGIONS = ("eu-west-1", "us-east-1")
DAYS = tuple(date(2024, 3, 1) + timedelta(days=n) for n in range(10))
TIMES = ("0005", "1200", "2230")  # three deliveries a day, hhmm UTC
PLAIN_DAY = f"AWSLogs/{PLAIN_ACCOUNT}/CloudTrail/us-east-1/2024/03/05/"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_aws_env(monkeypatch, tmp_path)


@dataclass(frozen=True)
class Log:
    """A CloudTrail log file of the fixture bucket, with what its place in the layout says."""

    key: str
    account: str
    region: str
    day: date
    stamp: datetime | None


def _log(folder: str, account: str, region: str, day: date, hhmm: str, *, n: int = 0) -> Log:
    stamp = datetime.strptime(f"{day:%Y%m%d}T{hhmm}", "%Y%m%dT%H%M").replace(tzinfo=UTC)
    name = f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_Ab{n}Cd{hhmm}Ef.json.gz"
    return Log(
        f"{folder}{account}/CloudTrail/{region}/{day:%Y/%m/%d}/{name}", account, region, day, stamp
    )


def _fixture_logs() -> list[Log]:
    folders = [(f"AWSLogs/{ORG}/", account) for account in ORG_ACCOUNTS]
    folders.append(("AWSLogs/", PLAIN_ACCOUNT))
    logs = [
        _log(folder, account, region, day, hhmm)
        for folder, account in folders
        for region in REGIONS
        for day in DAYS
        for hhmm in TIMES
    ]
    # A file put there by hand, with no delivery time in its name: kept when its day is selected.
    logs.append(Log(f"{PLAIN_DAY}manual-export.json.gz", PLAIN_ACCOUNT, "us-east-1", DAYS[4], None))
    logs += [
        _log("custom/trail/AWSLogs/", CUSTOM_ACCOUNT, "us-east-1", day, "0100") for day in DAYS[:2]
    ]
    return logs


LOGS = _fixture_logs()
DIGEST_FOLDERS = [
    f"AWSLogs/{ORG}/{ORG_ACCOUNTS[0]}/CloudTrail-Digest/",
    f"AWSLogs/{ORG}/{ORG_ACCOUNTS[1]}/CloudTrail-Digest/",
    f"AWSLogs/{PLAIN_ACCOUNT}/CloudTrail-Digest/",
]
INSIGHT_FOLDER = f"AWSLogs/{ORG}/{ORG_ACCOUNTS[0]}/CloudTrail-Insight/"
OTHER_KEYS = [
    *(
        f"{folder}us-east-1/2024/03/01/{folder.split('/')[-3]}_CloudTrail-Digest_us-east-1_"
        "main_us-east-1_20240301T010000Z.json.gz"
        for folder in DIGEST_FOLDERS
    ),
    f"{INSIGHT_FOLDER}us-east-1/2024/03/01/{ORG_ACCOUNTS[0]}_CloudTrail-Insight_us-east-1_"
    "20240301T0100Z_Zz9.json.gz",
    "AWSLogs/README.txt",
    f"{PLAIN_DAY}notes.txt",
    "other-service/2024/03/01/app.log",
]


def _body(key: str) -> bytes:
    return gzip.compress(json.dumps({"Records": [{"eventSource": key}]}).encode(), mtime=0)


def _put(client: Any, bucket: str, keys: list[str]) -> None:
    client.create_bucket(Bucket=bucket)
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=_body(key))


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[boto3.session.Session]:
    """Return one boto3 session for this module's clients, with fake credentials resolved.

    A fresh session, as ``make_client`` makes, parses botocore's models again (about 0.2 s);
    tests that need only a client share this one's. Unlike boto3's default session, it is not
    left behind, credentials cached, for other test modules.
    """
    with pytest.MonkeyPatch.context() as mp:
        fake_aws_env(mp, tmp_path_factory.mktemp("aws"))
        shared = boto3.session.Session(region_name="us-east-1")
        shared.get_credentials()
        yield shared


@pytest.fixture(scope="class")
def trail_bucket(session: boto3.session.Session) -> Iterator[None]:
    """Fill one in-process moto bucket for the listing tables; each test makes its own client."""
    with mock_aws():
        _put(session.client("s3"), BUCKET, [log.key for log in LOGS] + OTHER_KEYS)
        yield


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _keys(uris: list[str]) -> list[str]:
    prefix = f"s3://{BUCKET}/"
    assert all(uri.startswith(prefix) for uri in uris)
    return [uri[len(prefix) :] for uri in uris]


def _in(*days: int) -> Callable[[Log], bool]:
    return lambda log: log.day.day in days


def _under(prefix: str) -> Callable[[Log], bool]:
    return lambda log: log.key.startswith(prefix)


IN_AWSLOGS = _under("AWSLogs/")
# Per account and region: 10 days x 3 files = 30 keys; PLAIN_DAY holds 2 more (manual, notes.txt);
# AWSLogs/README.txt is counted whenever AWSLogs/ itself is listed.
LISTING_TABLE: list[Any] = [
    pytest.param("", {}, IN_AWSLOGS, 1 + 180 + 2, id="bucket-root-no-filter"),
    pytest.param(
        "",
        {"accounts": [ORG_ACCOUNTS[1]]},
        lambda log: log.account == ORG_ACCOUNTS[1],
        1 + 60,
        id="one-org-account",
    ),
    pytest.param(
        "",
        {"accounts": PLAIN_ACCOUNT},
        lambda log: log.account == PLAIN_ACCOUNT,
        1 + 60 + 2,
        id="plain-account-given-bare",
    ),
    pytest.param(
        "",
        {"regions": ["eu-west-1"]},
        lambda log: IN_AWSLOGS(log) and log.region == "eu-west-1",
        1 + 90,
        id="one-region",
    ),
    pytest.param(
        "",
        {"start": _utc("2024-03-04T00:00"), "end": _utc("2024-03-05T23:00")},
        lambda log: IN_AWSLOGS(log) and _in(4, 5)(log),
        1 + 3 * 2 * 2 * 3 + 2,
        id="two-day-window",
    ),
    pytest.param(
        "",
        {"start": _utc("2024-03-09T00:00")},
        lambda log: IN_AWSLOGS(log) and _in(9, 10)(log),
        1 + 3 * 2 * 2 * 3,
        id="start-only-walks-date-folders",
    ),
    pytest.param(
        "",
        {"end": datetime(2024, 3, 1, 22, 59)},  # naive: taken as UTC
        lambda log: IN_AWSLOGS(log) and _in(1)(log),
        1 + 3 * 2 * 3,
        id="end-only-naive",
    ),
    pytest.param(
        "",
        {
            "accounts": [ORG_ACCOUNTS[0]],
            "regions": ["eu-west-1"],
            "start": _utc("2024-03-07T00:00"),
            "end": _utc("2024-03-07T20:00"),  # 22:30 is past end + 1 h
        },
        lambda log: (
            log.account == ORG_ACCOUNTS[0]
            and log.region == "eu-west-1"
            and log.day.day == 7
            and log.stamp is not None
            and log.stamp.hour < 21
        ),
        1 + 3,
        id="account-region-window",
    ),
    pytest.param(
        "",
        {"accounts": ["999999999999"]},
        lambda log: False,
        1,
        id="absent-account-lists-nothing-below",
    ),
    pytest.param("AWSLogs", {}, IN_AWSLOGS, 183, id="awslogs-no-slash"),
    pytest.param("AWSLogs/", {}, IN_AWSLOGS, 183, id="awslogs"),
    pytest.param(f"AWSLogs/{ORG}", {}, _under(f"AWSLogs/{ORG}/"), 120, id="org"),
    pytest.param(
        f"AWSLogs/{ORG}/",
        {"accounts": [ORG_ACCOUNTS[1]]},
        lambda log: log.account == ORG_ACCOUNTS[1],
        60,
        id="org-with-account",
    ),
    pytest.param(
        f"AWSLogs/{ORG}/{ORG_ACCOUNTS[0]}/",
        {},
        lambda log: log.account == ORG_ACCOUNTS[0],
        60,
        id="org-account",
    ),
    pytest.param(
        f"AWSLogs/{PLAIN_ACCOUNT}/CloudTrail",
        {},
        lambda log: log.account == PLAIN_ACCOUNT,
        62,
        id="cloudtrail-folder",
    ),
    pytest.param(
        f"AWSLogs/{PLAIN_ACCOUNT}/CloudTrail/us-east-1/",
        {},
        _under(f"AWSLogs/{PLAIN_ACCOUNT}/CloudTrail/us-east-1/"),
        32,
        id="region",
    ),
    pytest.param(
        f"AWSLogs/{PLAIN_ACCOUNT}/CloudTrail/us-east-1/",
        {"regions": ["eu-west-1"]},
        lambda log: False,
        0,
        id="region-prefix-outside-region-filter",
    ),
    pytest.param(
        f"AWSLogs/{PLAIN_ACCOUNT}/CloudTrail/us-east-1/2024",
        {},
        _under(f"AWSLogs/{PLAIN_ACCOUNT}/CloudTrail/us-east-1/"),
        32,
        id="year",
    ),
    pytest.param(
        f"AWSLogs/{PLAIN_ACCOUNT}/CloudTrail/us-east-1/2024/03/",
        {"start": _utc("2024-03-05T00:00"), "end": _utc("2024-04-30T00:00")},
        lambda log: (
            _under(f"AWSLogs/{PLAIN_ACCOUNT}/CloudTrail/us-east-1/")(log) and log.day.day >= 5
        ),
        6 * 3 + 2,
        id="month-with-window-running-past-it",
    ),
    pytest.param(PLAIN_DAY.rstrip("/"), {}, _under(PLAIN_DAY), 5, id="day"),
    pytest.param(
        PLAIN_DAY,
        {"start": _utc("2024-03-01T00:00"), "end": _utc("2024-03-02T00:00")},
        lambda log: False,
        0,
        id="day-outside-window",
    ),
    pytest.param(
        f"{PLAIN_DAY}{PLAIN_ACCOUNT}_CloudTrail_us-east-1_20240305T12",
        {},
        lambda log: log.key.startswith(
            f"{PLAIN_DAY}{PLAIN_ACCOUNT}_CloudTrail_us-east-1_20240305T12"
        ),
        1,
        id="below-day",
    ),
    pytest.param("custom/trail", {}, _under("custom/trail/"), 2, id="custom-prefix"),
    pytest.param(
        f"custom/trail/AWSLogs/{CUSTOM_ACCOUNT}/",
        {},
        _under("custom/trail/"),
        2,
        id="custom-prefix-account",
    ),
]


@pytest.mark.usefixtures("trail_bucket")
class TestListing:
    @pytest.mark.parametrize(("prefix", "options", "selects", "listed"), LISTING_TABLE)
    def test_lists_only_the_selection(
        self,
        session: boto3.session.Session,
        prefix: str,
        options: dict[str, Any],
        selects: Callable[[Log], bool],
        listed: int,
    ) -> None:
        """The exact keys come back, and only the prefixes that can hold them are listed."""
        listing = list_cloudtrail_objects(session.client("s3"), BUCKET, prefix, **options)

        assert _keys([obj.uri for obj in listing.objects]) == sorted(
            log.key for log in LOGS if selects(log)
        )
        assert listing.listed == listed

    def test_digests_insights_and_foreign_objects_are_ignored(
        self, session: boto3.session.Session
    ) -> None:
        """Only CloudTrail/ folders are read; what is passed over is recorded, not returned."""
        listing = list_cloudtrail_objects(session.client("s3"), BUCKET, "")

        assert _keys(listing.ignored) == sorted(
            [*DIGEST_FOLDERS, INSIGHT_FOLDER, "AWSLogs/README.txt", f"{PLAIN_DAY}notes.txt"]
        )

    def test_objects_carry_size_and_unquoted_etag(self, session: boto3.session.Session) -> None:
        """Each object names its S3 URI, its size and its ETag without quotes."""
        listing = list_cloudtrail_objects(session.client("s3"), BUCKET, PLAIN_DAY)

        assert listing.objects == [
            SourceObject(
                uri=f"s3://{BUCKET}/{key}",
                size=len(_body(key)),
                etag=hashlib.md5(_body(key)).hexdigest(),
            )
            for key in sorted(log.key for log in LOGS if log.key.startswith(PLAIN_DAY))
        ]

    @pytest.mark.parametrize(
        ("end", "last_kept"),
        [
            ("2024-03-05T23:30", "20240306T0005Z"),  # 03-06 00:05 is 35 min past end: kept
            ("2024-03-05T23:05", "20240305T2230Z"),  # 03-06 00:05 is end + 1 h exactly: dropped
        ],
    )
    def test_window_keeps_start_and_files_delivered_up_to_an_hour_after_end(
        self, session: boto3.session.Session, end: str, last_kept: str
    ) -> None:
        """A file delivered at start is kept, and so is one delivered in the hour after end."""
        listing = list_cloudtrail_objects(
            session.client("s3"),
            BUCKET,
            "",
            accounts=[ORG_ACCOUNTS[0]],
            regions=["us-east-1"],
            start=_utc("2024-03-04T12:00"),
            end=_utc(end),
        )

        stamps = [obj.uri.rsplit("_", 2)[-2] for obj in listing.objects]
        expected = ["20240304T1200Z", "20240304T2230Z", "20240305T0005Z", "20240305T1200Z"]
        expected += ["20240305T2230Z", "20240306T0005Z"]
        assert stamps == expected[: expected.index(last_kept) + 1]
        assert listing.listed == 1 + 3 * 3  # README.txt, then the days of start, end and end + 1 h

    def test_missing_bucket_names_it(self, session: boto3.session.Session) -> None:
        """A bucket that does not exist is a SourceError that names it."""
        with pytest.raises(SourceError, match=r"Bucket no-such-bucket does not exist"):
            list_cloudtrail_objects(session.client("s3"), "no-such-bucket", "AWSLogs/")

    @pytest.mark.parametrize(
        ("prefix", "options", "complaint"),
        [
            ("AWSLogs/12345/", {}, "'12345' is not an organization id"),
            ("AWSLogs/111111111111/CloudTrail-Digest/", {}, "'CloudTrail-Digest' is not the"),
            ("AWSLogs/111111111111/CloudTrail/US-EAST-1", {}, "'US-EAST-1' is not an AWS region"),
            ("AWSLogs/111111111111/CloudTrail/us-east-1/2024/13/", {}, "'13' is not a month"),
            ("AWSLogs/111111111111/CloudTrail/us-east-1/2024/02/30", {}, "is not a calendar"),
            ("", {"accounts": ["12345"]}, "'12345' is not a 12-digit account id; check --acc"),
            (
                "",
                {"regions": ["Ireland"]},
                "'Ireland' is not an AWS region such as eu-west-1; check --region",
            ),
            (
                "",
                {"start": _utc("2024-03-02T00:00"), "end": _utc("2024-03-01T00:00")},
                "starts .* after it ends",
            ),
        ],
    )
    def test_selections_outside_the_layout_are_usage_errors(
        self, session: boto3.session.Session, prefix: str, options: dict[str, Any], complaint: str
    ) -> None:
        """A prefix or filter that cannot name CloudTrail logs says why, before listing."""
        with pytest.raises(UsageError, match=complaint):
            list_cloudtrail_objects(session.client("s3"), BUCKET, prefix, **options)


@mock_aws
def test_access_denied_names_the_permission(
    session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Credentials without s3:ListBucket give a SourceError naming the bucket and the fix."""
    _put(session.client("s3"), BUCKET, [LOGS[0].key])
    iam = session.client("iam")
    iam.create_user(UserName="reader")
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])

    with enable_iam_authentication(), pytest.raises(SourceError) as raised:
        list_cloudtrail_objects(make_client(), BUCKET, "AWSLogs/")

    assert str(raised.value) == (
        f"Access denied listing s3://{BUCKET}/AWSLogs/; check --profile/credentials and that "
        f"they allow s3:ListBucket on arn:aws:s3:::{BUCKET}"
    )


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("s3://trail-logs", ("trail-logs", "")),
        ("s3://trail-logs/", ("trail-logs", "")),
        ("s3://trail-logs/AWSLogs", ("trail-logs", "AWSLogs")),
        ("s3://trail-logs/custom/AWSLogs/", ("trail-logs", "custom/AWSLogs/")),
        ("s3://Legacy_Bucket.1/x", ("Legacy_Bucket.1", "x")),
    ],
)
def test_parse_s3_uri(uri: str, parsed: tuple[str, str]) -> None:
    """An S3 URI splits into its bucket and key prefix."""
    assert parse_s3_uri(uri) == parsed


@pytest.mark.parametrize(
    ("uri", "complaint"),
    [
        ("trail-logs/AWSLogs", "is not an S3 URI"),
        ("https://trail-logs/AWSLogs", "is not an S3 URI"),
        ("", "is not an S3 URI"),
        ("s3://", "names no bucket"),
        ("s3:///AWSLogs", "names no bucket"),
        ("s3://my bucket/x", "is not a valid bucket name"),
        ("s3://ab/x", "is not a valid bucket name"),
        ("s3://a..b/x", "is not a valid bucket name"),
    ],
)
def test_parse_s3_uri_rejects(uri: str, complaint: str) -> None:
    """A string that is not an S3 URI is a UsageError saying how to write one."""
    with pytest.raises(UsageError, match=complaint):
        parse_s3_uri(uri)


def test_make_client_config() -> None:
    """The client pools enough connections for its threads and retries in standard mode."""
    client = make_client(region="eu-west-2", max_pool_connections=16)

    assert client.meta.region_name == "eu-west-2"
    assert client.meta.config.max_pool_connections == 16
    # botocore counts max_attempts as retries after the first request.
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 11}


def test_make_client_reads_a_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A named profile supplies the region and credentials, as boto3's chain does."""
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile audit]\nregion = ap-south-1\n"
        "aws_access_key_id = AKIAAUDIT\naws_secret_access_key = audit-secret\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    client = make_client(profile="audit")

    assert client.meta.region_name == "ap-south-1"
    credentials = client._request_signer._credentials
    assert credentials.access_key == "AKIAAUDIT"


def test_make_client_unknown_profile() -> None:
    """An unknown profile is a UsageError naming it, not a botocore traceback."""
    with pytest.raises(UsageError, match=r"AWS profile 'nope' is not configured; check --profile"):
        make_client(profile="nope")


# Fetching --------------------------------------------------------------------------------------

FETCH_KEYS = [
    _log("AWSLogs/", PLAIN_ACCOUNT, "eu-west-1", DAYS[0], f"{n // 60:02d}{n % 60:02d}", n=n).key
    for n in range(0, 24 * 60, 36)  # 40 files in one day folder
]


@mock_aws
def test_iter_s3_bodies_yields_every_object_once() -> None:
    """Every listed object comes back exactly once, with its own bytes."""
    client = make_client()
    _put(client, BUCKET, FETCH_KEYS)
    listing = list_cloudtrail_objects(client, BUCKET, "")

    results = list(iter_s3_bodies(client, listing.objects, max_in_flight=4))

    assert Counter(obj.uri for obj, _ in results) == Counter(obj.uri for obj in listing.objects)
    assert {obj.uri: body for obj, body in results} == {
        f"s3://{BUCKET}/{key}": _body(key) for key in FETCH_KEYS
    }


@mock_aws
def test_iter_s3_bodies_reports_changed_and_deleted_objects() -> None:
    """An object rewritten or deleted after listing comes back as a SourceError saying so."""
    client = make_client()
    _put(client, BUCKET, FETCH_KEYS[:3])
    listing = list_cloudtrail_objects(client, BUCKET, "")
    changed, deleted, same = listing.objects
    client.put_object(Bucket=BUCKET, Key=FETCH_KEYS[0], Body=b"rewritten")
    client.delete_object(Bucket=BUCKET, Key=FETCH_KEYS[1])

    results = dict(iter_s3_bodies(client, listing.objects))

    assert results[same] == _body(FETCH_KEYS[2])
    assert isinstance(results[changed], SourceError)
    assert str(results[changed]) == (
        f"{changed.uri} changed since it was listed (its ETag is no longer {changed.etag}); "
        "list the source again to read the new copy"
    )
    assert isinstance(results[deleted], SourceError)
    assert (
        str(results[deleted])
        == f"{deleted.uri} was deleted since it was listed; list the source again"
    )


@mock_aws
def test_iter_s3_bodies_without_etag_reads_the_current_copy() -> None:
    """An object listed without an ETag is read whatever its current version."""
    client = make_client()
    _put(client, BUCKET, [])
    client.put_object(Bucket=BUCKET, Key="a.json", Body=b"{}")

    results = list(iter_s3_bodies(client, [SourceObject(uri=f"s3://{BUCKET}/a.json", size=2)]))

    assert results == [(SourceObject(uri=f"s3://{BUCKET}/a.json", size=2), b"{}")]


def test_iter_s3_bodies_rejects_an_empty_window(session: boto3.session.Session) -> None:
    """A window of no requests is refused when called, not when first iterated."""
    with pytest.raises(UsageError, match="max_in_flight must be at least 1"):
        iter_s3_bodies(session.client("s3"), [], max_in_flight=0)


# Over real HTTP ---------------------------------------------------------------------------------


def test_round_trip_over_http(moto_server: str) -> None:
    """Listing and fetching work against a real HTTP endpoint given to make_client."""
    client = make_client(endpoint_url=moto_server, region="us-east-1")
    keys = [log.key for log in LOGS if log.account == ORG_ACCOUNTS[0] and log.day.day <= 2]
    _put(client, "http-trail", [*keys, OTHER_KEYS[0]])

    listing = list_cloudtrail_objects(
        client,
        "http-trail",
        f"AWSLogs/{ORG}",
        regions=["us-east-1"],
        start=_utc("2024-03-02T00:00"),
        end=_utc("2024-03-02T23:00"),
    )
    bodies = dict(iter_s3_bodies(client, listing.objects, max_in_flight=4))

    expected = sorted(k for k in keys if "/us-east-1/2024/03/02/" in k)
    assert [obj.uri for obj in listing.objects] == [f"s3://http-trail/{k}" for k in expected]
    assert listing.listed == 3
    assert listing.ignored == [f"s3://http-trail/{DIGEST_FOLDERS[0]}"]
    assert {obj.uri: body for obj, body in bodies.items()} == {
        f"s3://http-trail/{k}": _body(k) for k in expected
    }


def test_endpoint_from_environment(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_ENDPOINT_URL_S3 reaches the client when no endpoint is given."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    client = make_client()
    _put(client, "env-trail", FETCH_KEYS[:2])

    listing = list_cloudtrail_objects(client, "env-trail", "")

    assert client.meta.endpoint_url == moto_server
    assert _keys_of(listing.objects, "env-trail") == sorted(FETCH_KEYS[:2])


def _keys_of(objects: list[SourceObject], bucket: str) -> list[str]:
    return [obj.uri.removeprefix(f"s3://{bucket}/") for obj in objects]


class _InFlight:
    """Counts GetObject requests between sending and their response, across threads."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.lock = threading.Lock()
        self.now = self.most = self.started = self.answered = 0

    def before_send(self, **_: Any) -> None:
        with self.lock:
            self.now += 1
            self.started += 1
            self.most = max(self.most, self.now)
        time.sleep(self.hold)  # keep the request open so that overlapping ones can be counted
        with self.lock:
            self.now -= 1

    def after_call(self, **_: Any) -> None:
        with self.lock:
            self.answered += 1

    def watch(self, client: Any) -> None:
        client.meta.events.register("before-send.s3.GetObject", self.before_send)
        client.meta.events.register("after-call.s3.GetObject", self.after_call)


def test_requests_in_flight_reach_and_never_exceed_the_window(moto_server: str) -> None:
    """max_in_flight GetObject requests run at once, never more, and each object once."""
    client = make_client(endpoint_url=moto_server, region="us-east-1")
    _put(client, "busy-trail", FETCH_KEYS)
    listing = list_cloudtrail_objects(client, "busy-trail", "")
    in_flight = _InFlight(hold=0.1)
    in_flight.watch(client)

    results = list(iter_s3_bodies(client, listing.objects, max_in_flight=8))

    assert in_flight.most == 8
    assert in_flight.started == in_flight.answered == len(FETCH_KEYS)
    assert sorted(_keys_of([obj for obj, _ in results], "busy-trail")) == sorted(FETCH_KEYS)
    assert all(body == _body(obj.uri.split("/", 3)[3]) for obj, body in results)


def test_a_busy_consumer_does_not_stall_the_fetches(moto_server: str) -> None:
    """While the consumer holds an object, the window's fetches finish; no more start."""
    client = make_client(endpoint_url=moto_server, region="us-east-1")
    _put(client, "slow-trail", FETCH_KEYS)
    listing = list_cloudtrail_objects(client, "slow-trail", "")
    in_flight = _InFlight(hold=0.02)
    in_flight.watch(client)

    bodies = iter_s3_bodies(client, listing.objects, max_in_flight=8)
    first = next(bodies)
    # The consumer is busy with `first`: the generator is suspended, the threads are not.
    deadline = time.monotonic() + 10
    while in_flight.answered < 9 and time.monotonic() < deadline:
        time.sleep(0.01)
    paused_started, paused_answered = in_flight.started, in_flight.answered
    rest = list(bodies)

    # All 8 of the window came back and at least one refill went out before `first` was handed
    # over; nothing beyond the window plus its refills was started while the consumer was busy.
    assert 9 <= paused_answered <= paused_started <= 16
    assert len(rest) + 1 == len(FETCH_KEYS)
    assert Counter(obj.uri for obj, _ in [first, *rest]) == Counter(o.uri for o in listing.objects)
