"""The library's use cases, one function each: ingest into a lake, read events back, the usage
tables, generate, verify, backtest, diff, audit, and describe, compact and remap the lake.

Each function asks the stage modules: the SQL comes from ``trailmin.query``, DuckDB and the
lake's files from ``trailmin.lake``, and mapping, generation, evaluation and the checks are the
pure stages'. Everything here returns values (summaries, pandas DataFrames); nothing prints.
The CLI is a thin layer over these functions, and notebooks call them directly::

    import trailmin
    summary = trailmin.ingest(["sample_logs/"], lake="lake/")
    events = trailmin.read_events("lake/", start="2026-10-06", principals=["*:role/ci-*"])

A function that reads the lake takes its path, opening DuckDB for each step and closing it after,
or a ``trailmin.Lake``, whose one connection it uses: a notebook or a script asking many questions
opens DuckDB once (``trailmin.explore``). Writers (ingest, compact, remap) take the path.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from trailmin.errors import NothingMatched, UsageError
from trailmin.iam import audit as checks
from trailmin.iam import trust as trust_checks
from trailmin.iam.access_advisor import AccessAdvisor, read_access_advisor
from trailmin.iam.audit import Audit, AuditWindow, Checked, Finding
from trailmin.iam.details import AuthorizationDetails, parse_authorization_details
from trailmin.iam.diff import DiffReport, diff_report
from trailmin.iam.trust import TrustReport
from trailmin.ingestion.pipeline import IngestSummary, Progress, ingest
from trailmin.lake import maintenance
from trailmin.lake.duck import connect, query_arrow, query_row, query_rows, reads_lake, to_frame
from trailmin.lake.maintenance import CompactSummary, RemapSummary, compact
from trailmin.lake.schema import EVENT_SCHEMA
from trailmin.lake.store import Store
from trailmin.mapping.permissions import mapping_version, refill_permissions
from trailmin.mapping.report import MappingReport, build_report
from trailmin.policy.backtest import Backtest, later_calls_from_rows, result_for, touched_from_rows
from trailmin.policy.catalog_replay import Recorded, recorded_from_rows
from trailmin.policy.catalog_replay import check as check_catalog
from trailmin.policy.generate import Options as GenerateOptions
from trailmin.policy.generate import Proposal, Used, refuse_on_mismatch, used_from_frame
from trailmin.policy.generate import generate as generate_policies
from trailmin.policy.groups import Group, GroupProposals, propose_groups
from trailmin.policy.groups import User as GroupMember
from trailmin.policy.render import render
from trailmin.policy.replay import COLUMNS as CONTEXT_COLUMNS
from trailmin.policy.replay import (
    TIME_KEYS,
    Call,
    Verdict,
    condition_keys,
    context_of,
    documents_of,
)
from trailmin.policy.replay import verify as replay_calls
from trailmin.query import audit as audit_sql
from trailmin.query import backtest as backtest_sql
from trailmin.query import overview
from trailmin.query import report as report_sql
from trailmin.query import trust as trust_sql
from trailmin.query import verify as verify_sql
from trailmin.query.sql import (
    DUCKDB,
    CallFilters,
    Days,
    Dialect,
    FilterOptions,
    Filters,
    Moment,
    Window,
    dialect_named,
    events_sql,
    filter_values,
    parse_time,
    principal_matcher,
    principals_sql,
    resolve_filters,
    services_sql,
    window_sql,
)
from trailmin.query.sql import usage_sql as usage_table_sql

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from trailmin.explore import Lake
    from trailmin.job.config import Config as JobConfig
    from trailmin.job.propose import Summary as JobSummary

__all__ = [
    "CompactSummary",
    "DiffReport",
    "IngestSummary",
    "LakeInfo",
    "Progress",
    "RemapSummary",
    "audit",
    "authorization_details",
    "backtest",
    "compact",
    "connect",
    "credential_report",
    "diff",
    "generate",
    "group_proposals",
    "ingest",
    "lake_info",
    "mapping_report",
    "parse_time",
    "password_policy",
    "principals",
    "propose",
    "query_arrow",
    "read_events",
    "read_password_policy",
    "read_scps",
    "reads_lake",
    "remap",
    "run",
    "services",
    "trust",
    "usage",
    "usage_sql",
    "verify",
    "verify_trust",
    "window",
    "write_proposals",
]


@contextlib.contextmanager
def _connection(lake: str | Path | Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a DuckDB connection over ``lake``: a ``Lake``'s own, left open, else one opened for
    this step and closed after it."""
    if isinstance(lake, (str, Path)):
        with contextlib.closing(connect(lake)) as db:
            yield db
    else:
        yield lake.connection()


def _path(lake: str | Path | Lake) -> Path:
    return Path(lake) if isinstance(lake, (str, Path)) else lake.path


# --- events --------------------------------------------------------------------------------------


