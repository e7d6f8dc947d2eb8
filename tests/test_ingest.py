"""Ingest into the lake: real logs, bad input, exactly-once, crashes, locks, compaction."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

import trailmin
from tests.conftest import log_name, make_record, write_delivery
from trailmin.errors import LakeError, LakeLockedError, SourceError, UsageError
from trailmin.ingestion import pipeline as ingest_module
from trailmin.lake.store import Store


def event_ids(lake: Path) -> Counter[str]:
    """Return every event id in the lake's committed files, with how often it occurs."""
    files = Store.open(lake).committed_files()
    ids: Counter[str] = Counter()
    for f in files:
        ids.update(pq.read_table(f, columns=["event_id"]).column("event_id").to_pylist())
    return ids


def raw_records(folder: Path) -> list[dict]:
    """Return the records of every readable JSON file under ``folder``, decoded independently."""
    found: list[dict] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or not path.name.endswith((".json", ".json.gz")):
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        try:
            document = json.loads(data)
        except json.JSONDecodeError:
            try:
                found.extend(json.loads(line) for line in data.splitlines() if line.strip())
            except json.JSONDecodeError:
                continue
            continue
        found.extend(document["Records"])
    return found


# --- real logs ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_lake(tmp_path_factory, real_logs):
    lake = tmp_path_factory.mktemp("real") / "lake"
    summary = trailmin.ingest([real_logs], lake=lake, workers=1)
    return lake, summary


def test_every_real_log_is_ingested(real_lake, real_logs):
    lake, summary = real_lake
    db = trailmin.connect(lake)
    counts = dict(
        db.sql(
            "SELECT split_part(replace(source, ?, ''), '/', 2) AS folder, count(*) "
            "FROM events GROUP BY folder ORDER BY folder",
            params=[str(real_logs.resolve())],
        ).fetchall()
    )
    assert counts == {
        "awsdocs": 22,
        "invictus-ir": 2900,
        "otrf": 103,
        "trailscraper": 7,  # the same 2 records plain and gzipped, and 3 smoke-test records
        # 10 + 1 + 1 in the three good files, and the 3 intact records of the file that lacks
        # the commas between them
        "zmallen-malformed": 15,
    }
    assert summary.sources_skipped == 0
    assert summary.sources_partial == 1
    assert [(p["source"].rsplit("/", 1)[-1], p["position"]) for p in summary.record_problems] == [
        ("aws.execution.ec2-user-data.json", 1),
        ("aws.execution.ec2-user-data.json", 2),
    ]
    assert summary.record_problems[0]["reason"].startswith(
        "before record 1 (byte 3,326): expected a comma, found b''; the file is not valid JSON"
    )
    assert summary.records_skipped == 2
    assert not summary.clean


def test_real_invictus_rows_match_the_raw_records(real_lake, real_logs):
    """Every invictus record is in the lake once, with its own time, name and error."""
    lake, _ = real_lake
    raw = raw_records(real_logs / "invictus-ir")
    assert len(raw) == 2900
    frame = trailmin.read_events(lake, columns=["event_id", "event_name", "error_code", "source"])
    frame = frame[frame["source"].str.contains("invictus-ir")]
    assert sorted(frame["event_id"]) == sorted(r["eventID"] for r in raw)
    by_id = {r["eventID"]: r for r in raw}
    for row in frame.itertuples():
        assert row.event_name == by_id[row.event_id]["eventName"]
        assert (
            None if row.error_code is None or row.error_code != row.error_code else row.error_code
        ) == by_id[row.event_id].get("errorCode")


