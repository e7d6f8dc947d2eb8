"""Usage: who used which permission on which resource, as SQL over the events lake.

Pure: this module writes SQL text (and matches principal globs in Python by the rule its SQL
follows, for the callers that filter values rather than rows). The same queries run on DuckDB over
the local lake (``trailmin.api``) and on Amazon Athena (Trino) over the same Parquet in S3. They are
written in the SQL both engines share (``count(*) FILTER (WHERE …)``, ``array_agg(DISTINCT …)``,
``array_sort``, ``split_part``, ``LIKE … ESCAPE``, quoted identifiers), and a ``Dialect`` holds the
two things that differ:

- **unnesting** the ``permissions`` list: DuckDB gives each element as one struct column
  (``UNNEST(permissions) AS u(p)``); Trino spreads a row's fields into columns
  (``UNNEST(permissions) AS p(action, resource, derivation, inferred)``). Either way the query
  reads ``p.action``, ``p.resource``…;
- **a UTC timestamp literal**: ``TIMESTAMPTZ '…+00:00'`` in DuckDB, ``TIMESTAMP '… UTC'`` in
  Trino.

Values are written into the SQL as quoted literals (no bind parameters), so that the text can be
shown, stored and run anywhere as it is.

What counts: a call **succeeded** when it carries no error code; it was **denied** when its error
code says authorization refused it, and is an **error** when it failed otherwise. It was
**authorized** when it succeeded or failed only after authorization passed (``NoSuchKey``,
``BucketNotEmpty``…): those calls needed the permission. The codes are classified by
``mapping/data/error_codes.csv`` (``trailmin.mapping.outcomes``). A denied call is evidence that
something was asked for, never a grant.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal, TypedDict

from trailmin.errors import UsageError
from trailmin.mapping import outcomes
from trailmin.text.wording import counted


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the engines trailmin's SQL runs on."""

    name: str
    unnest_format: str  # a FROM item after which p.action, p.resource… are in scope
    timestamp_format: str  # a UTC timestamp literal, from a datetime formatted with strftime

    def permissions_of(self, column: str) -> str:
        """Return a FROM item giving each permission in ``column`` as ``p``."""
        return self.unnest_format.format(column=column)

    def timestamp(self, value: datetime) -> str:
        """Return ``value`` (aware) as a UTC timestamp literal."""
        return value.astimezone(UTC).strftime(self.timestamp_format)


DUCKDB = Dialect(
    name="duckdb",
    unnest_format="UNNEST({column}) AS u(p)",
    timestamp_format="TIMESTAMPTZ '%Y-%m-%d %H:%M:%S.%f+00:00'",
)
TRINO = Dialect(
    name="trino",
    unnest_format="UNNEST({column}) AS p(action, resource, derivation, inferred)",
    timestamp_format="TIMESTAMP '%Y-%m-%d %H:%M:%S.%f UTC'",
)
DIALECTS = {d.name: d for d in (DUCKDB, TRINO)}


def dialect_named(name: str) -> Dialect:
    """Return the dialect called ``name`` (duckdb or trino; athena is trino)."""
    found = DIALECTS.get("trino" if name.lower() == "athena" else name.lower())
    if found is None:
        raise UsageError(f"unknown SQL dialect {name!r}; use duckdb or trino (Athena)")
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    """What part of the lake a usage question is about. Empty means no restriction.

    ``start`` is inclusive and ``end`` exclusive. ``services`` are IAM service prefixes (``s3``,
    ``kms``), matched against the actions used. ``principals`` are exact ARNs or globs, matched
    against the principal's whole ARN, case-sensitively. This is trailmin's one rule for principal
    globs (``read_events``, ``usage``, ``principals``, ``services`` and ``diff`` all use it, in SQL
    through ``principal_condition`` and in Python through ``principal_matcher``):

    - ``*`` matches any run of characters, empty or not, ``/`` and ``:`` included;
    - ``?`` matches exactly one character;
    - every other character matches itself. ``[``, ``]``, ``%``, ``_`` and ``\\`` are literal, so
      ``user/[ab]*`` matches only names that begin with the text ``[ab]`` (IAM names hold no
      brackets), not alice and bob; write ``user/a*`` and ``user/b*``.

    A pattern without ``*`` or ``?`` is an exact ARN.
    """

    start: datetime | None = None
    end: datetime | None = None
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    # How the window was chosen, for saying so: the last ``days`` days up to the newest event
    # (``default``: nobody chose them, they are ``DEFAULT_DAYS``), else the dates given, else none.
    days: int | None = None
    default: bool = False

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise UsageError(f"{name} {value} has no time zone; give a UTC time")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise UsageError(
                f"end {self.end:%Y-%m-%d %H:%M} is not after start {self.start:%Y-%m-%d %H:%M}"
            )
        for service in self.services:
            if not service or not all(ch.isalnum() or ch == "-" for ch in service):
                raise UsageError(
                    f"{service!r} is not an IAM service prefix; use names such as s3 or kms"
                )


