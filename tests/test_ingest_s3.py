"""Ingest from S3 end to end: an organization trail's bucket, faked by moto, into the lake.

In-process ``mock_aws`` for the single-process runs; moto's threaded server over real HTTP when
worker processes (which cannot see an in-process mock) or the CLI in a subprocess read the bucket.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

import trailmin
from tests.conftest import fake_aws_env, log_name, make_record
from trailmin.errors import SourceError
from trailmin.ingestion import pipeline as ingestion
from trailmin.lake.store import Store

BUCKET = "org-trail"
ORG = "o-abc123defg"
ACCOUNTS = ("111111111111", "222222222222")
OUTSIDE_ACCOUNT = "333333333333"  # in the organization, never selected
REGIONS = ("eu-west-1", "us-east-1")
DAYS = tuple(date(2024, 3, 1) + timedelta(days=n) for n in range(4))
TIMES = ("0005", "1200", "2230")  # deliveries a day, hhmm UTC
ID_SPACE = uuid.UUID("7c1d2f3e-0000-4000-8000-00000000cafe")


@dataclass(frozen=True)
class Delivery:
    """One log file of the fixture trail: its key, what its place says, and its records."""

    key: str
    account: str
    region: str
    stamp: datetime
    records: tuple[dict[str, Any], ...]

    @property
    def uri(self) -> str:
        return f"s3://{BUCKET}/{self.key}"

    @property
    def event_ids(self) -> list[str]:
        return [record["eventID"] for record in self.records]

    def body(self) -> bytes:
        return gzip_records(list(self.records))


def gzip_records(records: list[dict[str, Any]]) -> bytes:
    return gzip.compress(json.dumps({"Records": records}).encode(), mtime=0)


def records_for(key: str, account: str, region: str, stamp: datetime, count: int) -> list[dict]:
    """Return ``count`` records as CloudTrail delivers them in ``key``: logged minutes before."""
    records = []
    for i in range(count):
        moment = stamp - timedelta(minutes=5 + 3 * i)
        records.append(
            make_record(
                i,
                eventID=str(uuid.uuid5(ID_SPACE, f"{key}#{i}")),
                eventTime=f"{moment:%Y-%m-%dT%H:%M:%SZ}",
                awsRegion=region,
                recipientAccountId=account,
                eventName=("ListBuckets", "GetObject", "PutObject", "DescribeInstances")[i % 4],
            )
        )
    return records


def delivery(account: str, region: str, day: date, hhmm: str, *, n: int = 0) -> Delivery:
    stamp = datetime.strptime(f"{day:%Y%m%d}{hhmm}", "%Y%m%d%H%M").replace(tzinfo=UTC)
    name = log_name(account, region, f"{stamp:%Y%m%dT%H%MZ}", f"Xy{n}Zq{hhmm}")
    key = f"AWSLogs/{ORG}/{account}/CloudTrail/{region}/{day:%Y/%m/%d}/{name}"
    count = 1 + (day.day + int(hhmm) + n) % 4  # one to four records, as small files are
    return Delivery(
        key, account, region, stamp, tuple(records_for(key, account, region, stamp, count))
    )


def trail() -> list[Delivery]:
    return [
        delivery(account, region, day, hhmm)
        for account in (*ACCOUNTS, OUTSIDE_ACCOUNT)
        for region in REGIONS
        for day in DAYS
        for hhmm in TIMES
    ]


DELIVERIES = trail()
README = "AWSLogs/README.txt"
NOTES = f"AWSLogs/{ORG}/{ACCOUNTS[0]}/CloudTrail/eu-west-1/2024/03/02/notes.txt"
FOREIGN = "other-service/2024/03/02/app.log"

# The selection of the first test: both accounts, one region, 2 March to 3 March 23:30.
SELECTED_REGION = "eu-west-1"
START = datetime(2024, 3, 2, tzinfo=UTC)
END = datetime(2024, 3, 3, 23, 30, tzinfo=UTC)


def selected(d: Delivery) -> bool:
    """Return whether the selection takes ``d``: CloudTrail's hour of delivery slack past END."""
    return (
        d.account in ACCOUNTS
        and d.region == SELECTED_REGION
        and START <= d.stamp < END + timedelta(hours=1)
    )


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_aws_env(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[boto3.session.Session]:
    """Return one boto3 session for the tests' own clients (a new one parses botocore's models
    again, about 0.3 s); trailmin makes its own clients as it always does."""
    with pytest.MonkeyPatch.context() as mp:
        fake_aws_env(mp, tmp_path_factory.mktemp("aws"))
        shared = boto3.session.Session(region_name="us-east-1")
        shared.get_credentials()
        yield shared


def digest_key(account: str, region: str, day: date) -> str:
    return (
        f"AWSLogs/{ORG}/{account}/CloudTrail-Digest/{region}/{day:%Y/%m/%d}/{account}_CloudTrail-"
        f"Digest_{region}_org-trail_us-east-1_{day:%Y%m%d}T010000Z.json.gz"
    )


def upload(client: Any, bucket: str = BUCKET, deliveries: list[Delivery] = DELIVERIES) -> None:
    """Fill ``bucket`` as an organization trail writes it, with digests and foreign objects."""
    client.create_bucket(Bucket=bucket)
    for d in deliveries:
        client.put_object(Bucket=bucket, Key=d.key, Body=d.body())
    for account, region, day in sorted({(d.account, d.region, d.stamp.date()) for d in deliveries}):
        digest = gzip.compress(b'{"digestEndTime": "x", "logFiles": []}')
        client.put_object(Bucket=bucket, Key=digest_key(account, region, day), Body=digest)
    for key in (README, NOTES, FOREIGN):
        client.put_object(Bucket=bucket, Key=key, Body=b"not a log")


def event_ids(lake: Path) -> Counter[str]:
    """Return every event id in the lake's committed files, with how often it occurs."""
    ids: Counter[str] = Counter()
    for path in Store.open(lake).committed_files():
        ids.update(pq.read_table(path, columns=["event_id"]).column("event_id").to_pylist())
    return ids


def ids_of(deliveries: list[Delivery]) -> Counter[str]:
    return Counter(eid for d in deliveries for eid in d.event_ids)


def sources_in(lake: Path) -> set[str]:
    frame = trailmin.read_events(lake, columns=["source"])
    return set(frame["source"])


# --- in-process moto -----------------------------------------------------------------------------


@mock_aws
def test_org_trail_selection_lands_exactly_once(
    session: boto3.session.Session, tmp_path: Path
) -> None:
    """The selected files' records land once each; digests and strays are passed over; a
    second run lists the same objects and reads none of them."""
    upload(session.client("s3"))
    lake = tmp_path / "lake"
    expected = [d for d in DELIVERIES if selected(d)]
    # 2 accounts x (3 files on 2 March, 3 on 3 March, the 00:05 one of 4 March): 14 objects.
    assert len(expected) == 14

    def run() -> trailmin.IngestSummary:
        return trailmin.ingest(
            [f"s3://{BUCKET}/AWSLogs/"],
            lake=lake,
            workers=1,
            accounts=list(ACCOUNTS),
            regions=[SELECTED_REGION],
            start=START,
            end=END,
        )

    first = run()

    assert event_ids(lake) == ids_of(expected)
    assert max(event_ids(lake).values()) == 1
    assert sources_in(lake) == {d.uri for d in expected}
    assert first.sources_read == first.sources_ingested == 14
    assert first.events == sum(len(d.records) for d in expected)
    # AWSLogs/README.txt, each selected account's CloudTrail-Digest/ folder (not listed below
    # it), notes.txt in a listed day folder; other-service/ and the outside account are never
    # listed at all.
    assert first.sources_ignored == 4
    assert first.sources_unchanged == 0
    assert first.clean

    second = run()

    assert second.sources_unchanged == 14
    assert second.sources_read == 0
    assert second.events == 0
    assert second.files_written == 0
    assert event_ids(lake) == ids_of(expected)


@mock_aws
def test_a_truncated_object_is_skipped_by_uri_and_retried_alone(
    session: boto3.session.Session, tmp_path: Path
) -> None:
    """A cut gzip is skipped and named by its s3:// URI; the good objects land; a re-run reads
    nothing (the same bytes give the same result) until a good copy replaces it."""
    client = session.client("s3")
    good = [d for d in DELIVERIES if d.account == ACCOUNTS[0] and d.region == "us-east-1"]
    upload(client, deliveries=good)
    bad = delivery(ACCOUNTS[0], "us-east-1", DAYS[1], "1530", n=9)
    whole = bad.body()
    client.put_object(Bucket=BUCKET, Key=bad.key, Body=whole[: len(whole) // 2])
    lake = tmp_path / "lake"
    source = [f"s3://{BUCKET}/AWSLogs/{ORG}/{ACCOUNTS[0]}/"]

    first = trailmin.ingest(source, lake=lake, workers=1)

    assert [s["source"] for s in first.skipped] == [bad.uri]
    assert "truncated gzip" in first.skipped[0]["reason"]
    assert first.sources_skipped == 1
    assert first.sources_ingested == len(good)
    assert not first.clean
    assert event_ids(lake) == ids_of(good)
    assert Store.open(lake).source_problems()[0]["source"] == bad.uri

    again = trailmin.ingest(source, lake=lake, workers=1)

    assert again.sources_read == 0
    assert again.sources_unchanged == len(good) + 1
    assert again.sources_still_bad == 1
    assert again.events == 0
    assert event_ids(lake) == ids_of(good)

    client.put_object(Bucket=BUCKET, Key=bad.key, Body=whole)
    fixed = trailmin.ingest(source, lake=lake, workers=1)

    assert fixed.sources_read == fixed.sources_ingested == 1
    assert fixed.events == len(bad.records)
    assert fixed.clean
    assert event_ids(lake) == ids_of([*good, bad])
    assert max(event_ids(lake).values()) == 1


@mock_aws
def test_a_replaced_object_adds_only_its_new_records(
    session: boto3.session.Session, tmp_path: Path
) -> None:
    """An object rewritten with more records (a new ETag) is read again; only the records the
    lake lacks are added, and the unchanged objects are not read."""
    client = session.client("s3")
    kept = [d for d in DELIVERIES if d.account == ACCOUNTS[1] and d.region == "eu-west-1"]
    upload(client, deliveries=kept)
    target = kept[5]
    stamp = target.stamp
    five = records_for(target.key, target.account, target.region, stamp, 5)
    eight = records_for(target.key, target.account, target.region, stamp, 8)
    assert eight[:5] == five
    client.put_object(Bucket=BUCKET, Key=target.key, Body=gzip_records(five))
    before = client.head_object(Bucket=BUCKET, Key=target.key)["ETag"]
    lake = tmp_path / "lake"
    others = [d for d in kept if d is not target]
    source = [f"s3://{BUCKET}/AWSLogs/"]

    first = trailmin.ingest(source, lake=lake, workers=1, regions=["eu-west-1"])
    assert first.events == sum(len(d.records) for d in others) + 5

    client.put_object(Bucket=BUCKET, Key=target.key, Body=gzip_records(eight))
    assert client.head_object(Bucket=BUCKET, Key=target.key)["ETag"] != before
    second = trailmin.ingest(source, lake=lake, workers=1, regions=["eu-west-1"])

    assert second.sources_read == 1
    assert second.sources_unchanged == len(others)
    assert second.events == 3
    assert event_ids(lake) == ids_of(others) + Counter(r["eventID"] for r in eight)
    assert max(event_ids(lake).values()) == 1
    assert Store.open(lake).known_sources()[target.uri].rows == 8

    third = trailmin.ingest(source, lake=lake, workers=1, regions=["eu-west-1"])
    assert third.sources_read == 0
    assert third.sources_unchanged == len(kept)


@pytest.mark.parametrize(
    ("prefix", "options"),
    [
        pytest.param("AWSLogs/", {"accounts": ["999999999999"]}, id="absent-account"),
        pytest.param("AWSLogs/", {"regions": ["ap-south-1"]}, id="absent-region"),
        pytest.param(
            "AWSLogs/",
            {"start": datetime(2025, 1, 1, tzinfo=UTC), "end": datetime(2025, 1, 2, tzinfo=UTC)},
            id="window-without-logs",
        ),
        pytest.param(f"AWSLogs/{ORG}/{ACCOUNTS[0]}/CloudTrail/eu-west-1/2023/", {}, id="no-year"),
        pytest.param("elsewhere/", {}, id="custom-prefix-with-nothing"),
    ],
)
@mock_aws
def test_a_selection_matching_nothing_is_a_source_error(
    session: boto3.session.Session, tmp_path: Path, prefix: str, options: dict[str, Any]
) -> None:
    """Nothing to ingest is an error naming the URI and the filters to check, not an empty run."""
    upload(session.client("s3"), deliveries=DELIVERIES[:6])
    uri = f"s3://{BUCKET}/{prefix}"

    with pytest.raises(SourceError, match=rf"^No CloudTrail objects under {uri} for the acc"):
        trailmin.ingest([uri], lake=tmp_path / "lake", workers=1, **options)


# --- over HTTP: worker processes and the CLI -----------------------------------------------------


def test_worker_processes_over_http_match_one_worker(
    session: boto3.session.Session,
    moto_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two spawned workers, each with its own client built from endpoint_url and the
    environment's credentials, land exactly the uploaded records, as one worker does."""
    bucket = "http-workers"
    upload(session.client("s3", endpoint_url=moto_server), bucket=bucket)
    monkeypatch.setattr(ingestion, "SMALL_RUN_BYTES", 0)
    pools: list[int] = []
    run_pool = ingestion._run_pool

    def counting_pool(tasks: list[Any], workers: int, *args: Any, **kwargs: Any) -> None:
        pools.append(len(tasks))
        run_pool(tasks, workers, *args, **kwargs)

    monkeypatch.setattr(ingestion, "_run_pool", counting_pool)
    source = [f"s3://{bucket}/AWSLogs/"]
    expected = ids_of([d for d in DELIVERIES if d.account in ACCOUNTS])

    two = trailmin.ingest(
        source,
        lake=tmp_path / "two",
        workers=2,
        task_bytes=4_000,
        accounts=list(ACCOUNTS),
        endpoint_url=moto_server,
    )
    one = trailmin.ingest(
        source,
        lake=tmp_path / "one",
        workers=1,
        accounts=list(ACCOUNTS),
        endpoint_url=moto_server,
    )

    assert len(pools) == 1, "the two-worker run should go through the process pool"
    assert pools[0] >= 4, "task_bytes should split the run into several tasks"
    assert two.workers == 2
    assert two.sources_read == one.sources_read == 2 * len(REGIONS) * len(DAYS) * len(TIMES)
    assert two.clean
    assert one.clean
    assert event_ids(tmp_path / "two") == expected
    assert event_ids(tmp_path / "one") == event_ids(tmp_path / "two")
    assert two.events == one.events == sum(expected.values())


def test_cli_ingests_from_the_endpoint_in_the_environment(
    session: boto3.session.Session,
    moto_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`trailmin ingest s3://… --format json` reads the endpoint from AWS_ENDPOINT_URL_S3 and
    exits 0 with the summary as JSON."""
    bucket = "http-cli"
    two_accounts = [d for d in DELIVERIES if d.account in (ACCOUNTS[0], OUTSIDE_ACCOUNT)]
    upload(session.client("s3", endpoint_url=moto_server), bucket=bucket, deliveries=two_accounts)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    chosen = [d for d in DELIVERIES if d.account == OUTSIDE_ACCOUNT and d.region == "us-east-1"]
    lake = tmp_path / "lake"

    options = f"--account {OUTSIDE_ACCOUNT} --region us-east-1 --workers 1 --format json"
    uri = f"s3://{bucket}/AWSLogs/{ORG}/"

    run = subprocess.run(
        [sys.executable, "-m", "trailmin", "ingest", uri, "--lake", str(lake), *options.split()],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
        timeout=120,
    )

    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["events"] == sum(len(d.records) for d in chosen)
    assert data["sources_read"] == len(chosen)
    assert data["clean"] is True
    assert event_ids(lake) == ids_of(chosen)
