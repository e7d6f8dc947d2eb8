"""Broken and hostile input (issue 14, points 3, 4 and 7): a bad record or file is skipped with
its reason, every good record beside it lands, nothing is written outside the lake, and no
input can stall a run or take unbounded memory."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trailmin
from tests.conftest import make_record, write_delivery
from trailmin.ingestion import decode
from trailmin.ingestion.columns import Part, parts_to_table
from trailmin.ingestion.decode import BadSource, decode_records
from trailmin.policy.generate import Proposal

GOOD = [make_record(n) for n in range(5)]
LATEST = datetime.now(UTC) + timedelta(days=1)  # as an ingest's clock allows


def landed(lake: Path) -> Counter[str]:
    """Return the event ids a plain reader of the lake's files sees, with their counts."""
    rows = duckdb.sql(
        f"SELECT event_id FROM read_parquet('{lake}/events/**/*.parquet', hive_partitioning=true)"
    ).fetchall()
    return Counter(event_id for (event_id,) in rows)


def delivery_text(items: list[Any]) -> bytes:
    """Return a delivery file whose records are JSON values or raw bytes, in order."""
    parts = [item if isinstance(item, bytes) else json.dumps(item).encode() for item in items]
    return b'{"Records": [' + b", ".join(parts) + b"]}"


def rows_of(data: bytes) -> tuple[list[str], list[str]]:
    """Return the event ids that become lake rows, and the reasons of all that did not."""
    decoded = decode_records(data)
    batch = parts_to_table([Part(decoded.records, "src", None)], latest=LATEST)
    reasons = [s.reason for s in decoded.skipped] + [s.reason for _, s in batch.skipped]
    return batch.table["event_id"].to_pylist(), reasons


# --- point 4: one bad record costs only itself ---------------------------------------------------

DEEP = "[" * 1200 + "]" * 1200


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        pytest.param(
            (
                '{"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventTime": '
                f'"2026-10-05T12:00:00Z", "eventID": "bad", "requestParameters": {{"a": {DEEP}}}}}'
            ).encode(),
            "nested deeper than a JSON reader allows",
            id="nesting-1200",
        ),
        pytest.param(
            json.dumps(make_record(99, userAgent="AB")).encode().replace(b"AB", b"A\xff"),
            "byte 0xff at offset",
            id="invalid-utf8",
        ),
        pytest.param(
            json.dumps(make_record(99, requestParameters={"k": "AB"}))
            .encode()
            .replace(b"AB", b"A\x80"),
            "requestParameters holds bytes that are not UTF-8",
            id="invalid-utf8-in-parameters",
        ),
        pytest.param(make_record(99, eventTime=""), "empty eventTime", id="empty-eventTime"),
        pytest.param(
            make_record(99, recipientAccountId="1" * 300),
            "recipientAccountId '1111",
            id="300-char-account",
        ),
        pytest.param(
            make_record(99, recipientAccountId="1111\x002223333"),
            "is not an AWS account id",
            id="nul-in-account",
        ),
        pytest.param(
            make_record(99, eventName="Get\x00Object"),
            "eventName 'Get\\x00Object' is not an API operation name",
            id="nul-in-eventName",
        ),
        pytest.param(
            make_record(99, eventName="X" * 5_000_000),
            "eventName 'XXXX",
            id="5MB-eventName",
        ),
        pytest.param(
            make_record(99, userAgent="u" * 20_000),
            "userAgent is 20,000 characters long (limit 16,384)",
            id="20k-userAgent",
        ),
        pytest.param(
            make_record(99, awsRegion="us-east-1/../../x"),
            "awsRegion 'us-east-1/../../x' is not a region code",
            id="region-path",
        ),
        pytest.param(
            make_record(99, eventSource="s3.amazonaws.com*"),
            "eventSource 's3.amazonaws.com*' is not a service host name",
            id="service-wildcard",
        ),
        pytest.param(make_record(99, eventTime=7), "Expected `str | null`", id="eventTime-number"),
        pytest.param(
            make_record(99, eventTime="9999-12-31T00:00:00Z"),
            "is after the time of this ingest",
            id="future",
        ),
        pytest.param(
            make_record(99, userIdentity={"type": "IAMUser", "arn": "a" * 20_000}),
            "userIdentity.arn is 20,000 characters long",
            id="20k-caller-arn",
        ),
        pytest.param(
            make_record(99, eventID="e" * 20_000),
            "eventID is 20,000 characters long",
            id="20k-eventID",
        ),
        pytest.param(
            make_record(99, resources=[{"ARN": "arn:" + "r" * 20_000}]),
            "resources[].ARN is 20,004 characters long",
            id="20k-resource",
        ),
    ],
)
def test_one_bad_record_costs_only_itself(bad, reason):
    """The good records on either side of a bad one land; the bad one is named with why."""
    data = delivery_text([GOOD[0], GOOD[1], bad, GOOD[2]])
    for shape, text in (("delivery", data), ("gzip", gzip.compress(data))):
        ids, reasons = rows_of(text)
        assert ids == ["evt-0", "evt-1", "evt-2"], shape
        assert len(reasons) == 1, (shape, reasons)
        assert reason in reasons[0], (shape, reasons)
        assert reasons[0].startswith("record 2: "), (shape, reasons)