# The window every command reads unless told otherwise: the last 90 days up to the newest event
# of the lake (as IAM Access Analyzer's policy generation does). ``days="all"`` reads every event.
DEFAULT_DAYS = 90
ALL_DAYS = "all"
Days = int | Literal["all"] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """The time an output covers, and what of the lake fell outside it.

    The counts are of the events and principals the other filters (accounts, regions,
    principals, services) select: ``events`` inside the window, ``events_outside`` before or after
    it; ``principals_outside`` had events, none of them inside.
    """

    start: datetime | None
    end: datetime | None
    days: int | None
    default: bool
    events: int
    principals: int
    events_outside: int
    principals_outside: int
    first_event: datetime | None  # of the events the other filters select, inside or not
    last_event: datetime | None

    def span(self) -> str:
        """Return the window's bounds in words, "2026-07-21 00:05 to 2026-10-18 23:39 UTC"."""
        # Without a bound, the events' own; the end is exclusive (a microsecond after the newest
        # event when the window is counted in days).
        first = self.start or self.first_event
        last = self.end - timedelta(microseconds=1) if self.end else self.last_event
        if first is None or last is None:
            return "no event"
        first, last = first.astimezone(UTC), last.astimezone(UTC)
        return f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"

    def rule(self) -> str:
        """Return how the window was chosen, in words."""
        if self.days is not None:
            chosen = "the default" if self.default else "as asked"
            return f"the last {self.days} days up to the newest event ({chosen})"
        if self.start is None and self.end is None:
            return "every event"
        return "the dates asked for"

    def describe(self) -> str:
        """Return one sentence: the window, how it was chosen, and what fell outside it."""
        covered = (
            f"window: {self.rule()}, {self.span()}: {counted(self.events, 'event')} of "
            f"{counted(self.principals, 'principal')}"
        )
        return f"{covered}; {self.outside()}"

    def sentence(self) -> str:
        """Return ``describe()`` as a sentence of a report: capitalized, with a full stop."""
        described = self.describe()
        return described[:1].upper() + described[1:] + "."

    def outside(self) -> str:
        """Return what fell outside the window, in words."""
        if not self.events_outside:
            return "no event of the lake fell outside it"
        principals = (
            f", and {counted(self.principals_outside, 'principal')} with no event inside it"
            if self.principals_outside
            else ""
        )
        return f"{counted(self.events_outside, 'event')} fell outside it{principals}"

    def to_dict(self) -> dict[str, object]:
        """Return the window as JSON values (times in ISO 8601, UTC)."""

        def moment(value: datetime | None) -> str | None:
            return None if value is None else value.astimezone(UTC).isoformat()

        return {
            "start": moment(self.start),
            "end": moment(self.end),
            "days": self.days,
            "default": self.default,
            "rule": self.rule(),
            "events": self.events,
            "principals": self.principals,
            "events_outside": self.events_outside,
            "principals_outside": self.principals_outside,
            "first_event": moment(self.first_event),
            "last_event": moment(self.last_event),
        }


def window_sql(filters: Filters) -> str:
    """Return the SQL (DuckDB) counting the events and principals that the filters other than
    time select, inside the window and outside it; one row for ``Window``."""
    conditions = event_conditions(replace(filters, start=None, end=None), DUCKDB)
    if filters.services:
        matches = _service_condition(filters.services, "p.action")
        conditions.append(f"len(list_filter(e.permissions, lambda p: {matches})) > 0")
    inside = []
    if filters.start is not None:
        inside.append(f"e.event_time >= {DUCKDB.timestamp(filters.start)}")
    if filters.end is not None:
        inside.append(f"e.event_time < {DUCKDB.timestamp(filters.end)}")
    within = " AND ".join(inside) or "TRUE"
    return f"""SELECT
  count(*) FILTER (WHERE {within}) AS events,
  count(DISTINCT e.principal_arn) FILTER (WHERE {within}) AS principals,
  count(*) FILTER (WHERE NOT ({within})) AS events_outside,
  count(DISTINCT e.principal_arn) - count(DISTINCT e.principal_arn) FILTER (WHERE {within})
    AS principals_outside,
  min(e.event_time) AS first_event,
  max(e.event_time) AS last_event
FROM events AS e
{where_clause(conditions)}"""