@reads_lake
def read_events(
    lake: str | Path | Lake,
    *,
    start: Moment = None,
    end: Moment = None,
    accounts: Sequence[str] | None = None,
    principals: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Return the lake's events as a DataFrame, oldest first, filtered as asked.

    ``start`` is inclusive and ``end`` exclusive; ``principals`` are exact ARNs or globs
    (``arn:aws:iam::*:role/ci-*``) matched against ``principal_arn``. Times are tz-aware UTC.
    Every event unless a window is asked for: no default window here.
    """
    every = [*EVENT_SCHEMA.names, "account", "date"]
    wanted = list(columns) if columns else every
    unknown = sorted(set(wanted) - set(every))
    if unknown:
        raise UsageError(f"unknown column(s) {', '.join(unknown)}; see trailmin.EVENT_SCHEMA")
    filters = Filters(
        start=parse_time(start),
        end=parse_time(end, end=True),
        accounts=filter_values(accounts, "accounts"),
        principals=filter_values(principals, "principals"),
    )
    with _connection(lake) as db:
        table = query_arrow(db, events_sql(filters, wanted, limit=limit))
    return to_frame(table, categories=("principal_type", "event_source", "aws_region", "account"))


@reads_lake
def mapping_report(
    lake: str | Path | Lake, *, start: Moment = None, end: Moment = None
) -> MappingReport:
    """Return how the lake's events map to IAM actions: totals, a row per kind, findings."""
    filters = Filters(start=parse_time(start), end=parse_time(end, end=True))
    with _connection(lake) as db:
        kinds = db.sql(report_sql.kinds_sql(filters)).fetchall()
        denials = db.sql(report_sql.denials_sql(filters)).fetchall()
        scoping = db.sql(report_sql.scoping_sql(filters)).fetchall()
    return build_report(kinds, denials, {(s, n, t): (a, b) for s, n, t, a, b in scoping})


# --- usage ---------------------------------------------------------------------------------------


def usage_filters(db: duckdb.DuckDBPyConnection, **filters: Unpack[FilterOptions]) -> Filters:
    """Return the filters asked for, with ``days`` turned into a window ending at the newest
    event of the lake (``db``'s ``events``): by default the last 90 days, ``days="all"`` every
    event (``trailmin.query.sql.resolve_filters``)."""
    return resolve_filters(**filters, newest=lambda: query_row(db, overview.NEWEST_SQL)[0])


def window_of(db: duckdb.DuckDBPyConnection, filters: Filters) -> Window:
    """Return the window of ``filters`` with what of the lake (``db``'s ``events``) it covers
    and what fell outside it."""
    events, principals, events_outside, principals_outside, first, last = query_row(
        db, window_sql(filters)
    )
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
def window(lake: str | Path | Lake, **filters: Unpack[FilterOptions]) -> Window:
    """Return the window these filters read (the same for every command: by default the last 90
    days up to the newest event), how many events and principals it holds, and how many of the
    lake's fell outside it."""
    with _connection(lake) as db:
        return window_of(db, usage_filters(db, **filters))


def usage(lake: str | Path | Lake, **filters: Unpack[FilterOptions]) -> pd.DataFrame:
    """Return the usage table: a row per (principal, action, resource) the window's calls needed.

    Columns: ``principal``, ``principal_type``, ``service``, ``action``, ``resource``, ``calls``
    (``succeeded`` + ``denied`` + ``errors``), ``first_seen``, ``last_seen``,
    ``last_succeeded``, ``inferred``, ``derivation``, ``accounts``, ``regions``. ``start`` is
    inclusive and ``end`` exclusive; ``days`` counts back from the newest event in the lake.
    """
    return _summary(
        lake, usage_table_sql, filters, categories=("principal", "principal_type", "service")
    )


def principals(lake: str | Path | Lake, **filters: Unpack[FilterOptions]) -> pd.DataFrame:
    """Return a row per principal, busiest first: its calls (succeeded, denied, errors), the
    services, actions and resources they needed, first and last seen, and whether it is a
    person (``human``) or a workload. Filters as for ``usage``."""
    return _summary(lake, principals_sql, filters, categories=("principal_type",))


def services(lake: str | Path | Lake, **filters: Unpack[FilterOptions]) -> pd.DataFrame:
    """Return a row per IAM service, busiest first: calls, principals and actions. Filters as
    for ``usage``."""
    return _summary(lake, services_sql, filters, categories=())


@reads_lake
def _summary(
    lake: str | Path | Lake,
    build: Callable[[Filters, Dialect], str],
    options: FilterOptions,
    *,
    categories: Sequence[str],
) -> pd.DataFrame:
    """Return the result of ``build``'s query for the filters in ``options``, with the filters
    and the window it covers in its ``attrs``."""
    with _connection(lake) as db:
        filters = usage_filters(db, **options)
        table = query_arrow(db, build(filters, DUCKDB))
        covered = window_of(db, filters)
    frame = to_frame(table, arrow_backed=True, categories=categories)
    frame.attrs["filters"] = filters
    frame.attrs["window"] = covered
    return frame


# --- generation ----------------------------------------------------------------------------------


def generate(
    lake: str | Path | Lake,
    *,
    options: GenerateOptions | None = None,
    **filters: Unpack[CallFilters],
) -> list[Proposal]:
    """Return a proposal per principal: the least-privilege policies for what it did in the
    window, with their evidence, what it was refused, and why some principals get none."""
    frame = usage(lake, **filters)
    resolved: Filters = frame.attrs["filters"]
    window = (resolved.start, resolved.end) if resolved.start and resolved.end else None
    proposals = generate_policies(
        used_from_frame(frame), options or GenerateOptions(), window=window
    )
    return check_proposals(lake, proposals, resolved)


@reads_lake
def check_proposals(
    lake: str | Path | Lake, proposals: Sequence[Proposal], filters: Filters
) -> list[Proposal]:
    """Return the proposals with those that fail the catalog replay (``catalog_replay``) turned
    into refusals to propose: the window's authorized calls of each principal, on the resources
    the catalog names for them, built from the records rather than from the lake's mapping."""
    wanted = [p.principal for p in proposals if p.policies]
    if not wanted:
        return list(proposals)
    with _connection(lake) as db:
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
    return recorded_from_rows(query_rows(db, verify_sql.recorded_calls_sql(filters)))


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


@reads_lake
def group_proposals(
    lake: str | Path | Lake,
    details: AuthorizationDetails,
    *,
    options: GenerateOptions | None = None,
    used: Sequence[Used] | None = None,
    **filters: Unpack[CallFilters],
) -> GroupProposals:
    """Return ``generate``'s proposals with users' permissions kept in their groups: a proposal
    per group from what its members used of what it grants today, per user only what none of
    its groups carries, and the users with policies of their own (IAM.2) moved into a group
    (``trailmin.policy.groups``). ``.proposals`` is what ``write_proposals`` writes.

    ``principals`` selects whose proposals are returned (and their groups); the split is made
    from the calls of every member of those groups, whoever was asked for. ``used``, when the
    caller has the usage rows already (the job's), spares reading them again."""
    frame = usage(
        lake,
        start=filters.get("start"),
        end=filters.get("end"),
        days=filters.get("days"),
        accounts=filters.get("accounts"),
        regions=filters.get("regions"),
    )
    resolved: Filters = frame.attrs["filters"]
    window = (resolved.start, resolved.end) if resolved.start and resolved.end else None
    members, groups = _group_holdings(details)
    found = propose_groups(
        used_from_frame(frame) if used is None else list(used),
        members,
        groups,
        options or GenerateOptions(),
        window=window,
        principals=filter_values(filters.get("principals"), "principals"),
    )
    return _check_group_proposals(lake, found, resolved)


def _group_holdings(details: AuthorizationDetails) -> tuple[list[GroupMember], list[Group]]:
    """Return the details' users (their groups as ARNs, their own policies) and groups (the
    policies that come through each). A group's ARN is its entry's in ``GroupDetailList`` (with
    its path); without one, it is made from its name and its members' account (the users name
    their groups, not their paths)."""
    members: list[GroupMember] = []
    policies_of: dict[str, dict[str, Mapping[str, Any] | None]] = {}

    def arn_of(account: str, name: str) -> str:
        entry = details.groups.get(name)
        return entry.arn if entry is not None and entry.arn else f"{account}:group/{name}"

    for arn, held in sorted(details.principals.items()):
        if held.kind != "user":
            continue
        account = arn.split(":user/", 1)[0]
        for name in held.groups:
            policies_of.setdefault(arn_of(account, name), {})
        for policy in held.policies:
            if policy.via is not None:
                policies_of.setdefault(arn_of(account, policy.via), {})[policy.name] = (
                    policy.document
                )
        members.append(
            GroupMember(
                arn,
                tuple(arn_of(account, name) for name in held.groups),
                tuple((p.name, p.document) for p in held.policies if p.via is None),
            )
        )
    groups = [
        Group(arn, tuple(sorted(policies.items()))) for arn, policies in sorted(policies_of.items())
    ]
    return members, groups


@reads_lake
def _check_group_proposals(
    lake: str | Path | Lake, found: GroupProposals, filters: Filters
) -> GroupProposals:
    """Return ``found`` with the catalog replay (``check_proposals``) run on every principal:
    a user's calls against its own proposal together with its groups'."""
    others = check_proposals(lake, found.others, filters)
    wanted = [p.principal for p in found.users if not p.replay_failures]
    if not wanted:
        return replace(found, others=tuple(others))
    with _connection(lake) as db:
        recorded = recorded_calls(db, replace(filters, principals=tuple(wanted)))
    documents_of = {p.principal: [d.document() for d in p.policies] for p in found.groups}
    users = []
    for proposal in found.users:
        calls = recorded.get(proposal.principal, ())
        if proposal.replay_failures or not calls:
            users.append(proposal)
            continue
        documents = [p.document() for p in proposal.policies]
        for group in found.groups_of.get(proposal.principal, ()):
            documents += documents_of.get(group, [])
        users.append(refuse_on_mismatch(proposal, check_catalog(documents, calls)))
    return replace(found, users=tuple(users), others=tuple(others))


# --- verify --------------------------------------------------------------------------------------


@reads_lake
def verify(
    policies: str | Path | Sequence[Mapping[str, Any]],
    *,
    lake: str | Path | Lake,
    principal: str | None = None,
    start: Moment = None,
    end: Moment = None,
    days: Days = None,
) -> Verdict:
    """Return the replay of ``principal``'s calls in the window against ``policies`` (a JSON file,
    or documents): every call that passed authorization, in its own request context, and the
    ones the policies would refuse.

    ``principal`` may be left out when the file is a proposal, which names its principal. Raises
    ``NothingMatched`` when the principal made no authorized call in the window: a replay of
    nothing proves nothing, and a misspelled ARN must not read as "all allowed".
    """
    documents, principal = _documents_to_verify(policies, principal)
    wanted = condition_keys(documents)
    columns = [*CONTEXT_COLUMNS, *(["event_time"] if wanted & TIME_KEYS else [])]
    with _connection(lake) as db:
        filters = usage_filters(db, start=start, end=end, days=days, principals=[principal])
        rows = query_rows(db, verify_sql.authorized_calls_sql(filters, columns))
        if not rows:
            raise NothingMatched(_nothing_to_verify(db, principal, filters))
        recorded = recorded_calls(db, filters).get(principal, [])
        covered = window_of(db, filters)
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
    return replace(verdict, mismatches=check_catalog(documents, recorded), window=covered)


def _documents_to_verify(
    policies: str | Path | Sequence[Mapping[str, Any]], principal: str | None
) -> tuple[list[dict[str, Any]], str]:
    """Return the policy documents to replay against, and whose calls: ``principal``, else the
    one a proposal file names."""
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
            "name the principal whose calls are replayed (principal=ARN); the policy file "
            "does not name one (a proposal's proposal.json does)"
        )
    return documents, principal