def test_json_lines_with_a_bad_line_keep_the_others():
    """One record a line: a line nested too deep or not UTF-8 is skipped, by its number."""
    lines = [json.dumps(GOOD[0]).encode(), DEEP.encode(), b'{"a": "\xff"}', json.dumps(GOOD[1])]
    ids, reasons = rows_of(
        b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines)
    )
    assert ids == ["evt-0", "evt-1"]
    assert [r.split(":")[0] for r in reasons] == ["line 2", "line 3"]
    assert "nested deeper" in reasons[0]
    assert "UTF-8" in reasons[1]


def test_an_empty_records_list_padded_past_the_record_limit_is_an_empty_file():
    decoded = decode_records(b'{"Records": [' + b" " * (2 * 1024 * 1024) + b"]}")
    assert decoded.records == []
    assert decoded.skipped == []


def test_records_without_commas_between_them_are_read_and_the_gap_named():
    """A file damaged between records (the commas lost) keeps the intact records, and says
    where it is not JSON."""
    data = b'{"Records": [' + json.dumps(GOOD[0]).encode() + b"\n" + json.dumps(GOOD[1]).encode()
    ids, reasons = rows_of(data + b"]}")
    assert ids == ["evt-0", "evt-1"]
    assert reasons == [
        f"before record 1 (byte {13 + len(json.dumps(GOOD[0]))}): expected a comma, found b''; "
        "the file is not valid JSON there (the records on either side were read)"
    ]


def test_a_file_whose_only_record_is_broken_is_skipped_whole():
    with pytest.raises(BadSource, match=r"^invalid JSON: record 0: .*no record of the file"):
        decode_records(b'{"Records": [{"eventVersion": "1.08" "eventTime": 1}]}')


# The fields the decoder reads (decode.Record and its structs), each given wrong shapes.
RECORD_FIELDS = [
    *(name for name in decode.Record.__struct_fields__ if name != "timestamp"),
    "@timestamp",
    *(f"userIdentity.{name}" for name in decode.UserIdentity.__struct_fields__),
    "userIdentity.sessionContext.sessionIssuer.arn",
    "userIdentity.sessionContext.attributes.mfaAuthenticated",
    "tlsDetails.tlsVersion",
    "insightDetails.eventName",
]
WRONG_VALUES = [
    7,
    -1.5,
    True,
    [],
    ["x", 1],
    {},
    {"ARN": 1},
    "",
    "\x00",
    "*",
    "../../x",
    "a=b\nc",
    "\u202e\ufeff",
    "x" * 70_000,
]


