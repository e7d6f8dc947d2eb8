"""The mapping report's questions to the lake, as SQL text (DuckDB): the rows
``trailmin.mapping.report.build_report`` turns into the report.

Pure: writes SQL, runs none. Every record counts, those no principal made included.
"""

from __future__ import annotations

from trailmin.mapping.resources import Scope
from trailmin.query.sql import (
    DUCKDB,
    Filters,
    denied_condition,
    event_conditions,
    scope_sql,
    where_clause,
)


def _conditions(filters: Filters) -> list[str]:
    return event_conditions(filters, DUCKDB, principal_required=False)


def kinds_sql(filters: Filters) -> str:
    """Return the SQL of the event kinds: (source, name, type, count) a row."""
    return (
        "SELECT e.event_source, e.event_name, e.event_type, count(*) FROM events AS e "
        f"{where_clause(_conditions(filters))} GROUP BY ALL"
    )


def denials_sql(filters: Filters) -> str:
    """Return the SQL of the calls authorization refused: (source, name, error code, error
    message, event id) a row."""
    conditions = [*_conditions(filters), denied_condition("e.error_code")]
    return (
        "SELECT e.event_source, e.event_name, e.error_code, e.error_message, e.event_id "
        f"FROM events AS e {where_clause(conditions)}"
    )


def scoping_sql(filters: Filters) -> str:
    """Return the SQL of how many resource-taking permissions of each kind were scoped and how
    many were not: (source, name, type, scoped, unscoped) a row."""
    scope = scope_sql("p.derivation")
    return (
        "SELECT event_source, event_name, event_type, "
        f"count(*) FILTER (WHERE {scope} <> '{Scope.UNSCOPED}'), "
        f"count(*) FILTER (WHERE {scope} = '{Scope.UNSCOPED}') "
        "FROM (SELECT e.event_source, e.event_name, e.event_type, unnest(e.permissions) AS p "
        f"FROM events AS e {where_clause(_conditions(filters))}) "
        f"WHERE {scope} <> '{Scope.NO_RESOURCE_TYPE}' GROUP BY ALL"
    )