def _nothing_to_verify(db: duckdb.DuckDBPyConnection, principal: str, filters: Filters) -> str:
    """Return why there is nothing to replay: which principals the window does have, the
    closest to ``principal`` first, or that all its calls were refused."""
    counts = dict(db.sql(verify_sql.principal_calls_sql(filters)).fetchall())
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
    lake: str | Path | Lake,
    *,
    split: float = 2 / 3,
    split_at: Moment = None,
    options: GenerateOptions | None = None,
    details: AuthorizationDetails | None = None,
    rewrite: Callable[[Proposal], Proposal] | None = None,
    **filters: Unpack[CallFilters],
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
    with _connection(lake) as db:
        asked = usage_filters(db, **filters)
        first, cut, last = _split_window(db, _path(lake), asked, split, split_at)
        whole = replace(asked, start=first, end=last)
        later = replace(asked, start=cut, end=last)
        later_calls = later_calls_from_rows(query_rows(db, backtest_sql.later_calls_sql(later)))
        touched = touched_from_rows(query_rows(db, backtest_sql.resources_sql(whole)))
        people = _humans(db, whole)
    earlier_calls = usage(
        lake,
        start=first,
        end=cut,
        accounts=filters.get("accounts"),
        regions=filters.get("regions"),
        principals=filters.get("principals"),
    )
    used = used_from_frame(earlier_calls)
    earlier = replace(asked, start=first, end=cut)
    proposals = check_proposals(
        lake, generate_policies(used, options, window=(first, cut)), earlier
    )
    if rewrite is not None:
        proposals = [rewrite(p) if p.policies else p for p in proposals]
    held = {} if details is None else _held_actions(lake, details, (first, cut), used, proposals)
    results = [
        result_for(
            proposal,
            later_calls.get(proposal.principal, []),
            human=people.get(proposal.principal, False),
            held=held.get(proposal.principal),
            touched=touched,
        )
        for proposal in proposals
        if proposal.target is not None  # service-linked roles, AWS services, root: none proposed
    ]
    proposed = {p.principal for p in proposals}
    return Backtest(
        earlier=(first, cut),
        later=(cut, last),
        generalize=options.generalize,
        results=tuple(results),
        new_principals=tuple(sorted(p for p in later_calls if p not in proposed)),
    )


