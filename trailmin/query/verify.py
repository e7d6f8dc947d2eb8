"""The calls a replay checks policies against, as SQL text (DuckDB): ``trailmin.verify``'s
authorized calls in their request context, the catalog replay's recorded calls
(``trailmin.policy.catalog_replay``), and who else the window holds when a principal has none.

Pure: writes SQL, runs none. Only calls that passed authorization are replayed: those needed
the permission; a refused call is evidence that something was asked for, never a grant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from trailmin.query.sql import DUCKDB, Filters, authorized_condition, event_conditions, where_clause


def _authorized(filters: Filters) -> str:
    return " AND ".join([*event_conditions(filters, DUCKDB), f"({authorized_condition()})"])


def authorized_calls_sql(filters: Filters, columns: Sequence[str]) -> str:
    """Return the SQL of the window's authorized calls: a row per request context (the event
    ``columns``) and permission it needed, with ``calls`` and ``last_seen``."""
    context = ", ".join(f"e.{c}" for c in columns)
    return (
        f"SELECT {context}, p.action, p.resource, count(*) AS calls, "
        f"max(e.event_time) AS last_seen FROM events AS e "
        f"CROSS JOIN {DUCKDB.permissions_of('e.permissions')} "
        f"WHERE {_authorized(filters)} GROUP BY ALL ORDER BY p.action, p.resource"
    )


def recorded_calls_sql(filters: Filters) -> str:
    """Return the SQL of the window's authorized calls as recorded: a row per principal, action
    needed, region, account, request and logged ARNs, with ``calls``."""
    return (
        "SELECT e.principal_arn AS principal, a.action, e.aws_region AS region, "
        "coalesce(e.recipient_account_id, e.principal_account_id) AS account, "
        "e.request_parameters AS params, list_transform(e.resources, lambda r: r.arn) AS logged, "
        "count(*) AS calls FROM events AS e, "
        "UNNEST(list_distinct(list_transform(e.permissions, lambda p: p.action))) AS a(action) "
        f"WHERE {_authorized(filters)} GROUP BY ALL"
    )


def principal_calls_sql(filters: Filters) -> str:
    """Return the SQL of how many calls each principal made in the window, whichever principals
    ``filters`` name: (principal, count) a row."""
    conditions = event_conditions(replace(filters, principals=()), DUCKDB)
    return (
        f"SELECT e.principal_arn, count(*) FROM events AS e {where_clause(conditions)} GROUP BY ALL"
    )
