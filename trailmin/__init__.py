"""trailmin: least-privilege IAM policies from what CloudTrail saw principals do.

The library surface, for scripts and notebooks::

    import trailmin
    trailmin.ingest(["s3://bucket/AWSLogs/"], lake="lake/")
    events = trailmin.read_events("lake/", start="2026-10-01")
"""

from __future__ import annotations

from trailmin.api import (
    CompactSummary,
    IngestSummary,
    LakeInfo,
    Progress,
    compact,
    connect,
    ingest,
    lake_info,
    mapping_report,
    parse_time,
    read_events,
)
from trailmin.errors import TrailminError
from trailmin.lake import Lake
from trailmin.records import EVENT_SCHEMA

__version__ = "0.1.0"

__all__ = [
    "EVENT_SCHEMA",
    "CompactSummary",
    "IngestSummary",
    "Lake",
    "LakeInfo",
    "Progress",
    "TrailminError",
    "__version__",
    "compact",
    "connect",
    "ingest",
    "lake_info",
    "mapping_report",
    "parse_time",
    "read_events",
]