def _split_window(
    db: duckdb.DuckDBPyConnection,
    lake: Path,
    filters: Filters,
    split: float,
    split_at: Moment,
) -> tuple[datetime, datetime, datetime]:
    """Return the part of the window the lake holds (a 90-day window over 14 days of logs is
    split over the 14 days), as its first moment, the cut and its end (exclusive)."""
    oldest, newest = query_row(db, backtest_sql.bounds_sql(filters))
    if oldest is None:
        raise UsageError(
            f"{lake} holds no event in the window, principals, accounts and regions asked "
            "for: nothing to backtest; check the filters (trailmin principals lists who is "
            "in the lake)"
        )
    first = max(filters.start or oldest, oldest)
    last = min(filters.end or newest, newest) + timedelta(microseconds=1)
    cut = parse_time(split_at) if split_at is not None else first + (last - first) * split
    if cut is None or not first < cut < last:
        raise UsageError(
            f"the split {cut:%Y-%m-%d %H:%M} is not inside the window "
            f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"
        )
    return first, cut, last


def _humans(db: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, bool]:
    """Return whether each principal of the window is a person (``principals``' ``human``)."""
    kinds = query_arrow(db, principals_sql(filters)).select(["principal", "human"])
    return dict(zip(kinds["principal"].to_pylist(), kinds["human"].to_pylist(), strict=True))