def _with(record: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    record = json.loads(json.dumps(record))
    *path, last = dotted.split(".")
    target = record
    for key in path:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[last] = value
    return record


@pytest.mark.parametrize("field", RECORD_FIELDS)
def test_every_field_the_decoder_reads_survives_wrong_values(field, tmp_path):
    """Whatever a field holds, the run goes on: the record lands or is skipped with a reason,
    and the good records beside it land."""
    hostile = [_with(make_record(100 + i), field, value) for i, value in enumerate(WRONG_VALUES)]
    data = delivery_text([GOOD[0], *hostile, GOOD[1]])
    decoded = decode_records(data)
    batch = parts_to_table([Part(decoded.records, "src", None)], latest=None)
    ids = batch.table["event_id"].to_pylist()
    assert {"evt-0", "evt-1"} <= set(ids)
    # Every record is a row or a reason; none vanishes.
    assert len(ids) + len(decoded.skipped) + len(batch.skipped) == len(WRONG_VALUES) + 2
    assert all(s.reason for s in decoded.skipped)
    # The partition keys are an account id (or "unknown") and a real date, whatever the record.
    for account in set(batch.table["account"].to_pylist()):
        assert account == "unknown" or (account.isdigit() and len(account) == 12)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.dictionaries(
        st.sampled_from([*RECORD_FIELDS[:20], "Records", "detail", "message", "Events"]),
        JSON,
        max_size=8,
    )
)
def test_wrong_shapes_never_stop_the_decoder(shape):
    """Hypothesis: any JSON object beside a good record is a record, a skipped record with a
    reason, or (alone) a file refused with a reason; never an exception that stops a run."""
    refused: list[str] = []
    for data in (delivery_text([GOOD[0], shape]), json.dumps(shape).encode()):
        try:
            decoded = decode_records(data)
        except BadSource as exc:
            refused.append(exc.reason)
            continue
        batch = parts_to_table([Part(decoded.records, "src", None)])
        assert batch.table.num_rows + len(batch.skipped) == len(decoded.records)
    assert all(refused)  # a refused file always says why


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(min_value=0, max_value=10_000), byte=st.integers(0, 255))
def test_damaged_bytes_never_stop_the_decoder(cut, byte):
    """Hypothesis: a delivery file with one byte changed anywhere is read or refused, never
    raises anything but BadSource."""
    data = bytearray(delivery_text(GOOD))
    data[cut % len(data)] = byte
    try:
        decoded = decode_records(bytes(data))
    except BadSource:
        return
    parts_to_table([Part(decoded.records, "src", None)])


# --- point 7: bounds ------------------------------------------------------------------------------


