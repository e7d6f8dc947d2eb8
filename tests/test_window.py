"""One window for every command: the last 90 days up to the newest event unless told otherwise,
stated in every output with how many events and principals fell outside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trailmin
from tests.conftest import log_name, write_delivery
from tests.test_propose_changes import A, call, write_auth
from trailmin.cli import app
from trailmin.job.config import load_config
from trailmin.job.propose import propose

ALICE = f"arn:aws:iam::{A}:user/alice"
BOB = f"arn:aws:iam::{A}:user/bob"
# The newest event is 2026-10-05 12:00:0x; 90 days before it is 2026-07-07.
DEFAULT = (
    "window: the last 90 days up to the newest event (the default), 2026-07-07 12:00 to "
    "2026-10-05 12:00 UTC: 3 events of 1 principal; 3 events fell outside it, and 1 principal "
    "with no event inside it"
)


@pytest.fixture(scope="module")
def spread(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Six months of logs: alice lists buckets in October (3 calls) and once in May; bob only
    in April (2 calls), long before the default window."""
    root = tmp_path_factory.mktemp("window")
    logs = root / "logs"
    write_delivery(
        logs / log_name(A, "us-east-1", "20261005T1200Z", "a"),
        [call(n, "alice", "2026-10-05", "ListBuckets") for n in range(1, 4)],
    )
    write_delivery(
        logs / log_name(A, "us-east-1", "20260501T1200Z", "b"),
        [call(4, "alice", "2026-05-01", "ListBuckets")],
    )
    write_delivery(
        logs / log_name(A, "us-east-1", "20260401T1200Z", "c"),
        [call(n, "bob", "2026-04-01", "ListBuckets") for n in (5, 6)],
    )
    lake = root / "lake"
    trailmin.ingest([logs], lake=lake, workers=1)
    auth = root / "auth.json"
    write_auth(auth, "alice", "bob")
    return {"root": root, "logs": logs, "lake": lake, "auth": auth}


def invoke(*args: str | Path) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def test_the_library_reads_the_default_window_and_says_what_fell_outside(spread):
    frame = trailmin.usage(spread["lake"])
    assert set(frame["principal"]) == {ALICE}
    assert frame["calls"].sum() == 3
    window = frame.attrs["window"]
    assert window.describe() == DEFAULT
    assert window == trailmin.window(spread["lake"])
    assert window.to_dict() == {
        "start": "2026-07-07T12:00:03.000001+00:00",
        "end": "2026-10-05T12:00:03.000001+00:00",
        "days": trailmin.DEFAULT_DAYS,
        "default": True,
        "rule": "the last 90 days up to the newest event (the default)",
        "events": 3,
        "principals": 1,
        "events_outside": 3,
        "principals_outside": 1,
        "first_event": "2026-04-01T12:00:05+00:00",
        "last_event": "2026-10-05T12:00:03+00:00",
    }


def test_all_reads_every_event_and_dates_are_a_window_too(spread):
    every = trailmin.usage(spread["lake"], days="all")
    assert set(every["principal"]) == {ALICE, BOB}
    assert every["calls"].sum() == 6
    assert every.attrs["window"].describe() == (
        "window: every event, 2026-04-01 12:00 to 2026-10-05 12:00 UTC: 6 events of 2 "
        "principals; no event of the lake fell outside it"
    )
    april = trailmin.principals(spread["lake"], start="2026-04-01", end="2026-04-02")
    assert list(april["principal"]) == [BOB]
    assert april.attrs["window"].describe() == (
        "window: the dates asked for, 2026-04-01 00:00 to 2026-04-01 23:59 UTC: 2 events of 1 "
        "principal; 4 events fell outside it, and 1 principal with no event inside it"
    )
    # Only bob's events are counted when only bob is asked for.
    assert trailmin.window(spread["lake"], principals=[BOB]).describe() == (
        "window: the last 90 days up to the newest event (the default), 2026-07-07 12:00 to "
        "2026-10-05 12:00 UTC: 0 events of 0 principals; 2 events fell outside it, and 1 "
        "principal with no event inside it"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"days": "all", "start": "2026-01-01"}, 'either days="all"'),
        ({"days": 0}, "at least 1"),
        ({"days": "ninety"}, 'a number of days or "all"'),
        ({"days": True}, 'a number of days or "all"'),
    ],
)
def test_a_window_that_is_not_one_is_refused(spread, options, message):
    with pytest.raises(trailmin.UsageError, match=message):
        trailmin.usage(spread["lake"], **options)