def _held_actions(
    lake: str | Path | Lake,
    details: AuthorizationDetails,
    window: tuple[datetime, datetime],
    used: Sequence[Used],
    proposals: Sequence[Proposal],
) -> dict[str, tuple[int, int]]:
    """Return, per principal of ``details``, the actions it holds and how many of them its
    proposal drops (those the diff calls unused)."""
    report = diff(lake, details, start=window[0], end=window[1], used=used, proposals=proposals)
    return {d.principal: (d.granted, sum(len(u.unused) for u in d.unused)) for d in report.diffs}


# --- the diff ------------------------------------------------------------------------------------


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
        raise UsageError("give auth_file (a saved file) or from_aws=True (one of them)")
    if auth_file is not None:
        return parse_authorization_details(read_json(auth_file), str(auth_file))
    from trailmin.iam.fetch import fetch_authorization_details

    data = fetch_authorization_details(
        profile=profile, region=client_region, endpoint_url=endpoint_url
    )
    return parse_authorization_details(data, "IAM")


def credential_report(
    *,
    report_file: str | Path | None = None,
    from_aws: bool = False,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> str | None:
    """Return the IAM credential report's text for ``audit``: read from a saved file (its CSV, or
    the JSON of `aws iam get-credential-report`) and checked now, so that a bad file fails before
    any work; else generated and read from IAM (read-only) with ``from_aws``; else None."""
    if report_file is not None:
        source = Path(report_file)
        try:
            text = source.read_text()
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror}; check the path") from None
        checks.parse_credential_report(text, source=str(source))
        return text
    if from_aws:
        from trailmin.iam.fetch import fetch_credential_report

        return fetch_credential_report(profile=profile, endpoint_url=endpoint_url)
    return None


def password_policy(
    *,
    policy_file: str | Path | None = None,
    from_aws: bool = False,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> dict[str, Any] | None:
    """Return the account password policy for ``audit``: from a saved file
    (``read_password_policy``), else read from IAM (``GetAccountPasswordPolicy``, read-only)
    with ``from_aws``, else None (not checked). ``{}``: the account has none."""
    if policy_file is not None:
        return read_password_policy(policy_file)
    if from_aws:
        from trailmin.iam.fetch import fetch_password_policy

        return fetch_password_policy(profile=profile, endpoint_url=endpoint_url)
    return None


def read_password_policy(path: str | Path) -> dict[str, Any]:
    """Return the account password policy saved by ``aws iam get-account-password-policy``
    (``{}`` when the file says there is none), for ``audit``."""
    source = Path(path)
    try:
        text = source.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}; check the path") from None
    return checks.parse_password_policy(text, source=str(source))


def usage_sql(
    lake: str | Path | Lake,
    kind: str = "usage",
    *,
    dialect: str = "duckdb",
    **filters: Unpack[FilterOptions],
) -> str:
    """Return the SQL of the ``usage``, ``principals`` or ``services`` table with these filters
    (the window resolved against ``lake``), for DuckDB or Trino (Athena) to run elsewhere."""
    builders = {"usage": usage_table_sql, "principals": principals_sql, "services": services_sql}
    if kind not in builders:
        raise UsageError(f"kind {kind!r} is not one of {', '.join(builders)}")
    with _connection(lake) as db:
        resolved = usage_filters(db, **filters)
    return builders[kind](resolved, dialect_named(dialect))


def propose(
    config: str | Path | JobConfig, *, on_progress: Callable[[str], None] | None = None
) -> JobSummary:
    """Run the scheduled job of ``config`` (its TOML file, or checked values): ingest what is new,
    propose, diff, backtest, answer the checklist, and write only what changed."""
    from trailmin.job import config as configuration
    from trailmin.job import propose as job  # the job runs the stages through this API

    settings = (
        config if isinstance(config, configuration.Config) else configuration.load_config(config)
    )
    return job.propose(settings, on_progress=on_progress)


def run(
    sources: Sequence[str | Path],
    *,
    lake: str | Path,
    out: str | Path,
    auth_file: str | Path | None = None,
    from_aws: bool = False,
    logs_only: bool = False,
    credential_report: str | Path | None = None,
    days: Days = None,
    formats: Sequence[str] = ("json", "terraform"),
    on_progress: Callable[[str], None] | None = None,
) -> JobSummary:
    """Go from logs to proposals in one batch run: the scheduled job without a TOML file, its
    state kept in ``out``."""
    from trailmin.job.config import Config

    folder = Path(out)
    settings = Config(
        sources=tuple(str(s) for s in sources),
        lake=Path(lake),
        out=folder,
        state=folder / ".trailmin-state.json",
        days=days,
        auth_file=None if auth_file is None else Path(auth_file),
        from_aws=from_aws,
        logs_only=logs_only,
        credential_report=None if credential_report is None else Path(credential_report),
        formats=tuple(formats),
    )
    return propose(settings, on_progress=on_progress)


