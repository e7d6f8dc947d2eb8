"""index.md says what changed since the last run (issue 16): two runs over growing logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import log_name, make_record, write_delivery
from trailmin.job.config import load_config
from trailmin.job.propose import propose

A = "111122223333"


def user(name: str) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    return {
        "Path": "/",
        "UserName": name,
        "UserId": f"AIDA{name.upper()}",
        "Arn": f"arn:aws:iam::{A}:user/{name}",
        "GroupList": [],
        "UserPolicyList": [
            {
                "PolicyName": "s3",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            }
        ],
        "AttachedManagedPolicies": [],
    }


def call(n: int, name: str, day: str, event: str, key: str | None = None) -> dict[str, Any]:
    """Return ``name``'s call of s3 ``event`` (on object ``key`` of bucket b) on ``day``."""
    identity = {
        "type": "IAMUser",
        "principalId": f"AIDA{name.upper()}",
        "arn": f"arn:aws:iam::{A}:user/{name}",
        "accountId": A,
        "accessKeyId": f"AKIA{name.upper()}",
        "userName": name,
    }
    data = {"managementEvent": False, "eventCategory": "Data"} if key is not None else {}
    return make_record(
        n,
        userIdentity=identity,
        eventTime=f"{day}T12:00:{n % 60:02d}Z",
        eventSource="s3.amazonaws.com",
        eventName=event,
        requestParameters={"bucketName": "b", "key": key} if key is not None else {},
        **data,
    )


@pytest.fixture
def job(tmp_path: Path) -> dict[str, Path]:
    """A job with a one-day window over one day of logs: alice reads b/a and writes b/p, dave
    lists buckets, carol only holds a policy."""
    (tmp_path / "logs").mkdir()
    write_delivery(
        tmp_path / "logs" / log_name(A, "us-east-1", "20261005T1200Z", "a"),
        [
            call(1, "alice", "2026-10-05", "GetObject", "a"),
            call(2, "alice", "2026-10-05", "PutObject", "p"),
            call(3, "dave", "2026-10-05", "ListBuckets"),
        ],
    )
    auth = tmp_path / "auth.json"
    write_auth(auth, "alice", "carol", "dave")
    config = tmp_path / "t.toml"
    config.write_text(
        f"""
[sources]
paths = ["{tmp_path / "logs"}"]
[lake]
path = "{tmp_path / "lake"}"
[window]
days = 1
[policies]
auth_file = "{auth}"
[output]
directory = "{tmp_path / "out"}"
formats = ["json"]
[generate]
# The users' own policies stay theirs: what changed is followed per user, not per group (the
# groups and the move into them: tests/test_groups.py, tests/test_propose.py).
groups = false
"""
    )
    return {"root": tmp_path, "config": config, "auth": auth, "out": tmp_path / "out"}


def write_auth(path: Path, *names: str) -> None:
    details = {
        "UserDetailList": [user(n) for n in names],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
    }
    path.write_text(json.dumps(details))


def grow(job: dict[str, Path]) -> None:
    """Two days later: alice reads b/c (not b/a), deletes b/d, writes nothing; bob is new; carol
    and dave are no longer in IAM (dave's calls are still in the lake)."""
    write_delivery(
        job["root"] / "logs" / log_name(A, "us-east-1", "20261007T1200Z", "b"),
        [
            call(11, "alice", "2026-10-07", "GetObject", "c"),
            call(12, "alice", "2026-10-07", "DeleteObject", "d"),
            call(13, "bob", "2026-10-07", "ListBuckets"),
        ],
    )
    write_auth(job["auth"], "alice", "bob")


def section(index: str) -> list[str]:
    """Return the lines between the window's paragraph and "## Review first"."""
    after_window = index.split("\n\n", 2)[2]
    return after_window.split("\n## Review first\n", 1)[0].splitlines()


def made_from(index: str) -> str:
    """Return the paragraph after the title: the window the proposals were made from."""
    return index.split("\n\n", 2)[1]


def row(index: str, name: str) -> str:
    (found,) = [
        line for line in index.splitlines() if line.startswith(f"| [arn:aws:iam::{A}:user/{name}]")
    ]
    return found


HELD_WHY = (
    "no call in the window (2026-10-06 12:00 UTC to 2026-10-07 12:00 UTC), though the lake "
    "holds 1 of its calls, the last on 2026-10-05 12:00 UTC: the window may have moved past "
    "them (a record dated in the future, a shorter window); the last proposal is kept until a "
    "person removes its folder"
)
ALICE = f"[arn:aws:iam::{A}:user/alice](./{A}-user-alice/)"
BOB = f"[arn:aws:iam::{A}:user/bob](./{A}-user-bob/)"
DAVE = f"[arn:aws:iam::{A}:user/dave](./{A}-user-dave/)"