def test_every_command_reads_the_same_default_window(spread):
    lake = spread["lake"]
    for command in ("usage", "principals", "services"):
        result = invoke(command, "--lake", lake, "--format", "json")
        assert result.exit_code == 0, result.output
        assert result.stderr.splitlines() == [f"{DEFAULT} (--days all reads every event)"]
        assert BOB not in result.stdout
        assert "alice" in result.stdout or command == "services"

    out = spread["root"] / "generated"
    result = invoke("generate", "--lake", lake, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"{DEFAULT} (--days all reads every event)" in result.stderr
    index = json.loads((out / "index.json").read_text())
    assert [p["principal"] for p in index["principals"]] == [ALICE]
    assert index["window"]["events_outside"] == 3
    folder = index["principals"][0]["folder"]
    assert json.loads((out / folder / "index.json").read_text())["window"] == index["window"]

    result = invoke("diff", "--lake", lake, "--auth-file", spread["auth"], "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["window"]["principals_outside"] == 1
    used = {p["principal"]: p["used_and_granted"] for p in report["principals"]}
    assert used[BOB] == []  # his April calls are outside the window
    assert used[ALICE] == [{"action": "s3:ListAllMyBuckets", "calls": 3}]
    markdown = invoke("diff", "--lake", lake, "--auth-file", spread["auth"]).stdout
    assert markdown.split("\n")[2] == DEFAULT[:1].upper() + DEFAULT[1:] + "."

    result = invoke("audit", "--lake", lake, "--auth-file", spread["auth"], "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["window"]["events"] == 3
    markdown = invoke("audit", "--lake", lake, "--auth-file", spread["auth"]).stdout
    assert markdown.startswith("# IAM security checklist\n\nWindow: the last 90 days")

    policy = spread["root"] / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
                ],
            }
        )
    )
    result = invoke("verify", policy, "--lake", lake, "--principal", ALICE, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["calls"] == 3
    # The window of alice's calls: her May call is outside it.
    assert result.stderr.endswith(
        "UTC: 3 events of 1 principal; 1 event fell outside it (--days all reads every event)\n"
    )
    result = invoke("verify", policy, "--lake", lake, "--principal", BOB)
    assert result.exit_code == 2
    assert "made no call in the window (2026-07-07 12:00 UTC to 2026-10-05 12:00 UTC)" in (
        result.stderr
    )


def test_days_all_and_days_n_on_the_command_line(spread):
    lake = spread["lake"]
    result = invoke("principals", "--lake", lake, "--days", "all", "--format", "json")
    assert {row["principal"] for row in json.loads(result.stdout)} == {ALICE, BOB}
    assert result.stderr.startswith("window: every event, 2026-04-01 12:00 to 2026-10-05 12:00")
    result = invoke("principals", "--lake", lake, "--days", "200", "--format", "json")
    assert result.stderr.startswith("window: the last 200 days up to the newest event (as asked)")
    assert {row["principal"] for row in json.loads(result.stdout)} == {ALICE, BOB}
    for wrong in ("0", "ninety", "-3"):
        result = invoke("principals", "--lake", lake, "--days", wrong)
        assert result.exit_code == 2
        assert "Invalid value for '--days'" in result.output


def test_the_job_states_its_window_and_takes_all(spread, tmp_path):
    out = tmp_path / "out"
    config = tmp_path / "job.toml"
    body = f"""
[sources]
paths = ["{spread["logs"]}"]
[lake]
path = "{tmp_path / "lake"}"
[policies]
auth_file = "{spread["auth"]}"
[output]
directory = "{out}"
formats = ["json"]
"""
    config.write_text(body)
    summary = propose(load_config(config))
    index = (out / "index.md").read_text()
    assert index.split("\n\n")[1] == (
        "**Made from** the last 90 days up to the newest event (the default), 2026-07-07 12:00 "
        "to 2026-10-05 12:00 UTC: 3 events of 1 principal; 3 events fell outside it, and 1 "
        'principal with no event inside it (`days = "all"` in `[window]`, or `--days all`, '
        "reads every event)."
    )
    assert summary.to_dict()["window"]["events_outside"] == 3
    # proposal.json says how the window was chosen, not its moving dates and counts.
    proposal = json.loads((out / f"{A}-user-alice" / "proposal.json").read_text())
    assert proposal["window"] == {
        "days": 90,
        "default": True,
        "rule": "the last 90 days up to the newest event (the default)",
    }

    config.write_text(body.replace("[policies]", '[window]\ndays = "all"\n[policies]'))
    summary = propose(load_config(config))
    assert summary.window is not None
    assert summary.window.events == 6
    assert "**Made from** every event, 2026-04-01 12:00" in (out / "index.md").read_text()