@reads_lake
def diff(
    lake: str | Path | Lake,
    details: AuthorizationDetails,
    *,
    start: Moment = None,
    end: Moment = None,
    days: Days = None,
    principals: Sequence[str] | None = None,
    scps: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]] | None = None,
    used: Sequence[Used] | None = None,
    proposals: Sequence[Proposal] | None = None,
    access_advisor: str | Path | Mapping[str, AccessAdvisor] | None = None,
    with_trust: bool = True,
) -> DiffReport:
    """Return, per user and role, what it holds against what it used in the window, and (unless
    not ``with_trust``) each role's trust policy against who assumed it (``trust``).

    ``scps`` maps an account id to its SCPs, one list of policies per level (root, each OU, the
    account), as ``read_scps`` reads them: an action counts as granted only if every level allows
    it. ``used`` and ``proposals``, when the caller has them already, spare reading the usage
    again and generating again. ``access_advisor`` is a file mapping user and role ARNs to the
    saved output of `aws iam get-service-last-accessed-details` (or those reports, read):
    granted services the window shows unused but Access Advisor saw attempted at or after its
    start are kept, with the reason (``trailmin.iam.access_advisor``).
    """
    advisor = (
        _read_access_advisor(access_advisor)
        if isinstance(access_advisor, (str, Path))
        else access_advisor
    )
    covered = None
    if used is None:
        frame = usage(lake, start=start, end=end, days=days, principals=principals)
        used = used_from_frame(frame)
        covered = frame.attrs["window"]
    with _connection(lake) as db:
        sources = db.sql(overview.EVENT_SOURCES_SQL).fetchall()
        regions = [r for (r,) in db.sql(overview.REGIONS_SQL).fetchall()] if advisor else None
        if advisor and covered is None:
            # The usage came from the caller: Access Advisor is compared with its window.
            asked = usage_filters(db, start=start, end=end, days=days, principals=principals)
            covered = window_of(db, asked)
    report = diff_report(
        details,
        used,
        generate_policies(used) if proposals is None else proposals,
        event_sources=sources,
        principals=filter_values(principals, "principals"),
        scps=scps,
        window=covered,
        access_advisor=advisor,
        regions=regions,
    )
    if with_trust:
        report.trust = trust(lake, details, start=start, end=end, days=days, principals=principals)
    return report


def _read_access_advisor(path: str | Path) -> dict[str, AccessAdvisor]:
    """Return the Access Advisor reports in a file, or a UsageError naming it and the fix."""
    source = Path(path)
    try:
        with source.open("rb") as fp:
            return read_access_advisor(fp, source=str(source))
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}; check the path") from None


@reads_lake
def trust(
    lake: str | Path | Lake,
    details: AuthorizationDetails | None = None,
    *,
    source_account: bool = False,
    **filters: Unpack[CallFilters],
) -> TrustReport:
    """Return, per role assumed in the window, who assumed it (principals, accounts, services,
    identity providers and their subjects), a proposed trust policy that allows exactly them,
    replay-checked; with ``details``, also today's trust policy of every role they hold, the
    diff against it and the findings on its shape (``trailmin.iam.trust``). ``principals``
    select the roles (ARNs or globs), not their callers. ``source_account``: services that AWS
    documents to send ``aws:SourceAccount`` are trusted for the role's own account only (a
    reported rule; CloudTrail does not record the value)."""
    with _connection(lake) as db:
        chosen = usage_filters(db, **filters)
        covered = window_of(db, chosen)
        rows = query_rows(db, trust_sql.assumptions_sql(chosen))
        ids = trust_checks.unique_ids(rows)
        known = {
            row["unique_id"]: row["principal_arn"]
            for row in (query_rows(db, trust_sql.callers_by_id_sql(ids)) if ids else [])
        }
        accounts = {row[0] for row in db.sql(overview.ACCOUNTS_SQL).fetchall() if row[0]}
    policies: dict[str, Mapping[str, Any] | None] = {}
    if details is not None:
        wanted = principal_matcher(filter_values(chosen.principals, "principals"))
        for holding in details.principals.values():
            if holding.unique_id:
                known.setdefault(holding.unique_id, holding.arn)
            accounts.add(holding.arn.split(":")[4])
            if holding.kind == "role" and wanted(holding.arn):
                policies[holding.arn] = holding.trust
    assumptions, unread = trust_checks.assumptions_of(rows, known)
    return trust_checks.trust_report(
        assumptions,
        policies,
        known_accounts=accounts,
        window=covered,
        notes=unread,
        source_account=source_account,
    )


@dataclass(frozen=True, slots=True)
class TrustCheck:
    """A trust policy replayed against the observed assumptions of a role."""

    role: str
    policy_file: str
    assumptions: int  # distinct observed (allowed) assumptions replayed
    calls: int
    refusals: tuple[trust_checks.TrustRefusal, ...]
    window: Window | None = None

    @property
    def passed(self) -> bool:
        """Return whether every observed assumption is still allowed."""
        return not self.refusals

    def to_dict(self) -> dict[str, Any]:
        """Return the check as JSON-ready values."""
        return {
            "role": self.role,
            "policy_file": self.policy_file,
            "assumptions": self.assumptions,
            "calls": self.calls,
            "passed": self.passed,
            "refused": [r.to_dict() for r in self.refusals],
            "window": None if self.window is None else self.window.to_dict(),
        }


