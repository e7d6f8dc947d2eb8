"""The backtest's questions to the lake, as SQL text (DuckDB): the part of the window the lake
holds, the later calls a proposal is replayed on, and the resources its probes are drawn from
(``trailmin.policy.backtest``).

Pure: writes SQL, runs none.
"""

from __future__ import annotations

from trailmin.mapping.resources import Scope
from trailmin.query.sql import DUCKDB, Filters, authorized_condition, event_conditions, scope_sql


def bounds_sql(filters: Filters) -> str:
    """Return the SQL of the first and last event that ``filters`` select (one row)."""
    return (
        "SELECT min(e.event_time), max(e.event_time) FROM events AS e "
        f"WHERE {' AND '.join(event_conditions(filters, DUCKDB))}"
    )


def later_calls_sql(filters: Filters) -> str:
    """Return the SQL of the window's calls that passed authorization and needed a permission:
    a row per principal and set of (action, resource) ``permissions``, with ``calls``."""
    conditions = [
        *event_conditions(filters, DUCKDB),
        f"({authorized_condition()})",
        "len(e.permissions) > 0",
    ]
    return (
        "SELECT e.principal_arn AS principal, list_sort(list_distinct(list_transform("
        "e.permissions, lambda p: [p.action, p.resource]))) AS permissions, count(*) AS calls "
        f"FROM events AS e WHERE {' AND '.join(conditions)} GROUP BY ALL"
    )


def resources_sql(filters: Filters) -> str:
    """Return the SQL of the permissions the window's calls needed: a row per principal,
    action and resource, ``exact`` when the resource is an ARN the mapping did not derive as a
    pattern."""
    return (
        "SELECT e.principal_arn AS principal, p.action, p.resource, "
        f"p.resource <> '*' AND {scope_sql('p.derivation')} <> '{Scope.PATTERN}' "
        "AS exact "
        f"FROM events AS e CROSS JOIN {DUCKDB.permissions_of('e.permissions')} "
        f"WHERE {' AND '.join(event_conditions(filters, DUCKDB))} GROUP BY ALL"
    )