def test_a_gzip_bomb_is_refused_before_it_fills_memory():
    """Text is bounded while it is gunzipped: 64 KiB of gzip that would expand past the limit
    is refused at the limit, not after."""
    bomb = gzip.compress(b"\x00" * (8 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 64 * 1024
    with pytest.raises(BadSource, match=r"expands past 1,048,576 bytes of text"):
        decode.decompress(bomb, limit=1024 * 1024)


def test_concatenated_gzip_members_are_all_read():
    """gzip(1) reads ``cat a.gz b.gz`` as one file, and so does trailmin."""
    first = gzip.compress(b'{"Records": [' + json.dumps(GOOD[0]).encode())
    second = gzip.compress(b"]}")
    assert (
        decode.decompress(first + second) == b'{"Records": [' + json.dumps(GOOD[0]).encode() + b"]}"
    )
    with pytest.raises(BadSource, match="truncated gzip"):
        decode.decompress(first + second[:-4])
    with pytest.raises(BadSource, match="corrupt gzip"):
        decode.decompress(first[:12] + b"\xff" * 40)


def test_sources_that_are_not_files_are_skipped_and_never_block(tmp_path):
    """A dangling link, a link to /dev/zero and a named pipe are refused without being
    opened; the files beside them land."""
    trail = tmp_path / "trail"
    write_delivery(trail / "good.json.gz", GOOD)
    (trail / "dangling.json").symlink_to(tmp_path / "nowhere.json")
    (trail / "zero.json").symlink_to("/dev/zero")
    os.mkfifo(trail / "pipe.json")
    lake = tmp_path / "lake"
    summary = trailmin.ingest([trail], lake=lake, workers=1)
    assert landed(lake) == Counter(r["eventID"] for r in GOOD)
    reasons = {Path(s["source"]).name: s["reason"] for s in summary.skipped}
    assert reasons == {
        "dangling.json": "a symbolic link to a file that does not exist; fix or remove the link",
        "pipe.json": "not a regular file (a named pipe); only files are read, so that a pipe or "
        "a device cannot stall the run",
        "zero.json": "not a regular file (a device); only files are read, so that a pipe or a "
        "device cannot stall the run",
    }
    assert summary.sources_skipped == 3
    assert not summary.clean


def test_an_unlistable_folder_is_a_skipped_source(tmp_path, monkeypatch):
    """A folder that cannot be listed is reported (and the run is not clean), not passed
    over."""
    trail = tmp_path / "trail"
    write_delivery(trail / "a" / "good.json.gz", GOOD)
    (trail / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    summary = trailmin.ingest([trail], lake=tmp_path / "lake", workers=1)
    assert summary.events == len(GOOD)
    assert summary.skipped == [
        {
            "source": str(trail / "locked"),
            "reason": "could not list the folder (Permission denied); check its permissions and "
            "run ingest again",
        }
    ]


def test_a_source_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    trail = tmp_path / "trail"
    write_delivery(trail / "good.json.gz", GOOD)
    (trail / "huge.json").write_bytes(b" " * 4096)
    monkeypatch.setattr("trailmin.ingestion.sources.MAX_SOURCE_BYTES", 4000)
    summary = trailmin.ingest([trail], lake=tmp_path / "lake", workers=1)
    assert summary.events == len(GOOD)
    (skipped,) = summary.skipped
    assert skipped["reason"].startswith("too large to read (4,096 bytes, limit 4,000)")


# --- the whole run, as a user meets it ----------------------------------------------------------


@pytest.fixture
def hostile_trail(tmp_path: Path) -> Path:
    """A small corpus and, beside it, one file of each kind that used to stop every run."""
    trail = tmp_path / "trail"
    for day in range(4):
        write_delivery(
            trail / f"good-{day}.json.gz",
            [make_record(100 * day + n) for n in range(25)],
        )
    bad = trail / "bad"
    bad.mkdir()
    deep = (
        '{"Records": [' + json.dumps(make_record(900)) + ', {"requestParameters": ' + DEEP + "}]}"
    )
    (bad / "deep.json").write_text(deep)
    (bad / "padded.json").write_bytes(b'{"Records": [' + b" " * 1_200_000 + b"]}")
    (bad / "empty-time.json").write_text(json.dumps({"Records": [make_record(901, eventTime="")]}))
    (bad / "nul.json").write_text(
        json.dumps({"Records": [make_record(902, recipientAccountId="1" * 300 + "\x00")]})
    )
    (bad / "utf8.json").write_bytes(
        delivery_text(
            [
                make_record(903),
                json.dumps(make_record(904, userAgent="AB")).encode().replace(b"AB", b"A\xfe"),
            ]
        )
    )
    (bad / "future.json").write_text(
        json.dumps({"Records": [make_record(905, eventTime="9999-12-31T23:59:59Z")]})
    )
    (bad / "traversal.json").write_text(
        json.dumps({"Records": [make_record(906, recipientAccountId="../../outside")]})
    )
    (bad / "dangling.json").symlink_to(tmp_path / "gone.json")
    (bad / "zero.json").symlink_to("/dev/zero")
    os.mkfifo(bad / "pipe.json")
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    (bad / "bomb.json.gz").write_bytes(
        bomb.compress(b'{"Records": [' + b" " * (2 * 1024 * 1024)) + bomb.flush()
    )
    return trail


def test_a_run_over_hostile_files_lands_every_good_record_and_says_what_it_skipped(
    tmp_path, hostile_trail
):
    """The issue's inputs, all at once, through the command a user runs: exit 1 ("something
    was skipped"), every good record landed, each bad one named, nothing outside the lake; the
    next run reads nothing again and exits 0."""
    lake = tmp_path / "lake"
    before = set(tmp_path.rglob("*"))
    env = {**os.environ, "TRAILMIN_TEST_MAX_TEXT_BYTES": "1500000"}
    command = [
        sys.executable,
        "-c",
        _LIMITED_INGEST,
        str(hostile_trail),
        "--lake",
        str(lake),
        "--format",
        "json",
    ]
    first = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert first.returncode == 1, first.stderr
    summary = json.loads(first.stdout)
    good = {f"evt-{100 * day + n}" for day in range(4) for n in range(25)}
    assert landed(lake) == Counter([*good, "evt-900", "evt-903"])
    skipped = {Path(s["source"]).name: s["reason"] for s in summary["skipped"]}
    assert set(skipped) == {"dangling.json", "zero.json", "pipe.json", "bomb.json.gz"}
    assert "expands past 1,500,000 bytes" in skipped["bomb.json.gz"]
    problems = {Path(p["source"]).name: p["reason"] for p in summary["record_problems"]}
    assert set(problems) == {
        "deep.json",
        "utf8.json",
        "empty-time.json",
        "nul.json",
        "future.json",
        "traversal.json",
    }
    assert problems["deep.json"].startswith("record 1: nested deeper than a JSON reader allows")
    assert problems["utf8.json"].startswith("record 1: byte 0xfe at offset")
    assert problems["empty-time.json"] == "record 0: empty eventTime"
    assert problems["nul.json"].startswith("record 0: recipientAccountId '1111")
    assert problems["future.json"].startswith("record 0: eventTime '9999-12-31T23:59:59Z' is after")
    assert problems["traversal.json"] == (
        "record 0: recipientAccountId '../../outside' is not an AWS account id (12 digits)"
    )
    # Nothing was written beside the lake: ../../outside named no folder.
    created = {p for p in set(tmp_path.rglob("*")) - before if lake not in p.parents and p != lake}
    assert created == set()
    assert all(
        p.name.startswith(("account=1", "account=unknown")) for p in (lake / "events").iterdir()
    )

    again = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert again.returncode == 1  # the links and the pipe are still there, and said again
    summary = json.loads(again.stdout)
    assert summary["sources_read"] == 0
    assert summary["sources_still_bad"] == 7  # bomb, deep, utf8, empty-time, nul, future, ../..
    assert {Path(s["source"]).name for s in summary["skipped"]} == {
        "dangling.json",
        "zero.json",
        "pipe.json",
    }
    assert landed(lake) == Counter([*good, "evt-900", "evt-903"])


# Runs the CLI with the text limit lowered, so the bomb in the corpus stays small.
_LIMITED_INGEST = """
import os, sys
from trailmin.ingestion import decode
from trailmin.ingestion import sources
limit = int(os.environ["TRAILMIN_TEST_MAX_TEXT_BYTES"])
decode.MAX_TEXT_BYTES = sources.MAX_SOURCE_BYTES = limit
from trailmin.cli import app
sys.argv = ["trailmin", "ingest", *sys.argv[1:]]
app()
"""


# --- point 3: no record names a path --------------------------------------------------------------


@pytest.mark.parametrize(
    "principal",
    ["..", ".", "", "arn:aws:iam::111122223333:user/../../..", "../../etc", "a/b\\c\nd"],
)
def test_no_principal_names_a_folder_outside_the_output(principal):
    """A proposal's folder is one plain name: no separator, never ``.`` or ``..``."""
    slug = Proposal(principal=principal, principal_type="IAMUser", target=None).slug
    assert set(slug) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@_-")
    assert slug.strip(".")
    assert Path("/out", slug).resolve().parent == Path("/out")


def test_request_parameters_nested_to_the_readers_limit_do_not_stop_the_mapping():
    """A record that decodes but whose request nests close to the reader's limit maps as one
    without parameters."""
    from trailmin.mapping.permissions import decode_request

    assert decode_request(msgspec.Raw(("[" * 995 + "]" * 995).encode())) == {}
    assert decode_request(b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}") == {}


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:iam::111122223333:role/admin\n",
        "arn:aws:iam::111122223333:role/admin\r",
        "arn:aws:iam::111122223333:role/ad min",
        "arn:aws:iam::111122223333:role/admin*",
        "arn:aws:iam::111122223333:user/bob/",
    ],
)
def test_a_principal_iam_could_not_have_named_gets_no_target(principal):
    """IAM API reference: names are of [\\w+=,.@-]; "role/admin\\n" is not the role admin."""
    from trailmin.policy.generate import target_of

    target, why = target_of(principal, "Role")
    assert target is None
    assert why == "not an IAM role or user ARN (Role)"


def test_the_job_removes_only_its_own_folders(tmp_path):
    """A state file naming "..", a path or a link never makes the job delete outside ``out``."""
    from trailmin.job.propose import _own_folder

    out = tmp_path / "out"
    (out / "111122223333-role-deploy").mkdir(parents=True)
    (out / "link").symlink_to(tmp_path)
    assert _own_folder(out, "111122223333-role-deploy")
    for folder in ("..", ".", "", "../out", "a/b", "link", "..\\x"):
        assert not _own_folder(out, folder), folder