def test_the_first_run_says_it_is_the_first(job):
    propose(load_config(job["config"]))
    index = (job["out"] / "index.md").read_text()
    assert made_from(index) == (
        "**Made from** the last 1 days up to the newest event (as asked), 2026-10-04 12:00 to "
        "2026-10-05 12:00 UTC: 3 events of 2 principals; no event of the lake fell outside it."
    )
    assert section(index) == [
        "This is the first run: there is no state of a last run to compare with, so every "
        "proposal is new (3 principals).",
    ]
    assert "**new**" not in index


def test_the_second_run_says_what_changed_per_principal(job):
    propose(load_config(job["config"]))
    grow(job)
    propose(load_config(job["config"]))
    index = (job["out"] / "index.md").read_text()
    # The window moved on: the first day's events, and carol's and dave's, are outside it now.
    assert made_from(index) == (
        "**Made from** the last 1 days up to the newest event (as asked), 2026-10-06 12:00 to "
        "2026-10-07 12:00 UTC: 3 events of 2 principals; 3 events fell outside it, and 1 "
        'principal with no event inside it (`days = "all"` in `[window]`, or `--days all`, '
        "reads every event)."
    )
    assert section(index) == [
        "## Changes since the last run (2026-10-05 12:00 UTC)",
        "",
        "Against the last run that changed a proposal, which read the calls up to that time.",
        "",
        f"- {BOB} **new**: 1 action in 1 service",
        f"- {ALICE} **changed**",
        "  - added `s3:DeleteObject`",
        "  - removed `s3:PutObject`",
        "  - rescoped `s3:GetObject`: `arn:aws:s3:::b/a` → `arn:aws:s3:::b/c`",
        f"- arn:aws:iam::{A}:user/carol **gone**: no longer found",
        f"- {DAVE} **held**: {HELD_WHY}",
    ]
    assert row(index, "alice").startswith(f"| {ALICE} **changed** |")
    assert row(index, "bob").startswith(f"| {BOB} **new** |")
    assert row(index, "dave").startswith(f"| {DAVE} **held** |")

    # A run that changes no proposal keeps the comparison, and rewrites nothing.
    state = (job["out"] / ".trailmin-state.json").read_text()
    assert '"granted"' in state
    assert "evidence" not in state


def test_an_old_state_file_says_the_changes_are_unknown(job):
    propose(load_config(job["config"]))
    path = job["out"] / ".trailmin-state.json"
    state = json.loads(path.read_text())
    old = {
        "version": 1,
        "principals": {
            arn: {"folder": entry["folder"], "digest": entry["digest"]}
            for arn, entry in state["principals"].items()
        },
    }
    path.write_text(json.dumps(old))
    grow(job)
    propose(load_config(job["config"]))
    index = (job["out"] / "index.md").read_text()
    assert section(index) == [
        "## Changes since the last run (time unknown)",
        "",
        "The last run's state file, from an older trailmin, does not say its time.",
        "",
        f"- {BOB} **new**: 1 action in 1 service",
        f"- {ALICE} **changed**: what changed is unknown, as the last run's state file (from an "
        "older trailmin) does not say what its proposal granted",
        f"- arn:aws:iam::{A}:user/carol **gone**: no longer found",
        f"- {DAVE} **held**: {HELD_WHY}",
    ]


def test_a_run_that_changes_no_proposal_keeps_the_last_comparison(job):
    """Nothing changed: index.md still says what the last change was, and nothing is rewritten."""
    propose(load_config(job["config"]))
    write_auth(job["auth"], "alice", "dave")  # carol is gone
    propose(load_config(job["config"]))
    index = (job["out"] / "index.md").read_text()
    assert section(index) == [
        "## Changes since the last run (2026-10-05 12:00 UTC)",
        "",
        "Against the last run that changed a proposal, which read the calls up to that time.",
        "",
        f"- arn:aws:iam::{A}:user/carol **gone**: no longer found",
        "",
        "2 principals unchanged.",
    ]
    again = propose(load_config(job["config"]))
    assert {s.status for s in again.statuses} == {"unchanged"}
    assert again.written == []
    assert (job["out"] / "index.md").read_text() == index