def scope_sql(column: str) -> str:
    """Return the SQL (DuckDB and Trino alike) of the scope code a derivation ``column`` states,
    as ``trailmin.mapping.resources.scope_of`` reads it: ``[<status>; ]<scope>[: <why>]``."""
    return f"regexp_extract(split_part({column}, ': ', 1), '(?:.*; )?(.*)$', 1)"


def window_of_days(days: int, newest: datetime) -> tuple[datetime, datetime]:
    """Return the window of the ``days`` days up to and including the ``newest`` event."""
    if days < 1:
        raise UsageError("days must be at least 1")
    end = newest + timedelta(microseconds=1)
    return end - timedelta(days=days), end


# --- the filters asked for -----------------------------------------------------------------------

Moment = str | date | datetime | None


def parse_time(value: Moment, *, end: bool = False) -> datetime | None:
    """Return ``value`` as an aware UTC datetime (a bare date is midnight UTC); ``end`` says
    which bound it is, for the error."""
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
        bound = "end" if end else "start"
        raise UsageError(
            f"{bound} {value!r} is not a date or time; use 2026-10-05 or 2026-10-05T13:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def filter_values(values: str | Sequence[str] | None, name: str) -> tuple[str, ...]:
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


class CallFilters(TypedDict, total=False):
    """Which calls a question is about, by keyword, as one type: ``generate(lake, days=30,
    principals=["arn:aws:iam::*:role/app-*"])``. ``resolve_filters`` checks them into a
    ``Filters``.

    ``start`` is inclusive and ``end`` exclusive (UTC dates or times); ``days`` counts back
    from the newest event (``"all"``: no window; none of the three: the last 90 days); a string
    where a list is expected is one value.
    """

    start: Moment
    end: Moment
    days: Days
    accounts: Sequence[str] | None
    regions: Sequence[str] | None
    principals: Sequence[str] | None


class FilterOptions(CallFilters, total=False):
    """``CallFilters`` and the IAM services the usage tables are limited to (``services=["s3"]``).
    A proposal takes no service filter: a policy made from part of a principal's calls would
    refuse the rest."""

    services: Sequence[str] | None


def resolve_filters(
    *,
    start: Moment = None,
    end: Moment = None,
    days: Days = None,
    accounts: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    principals: Sequence[str] | None = None,
    services: Sequence[str] | None = None,
    newest: Callable[[], datetime | None],
) -> Filters:
    """Return the filters asked for, with ``days`` turned into a window ending at the lake's
    newest event (``newest()``, asked only then).

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
            raise UsageError('give either days="all" or start/end, not both')
        days = None
    elif days is not None:
        if isinstance(days, bool) or not isinstance(days, int):
            raise UsageError(f'days must be a number of days or "all", not {days!r}')
        if start_at is not None or end_at is not None:
            raise UsageError("give either days or start/end, not both")
        if days < 1:
            raise UsageError("days must be at least 1")
        last = newest()
        if last is not None:
            start_at, end_at = window_of_days(days, last)
    return Filters(
        start=start_at,
        end=end_at,
        days=days if start_at is not None else None,
        default=default and start_at is not None,
        accounts=filter_values(accounts, "accounts"),
        regions=filter_values(regions, "regions"),
        principals=filter_values(principals, "principals"),
        services=tuple(s.lower() for s in filter_values(services, "services")),
    )


# --- literals ------------------------------------------------------------------------------------


def quote(value: str) -> str:
    """Return ``value`` as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _strings(values: Sequence[str]) -> str:
    return ", ".join(quote(v) for v in values)


def like_pattern(glob: str) -> str:
    """Return a LIKE pattern (escape character ``\\``) matching what ``glob`` matches."""
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def is_glob(pattern: str) -> bool:
    """Return whether a principal ``pattern`` is a glob (holds ``*`` or ``?``), not an exact ARN."""
    return "*" in pattern or "?" in pattern


def principal_condition(patterns: Sequence[str], column: str) -> str:
    """Return the SQL condition (DuckDB and Trino alike) that ``column`` matches one of the
    principal ``patterns``, by the rule of ``Filters``: exact ARNs by equality, globs by
    ``LIKE … ESCAPE``."""
    exact = [p for p in patterns if not is_glob(p)]
    globs = [p for p in patterns if is_glob(p)]
    ors = [f"{column} IN ({_strings(exact)})"] if exact else []
    ors += [f"{column} LIKE {quote(like_pattern(g))} ESCAPE '\\'" for g in globs]
    return "(" + " OR ".join(ors) + ")"


def principal_matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """Return a function telling whether an ARN matches one of the principal ``patterns``, by
    the rule of ``Filters`` (the answers of ``principal_condition``); empty ``patterns`` match
    every ARN."""
    if not patterns:
        return lambda arn: True
    exact = frozenset(p for p in patterns if not is_glob(p))
    regexes = [_glob_regex(p) for p in patterns if is_glob(p)]
    return lambda arn: arn in exact or any(r.fullmatch(arn) for r in regexes)


def _glob_regex(glob: str) -> re.Pattern[str]:
    wild = {"*": ".*", "?": "."}
    return re.compile("".join(wild.get(ch) or re.escape(ch) for ch in glob), re.DOTALL)


def _service_condition(services: Sequence[str], column: str) -> str:
    ors = [f"{column} LIKE {quote(like_pattern(s.lower()) + ':%')} ESCAPE '\\'" for s in services]
    return "(" + " OR ".join(ors) + ")"


SUCCEEDED = "e.error_code IS NULL"


@functools.cache
def outcome_case() -> str:
    """Return a CASE expression giving each event's outcome number from its error code, by the
    rules of ``mapping/data/error_codes.csv`` (first match): 0 succeeded, 1 denied, 2 failed
    after authorization, 3 failed before it, 4 an error code the table does not know."""
    numbers = {outcomes.DENIED: 1, outcomes.AUTHORIZED: 2, outcomes.BEFORE: 3}
    whens = [
        f"WHEN e.error_code LIKE {quote(like_pattern(pattern))} ESCAPE '\\' THEN {numbers[outcome]}"
        for pattern, outcome, _ in outcomes.rules()
    ]
    return "CASE WHEN e.error_code IS NULL THEN 0 " + " ".join(whens) + " ELSE 4 END"


def denied_condition(column: str = "e.error_code") -> str:
    """Return the condition that an error code (``column``) means authorization refused."""
    return f"{column} IN ({_strings(sorted(outcomes.denied_codes()))})"


def _denied() -> str:
    return denied_condition()


def _failed() -> str:
    return f"e.error_code IS NOT NULL AND NOT {_denied()}"


def _authorized() -> str:
    return f"e.error_code IS NULL OR ({outcome_case()}) = 2"


def authorized_condition() -> str:
    """Return the condition on events (alias ``e``) that passed authorization: those that
    succeeded, and those that failed after it."""
    return _authorized()


# The time aggregated over: DuckDB's min/max over a TIMESTAMPTZ column is three times slower than
# over a plain TIMESTAMP when there are millions of groups (16 s against 5 s on 10 M events).
# The cast is exact in a session whose TimeZone is UTC (``trailmin.connect`` sets it), and a
# no-op on Athena, which reads the Parquet column as a timestamp already. Results are UTC.
TIME = "CAST(e.event_time AS TIMESTAMP)"


def event_conditions(
    filters: Filters, dialect: Dialect, *, principal_required: bool = True
) -> list[str]:
    """Return the WHERE conditions on the events (alias ``e``) that ``filters`` ask for: only
    events with a principal (a usage question's), or every record when not
    ``principal_required`` (``read_events``, the mapping report).

    The window is also put on the ``date`` partition column, so that DuckDB and Athena read only
    the partitions inside it.
    """
    found = ["e.principal_arn IS NOT NULL"] if principal_required else []
    if filters.start is not None:
        found.append(f"e.event_time >= {dialect.timestamp(filters.start)}")
        found.append(f"e.\"date\" >= DATE '{filters.start.astimezone(UTC):%Y-%m-%d}'")
    if filters.end is not None:
        found.append(f"e.event_time < {dialect.timestamp(filters.end)}")
        found.append(f"e.\"date\" <= DATE '{filters.end.astimezone(UTC):%Y-%m-%d}'")
    if filters.accounts:
        found.append(f"e.account IN ({_strings(filters.accounts)})")
    if filters.regions:
        found.append(f"e.aws_region IN ({_strings(filters.regions)})")
    if filters.principals:
        found.append(principal_condition(filters.principals, "e.principal_arn"))
    return found


def where_clause(conditions: Sequence[str]) -> str:
    """Return a WHERE clause of ``conditions`` (AND), or nothing when there are none."""
    return "WHERE " + "\n  AND ".join(conditions) if conditions else ""


# --- the queries ---------------------------------------------------------------------------------


def events_sql(filters: Filters, columns: Sequence[str], *, limit: int | None = None) -> str:
    """Return the SQL (DuckDB) of the records ``filters`` select, oldest first, with their
    ``columns``: every record, those no principal made included."""
    conditions = event_conditions(filters, DUCKDB, principal_required=False)
    sql = (
        f"SELECT {', '.join(columns)} FROM events AS e {where_clause(conditions)} "
        "ORDER BY event_time, event_id"
    )
    return sql if limit is None else f"{sql} LIMIT {int(limit)}"


USAGE_COLUMNS = (
    "principal",
    "principal_type",
    "service",
    "action",
    "resource",
    "calls",
    "succeeded",
    "denied",
    "errors",
    "authorized",
    "first_seen",
    "last_seen",
    "last_succeeded",
    "inferred",
    "derivation",
    "accounts",
    "regions",
)


def usage_sql(filters: Filters, dialect: Dialect = DUCKDB, *, table: str = "events") -> str:
    """Return the SQL of the usage table: a row per (principal, action, resource).

    ``calls`` counts the events that needed the permission, split into ``succeeded``, ``denied``
    and ``errors``; ``first_seen``/``last_seen`` span all of them and ``last_succeeded`` the
    successful ones. ``inferred`` is true when CloudTrail never logged the permission as a call
    of its own (iam:PassRole); ``derivation`` says how the resource was derived (exact, a
    pattern, unscoped, or no resource type). ``accounts`` and ``regions`` are where the calls
    were made.
    """
    conditions = event_conditions(filters, dialect)
    if filters.services:
        conditions.append(_service_condition(filters.services, "p.action"))
    return f"""SELECT
  e.principal_arn AS principal,
  min(e.principal_type) AS principal_type,
  split_part(p.action, ':', 1) AS service,
  p.action AS action,
  p.resource AS resource,
  count(*) AS calls,
  count(*) FILTER (WHERE {SUCCEEDED}) AS succeeded,
  count(*) FILTER (WHERE {_denied()}) AS denied,
  count(*) FILTER (WHERE {_failed()}) AS errors,
  count(*) FILTER (WHERE {_authorized()}) AS authorized,
  min({TIME}) AS first_seen,
  max({TIME}) AS last_seen,
  max({TIME}) FILTER (WHERE {SUCCEEDED}) AS last_succeeded,
  bool_and(p.inferred) AS inferred,
  min(p.derivation) AS derivation,
  array_sort(array_agg(DISTINCT e.account)) AS accounts,
  array_sort(array_agg(DISTINCT e.aws_region) FILTER (WHERE e.aws_region IS NOT NULL)) AS regions
FROM {table} AS e
CROSS JOIN {dialect.permissions_of("e.permissions")}
{where_clause(conditions)}
GROUP BY e.principal_arn, p.action, p.resource
ORDER BY principal, action, resource"""


PRINCIPAL_COLUMNS = (
    "principal",
    "principal_type",
    "human",
    "calls",
    "succeeded",
    "denied",
    "errors",
    "services",
    "actions",
    "resources",
    "service_list",
    "first_seen",
    "last_seen",
    "signed_in",
    "mfa",
    "access_keys",
    "accounts",
    "regions",
)

# Who is a person: the root user, an Identity Center or federated session, or an IAM user or a
# role that signed in to the console or worked with MFA. The rest (roles, users with keys only)
# are taken for workloads; AWS services and service-linked roles are neither.
_HUMAN = """CASE
    WHEN c.principal_type IN ('Root', 'IdentityCenterRole', 'FederatedUser', 'SAMLUser') THEN true
    WHEN c.principal_type IN ('AWSService', 'ServiceLinkedRole', 'AWSAccount') THEN false
    ELSE coalesce(c.signed_in OR c.mfa, false)
  END"""


def principals_sql(filters: Filters, dialect: Dialect = DUCKDB, *, table: str = "events") -> str:
    """Return the SQL of the per-principal summary: a row per principal, busiest first.

    ``calls`` counts every event of the principal in the window (sign-ins and calls needing no
    permission included); ``services``, ``actions`` and ``resources`` count the distinct
    permissions its calls needed. With ``services`` filters, only events that needed a
    permission of those services count.
    """
    conditions = event_conditions(filters, dialect)
    if filters.services:
        inner = _service_condition(filters.services, "p.action")
        conditions.append(
            f"EXISTS (SELECT 1 FROM {dialect.permissions_of('e.permissions')} WHERE {inner})"
        )
    used_conditions = [*conditions]
    if filters.services:
        used_conditions.append(_service_condition(filters.services, "p.action"))
    return f"""WITH calls AS (
  SELECT
    e.principal_arn AS principal,
    min(e.principal_type) AS principal_type,
    count(*) AS calls,
    count(*) FILTER (WHERE {SUCCEEDED}) AS succeeded,
    count(*) FILTER (WHERE {_denied()}) AS denied,
    count(*) FILTER (WHERE {_failed()}) AS errors,
    min({TIME}) AS first_seen,
    max({TIME}) AS last_seen,
    bool_or(e.event_name = 'ConsoleLogin' AND {SUCCEEDED}) AS signed_in,
    bool_or(e.mfa_authenticated) AS mfa,
    count(DISTINCT e.access_key_id) FILTER (WHERE e.access_key_id LIKE 'AKIA%') AS access_keys,
    array_sort(array_agg(DISTINCT e.account)) AS accounts,
    array_sort(array_agg(DISTINCT e.aws_region) FILTER (WHERE e.aws_region IS NOT NULL)) AS regions
  FROM {table} AS e
  {where_clause(conditions)}
  GROUP BY e.principal_arn
),
used AS (
  SELECT
    e.principal_arn AS principal,
    count(DISTINCT split_part(p.action, ':', 1)) AS services,
    count(DISTINCT p.action) AS actions,
    count(DISTINCT p.resource) FILTER (WHERE p.resource <> '*') AS resources,
    array_sort(array_agg(DISTINCT split_part(p.action, ':', 1))) AS service_list
  FROM {table} AS e
  CROSS JOIN {dialect.permissions_of("e.permissions")}
  {where_clause(used_conditions)}
  GROUP BY e.principal_arn
)
SELECT
  c.principal,
  c.principal_type,
  {_HUMAN} AS human,
  c.calls,
  c.succeeded,
  c.denied,
  c.errors,
  coalesce(u.services, 0) AS services,
  coalesce(u.actions, 0) AS actions,
  coalesce(u.resources, 0) AS resources,
  u.service_list,
  c.first_seen,
  c.last_seen,
  coalesce(c.signed_in, false) AS signed_in,
  coalesce(c.mfa, false) AS mfa,
  c.access_keys,
  c.accounts,
  c.regions
FROM calls AS c
LEFT JOIN used AS u ON u.principal = c.principal
ORDER BY c.calls DESC, c.principal"""


SERVICE_COLUMNS = (
    "service",
    "calls",
    "succeeded",
    "denied",
    "errors",
    "principals",
    "actions",
    "first_seen",
    "last_seen",
)


def services_sql(filters: Filters, dialect: Dialect = DUCKDB, *, table: str = "events") -> str:
    """Return the SQL of the per-service summary: a row per IAM service prefix, busiest first.

    An event counts once for each service whose permissions it needed (S3 ``CopyObject`` once
    for s3, however many s3 actions it needed).
    """
    conditions = event_conditions(filters, dialect)
    if filters.services:
        conditions.append(_service_condition(filters.services, "p.action"))
    return f"""WITH uses AS (
  SELECT
    e.event_id,
    split_part(p.action, ':', 1) AS service,
    min(e.principal_arn) AS principal,
    min({TIME}) AS event_time,
    min(e.error_code) AS error_code,
    array_agg(DISTINCT p.action) AS actions
  FROM {table} AS e
  CROSS JOIN {dialect.permissions_of("e.permissions")}
  {where_clause(conditions)}
  GROUP BY e.event_id, split_part(p.action, ':', 1)
),
actions AS (
  SELECT service, count(DISTINCT action) AS actions
  FROM uses CROSS JOIN UNNEST(uses.actions) AS a(action)
  GROUP BY service
)
SELECT
  e.service,
  count(*) AS calls,
  count(*) FILTER (WHERE {SUCCEEDED}) AS succeeded,
  count(*) FILTER (WHERE {_denied()}) AS denied,
  count(*) FILTER (WHERE {_failed()}) AS errors,
  count(DISTINCT e.principal) AS principals,
  min(a.actions) AS actions,
  min({TIME}) AS first_seen,
  max({TIME}) AS last_seen
FROM uses AS e
JOIN actions AS a ON a.service = e.service
GROUP BY e.service
ORDER BY calls DESC, e.service"""
