"""The library's entry points: ingest into a lake, read events back, describe and compact it.

Everything here returns values (summaries, pandas DataFrames); nothing prints. The CLI is a thin
layer over these functions, and notebooks call them directly::

    import trailmin
    summary = trailmin.ingest(["sample_logs/"], lake="lake/")
    events = trailmin.read_events("lake/", start="2026-10-06", principals=["*:role/ci-*"])
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import itertools
import json
import math
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from trailmin import catalog
from trailmin import markdown as md
from trailmin.backtesting import Backtest, LaterCall, probe, replay_later
from trailmin.backtesting import Result as BacktestResult
from trailmin.catalog_replay import Recorded
from trailmin.catalog_replay import check as check_catalog
from trailmin.checklist import Audit, Finding
from trailmin.current import AuthorizationDetails, parse_authorization_details
from trailmin.differences import Diff
from trailmin.differences import diff as diff_principal
from trailmin.differences import to_markdown as diffs_to_markdown
from trailmin.errors import LakeError, NothingMatched, UsageError
from trailmin.generation import Options as GenerateOptions
from trailmin.generation import Proposal, Used, refuse_on_mismatch, used_from_frame
from trailmin.generation import generate as generate_policies
from trailmin.ingestion import IngestSummary, Progress, ingest
from trailmin.lake import (
    PARQUET_OPTIONS,
    ROW_GROUP_ROWS,
    Lake,
    WrittenFile,
    partition_dir,
    row_group,
    utc_now,
)
from trailmin.mapping.actions import service_prefix
from trailmin.mapping.permissions import decode_request, mapping_version, permissions_column
from trailmin.mapping.report import MappingReport, build_report
from trailmin.queries import (
    ALL_DAYS,
    DEFAULT_DAYS,
    DUCKDB,
    Days,
    Dialect,
    Filters,
    Window,
    authorized_condition,
    denied_condition,
    event_conditions,
    principal_condition,
    principal_matcher,
    principals_sql,
    services_sql,
    usage_sql,
    window_of_days,
    window_sql,
)
from trailmin.records import EVENT_SCHEMA, FILE_SCHEMA
from trailmin.render import render
from trailmin.replaying import COLUMNS as CONTEXT_COLUMNS
from trailmin.replaying import (
    TIME_KEYS,
    Call,
    Verdict,
    condition_keys,
    context_of,
    documents_of,
)
from trailmin.replaying import verify as replay_calls

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = [
    "CompactSummary",
    "DiffReport",
    "IngestSummary",
    "LakeInfo",
    "Progress",
    "authorization_details",
    "backtest",
    "compact",
    "connect",
    "diff",
    "generate",
    "ingest",
    "lake_info",
    "mapping_report",
    "parse_time",
    "principals",
    "read_events",
    "remap",
    "services",
    "usage",
    "verify",
    "write_proposals",
]

# DuckDB would read ``account=012345678901`` as a number and drop the leading zero.
HIVE_TYPES = "{'account': 'VARCHAR', 'date': 'DATE'}"


def parse_time(value: str | date | datetime | None, *, end: bool = False) -> datetime | None:
    """Return ``value`` as an aware UTC datetime (a bare date is midnight UTC)."""
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        flag = "--end" if end else "--start"
        raise UsageError(
            f"{flag} {value!r} is not a date or time; use 2026-10-05 or 2026-10-05T13:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# How many times a read starts again, over a fresh snapshot, when files it was reading were
# retired meanwhile (each compacted or remapped partition retires files).
READ_ATTEMPTS = 5

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def reads_lake(function: Callable[_Params, _Result]) -> Callable[_Params, _Result]:
    """Return ``function`` (which reads a lake through ``connect``) run again over a fresh
    snapshot when a writer retired a file of its snapshot while it ran (``trailmin.lake``)."""

    @functools.wraps(function)
    def read(*args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        lake = kwargs.get("lake", args[0] if args else None)
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                return function(*args, **kwargs)
            except Exception as exc:
                if not isinstance(lake, (str, Path)) or not _retired_meanwhile(exc, Path(lake)):
                    raise
                if attempt == READ_ATTEMPTS:
                    raise _unreadable(lake) from None
        raise AssertionError("unreachable")

    return read


def _unreadable(lake: str | Path) -> LakeError:
    """Return the error of a read that found files of its snapshot gone, attempt after attempt."""
    missing = [p for p in Lake.open(lake).committed_files() if not p.exists()]
    if missing:
        more = f", nor are {len(missing) - 1} more" if len(missing) > 1 else ""
        return LakeError(
            f"{missing[0]} is committed in the lake's manifest but is not on disk{more}; restore "
            "the lake from a backup, or ingest its sources into a new lake"
        )
    return LakeError(
        f"the lake's files were replaced {READ_ATTEMPTS} times while they were read (by "
        "`trailmin lake compact` or `trailmin remap`); run this again when that finishes"
    )


def _retired_meanwhile(exc: BaseException, lake: Path) -> bool:
    """Return whether ``exc`` is DuckDB failing to open a file of ``lake`` (of a snapshot)."""
    duckdb = sys.modules.get("duckdb")
    if duckdb is None or not isinstance(exc, duckdb.IOException):
        return False
    text = str(exc)
    missing = any(s in text for s in ("No files found", "No such file", "Cannot open file"))
    return missing and str(lake) in text


def connect(lake: str | Path) -> duckdb.DuckDBPyConnection:
    """Return a DuckDB connection with an ``events`` view over a snapshot of the lake's
    committed files (the manifest's list at this moment, each file where it is)."""
    import duckdb  # loaded when first asked for: ingest does not need it

    the_lake = Lake.open(lake)
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    # stdout is for results. In Jupyter, DuckDB refuses the setting without ipywidgets, and
    # draws no bar on stdout there anyway.
    with contextlib.suppress(duckdb.Error):
        db.execute("SET enable_progress_bar = false")
    files = [str(p) for p in the_lake.committed_files()]
    if files:
        for attempt in range(1, READ_ATTEMPTS + 1):
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            try:
                # union_by_name opens every file here, so a snapshot's file retired since fails
                # now rather than in a query.
                db.execute(
                    f"CREATE OR REPLACE VIEW events AS SELECT * FROM read_parquet([{listing}], "
                    f"hive_partitioning = true, hive_types = {HIVE_TYPES}, union_by_name = true)"
                )
                break
            except duckdb.IOException as exc:
                if attempt == READ_ATTEMPTS or not _retired_meanwhile(exc, the_lake.path):
                    db.close()
                    raise
                files = [str(p) for p in the_lake.committed_files()]
    else:
        columns = ", ".join(f"CAST(NULL AS {_duck_type(f.type)}) AS {f.name}" for f in EVENT_SCHEMA)
        db.execute(
            f"CREATE VIEW events AS SELECT {columns}, CAST(NULL AS VARCHAR) AS account, "
            "CAST(NULL AS DATE) AS date WHERE false"
        )
    return db


def query_arrow(db: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pa.Table:
    """Return the result of ``sql`` as an Arrow table (DuckDB 2 renamed the method)."""
    relation = db.sql(sql, params=list(params) or None)
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    table: pa.Table = fetch()
    return table


def _duck_type(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ"
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_list(kind):
        return f"{_duck_type(kind.value_type)}[]"
    if pa.types.is_struct(kind):
        fields = ", ".join(f"{f.name} {_duck_type(f.type)}" for f in kind)
        return f"STRUCT({fields})"
    return "VARCHAR"


@reads_lake
def read_events(
    lake: str | Path,
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    accounts: Sequence[str] | None = None,
    principals: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Return the lake's events as a DataFrame, oldest first, filtered as asked.

    ``start`` is inclusive and ``end`` exclusive; ``principals`` are exact ARNs or globs
    (``arn:aws:iam::*:role/ci-*``) matched against ``principal_arn``. Times are tz-aware UTC.
    """
    start_at = parse_time(start)
    end_at = parse_time(end, end=True)
    wanted = list(columns) if columns else [*EVENT_SCHEMA.names, "account", "date"]
    unknown = sorted(set(wanted) - {*EVENT_SCHEMA.names, "account", "date"})
    if unknown:
        raise UsageError(f"unknown column(s) {', '.join(unknown)}; see trailmin.EVENT_SCHEMA")
    where, params = _filters(
        start_at, end_at, _items(accounts, "accounts"), _items(principals, "principals")
    )
    sql = f"SELECT {', '.join(wanted)} FROM events {where} ORDER BY event_time, event_id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with contextlib.closing(connect(lake)) as db:
        table = query_arrow(db, sql, params)
    frame: pd.DataFrame = table.to_pandas(types_mapper=_pandas_type)
    for name in ("principal_type", "event_source", "aws_region", "account"):
        if name in frame.columns:
            frame[name] = frame[name].astype("category")
    return frame


def _pandas_type(kind: pa.DataType) -> Any:
    import pandas as pd

    if pa.types.is_boolean(kind):
        return pd.BooleanDtype()
    return None


def _filters(
    start: datetime | None,
    end: datetime | None,
    accounts: Sequence[str] | None,
    principals: Sequence[str] | None,
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if start is not None:
        clauses.append("event_time >= ? AND date >= ?")
        params += [start, start.date()]
    if end is not None:
        clauses.append("event_time < ? AND date <= ?")
        params += [end, end.date()]
    if accounts:
        clauses.append(f"account IN ({', '.join('?' for _ in accounts)})")
        params += list(accounts)
    if principals:
        # The one rule for principal globs (queries.Filters), written as literals, not params.
        clauses.append(principal_condition(principals, "principal_arn"))
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


# --- mapping report ------------------------------------------------------------------------------


@reads_lake
def mapping_report(
    lake: str | Path,
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
) -> MappingReport:
    """Return how the lake's events map to IAM actions: totals, a row per kind, findings."""
    where, params = _filters(parse_time(start), parse_time(end, end=True), None, None)
    with contextlib.closing(connect(lake)) as db:
        kinds = db.sql(
            f"SELECT event_source, event_name, event_type, count(*) FROM events {where} "
            "GROUP BY ALL",
            params=params or None,
        ).fetchall()
        denied_filter = denied_condition("error_code")
        denied_where = f"{where} AND {denied_filter}" if where else f"WHERE {denied_filter}"
        denials = db.sql(
            "SELECT event_source, event_name, error_code, error_message, event_id FROM events "
            f"{denied_where}",
            params=params or None,
        ).fetchall()
        scoping = db.sql(
            "SELECT event_source, event_name, event_type, "
            "count(*) FILTER (WHERE p.derivation NOT LIKE '%unscoped%'), "
            "count(*) FILTER (WHERE p.derivation LIKE '%unscoped%') "
            f"FROM (SELECT event_source, event_name, event_type, unnest(permissions) AS p "
            f"FROM events {where}) WHERE p.derivation NOT LIKE '%no resource type%' "
            "GROUP BY ALL",
            params=params or None,
        ).fetchall()
    return build_report(kinds, denials, {(s, n, t): (a, b) for s, n, t, a, b in scoping})


# --- usage ---------------------------------------------------------------------------------------


def usage_filters(
    db: duckdb.DuckDBPyConnection,
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    days: Days = None,
    accounts: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    principals: Sequence[str] | None = None,
    services: Sequence[str] | None = None,
) -> Filters:
    """Return the filters asked for, with ``days`` turned into a window ending at the newest
    event of the lake (``db``'s ``events``).

    The window is the same for every command and call: ``days`` days, or from ``start`` to
    ``end``, or, when none is given, the last ``DEFAULT_DAYS`` (90) days; ``days="all"`` reads
    every event.
    """
    start_at, end_at = parse_time(start), parse_time(end, end=True)
    default = days is None and start_at is None and end_at is None
    if default:
        days = DEFAULT_DAYS
    if days == ALL_DAYS:
        if start_at is not None or end_at is not None:
            raise UsageError('give either days="all" (--days all) or start/end, not both')
        days = None
    elif days is not None:
        if isinstance(days, bool) or not isinstance(days, int):
            raise UsageError(f'days must be a number of days or "all", not {days!r}')
        if start_at is not None or end_at is not None:
            raise UsageError("give either --days or --start/--end, not both")
        if days < 1:
            raise UsageError("--days must be at least 1")
        newest = db.sql("SELECT max(event_time) FROM events").fetchall()[0][0]
        if newest is not None:
            start_at, end_at = window_of_days(days, newest)
    return Filters(
        start=start_at,
        end=end_at,
        days=days if start_at is not None else None,
        default=default and start_at is not None,
        accounts=_items(accounts, "accounts"),
        regions=_items(regions, "regions"),
        principals=_items(principals, "principals"),
        services=tuple(s.lower() for s in _items(services, "services")),
    )


def window_of(db: duckdb.DuckDBPyConnection, filters: Filters) -> Window:
    """Return the window of ``filters`` with what of the lake (``db``'s ``events``) it covers
    and what fell outside it."""
    row = db.sql(window_sql(filters)).fetchall()[0]
    events, principals, events_outside, principals_outside, first, last = row
    return Window(
        start=filters.start,
        end=filters.end,
        days=filters.days,
        default=filters.default,
        events=events,
        principals=principals,
        events_outside=events_outside,
        principals_outside=principals_outside,
        first_event=first,
        last_event=last,
    )


@reads_lake
def window(
    lake: str | Path,
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    days: Days = None,
    accounts: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    principals: Sequence[str] | None = None,
    services: Sequence[str] | None = None,
) -> Window:
    """Return the window these filters read (the same for every command: by default the last 90
    days up to the newest event), how many events and principals it holds, and how many of the
    lake's fell outside it."""
    with contextlib.closing(connect(lake)) as db:
        filters = usage_filters(
            db,
            start=start,
            end=end,
            days=days,
            accounts=accounts,
            regions=regions,
            principals=principals,
            services=services,
        )
        return window_of(db, filters)


def _items(values: str | Sequence[str] | None, name: str) -> tuple[str, ...]:
    """Return a filter's values: one string is one value (``principals="arn:…"``), not its
    characters."""
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    found = tuple(values)
    if not all(isinstance(v, str) for v in found):
        raise UsageError(f"{name} must be a string or a list of strings, not {values!r}")
    return found


def usage(
    lake: str | Path,
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    days: Days = None,
    accounts: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    principals: Sequence[str] | None = None,
    services: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the usage table: a row per (principal, action, resource) the window's calls needed.

    Columns: ``principal``, ``principal_type``, ``service``, ``action``, ``resource``, ``calls``
    (``succeeded`` + ``denied`` + ``errors``), ``first_seen``, ``last_seen``,
    ``last_succeeded``, ``inferred``, ``derivation``, ``accounts``, ``regions``. ``start`` is
    inclusive and ``end`` exclusive; ``days`` counts back from the newest event in the lake.
    """
    return _summary(
        lake, usage_sql, locals(), categories=("principal", "principal_type", "service")
    )


def principals(
    lake: str | Path,
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    days: Days = None,
    accounts: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    principals: Sequence[str] | None = None,
    services: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return a row per principal, busiest first: its calls (succeeded, denied, errors), the
    services, actions and resources they needed, first and last seen, and whether it is a
    person (``human``) or a workload. Filters as for ``usage``."""
    return _summary(lake, principals_sql, locals(), categories=("principal_type",))


def services(
    lake: str | Path,
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    days: Days = None,
    accounts: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    principals: Sequence[str] | None = None,
    services: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return a row per IAM service, busiest first: calls, principals and actions. Filters as
    for ``usage``."""
    return _summary(lake, services_sql, locals(), categories=())


def _arrow_backed(kind: pa.DataType) -> Any:
    import pandas as pd

    if pa.types.is_boolean(kind):
        return pd.BooleanDtype()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pd.StringDtype("pyarrow")
    if pa.types.is_list(kind):
        return pd.ArrowDtype(kind)
    return None


def _utc(table: pa.Table) -> pa.Table:
    """Return ``table`` with its zone-less timestamps (the queries' aggregates) marked UTC."""
    for index, kind in enumerate(table.schema.types):
        if pa.types.is_timestamp(kind) and kind.tz is None:
            name = table.schema.names[index]
            table = table.set_column(index, name, table[name].cast(pa.timestamp(kind.unit, "UTC")))
    return table


@reads_lake
def _summary(
    lake: str | Path,
    build: Callable[[Filters, Dialect], str],
    options: dict[str, Any],
    *,
    categories: Sequence[str],
) -> pd.DataFrame:
    with contextlib.closing(connect(lake)) as db:
        filters = usage_filters(db, **{k: v for k, v in options.items() if k != "lake"})
        table = _utc(query_arrow(db, build(filters, DUCKDB)))
        covered = window_of(db, filters)
    # Strings and lists stay in Arrow (pandas' pyarrow-backed dtypes): a usage table can have
    # millions of rows, and making a Python object of every cell would take longer than the query.
    frame: pd.DataFrame = table.to_pandas(types_mapper=_arrow_backed)
    for name in categories:
        frame[name] = frame[name].astype("category")
    frame.attrs["filters"] = filters
    frame.attrs["window"] = covered
    return frame


# --- generation ----------------------------------------------------------------------------------


def generate(
    lake: str | Path,
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    days: Days = None,
    accounts: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    principals: Sequence[str] | None = None,
    options: GenerateOptions | None = None,
) -> list[Proposal]:
    """Return a proposal per principal: the least-privilege policies for what it did in the
    window, with their evidence, what it was refused, and why some principals get none."""
    frame = usage(
        lake,
        start=start,
        end=end,
        days=days,
        accounts=accounts,
        regions=regions,
        principals=principals,
    )
    filters = frame.attrs["filters"]
    window = (filters.start, filters.end) if filters.start and filters.end else None
    proposals = generate_policies(
        used_from_frame(frame), options or GenerateOptions(), window=window
    )
    return check_proposals(lake, proposals, filters)


@reads_lake
def check_proposals(
    lake: str | Path, proposals: Sequence[Proposal], filters: Filters
) -> list[Proposal]:
    """Return the proposals with those that fail the catalog replay (``catalog_replay``) turned
    into refusals to propose: the window's authorized calls of each principal, on the resources
    the catalog names for them, built from the records rather than from the lake's mapping."""
    wanted = [p.principal for p in proposals if p.policies]
    if not wanted:
        return list(proposals)
    with contextlib.closing(connect(lake)) as db:
        recorded = recorded_calls(db, replace(filters, principals=tuple(wanted)))
    checked = []
    for proposal in proposals:
        if not proposal.policies:
            checked.append(proposal)
            continue
        documents = [p.document() for p in proposal.policies]
        mismatches = check_catalog(documents, recorded.get(proposal.principal, ()))
        checked.append(refuse_on_mismatch(proposal, mismatches))
    return checked


def recorded_calls(db: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, list[Recorded]]:
    """Return, per principal, the window's calls that passed authorization: each action they
    needed with the region, account, request and logged ARNs of the record."""
    conditions = event_conditions(filters, DUCKDB)
    conditions.append(f"({authorized_condition()})")
    sql = (
        "SELECT e.principal_arn AS principal, a.action, e.aws_region AS region, "
        "coalesce(e.recipient_account_id, e.principal_account_id) AS account, "
        "e.request_parameters AS params, list_transform(e.resources, lambda r: r.arn) AS logged, "
        "count(*) AS calls FROM events AS e, "
        "UNNEST(list_distinct(list_transform(e.permissions, lambda p: p.action))) AS a(action) "
        f"WHERE {' AND '.join(conditions)} GROUP BY ALL"
    )
    found: dict[str, list[Recorded]] = {}
    for row in query_arrow(db, sql).to_pylist():
        params = decode_request(row["params"])
        found.setdefault(row["principal"], []).append(
            Recorded(
                action=row["action"],
                region=row["region"] or "",
                account=row["account"] or "",
                params=params,
                logged=tuple(a for a in row["logged"] or () if a),
                calls=row["calls"],
            )
        )
    return found


def write_proposals(
    proposals: Sequence[Proposal],
    out: str | Path,
    output: str = "json",
    *,
    window: Window | None = None,
) -> list[Path]:
    """Write the proposals' files into ``out`` and return their paths. Files of an earlier run
    that this one does not write are left alone. ``window``, the window the proposals were made
    from (``trailmin.window``), is stated in every index.json."""
    files = render(proposals, output, window=None if window is None else window.to_dict())
    folder = Path(out)
    written = []
    for relative, text in sorted(files.items()):
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
        written.append(path)
    return written


# --- verify --------------------------------------------------------------------------------------


@reads_lake
def verify(
    policies: str | Path | Sequence[Mapping[str, Any]],
    *,
    lake: str | Path,
    principal: str | None = None,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    days: Days = None,
) -> Verdict:
    """Return the replay of ``principal``'s calls in the window against ``policies`` (a JSON file,
    or documents): every call that passed authorization, in its own request context, and the
    ones the policies would refuse.

    ``principal`` may be left out when the file is a proposal, which names its principal. Raises
    ``NothingMatched`` when the principal made no authorized call in the window: a replay of
    nothing proves nothing, and a misspelled ARN must not read as "all allowed".
    """
    if isinstance(policies, (str, Path)):
        value = read_json(policies)
        documents = documents_of(value, str(policies))
        named = value.get("principal") if isinstance(value, dict) else None
        if principal is None and isinstance(named, str):
            principal = named
    else:
        documents = [dict(d) for d in policies]
    if principal is None:
        raise UsageError(
            "name the principal whose calls are replayed (--principal ARN); the policy file "
            "does not name one (a proposal's proposal.json does)"
        )
    wanted = condition_keys(documents)
    with contextlib.closing(connect(lake)) as db:
        filters = usage_filters(db, start=start, end=end, days=days, principals=[principal])
        columns = [f"e.{c}" for c in CONTEXT_COLUMNS]
        if wanted & TIME_KEYS:
            columns.append("e.event_time")
        conditions = event_conditions(filters, DUCKDB)
        conditions.append(f"({authorized_condition()})")
        sql = (
            f"SELECT {', '.join(columns)}, p.action, p.resource, count(*) AS calls, "
            f"max(e.event_time) AS last_seen FROM events AS e "
            f"CROSS JOIN {DUCKDB.permissions_of('e.permissions')} "
            f"WHERE {' AND '.join(conditions)} GROUP BY ALL ORDER BY p.action, p.resource"
        )
        rows = query_arrow(db, sql).to_pylist()
        if not rows:
            raise NothingMatched(_nothing_to_verify(db, principal, filters))
    calls = [
        Call(
            row["action"],
            row["resource"],
            context_of(principal, row, wanted),
            row["calls"],
            row["last_seen"],
        )
        for row in rows
    ]
    verdict = replay_calls(principal, documents, calls)
    with contextlib.closing(connect(lake)) as db:
        recorded = recorded_calls(db, filters).get(principal, [])
        covered = window_of(db, filters)
    return replace(verdict, mismatches=check_catalog(documents, recorded), window=covered)


def _nothing_to_verify(db: duckdb.DuckDBPyConnection, principal: str, filters: Filters) -> str:
    """Return why there is nothing to replay: which principals the window does have, the
    closest to ``principal`` first, or that all its calls were refused."""
    window = replace(filters, principals=())
    conditions = event_conditions(window, DUCKDB)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    counts = dict(
        db.sql(f"SELECT e.principal_arn, count(*) FROM events AS e {where} GROUP BY ALL").fetchall()
    )
    span = _span(filters)
    if principal in counts:
        return (
            f"none of the {counts[principal]:,} calls of {principal} {span} passed "
            "authorization: there is nothing to replay, so nothing is verified"
        )
    known = sorted(arn for arn in counts if arn)
    closest = difflib.get_close_matches(principal, known, n=5, cutoff=0.0)
    listed = "; ".join(closest) if closest else "none: the window holds no call"
    return (
        f"{principal} made no call {span}, so nothing is verified. Principals with calls in "
        f"it, closest first: {listed}"
    )


def _span(filters: Filters) -> str:
    """Return the window of ``filters`` in words: "in the window (… to …)" or "in the lake"."""
    if filters.start is None and filters.end is None:
        return "in the lake"
    start = f"{filters.start:%Y-%m-%d %H:%M} UTC" if filters.start else "the first event"
    end = f"{filters.end:%Y-%m-%d %H:%M} UTC" if filters.end else "the last"
    return f"in the window ({start} to {end})"


# --- the backtest --------------------------------------------------------------------------------


@reads_lake
def backtest(
    lake: str | Path,
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    days: Days = None,
    accounts: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    principals: Sequence[str] | None = None,
    split: float = 2 / 3,
    split_at: str | date | datetime | None = None,
    options: GenerateOptions | None = None,
    details: AuthorizationDetails | None = None,
    rewrite: Callable[[Proposal], Proposal] | None = None,
) -> Backtest:
    """Return the backtest of the window (by default, all the lake holds): proposals generated
    from its earlier part (``split`` of it, or up to ``split_at``) with ``options``, replayed on
    the calls of the later part; per principal the calls they would refuse, by cause, the probes
    they would allow, and, with ``details``, how many held actions the proposal drops.

    ``rewrite``, when given, changes each proposal before it is replayed: a way to measure other
    ways of writing the same usage (every action on ``*``, whole services) on the same footing.
    """
    options = options or GenerateOptions()
    if not 0 < split < 1:
        raise UsageError(f"the split {split} is not between 0 and 1 (2/3 is 0.667)")
    with contextlib.closing(connect(lake)) as db:
        filters = usage_filters(
            db,
            start=start,
            end=end,
            days=days,
            accounts=accounts,
            regions=regions,
            principals=principals,
        )
        bounds = db.sql(
            "SELECT min(e.event_time), max(e.event_time) FROM events AS e "
            f"WHERE {' AND '.join(event_conditions(filters, DUCKDB))}"
        ).fetchall()[0]
        if bounds[0] is None:
            raise UsageError(
                f"{lake} holds no event in the window, principals, accounts and regions asked "
                "for: nothing to backtest; check the filters (trailmin principals lists who is "
                "in the lake)"
            )
        # The part of the window the lake holds: a 90-day window over 14 days of logs is split
        # over the 14 days.
        first = max(filters.start or bounds[0], bounds[0])
        last = min(filters.end or bounds[1], bounds[1]) + timedelta(microseconds=1)
        cut = parse_time(split_at) if split_at is not None else first + (last - first) * split
        if cut is None or not first < cut < last:
            raise UsageError(
                f"the split {cut:%Y-%m-%d %H:%M} is not inside the window "
                f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"
            )
        earlier = replace(filters, start=first, end=cut)
        later = replace(filters, start=cut, end=last)
        later_calls = _later_calls(db, later)
        touched, used_actions, resources = _lake_resources(
            db, replace(filters, start=first, end=last)
        )
        kinds = query_arrow(db, principals_sql(replace(filters, start=first, end=last))).select(
            ["principal", "human"]
        )
        people = dict(zip(kinds["principal"].to_pylist(), kinds["human"].to_pylist(), strict=True))
    frame = usage(
        lake, start=first, end=cut, accounts=accounts, regions=regions, principals=principals
    )
    used = used_from_frame(frame)
    proposals = check_proposals(
        lake, generate_policies(used, options, window=(first, cut)), earlier
    )
    if rewrite is not None:
        proposals = [rewrite(p) if p.policies else p for p in proposals]
    held: dict[str, tuple[int, int]] = {}
    if details is not None:
        report = diff(lake, details, start=first, end=cut, used=used, proposals=proposals)
        held = {
            d.principal: (d.granted, sum(len(u.unused) for u in d.unused)) for d in report.diffs
        }
    results = []
    proposed = {p.principal: p for p in proposals}
    for proposal in proposals:
        if proposal.target is None:
            continue  # service-linked roles, AWS services, root: nothing is proposed for them
        calls = later_calls.get(proposal.principal, [])
        counts = held.get(proposal.principal)
        common = {
            "principal": proposal.principal,
            "principal_type": proposal.principal_type,
            "human": people.get(proposal.principal, False),
            "held_actions": counts[0] if counts else None,
            "removed_actions": counts[1] if counts else None,
        }
        if not proposal.policies:
            results.append(
                BacktestResult(
                    **common,
                    proposed=False,
                    skipped=proposal.skipped,
                    later_calls=sum(c.calls for c in calls),
                )
            )
            continue
        total, new_action, resource, broken = replay_later(proposal, calls)
        probes = probe(
            proposal,
            touched=touched.get(proposal.principal, frozenset()),
            used_actions=used_actions.get(proposal.principal, frozenset()),
            resources=resources,
        )
        results.append(
            BacktestResult(
                **common,
                proposed=True,
                skipped=None,
                later_calls=total,
                refused_new_action=new_action,
                refused_resource=resource,
                broken=broken,
                resource_probes=probes[0],
                resource_probes_allowed=probes[1],
                action_probes=probes[2],
                action_probes_allowed=probes[3],
            )
        )
    return Backtest(
        earlier=(first, cut),
        later=(cut, last),
        generalize=options.generalize,
        results=tuple(results),
        new_principals=tuple(sorted(p for p in later_calls if p not in proposed)),
    )


def _later_calls(db: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, list[LaterCall]]:
    """Return, per principal, the calls of the window that passed authorization, grouped by the
    permissions they needed."""
    conditions = event_conditions(filters, DUCKDB)
    conditions.append(f"({authorized_condition()})")
    conditions.append("len(e.permissions) > 0")
    sql = (
        "SELECT e.principal_arn AS principal, list_sort(list_distinct(list_transform("
        "e.permissions, lambda p: [p.action, p.resource]))) AS permissions, count(*) AS calls "
        f"FROM events AS e WHERE {' AND '.join(conditions)} GROUP BY ALL"
    )
    found: dict[str, list[LaterCall]] = {}
    for row in query_arrow(db, sql).to_pylist():
        pairs = tuple((a, r) for a, r in row["permissions"])
        found.setdefault(row["principal"], []).append(
            LaterCall(row["principal"], pairs, row["calls"])
        )
    return found


def _lake_resources(
    db: duckdb.DuckDBPyConnection, filters: Filters
) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]], dict[str, list[str]]]:
    """Return each principal's resources (exact, or the patterns the mapping derived) and
    actions in the window, and the lake's exact resources (any principal's) by the service of
    their ARN."""
    conditions = event_conditions(filters, DUCKDB)
    sql = (
        "SELECT e.principal_arn AS principal, p.action, p.resource, "
        "p.resource <> '*' AND p.derivation NOT LIKE '%pattern%' AS exact "
        f"FROM events AS e CROSS JOIN {DUCKDB.permissions_of('e.permissions')} "
        f"WHERE {' AND '.join(conditions)} GROUP BY ALL"
    )
    touched: dict[str, set[str]] = {}
    actions: dict[str, set[str]] = {}
    everything: set[str] = set()
    for row in query_arrow(db, sql).to_pylist():
        action = catalog.canonical(row["action"])
        actions.setdefault(row["principal"], set()).add(action)
        if row["resource"] != "*":
            # A pattern the mapping derived (a role of unknown path) counts as touched too:
            # what it matches is the principal's own, not a probe's.
            touched.setdefault(row["principal"], set()).add(row["resource"])
        if row["exact"]:
            everything.add(row["resource"])
    by_service: dict[str, list[str]] = {}
    for arn in sorted(everything):
        parts = arn.split(":", 3)
        if len(parts) > 2:
            by_service.setdefault(parts[2], []).append(arn)
    return (
        {k: frozenset(v) for k, v in touched.items()},
        {k: frozenset(v) for k, v in actions.items()},
        by_service,
    )


# --- the diff ------------------------------------------------------------------------------------


@dataclass(slots=True)
class DiffReport:
    """The diff of each principal, and the principals the authorization details lack."""

    diffs: list[Diff]
    not_in_details: list[str] = field(default_factory=list)
    window: Window | None = None  # the usage compared with

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready values."""
        return {
            "window": None if self.window is None else self.window.to_dict(),
            "principals": [d.to_dict() for d in self.diffs],
            "not_in_details": self.not_in_details,
        }

    def to_markdown(self) -> str:
        """Return the report as Markdown."""
        text = diffs_to_markdown(self.diffs)
        if self.window is not None:
            heading, _, rest = text.partition("\n")
            text = f"{heading}\n\n{md.text(_sentence(self.window.describe()))}\n{rest}"
        if self.not_in_details:
            text += "\n## Principals with calls but no authorization details\n\n"
            text += "".join(f"- {md.text(p)}\n" for p in self.not_in_details)
        return text

    def to_frame(self) -> pd.DataFrame:
        """Return the report as one long DataFrame: a row per (principal, section, action)."""
        import pandas as pd

        columns = ["principal", "section", "service", "action", "access_level", "resource", "calls"]
        frame = pd.DataFrame([row for d in self.diffs for row in d.rows()], columns=columns)
        for name in ("principal", "section", "service", "access_level"):
            frame[name] = frame[name].astype("category")
        return frame


def authorization_details(
    *,
    auth_file: str | Path | None = None,
    from_aws: bool = False,
    profile: str | None = None,
    client_region: str | None = None,
    endpoint_url: str | None = None,
) -> AuthorizationDetails:
    """Return what principals hold: from a saved GetAccountAuthorizationDetails output, or read
    from IAM (read-only)."""
    if (auth_file is None) == (not from_aws):
        raise UsageError("give --auth-file FILE or --from-aws (one of them)")
    if auth_file is not None:
        return parse_authorization_details(read_json(auth_file), str(auth_file))
    from trailmin.iam import fetch_authorization_details

    data = fetch_authorization_details(
        profile=profile, region=client_region, endpoint_url=endpoint_url
    )
    return parse_authorization_details(data, "IAM")


@reads_lake
def diff(
    lake: str | Path,
    details: AuthorizationDetails,
    *,
    start: str | date | datetime | None = None,
    end: str | date | datetime | None = None,
    days: Days = None,
    principals: Sequence[str] | None = None,
    scps: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]] | None = None,
    used: Sequence[Used] | None = None,
    proposals: Sequence[Proposal] | None = None,
) -> DiffReport:
    """Return, per user and role, what it holds against what it used in the window.

    ``scps`` maps an account id to its SCPs, one list of policies per level (root, each OU, the
    account), as ``read_scps`` reads them: an action counts as granted only if every level allows
    it. ``used`` and ``proposals``, when the caller has them already, spare reading the usage
    again and generating again.
    """
    covered = None
    if used is None:
        frame = usage(lake, start=start, end=end, days=days, principals=principals)
        used = used_from_frame(frame)
        covered = frame.attrs["window"]
    by_principal: dict[str, list[Used]] = {}
    for row in used:
        by_principal.setdefault(row.principal, []).append(row)
    if proposals is None:
        proposals = generate_policies(used)
    proposed = {p.principal: p for p in proposals}
    with contextlib.closing(connect(lake)) as db:
        sources = db.sql(
            "SELECT event_source, bool_or(NOT management_event) FROM events "
            "WHERE event_source IS NOT NULL GROUP BY ALL"
        ).fetchall()
    data_services = frozenset(service_prefix(s) for s, data in sources if data)
    seen = frozenset(service_prefix(s) for s, _ in sources)
    selected = principal_matcher(_items(principals, "principals"))
    wanted = [p for p in details.principals if selected(p)]
    wanted = [p for p in wanted if ":role/aws-service-role/" not in p]
    diffs = [
        diff_principal(
            details.principals[arn],
            by_principal.get(arn, []),
            proposed.get(arn),
            data_event_services=data_services,
            services_seen=seen,
            scps=(scps or {}).get(arn.split(":")[4], ()),
        )
        for arn in sorted(wanted)
    ]
    missing = sorted(
        p
        for p in by_principal
        if p not in details.principals and re.match(r"^arn:[^:]+:iam::\d{12}:(user|role)/", p)
    )
    return DiffReport(diffs, missing, window=covered)


def _sentence(text: str) -> str:
    """Return ``text`` (a window's description) as a sentence: capitalized, with a full stop."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def read_json(path: str | Path) -> Any:
    """Return the JSON in a file, or a UsageError naming the file and what is wrong."""
    source = Path(path)
    try:
        return json.loads(source.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}; check the path") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} is not JSON ({exc.msg} at line {exc.lineno})") from None


def read_scps(path: str | Path) -> dict[str, list[list[dict[str, Any]]]]:
    """Return the SCPs in a JSON file: ``{"<account id>": [[policy, …], …]}``, one list of
    policy documents per level of the organization, from the root down to the account."""
    source = Path(path)
    data = read_json(source)
    shape = (
        isinstance(data, dict)
        and all(re.fullmatch(r"\d{12}", str(k)) for k in data)
        and all(
            isinstance(levels, list)
            and all(
                isinstance(level, list) and all(isinstance(d, dict) for d in level)
                for level in levels
            )
            for levels in data.values()
        )
    )
    if not shape:
        raise UsageError(
            f"{source} is not an SCP file; write "
            '{"111122223333": [[root policies…], [OU policies…], [account policies…]]}'
        )
    found: dict[str, list[list[dict[str, Any]]]] = data
    return found


# --- the audit -----------------------------------------------------------------------------------


@reads_lake
def audit(
    lake: str | Path,
    *,
    details: AuthorizationDetails | None = None,
    credential_report: str | None = None,
    days: Days = None,
    recent_days: int = 7,
    max_key_age_days: int = 90,
    now: datetime | None = None,
    proposals: Sequence[Proposal] | None = None,
) -> Audit:
    """Return the IAM checklist's findings for the lake's last ``days`` days (the window of
    every command: 90 by default, ``"all"`` for every event).

    ``details`` (authorization details) adds unused principals and AWS-managed policies;
    ``credential_report`` (GetCredentialReport's CSV, or the CLI's JSON of it) adds the MFA of
    passwords and root, and old or unused keys, as of ``now`` (default: the present). Unusual
    activity compares each principal's last ``recent_days`` with its events before them.
    """
    from trailmin import checklist as checks

    moment: datetime = now or datetime.now(UTC)
    report = (
        checks.parse_credential_report(credential_report) if credential_report is not None else None
    )
    found: list[Finding] = []
    notes: list[str] = []
    with contextlib.closing(connect(lake)) as db:
        oldest, newest = db.sql("SELECT min(event_time), max(event_time) FROM events").fetchall()[0]
        if newest is None:
            return Audit([], ["the lake holds no event"])
        filters = usage_filters(db, days=days)
        covered = window_of(db, filters)
        window_start = filters.start or oldest
        window_end = filters.end or newest + timedelta(microseconds=1)
        span_days = filters.days or math.ceil((window_end - window_start) / timedelta(days=1))
        recent_start = window_end - timedelta(days=recent_days)
        # The window on the date partition too, so that only its partitions are read.
        in_window = (
            f"event_time >= {DUCKDB.timestamp(window_start)} "
            f"AND \"date\" >= DATE '{window_start.astimezone(UTC):%Y-%m-%d}'"
        )

        def rows(sql: str) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = query_arrow(db, sql).to_pylist()
            return found

        base = (
            "principal_arn, principal_type, event_time, event_source, event_name, source_ip, "
            "user_agent, event_id, error_code, error_message"
        )
        # Root's own calls: not those a service made for it (invokedBy) or on its own (the
        # filter of the CIS benchmark's root-usage alarm).
        found += checks.root_usage(
            rows(
                f"SELECT {base} FROM events WHERE principal_type = 'Root' AND {in_window} "
                "AND invoked_by IS NULL AND coalesce(event_type, '') <> 'AwsServiceEvent' "
                "ORDER BY event_time"
            )
        )
        mfa_used = "json_extract_string(additional_event_data, '$.MFAUsed')"
        signins = f"""FROM events WHERE event_name = 'ConsoleLogin' AND {in_window}
            AND principal_type IN ('IAMUser', 'Root') AND error_code IS NULL
            AND error_message IS NULL"""
        found += checks.console_without_mfa(
            rows(
                f"SELECT {base}, additional_event_data {signins} AND {mfa_used} = 'No' "
                "ORDER BY event_time"
            )
        )
        unknown_mfa = db.sql(f"SELECT count(*) {signins} AND {mfa_used} IS NULL").fetchall()[0][0]
        if unknown_mfa:
            notes.append(
                f"{unknown_mfa:,} console sign-in(s) of users or root do not say whether MFA was "
                "used (no MFAUsed): not judged"
            )
        found += checks.long_term_keys(
            rows(
                "SELECT principal_arn, access_key_id, count(*) AS calls, "
                "list_sort(list_distinct(list(source_ip))) AS source_ips, "
                "list_sort(list_distinct(list(user_agent))) AS user_agents, "
                "bool_or(vpc_endpoint_id IS NOT NULL) AS via_vpc_endpoint, "
                "min(event_time) AS first_seen, max(event_time) AS last_seen FROM events "
                f"WHERE access_key_id LIKE 'AKIA%' AND principal_arn IS NOT NULL AND {in_window} "
                "GROUP BY ALL"
            )
        )
        recent = DUCKDB.timestamp(recent_start)
        firsts = rows(
            f"""WITH e AS (
              SELECT principal_arn, event_time, split_part(event_source, '.', 1) AS service,
                     aws_region AS region, source_ip
              FROM events WHERE principal_arn IS NOT NULL AND principal_type <> 'AWSService'
                AND {in_window}),
            baseline AS (SELECT principal_arn,
                           min(event_time) AS first_event,
                           count(*) FILTER (WHERE event_time < {recent}) AS baseline_events,
                           count(DISTINCT CAST(event_time AS DATE))
                             FILTER (WHERE event_time < {recent}) AS baseline_active_days
                         FROM e GROUP BY ALL),
            kinds AS (
              SELECT principal_arn, 'service' AS kind, service AS value,
                     min(event_time) AS first_seen FROM e GROUP BY ALL
              UNION ALL
              SELECT principal_arn, 'region', region, min(event_time) FROM e
                WHERE region IS NOT NULL GROUP BY ALL
              UNION ALL
              SELECT principal_arn, 'network', source_ip, min(event_time) FROM e
                WHERE source_ip IS NOT NULL GROUP BY ALL)
            SELECT k.*, b.first_event, b.baseline_events, b.baseline_active_days
            FROM kinds k JOIN baseline b USING (principal_arn)
            ORDER BY principal_arn, kind, value"""
        )
        denied = rows(
            f"""SELECT principal_arn,
              count(*) FILTER (WHERE event_time >= {recent}) AS recent_denied,
              count(*) FILTER (WHERE event_time < {recent}) AS baseline_denied,
              list_sort(list_distinct(list(split_part(event_source, '.', 1) || ':' || event_name)
                FILTER (WHERE event_time >= {recent}))) AS recent_calls
            FROM events WHERE principal_arn IS NOT NULL AND {in_window}
              AND {denied_condition("error_code")}
            GROUP BY ALL"""
        )
        # Active: the principals acting (by ARN and by unique ID, which ignores paths), and the
        # roles assumed (a role only a service uses shows no call of its own).
        active: set[str] = set()
        for row in rows(
            f"""SELECT DISTINCT principal_arn AS a, split_part(principal_id, ':', 1) AS b
            FROM events WHERE {in_window}
            UNION
            SELECT DISTINCT json_extract_string(request_parameters, '$.roleArn'),
                   unnest(list_transform(resources, lambda r: r.arn))
            FROM events WHERE {in_window} AND event_name LIKE 'AssumeRole%'
              AND error_code IS NULL"""
        ):
            active.update(str(v) for v in row.values() if v)
    # Networks: a source address's /24 (or /48); the first use of the network, not the address.
    networks: dict[tuple[str, str], dict[str, Any]] = {}
    for row in firsts:
        if row["kind"] != "network":
            continue
        network = checks.network_of(str(row["value"]))
        if network is None:
            continue
        key = (row["principal_arn"], network)
        if key not in networks or row["first_seen"] < networks[key]["first_seen"]:
            networks[key] = {**row, "value": network}
    firsts = [r for r in firsts if r["kind"] != "network"] + list(networks.values())
    # Refusal rates per day of the baseline the principal has in the lake, not of the window.
    began = {row["principal_arn"]: max(row["first_event"], window_start) for row in firsts}
    for row in denied:
        start = began.get(row["principal_arn"], window_start)
        row["baseline_days"] = max((recent_start - start).total_seconds() / 86_400, 1.0)
        row["recent_days"] = recent_days
    found += checks.unusual_activity(firsts, denied, recent_start=recent_start)
    if not any(row["first_seen"] < recent_start for row in firsts):
        notes.append(
            f"no event before the recent {recent_days} days: nothing to compare new services, "
            "regions, networks and refusals with (use a longer lake or a shorter --recent-days)"
        )
    varied = checks.varied_networks(firsts, recent_start=recent_start)
    if varied:
        notes.append(
            f"new networks are not checked for {len(varied)} principal(s) whose baseline networks "
            "change all the time (code in AWS compute or CI runners calling from a large pool of "
            "addresses): " + ", ".join(sorted(varied))
        )
    if report is not None:
        found += checks.passwords_without_mfa(report)
        found += checks.access_keys(
            report, now=moment, max_age_days=max_key_age_days, days=span_days
        )
    else:
        notes.append("no credential report: key ages and passwords without MFA are not checked")
    if details is not None:
        since = max(window_start, oldest)
        if since > window_start:
            notes.append(
                f"the lake's events begin {since:%Y-%m-%d}, inside the {span_days}-day window: "
                "a principal is called unused for that shorter time"
            )
        found += checks.unused_principals(
            (
                {"arn": h.arn, "unique_id": h.unique_id, "last_used": h.last_used}
                for h in details.principals.values()
            ),
            active=active,
            since=since,
            last_used=checks.report_last_used(report) if report is not None else None,
        )
        found += _aws_managed_findings(lake, details, (window_start, window_end), proposals)
    else:
        notes.append(
            "no authorization details: unused principals and AWS-managed policies are not checked"
        )
    return Audit(checks.sort_findings(found), notes, window=covered)


def _aws_managed_findings(
    lake: str | Path,
    details: AuthorizationDetails,
    window: tuple[datetime, datetime],
    proposals: Sequence[Proposal] | None,
) -> list[Finding]:
    """Check 7: for each AWS-managed policy a principal holds, the actions it grants against
    those of them the principal's proposal keeps."""
    from trailmin import checklist as checks
    from trailmin.expand import expand

    attached = [
        (arn, policy.name, policy.document)
        for arn, holdings in details.principals.items()
        for policy in holdings.policies
        if policy.aws_managed and policy.document is not None
    ]
    if not attached:
        return []
    if proposals is None:
        proposals = generate(
            lake,
            start=window[0],
            end=window[1],
            principals=sorted({arn for arn, _, _ in attached}),
        )
    by_principal = {p.principal: p for p in proposals}
    rows = []
    for arn, name, document in attached:
        proposal = by_principal.get(arn)
        if proposal is None or not proposal.policies or document is None:
            continue
        proposed = set(expand([(p.name, p.document()) for p in proposal.policies]))
        granted = set(expand([(name, document)]))
        rows.append(
            {
                "principal_arn": arn,
                "policy_arn": name,
                "granted": len(granted),
                "proposed": len(granted & proposed),
            }
        )
    return checks.aws_managed(rows)


# --- lake info -----------------------------------------------------------------------------------


@dataclass(slots=True)
class LakeInfo:
    """What a lake holds: rows, accounts, principals, time range, sources ingested and skipped."""

    lake: str
    rows: int
    files: int
    bytes: int
    partitions: int
    accounts: list[str]
    regions: list[str]
    principals: int
    first_event: str | None
    last_event: str | None
    sources_ingested: int
    sources_partial: int
    sources_skipped: int
    records_skipped: int
    runs: int
    last_run: str | None
    uncommitted_files: int
    mapping_versions: dict[str, int] = field(default_factory=dict)
    mapping_current: bool = True
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the info as plain JSON-ready values."""
        return asdict(self)


@reads_lake
def lake_info(lake: str | Path) -> LakeInfo:
    """Return what ``lake`` holds, from its manifest and one scan of the data."""
    the_lake = Lake.open(lake)
    stats = the_lake.stats()
    committed = set(the_lake.committed_paths())
    uncommitted = sum(
        1
        for p in the_lake.iter_data_files()
        if p.relative_to(the_lake.path).as_posix() not in committed
    )
    with contextlib.closing(connect(lake)) as db:
        row = db.execute(
            "SELECT count(DISTINCT principal_arn), min(event_time), max(event_time) FROM events"
        ).fetchone()
        accounts = [
            r[0] for r in db.execute("SELECT DISTINCT account FROM events ORDER BY 1").fetchall()
        ]
        regions = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT aws_region FROM events WHERE aws_region IS NOT NULL ORDER BY 1"
            ).fetchall()
        ]
    principals, first, last = row if row else (0, None, None)
    return LakeInfo(
        lake=str(the_lake.path),
        rows=stats["rows"],
        files=stats["files"],
        bytes=stats["bytes"],
        partitions=stats["partitions"],
        accounts=accounts,
        regions=regions,
        principals=principals or 0,
        first_event=_iso(first),
        last_event=_iso(last),
        sources_ingested=stats["sources_ingested"],
        sources_partial=stats["sources_partial"],
        sources_skipped=stats["sources_skipped"],
        records_skipped=stats["records_skipped"],
        runs=stats["runs"],
        last_run=stats["last_run"],
        uncommitted_files=uncommitted,
        mapping_versions=stats["mapping_versions"],
        mapping_current=set(stats["mapping_versions"]) <= {mapping_version()},
        skipped=the_lake.source_problems(),
    )


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- compaction ----------------------------------------------------------------------------------


@dataclass(slots=True)
class CompactSummary:
    """What ``compact`` merged."""

    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-ready values."""
        return asdict(self)


def compact(lake: str | Path, *, target_rows: int = 4_000_000) -> CompactSummary:
    """Return what was merged after merging each partition's files into as few as fit.

    Incremental runs leave a few small files per partition; this rewrites them into files of up
    to ``target_rows`` rows with large row groups. Crash-safe like ingest: the new file is
    committed in the manifest in the same transaction that retires the old ones, and replaces
    them under ``events/`` in one rename of the partition's folder (see ``trailmin.lake``).
    """
    the_lake = Lake.open(lake)
    summary = CompactSummary()
    with the_lake.locked(command="trailmin lake compact"):
        run_id = "compact-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        for account, day, version, paths in the_lake.small_partitions(min_files=2):
            old: list[str] = []
            merged: list[WrittenFile] = []
            for group in _groups_by_rows(the_lake, paths, target_rows):
                if len(group) >= 2:
                    old += group
                    merged.append(_rewrite(the_lake, account, day, group, run_id, version))
            if merged:  # one swap of the partition's folder for all its groups
                the_lake.replace_files(old, merged, run_id)
            summary.files_before += len(old)
            summary.files_after += len(merged)
            summary.rows += sum(new.rows for new in merged)
            summary.partitions += 1
        the_lake.finish_run(run_id, {"compact": summary.to_dict(), "finished": utc_now()})
    return summary


def _groups_by_rows(lake: Lake, paths: list[str], target_rows: int) -> Iterator[list[str]]:
    group: list[str] = []
    rows = 0
    for path in paths:
        count = pq.ParquetFile(lake.path / path).metadata.num_rows
        if group and rows + count > target_rows:
            yield group
            group, rows = [], 0
        group.append(path)
        rows += count
    if group:
        yield group


def _rewrite(
    lake: Lake,
    account: str,
    day: str,
    paths: list[str],
    run_id: str,
    version: str,
    transform: Callable[[pa.Table], pa.Table] | None = None,
) -> WrittenFile:
    """Return the file written (staged, for ``Lake.replace_files``) from the rows of ``paths``."""
    tag = f"{run_id}-{uuid.uuid4().hex[:8]}"
    name = f"part-{tag}.parquet"
    final = f"{partition_dir(account, day)}/{name}"
    staged = lake.staging_path(tag, final)
    staged.parent.mkdir(parents=True, exist_ok=True)
    sources: set[str] = set()
    rows = 0
    with pq.ParquetWriter(staged, FILE_SCHEMA, **PARQUET_OPTIONS) as writer:
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for path in paths:
            parquet = pq.ParquetFile(lake.path / path)
            for batch in parquet.iter_batches(batch_size=65_536):
                pending.append(batch)
                pending_rows += batch.num_rows
                sources.update(batch.column("source").unique().to_pylist())
                if pending_rows >= ROW_GROUP_ROWS:
                    writer.write_table(_group(pending, transform), ROW_GROUP_ROWS)
                    rows += pending_rows
                    pending, pending_rows = [], 0
        if pending:
            writer.write_table(_group(pending, transform), ROW_GROUP_ROWS)
            rows += pending_rows
    with open(staged, "rb") as handle:
        os.fsync(handle.fileno())
    return WrittenFile(
        path=final,
        account=account,
        date=day,
        rows=rows,
        bytes=staged.stat().st_size,
        sources=tuple(sorted(s for s in sources if s)),
        mapping_version=version,
        staged=staged.relative_to(lake.path).as_posix(),
    )


def _group(
    batches: list[pa.RecordBatch], transform: Callable[[pa.Table], pa.Table] | None
) -> pa.Table:
    table = pa.Table.from_batches(batches)
    if transform is not None:
        table = transform(table)
    return row_group(table)


# --- remapping -----------------------------------------------------------------------------------


@dataclass(slots=True)
class RemapSummary:
    """What ``remap`` rewrote."""

    mapping_version: str
    files: int = 0
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-ready values."""
        return asdict(self)


def remap(lake: str | Path) -> RemapSummary:
    """Return what was rewritten after filling ``permissions`` again with today's mapping.

    Only files filled by another mapping version are rewritten, from their stored columns (the
    sources are not read again); as in compaction, each partition's files are swapped in one
    manifest transaction and one rename of its folder.
    """
    the_lake = Lake.open(lake)
    version = mapping_version()
    summary = RemapSummary(mapping_version=version)
    with the_lake.locked(command="trailmin remap"):
        run_id = "remap-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        stale = the_lake.files_mapped_otherwise(version)
        for (account, day), rows in itertools.groupby(stale, key=lambda row: row[1:]):
            paths = [path for path, _, _ in rows]
            rewritten = [
                _rewrite(the_lake, account, day, [path], run_id, version, _remap_table)
                for path in paths
            ]
            the_lake.replace_files(paths, rewritten, run_id)
            summary.files += len(rewritten)
            summary.rows += sum(new.rows for new in rewritten)
        the_lake.finish_run(run_id, {"remap": summary.to_dict(), "finished": utc_now()})
    return summary


def _remap_table(table: pa.Table) -> pa.Table:
    """Return ``table`` with its permissions filled again from its other columns."""
    # As ingest keys them (records.py): the trail's account, else the caller's; the error code,
    # which can show a permission besides the call's own (NoSuchKey: s3:ListBucket).
    keys = zip(
        table["event_source"].to_pylist(),
        table["event_name"].to_pylist(),
        table["event_type"].to_pylist(),
        table["aws_region"].to_pylist(),
        table["recipient_account_id"].to_pylist(),
        table["principal_account_id"].to_pylist(),
        table["error_code"].to_pylist(),
        strict=True,
    )
    calls: dict[tuple[Any, ...], int] = {}
    index = [
        calls.setdefault(
            (None, src, name, kind, None, region, account or caller, error), len(calls)
        )
        for src, name, kind, region, account, caller, error in keys
    ]
    permissions = permissions_column(
        list(calls),
        index,
        table["request_parameters"].to_pylist(),
        table["resources"].to_pylist(),
        _stored_arns,
        error_codes=[call[7] for call in calls],
        callers=table["identity_arn"].to_pylist(),
    )
    position = table.schema.get_field_index("permissions")
    return table.set_column(position, "permissions", permissions)


def _stored_arns(resources: list[dict[str, Any]] | None) -> tuple[str, ...]:
    return tuple(r["arn"] for r in resources or () if r.get("arn"))
