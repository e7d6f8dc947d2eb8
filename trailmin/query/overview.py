"""What the lake holds at a glance, as SQL text (DuckDB): the time it spans, its principals,
accounts and regions, and the services whose events it holds.

Pure: writes SQL, runs none.
"""

from __future__ import annotations

# The newest event: where a window counted in days ends.
NEWEST_SQL = "SELECT max(event_time) FROM events"
# The oldest and the newest event.
BOUNDS_SQL = "SELECT min(event_time), max(event_time) FROM events"
# How many principals, and the oldest and the newest event (one row).
PRINCIPALS_AND_BOUNDS_SQL = (
    "SELECT count(DISTINCT principal_arn), min(event_time), max(event_time) FROM events"
)
ACCOUNTS_SQL = "SELECT DISTINCT account FROM events ORDER BY 1"
REGIONS_SQL = "SELECT DISTINCT aws_region FROM events WHERE aws_region IS NOT NULL ORDER BY 1"
# Each event source, and whether any of its events is a data event (not a management event).
EVENT_SOURCES_SQL = (
    "SELECT event_source, bool_or(NOT management_event) FROM events "
    "WHERE event_source IS NOT NULL GROUP BY ALL"
)