@reads_lake
def verify_trust(
    policy_file: str | Path,
    lake: str | Path | Lake,
    role: str,
    details: AuthorizationDetails | None = None,
    **filters: Unpack[CallFilters],
) -> TrustCheck:
    """Replay ``role``'s observed assumptions of the window against the trust policy in
    ``policy_file`` (a trust policy document, or a ``trust-policy.json`` trailmin wrote) and
    return those it refuses, each caller once. A condition on a key the records cannot tell
    (``SAML:aud``, ``aws:SourceAccount``) counts against the policy and the refusal names the
    key, unless ``details`` show today's trust policy with that condition alike: it let these
    very calls in. A role that nobody assumed in the window is a ``NothingMatched`` error naming
    the roles that were."""
    document = trust_checks.trust_document(read_json(policy_file), str(policy_file))
    only: CallFilters = {**filters, "principals": [role]}
    report = trust(lake, details, **only)
    item = report.role(role)
    allowed = [a for a in (item.assumptions if item else ()) if not a.refused]
    if not allowed:
        assumed = sorted({r.role for r in trust(lake, **filters).roles if r.assumptions})
        closest = difflib.get_close_matches(role, assumed, n=3, cutoff=0.0)
        raise NothingMatched(
            f"{role} was not assumed in the window{_window_words(report.window)}, so there is "
            "nothing to replay"
            + (f". Roles assumed in it, closest first: {'; '.join(closest)}" if closest else "")
        )
    carried = item.proposal.carried if item is not None else ()
    return TrustCheck(
        role,
        str(policy_file),
        len(allowed),
        sum(a.calls for a in allowed),
        tuple(trust_checks.check_trust(document, allowed, carried=carried)),
        report.window,
    )


def _window_words(covered: Window | None) -> str:
    if covered is None or covered.start is None or covered.end is None:
        return ""
    return f" ({covered.start:%Y-%m-%d %H:%M} UTC to {covered.end:%Y-%m-%d %H:%M} UTC)"


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
    lake: str | Path | Lake,
    *,
    details: AuthorizationDetails | None = None,
    credential_report: str | None = None,
    days: Days = None,
    recent_days: int = 7,
    max_key_age_days: int = 90,
    now: datetime | None = None,
    proposals: Sequence[Proposal] | None = None,
    password_policy: Mapping[str, Any] | None = None,
) -> Audit:
    """Return the IAM checklist's findings for the lake's last ``days`` days (the window of
    every command: 90 by default, ``"all"`` for every event).

    ``details`` (authorization details) adds unused principals and roles never used, unused
    policies and empty groups, users' own policies, full-administrator and service-wide grants
    (with how much of them their holders used in the window), AWS-managed policies and the
    risky shapes of trust policies (``trailmin.iam.trust.trust_findings``);
    ``credential_report`` (GetCredentialReport's CSV, or the CLI's JSON of it) adds the MFA of
    passwords and root, and old or unused keys, as of ``now`` (default: the present). Unusual
    activity compares each principal's last ``recent_days`` with its events before them.
    ``password_policy`` (``read_password_policy``; ``{}`` for an account without one) adds the
    password policy against the CIS values. Each finding names the Security Hub controls and
    CIS AWS Foundations Benchmark recommendations it answers (``Finding.controls``).
    """
    moment = now or datetime.now(UTC)
    report = (
        checks.parse_credential_report(credential_report) if credential_report is not None else None
    )
    with _connection(lake) as db:
        oldest, newest = query_row(db, overview.BOUNDS_SQL)
        if newest is None:
            return Audit([], ["the lake holds no event"])
        filters = usage_filters(db, days=days)
        covered = window_of(db, filters)
        bounds = checks.audit_window(filters, oldest, newest, recent_days)
        checked = [_event_checks(db, bounds.start), _unusual_checks(db, bounds)]
        active = _active(db, bounds.start)
        accounts = {row[0] for row in db.sql(overview.ACCOUNTS_SQL).fetchall() if row[0]}
    checked.append(checks.credential_findings(report, moment, max_key_age_days, bounds.days))
    if details is not None:
        checked.append((_trust_findings(details, accounts), []))
    checked.append(
        _details_checks(lake, details, bounds, oldest, active, report, proposals, now=moment)
    )
    if password_policy is None:
        checked.append(
            ([], ["no password policy given: its length, reuse and expiry are not checked"])
        )
    else:
        checked.append((checks.password_policy_findings(password_policy), []))
    found = [finding for findings, _ in checked for finding in findings]
    notes = [note for _, step_notes in checked for note in step_notes]
    return Audit(checks.sort_findings(found), notes, window=covered)