def test_real_principals_of_every_identity_type(real_lake, real_logs):
    """Principal attribution on real records, compared with counts taken from the raw JSON."""
    lake, _ = real_lake
    raw = raw_records(real_logs / "invictus-ir")
    # A sign-in record (CheckMfa) names its user only by userName and accountId.
    expected_users = Counter(
        r["userIdentity"].get("arn")
        or f"arn:aws:iam::{r['userIdentity']['accountId']}:user/{r['userIdentity']['userName']}"
        for r in raw
        if r["userIdentity"].get("type") == "IAMUser"
    )
    expected_roles = Counter(
        r["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
        for r in raw
        if r["userIdentity"].get("type") == "AssumedRole"
    )
    expected_services = Counter(
        r["userIdentity"]["invokedBy"]
        for r in raw
        if r["userIdentity"].get("type") == "AWSService"
        or ("type" not in r["userIdentity"] and "invokedBy" in r["userIdentity"])
    )
    db = trailmin.connect(lake)
    rows = db.sql(
        "SELECT principal_type, principal_arn, count(*) FROM events "
        "WHERE source LIKE '%invictus-ir%' GROUP BY ALL"
    ).fetchall()
    got: dict[str, Counter[str]] = {}
    for kind, arn, n in rows:
        got.setdefault(kind, Counter())[arn] = n
    assert got["IAMUser"] == expected_users
    assert got["Role"] + got["ServiceLinkedRole"] == expected_roles
    assert set(got["ServiceLinkedRole"]) == {
        "arn:aws:iam::123837392027:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS",
        "arn:aws:iam::123837392027:role/aws-service-role/inspector2.amazonaws.com/"
        "AWSServiceRoleForAmazonInspector2",
    }
    assert got["AWSService"] == expected_services
    assert set(got) == {"IAMUser", "Role", "ServiceLinkedRole", "AWSService"}

    sessions = dict(
        db.sql(
            "SELECT DISTINCT principal_arn, session_name FROM events "
            "WHERE principal_arn LIKE '%role/stratus-red-team-ec2-steal-credentials-role'"
        ).fetchall()
    )
    assert sessions == {
        "arn:aws:iam::123837392027:role/stratus-red-team-ec2-steal-credentials-role": (
            "i-0dbc91f429e48eeed"
        )
    }
    roots = db.sql(
        "SELECT principal_arn, count(*) FROM events WHERE principal_type = 'Root' GROUP BY ALL"
    ).fetchall()
    assert sorted(roots) == [
        ("arn:aws:iam::111122223333:root", 5),
        ("arn:aws:iam::123456789012:root", 1),
    ]
    # awsdocs: failed sign-ins carry no ARN; the user is named from userName and accountId.
    anaya = db.sql(
        "SELECT count(*) FROM events WHERE principal_arn = 'arn:aws:iam::111122223333:user/anaya'"
    ).fetchall()
    assert anaya == [(5,)]
    # Insight events have no identity and name their call in insightDetails.
    insights = db.sql(
        "SELECT principal_type, event_source, event_name FROM events "
        "WHERE event_type = 'AwsCloudTrailInsight'"
    ).fetchall()
    expected_insights = [
        ("Unknown", r["insightDetails"]["eventSource"], r["insightDetails"]["eventName"])
        for r in raw_records(real_logs / "awsdocs")
        if r.get("eventType") == "AwsCloudTrailInsight"
    ]
    assert len(expected_insights) == 3
    assert sorted(insights) == sorted(expected_insights)


def test_otrf_time_comes_from_logstash_timestamp(real_lake, real_logs):
    lake, _ = real_lake
    frame = trailmin.read_events(lake, columns=["event_time", "source", "event_id"])
    otrf = frame[frame["source"].str.contains("otrf")]
    assert len(otrf) == 103
    stamps = {r["eventID"]: r["@timestamp"] for r in raw_records(real_logs / "otrf")}
    for row in otrf.itertuples():
        assert row.event_time == trailmin.parse_time(stamps[row.event_id])
    assert str(otrf["event_time"].dtype) == "datetime64[us, UTC]"


# --- exactly once ---------------------------------------------------------------------------------


def test_ingesting_twice_adds_nothing(tmp_path, real_logs):
    lake = tmp_path / "lake"
    first = trailmin.ingest([real_logs / "invictus-ir"], lake=lake, workers=1)
    before = event_ids(lake)
    second = trailmin.ingest([real_logs / "invictus-ir"], lake=lake, workers=1)
    assert first.events == 2900
    assert second.events == 0
    assert second.sources_read == 0
    assert second.sources_unchanged == 55
    assert event_ids(lake) == before
    assert second.clean


def test_a_changed_file_adds_only_its_new_records(tmp_path):
    trail = tmp_path / "trail"
    path = write_delivery(trail / "a.json.gz", [make_record(i) for i in range(5)])
    lake = tmp_path / "lake"
    trailmin.ingest([trail], lake=lake, workers=1)
    write_delivery(path, [make_record(i) for i in range(8)])
    summary = trailmin.ingest([trail], lake=lake, workers=1)
    assert summary.events == 3
    assert event_ids(lake) == Counter(f"evt-{i}" for i in range(8))


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from trailmin.lake import store as lake_module
    import trailmin

    commits = 0
    original = lake_module.Store.commit

    def commit(self, *args, **kwargs):
        global commits
        commits += 1
        if commits == int(sys.argv[3]):
            os._exit(9)  # die with the task's data files staged, before the manifest commit
        return original(self, *args, **kwargs)

    lake_module.Store.commit = commit
    trailmin.ingest([sys.argv[1]], lake=sys.argv[2], workers=1, task_bytes=20_000)
    """
)


@pytest.mark.parametrize("crash_at_commit", [1, 3])
def test_a_crash_between_data_and_manifest_loses_and_duplicates_nothing(
    tmp_path, real_logs, crash_at_commit
):
    source = real_logs / "invictus-ir"
    clean = tmp_path / "clean"
    trailmin.ingest([source], lake=clean, workers=1)

    crashed = tmp_path / "crashed"
    result = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(source), str(crashed), str(crash_at_commit)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 9, result.stderr
    # The dead run left its task's files in staging, and none that no commit lists in events/.
    the_lake = Store.open(crashed)
    on_disk = {p.relative_to(crashed).as_posix() for p in the_lake.iter_data_files()}
    assert on_disk == set(the_lake.committed_paths())
    assert trailmin.lake_info(crashed).uncommitted_files == 0
    assert list(the_lake.staging_dir.rglob("*.parquet")), "the crash should leave staged files"

    summary = trailmin.ingest([source], lake=crashed, workers=1)
    assert summary.recovered_files == 0
    assert not list(the_lake.staging_dir.rglob("*.parquet"))
    assert event_ids(crashed) == event_ids(clean)
    assert sum(event_ids(crashed).values()) == 2900
    # And DuckDB reading the folder as is sees exactly the same rows.
    count = duckdb.sql(
        f"SELECT count(*), count(DISTINCT event_id) FROM read_parquet("
        f"'{crashed}/events/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert count == [(2900, 2900)]


def test_a_second_writer_is_refused_while_the_lock_is_held(tmp_path, real_logs):
    lake = Store.create(tmp_path / "lake")
    with lake.locked(), pytest.raises(LakeLockedError, match="is being written by pid"):
        trailmin.ingest([real_logs / "trailscraper"], lake=lake.path, workers=1)
    # Once released, the same ingest goes through.
    assert trailmin.ingest([real_logs / "trailscraper"], lake=lake.path, workers=1).events == 7


# --- bad input ------------------------------------------------------------------------------------


@pytest.fixture
def messy_trail(tmp_path) -> Path:
    trail = tmp_path / "messy"
    write_delivery(trail / "good.json.gz", [make_record(i) for i in range(10)])
    whole = gzip.compress(json.dumps({"Records": [make_record(100)]}).encode())
    (trail / "truncated.json.gz").write_bytes(whole[: len(whole) // 2])
    (trail / "invalid.json").write_text('{"Records": [{"eventVersion": "1.08" "eventTime": 1}]}')
    (trail / "empty.json").write_bytes(b"")
    (trail / "package.json").write_text('{"name": "not-cloudtrail", "version": "1.0.0"}')
    huge = make_record(203, requestParameters={"blob": "x" * (2 * 1024 * 1024)})
    write_delivery(
        trail / "mixed.json.gz",
        [
            make_record(200),
            {k: v for k, v in make_record(201).items() if k != "eventTime"},
            {k: v for k, v in make_record(202).items() if k != "eventSource"},
            huge,
            make_record(204, eventName=["not", "a", "string"]),
            make_record(205),
        ],
    )
    (trail / "README.md").write_text("not a log")
    return trail


def test_bad_input_is_skipped_with_reasons_and_good_records_land(tmp_path, messy_trail):
    lake = tmp_path / "lake"
    summary = trailmin.ingest([messy_trail], lake=lake, workers=1)
    assert event_ids(lake) == Counter([*(f"evt-{i}" for i in range(10)), "evt-200", "evt-205"])
    reasons = {Path(s["source"]).name: s["reason"] for s in summary.skipped}
    assert set(reasons) == {"truncated.json.gz", "invalid.json", "empty.json", "package.json"}
    assert "truncated gzip" in reasons["truncated.json.gz"]
    assert "invalid JSON" in reasons["invalid.json"]
    assert "empty file" in reasons["empty.json"]
    assert "not CloudTrail" in reasons["package.json"]
    assert summary.sources_partial == 1
    assert summary.records_skipped == 4
    problems = [p["reason"] for p in summary.record_problems]
    assert any("missing eventTime" in p for p in problems)
    assert any("missing eventSource" in p for p in problems)
    assert any("record too large" in p for p in problems)
    assert any("$.eventName" in p for p in problems)
    assert summary.sources_ignored == 1  # README.md
    assert not summary.clean

    # The manifest lists the same.
    the_lake = Store.open(lake)
    listed = {Path(p["source"]).name: p["status"] for p in the_lake.source_problems()}
    assert listed == {
        "truncated.json.gz": "skipped",
        "invalid.json": "skipped",
        "empty.json": "skipped",
        "package.json": "skipped",
        "mixed.json.gz": "partial",
    }
    mixed = next(u for u in the_lake.known_sources() if u.endswith("mixed.json.gz"))
    assert [position for position, _ in the_lake.record_problems(mixed)] == [1, 2, 3, 4]

    # What a file yields depends only on its bytes: a re-run reads none of them again (a
    # 3 GiB gzip bomb is not expanded on every run), and adds no duplicate.
    again = trailmin.ingest([messy_trail], lake=lake, workers=1)
    assert again.sources_read == 0
    assert again.events == 0
    assert again.sources_unchanged == 6
    assert again.sources_still_bad == 5
    assert again.clean
    assert sum(event_ids(lake).values()) == 12

    # Once a file is repaired, the next run takes it in.
    write_delivery(messy_trail / "truncated.json.gz", [make_record(100)])
    fixed = trailmin.ingest([messy_trail], lake=lake, workers=1)
    assert fixed.events == 1
    assert "evt-100" in event_ids(lake)


def test_cli_exit_codes_and_messages(tmp_path, messy_trail, real_logs):
    lake = tmp_path / "lake"
    run = subprocess.run(
        [sys.executable, "-m", "trailmin", "ingest", str(messy_trail), "--lake", str(lake)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "Ingested 12 events" in run.stdout
    assert f"skipped {messy_trail.resolve() / 'empty.json'}: empty file" in run.stderr
    assert "tries again the files that could not be read" in run.stderr

    clean = subprocess.run(
        [
            sys.executable,
            "-m",
            "trailmin",
            "ingest",
            str(real_logs / "trailscraper"),
            "--lake",
            str(tmp_path / "clean"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert clean.returncode == 0, clean.stderr
    data = json.loads(clean.stdout)
    assert data["events"] == 7
    assert data["clean"] is True

    missing = subprocess.run(
        [sys.executable, "-m", "trailmin", "ingest", str(tmp_path / "nope"), "--lake", str(lake)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr


def test_errors_name_the_fix(tmp_path):
    with pytest.raises(UsageError, match="no source given"):
        trailmin.ingest([], lake=tmp_path / "l")
    (tmp_path / "file").write_text("x")
    with pytest.raises(LakeError, match="give --lake a directory"):
        trailmin.ingest([tmp_path / "file"], lake=tmp_path / "file")
    with pytest.raises(LakeError, match="is not a trailmin lake"):
        trailmin.lake_info(tmp_path)
    with pytest.raises(SourceError, match="does not exist"):
        trailmin.ingest([tmp_path / "missing"], lake=tmp_path / "l2")
    with pytest.raises(UsageError, match="is not after start"):
        trailmin.ingest(
            [tmp_path],
            lake=tmp_path / "l3",
            start=trailmin.parse_time("2026-10-05"),
            end=trailmin.parse_time("2026-10-04"),
        )


# --- filters, workers, compaction, reading --------------------------------------------------------


def test_local_files_are_filtered_by_their_cloudtrail_names(tmp_path):
    trail = tmp_path / "AWSLogs"
    files = {
        ("111122223333", "us-east-1", "20261005T1205Z"): 1,
        ("111122223333", "eu-west-1", "20261005T1205Z"): 2,
        ("444455556666", "us-east-1", "20261005T1205Z"): 3,
        ("111122223333", "us-east-1", "20261007T0005Z"): 4,
        ("111122223333", "us-east-1", "20261007T0105Z"): 5,
    }
    for (account, region, stamp), n in files.items():
        write_delivery(
            trail / account / region / log_name(account, region, stamp, f"f{n}"),
            [make_record(n)],
        )
    summary = trailmin.ingest(
        [trail],
        lake=tmp_path / "lake",
        accounts=["111122223333"],
        regions=["us-east-1"],
        start=trailmin.parse_time("2026-10-05"),
        end=trailmin.parse_time("2026-10-07"),
        workers=1,
    )
    # 20261007T0005Z is within the hour after --end: it may hold records from before it.
    assert event_ids(tmp_path / "lake") == Counter(["evt-1", "evt-4"])
    assert summary.sources_read == 2


def test_two_workers_give_the_same_lake_as_one(tmp_path, real_logs, monkeypatch):
    monkeypatch.setattr(ingest_module, "SMALL_RUN_BYTES", 0)
    one = trailmin.ingest([real_logs / "invictus-ir"], lake=tmp_path / "one", workers=1)
    progress: list[trailmin.Progress] = []
    two = trailmin.ingest(
        [real_logs / "invictus-ir"],
        lake=tmp_path / "two",
        workers=2,
        task_bytes=200_000,
        on_progress=progress.append,
    )
    assert one.events == two.events == 2900
    assert event_ids(tmp_path / "one") == event_ids(tmp_path / "two")
    assert two.files_written > one.files_written  # one file per partition per task
    assert progress
    assert progress[-1].sources_done == 55
    assert progress[-1].events == 2900


def test_compaction_merges_small_files_and_keeps_every_row(tmp_path):
    trail = tmp_path / "trail"
    lake = tmp_path / "lake"
    for run in range(4):
        write_delivery(trail / f"run{run}.json.gz", [make_record(run * 10 + i) for i in range(10)])
        trailmin.ingest([trail], lake=lake, workers=1)
    before = event_ids(lake)
    assert len(Store.open(lake).committed_paths()) == 4
    summary = trailmin.compact(lake)
    assert (summary.files_before, summary.files_after, summary.rows) == (4, 1, 40)
    (only,) = Store.open(lake).committed_files()
    assert event_ids(lake) == before
    assert len(list((lake / "events").rglob("*.parquet"))) == 1
    assert pq.ParquetFile(only).metadata.num_row_groups == 1
    # After compaction, incremental ingest still knows what it has.
    assert trailmin.ingest([trail], lake=lake, workers=1).sources_unchanged == 4


def test_read_events_filters(real_lake):
    lake, _ = real_lake
    users = trailmin.read_events(lake, principals=["arn:aws:iam::*:user/bert-jan"])
    assert set(users["principal_arn"]) == {"arn:aws:iam::123837392027:user/bert-jan"}
    assert len(users) == 2642
    window = trailmin.read_events(
        lake, start="2023-07-10T12:00:00Z", end="2023-07-10T12:05:00Z", accounts=["123837392027"]
    )
    assert window["event_time"].min() >= trailmin.parse_time("2023-07-10T12:00:00Z")
    assert window["event_time"].max() < trailmin.parse_time("2023-07-10T12:05:00Z")
    assert set(window["account"]) == {"123837392027"}
    raw = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{lake}/events/account=123837392027/**/*.parquet') "
        "WHERE event_time >= TIMESTAMPTZ '2023-07-10 12:00:00+00' "
        "AND event_time < TIMESTAMPTZ '2023-07-10 12:05:00+00'"
    ).fetchall()
    assert raw == [(len(window),)]
    assert list(window["event_time"]) == sorted(window["event_time"])


def test_lake_info(real_lake):
    lake, _ = real_lake
    info = trailmin.lake_info(lake)
    assert info.rows == 3047
    assert info.sources_skipped == 0
    assert info.sources_partial == 1  # the file without commas between its records
    assert info.sources_ingested == 63
    assert "123837392027" in info.accounts
    assert "012345678901" not in info.accounts  # no account lost its leading zero
    assert info.first_event == "2014-03-06T17:10:34Z"
    assert info.last_event == "2023-07-10T12:37:50Z"
    assert info.uncommitted_files == 0
    assert info.skipped[0]["source"].endswith("aws.execution.ec2-user-data.json")


def test_progress_in_one_process_counts_the_whole_run(tmp_path, real_logs):
    """Progress adds up across tasks when they run one after another in this process."""
    progress: list[trailmin.Progress] = []
    trailmin.ingest(
        [real_logs / "invictus-ir"],
        lake=tmp_path / "lake",
        workers=1,
        task_bytes=100_000,
        on_progress=progress.append,
    )
    last = progress[-1]
    assert (last.sources_done, last.sources_total, last.events) == (55, 55, 2900)
    assert last.bytes_read == sum(
        p.stat().st_size for p in (real_logs / "invictus-ir").rglob("*.json")
    )


def test_naive_times_are_taken_as_utc(tmp_path):
    trail = tmp_path / "AWSLogs"
    for n, stamp in ((1, "20261005T1205Z"), (2, "20261009T1205Z")):
        write_delivery(
            trail / log_name("111122223333", "us-east-1", stamp, f"f{n}"), [make_record(n)]
        )
    summary = trailmin.ingest(
        [trail],
        lake=tmp_path / "lake",
        workers=1,
        start=datetime(2026, 10, 5),
        end=datetime(2026, 10, 6),
    )
    assert summary.events == 1
    assert event_ids(tmp_path / "lake") == Counter(["evt-1"])


def test_a_source_that_fails_leaves_no_lake_behind(tmp_path):
    with pytest.raises(SourceError):
        trailmin.ingest([tmp_path / "missing"], lake=tmp_path / "lake")
    assert not (tmp_path / "lake").exists()


def test_a_record_delivered_in_two_changed_files_stays_in_both(tmp_path):
    """Files read again drop only their own earlier rows, not another file's copy of an event."""
    trail = tmp_path / "trail"
    a = write_delivery(trail / "a.json.gz", [make_record(1)])
    b = write_delivery(trail / "b.json.gz", [make_record(2)])
    lake = tmp_path / "lake"
    trailmin.ingest([trail], lake=lake, workers=1)
    # Both files change; each now also holds the record the other had before.
    write_delivery(a, [make_record(1), make_record(2)])
    write_delivery(b, [make_record(2), make_record(1)])
    summary = trailmin.ingest([trail], lake=lake, workers=1)
    assert summary.events == 2
    assert event_ids(lake) == Counter({"evt-1": 2, "evt-2": 2})
    assert {
        uri.rsplit("/", 1)[1]: k.rows for uri, k in Store.open(lake).known_sources().items()
    } == {
        "a.json.gz": 2,
        "b.json.gz": 2,
    }


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("9999-12-31T00:00:00Z", "is after the time of this ingest"),
        ("2099-01-01T00:00:00Z", "is after the time of this ingest"),
        ("2010-06-01T00:00:00Z", "is before CloudTrail existed (2013-11-13)"),
        ("1970-01-01T00:00:00Z", "is before CloudTrail existed (2013-11-13)"),
    ],
)
def test_a_record_dated_outside_cloudtrails_time_is_skipped(tmp_path, when, reason):
    """A record from the future (or from before CloudTrail) would move every "last N days"
    window past the real events: it is skipped with its reason, the good records land."""
    path = write_delivery(
        tmp_path / "src" / log_name("111122223333", "us-east-1", "20261005T0000Z", "abc"),
        [make_record(1), make_record(2, eventTime=when), make_record(3)],
    )
    lake = tmp_path / "lake"
    summary = trailmin.ingest([path.parent], lake=lake, workers=1)
    assert event_ids(lake) == Counter({"evt-1": 1, "evt-3": 1})
    (problem,) = summary.record_problems
    assert f"record 1: eventTime '{when}' {reason}" in problem["reason"]
    assert not summary.clean


