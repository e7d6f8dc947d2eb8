"""Without authorization details (an incident responder has none): the logs-only mode proposes
from the logs alone and says that nothing was compared, never zeros that read as "already least
privilege" (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLE_LOGS
from trailmin.errors import UsageError
from trailmin.job.config import Config


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trailmin", "run", str(SAMPLE_LOGS), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_run_logs_only_says_nothing_was_compared(tmp_path):
    out = tmp_path / "out"
    result = run("--lake", str(tmp_path / "lake"), "--out", str(out), "--logs-only")

    assert result.returncode == 3, result.stderr
    assert "logs only: no authorization details" in result.stderr
    index = (out / "index.md").read_text()
    assert "**Logs only:** no authorization details were given (`logs_only`)" in index
    assert "the diff against what the principal holds" not in index
    rows = [line for line in index.splitlines() if line.startswith("| [arn:")]
    assert rows
    for row in rows:
        cells = [c.strip() for c in row.split(" | ")]
        assert cells[1:5] == ["n/a", "n/a", "n/a", "n/a"], row
    folders = [p for p in out.iterdir() if p.is_dir()]
    assert folders
    assert not list(out.rglob("diff.md"))
    assert not list(out.rglob("diff.json"))
    machine = json.loads((out / "proposals.json").read_text())
    assert machine
    for status in machine:
        assert status["compared"] is False
        assert status["removed"] is None  # unknown, not zero
        assert status["services_dropped"] is None


def test_details_of_another_account_are_a_warning_naming_both(tmp_path):
    details = json.loads((ROOT / "examples" / "sample-auth.json").read_text())
    text = json.dumps(details).replace("111122223333", "999988887777")
    other = tmp_path / "other-auth.json"
    other.write_text(text)

    result = run(
        "--lake", str(tmp_path / "lake"), "--out", str(tmp_path / "out"), "--auth-file", str(other)
    )

    assert "warning: the authorization details are of account 999988887777, the logs' " in (
        result.stderr
    )
    assert "principals of 111122223333" in result.stderr


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "logs_only = true to propose from the logs alone"),
        ({"logs_only": True, "from_aws": True}, "give one of auth_file, from_aws = true or"),
    ],
)
def test_the_config_says_where_policies_come_from_or_that_there_are_none(tmp_path, given, message):
    with pytest.raises(UsageError, match=message):
        Config(
            sources=("x",), lake=tmp_path / "l", out=tmp_path / "o", state=tmp_path / "s", **given
        )