def _trust_findings(details: AuthorizationDetails, accounts: set[str]) -> list[Finding]:
    """Return the findings on the shape of every role's trust policy in ``details``: trusting
    anyone, an OIDC provider without its subject or audience, a third party without an external
    id (``trailmin.iam.trust.trust_findings``); the lake's and the details' accounts are not
    third parties."""
    known = accounts | {h.arn.split(":")[4] for h in details.principals.values()}
    return [
        finding
        for holding in details.principals.values()
        if holding.kind == "role"
        for finding in trust_checks.trust_findings(holding.arn, holding.trust, known)
    ]


def _event_checks(db: duckdb.DuckDBPyConnection, start: datetime) -> Checked:
    """Return the findings of the checks on the window's events (root's own calls and its
    AssumeRoot sessions, console sign-ins without MFA, long-term keys in use, users' credentials
    used from two places at once), and a note of the sign-ins not judged."""
    found = checks.root_usage(query_rows(db, audit_sql.root_calls_sql(start)))
    found += checks.console_without_mfa(query_rows(db, audit_sql.signins_without_mfa_sql(start)))
    found += checks.long_term_keys(query_rows(db, audit_sql.long_term_keys_sql(start)))
    found += checks.shared_identities(query_rows(db, audit_sql.shared_sessions_sql(start)))
    (unknown_mfa,) = query_row(db, audit_sql.signins_unknown_mfa_sql(start))
    if not unknown_mfa:
        return found, []
    return found, [
        f"{unknown_mfa:,} console sign-in(s) of users or root do not say whether MFA was "
        "used (no MFAUsed): not judged"
    ]


def _unusual_checks(db: duckdb.DuckDBPyConnection, window: AuditWindow) -> Checked:
    """Return the findings of unusual activity: each principal's recent days against its
    baseline before them."""
    firsts = query_rows(db, audit_sql.firsts_sql(window.start, window.recent))
    denied = query_rows(db, audit_sql.refusals_sql(window.start, window.recent))
    return checks.unusual_findings(firsts, denied, window)


def _active(db: duckdb.DuckDBPyConnection, start: datetime) -> set[str]:
    """Return the ARNs and unique IDs of the principals active in the window, the roles assumed
    included."""
    rows = query_rows(db, audit_sql.active_sql(start))
    return {str(v) for row in rows for v in row.values() if v}


def _details_checks(
    lake: str | Path | Lake,
    details: AuthorizationDetails | None,
    window: AuditWindow,
    oldest: datetime,
    active: set[str],
    report: list[dict[str, str]] | None,
    proposals: Sequence[Proposal] | None,
    *,
    now: datetime,
) -> Checked:
    """Return the findings of the checks on the authorization details as of ``now`` (unused
    principals and roles, policies and groups, users' own policies, broad grants with the
    actions their holders used in the window, AWS-managed policies), or a note that there are
    none."""
    if details is None:
        return [], [
            "no authorization details: unused principals, policies and groups, users' own "
            "policies, broad grants and AWS-managed policies are not checked"
        ]
    found, notes = checks.unused_principal_findings(
        details, window, oldest, active, report, now=now
    )
    holders = sorted({p for g in checks.broad_grants(details) for p, _ in g.holders})
    used = (
        checks.actions_used(
            usage(lake, start=window.start, end=window.end, principals=holders).to_dict("records")
        )
        if holders
        else {}
    )
    found += checks.details_findings(details, now=now, used=used)
    found += _aws_managed_findings(lake, details, (window.start, window.end), proposals)
    return found, notes


def _aws_managed_findings(
    lake: str | Path | Lake,
    details: AuthorizationDetails,
    window: tuple[datetime, datetime],
    proposals: Sequence[Proposal] | None,
) -> list[Finding]:
    """Check 7: for each AWS-managed policy a principal holds, the actions it grants against
    those of them the principal's proposal keeps."""
    attached = checks.aws_managed_attached(details)
    if not attached:
        return []
    if proposals is None:
        proposals = generate(
            lake,
            start=window[0],
            end=window[1],
            principals=sorted({arn for arn, _, _ in attached}),
        )
    return checks.aws_managed_findings(attached, proposals)


# --- the lake ------------------------------------------------------------------------------------


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
def lake_info(lake: str | Path | Lake) -> LakeInfo:
    """Return what ``lake`` holds, from its manifest and one scan of the data."""
    the_lake = Store.open(_path(lake))
    stats = the_lake.stats()
    committed = set(the_lake.committed_paths())
    uncommitted = sum(
        1
        for p in the_lake.iter_data_files()
        if p.relative_to(the_lake.path).as_posix() not in committed
    )
    with _connection(lake) as db:
        principals, first, last = query_row(db, overview.PRINCIPALS_AND_BOUNDS_SQL)
        accounts = [r[0] for r in db.sql(overview.ACCOUNTS_SQL).fetchall()]
        regions = [r[0] for r in db.sql(overview.REGIONS_SQL).fetchall()]
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


def remap(lake: str | Path) -> RemapSummary:
    """Return what was rewritten after filling ``permissions`` again with today's mapping.

    Only files filled by another mapping version are rewritten, from their stored columns (the
    sources are not read again); as in compaction, each partition's files are swapped in one
    manifest transaction and one rename of its folder (``trailmin.lake.maintenance``).
    """
    return maintenance.remap(lake, version=mapping_version(), refill=refill_permissions)