@pytest.mark.parametrize(
    "account",
    ["../../outside", "12345", "111122223333/../../x", "a=b", "1111\n22223333", "x" * 300],
)
def test_a_record_whose_account_is_not_an_account_id_is_skipped(tmp_path, account):
    """recipientAccountId names the partition folder: anything but 12 digits would write outside
    the lake or break every reader. The record is skipped with its reason, the rest land."""
    path = write_delivery(
        tmp_path / "src" / "trail.json.gz",
        [make_record(1), make_record(2, recipientAccountId=account), make_record(3)],
    )
    lake = tmp_path / "lake"
    summary = trailmin.ingest([path.parent], lake=lake, workers=1)
    assert event_ids(lake) == Counter({"evt-1": 1, "evt-3": 1})
    (problem,) = summary.record_problems
    assert "record 1: recipientAccountId " in problem["reason"]
    assert "is not an AWS account id (12 digits)" in problem["reason"]
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*.parquet")}
    assert all(str(p).startswith("lake/events/account=") for p in written), written


def test_a_callers_account_that_is_not_an_id_never_names_a_folder(tmp_path):
    """Without recipientAccountId, an anonymous caller's "accountId" is not a partition."""
    record = make_record(1)
    del record["recipientAccountId"]
    record["userIdentity"] = {"type": "AWSAccount", "accountId": "ANONYMOUS_PRINCIPAL"}
    path = write_delivery(tmp_path / "src" / "trail.json.gz", [record])
    lake = tmp_path / "lake"
    trailmin.ingest([path.parent], lake=lake, workers=1)
    folders = {p.parent.parent.name for p in (lake / "events").rglob("*.parquet")}
    assert folders == {"account=unknown"}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], "holds no files; point ingest at the folder CloudTrail delivers to"),
        (
            ["README.md", "x_CloudTrail-Digest_y.json.gz"],
            "2 files seen, none of them a log (2 passed over: digests, and names not ending in",
        ),
    ],
)
def test_a_folder_with_nothing_to_ingest_is_said_and_exits_2(tmp_path, files, message):
    """An empty folder, or one without CloudTrail files, is not a clean run of nothing."""
    source = tmp_path / "logs"
    source.mkdir()
    for name in files:
        (source / name).write_text("{}")
    lake = tmp_path / "lake"
    run = subprocess.run(
        [sys.executable, "-m", "trailmin", "ingest", str(source), "--lake", str(lake)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert message in run.stderr
    assert not lake.exists()  # nothing listed, no empty lake left behind


def test_filters_that_match_no_file_are_said(tmp_path):
    from tests.conftest import SAMPLE_LOGS

    with pytest.raises(trailmin.SourceError, match="for the accounts, regions and dates asked"):
        trailmin.ingest([SAMPLE_LOGS], lake=tmp_path / "lake", accounts=["999999999999"])
