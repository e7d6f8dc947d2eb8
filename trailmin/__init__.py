"""trailmin: least-privilege IAM policies from what CloudTrail saw principals do.

The library surface, for scripts and notebooks::

    import trailmin
    trailmin.ingest(["s3://bucket/AWSLogs/"], lake="lake/")
    events = trailmin.read_events("lake/", start="2026-10-01")
    lake = trailmin.Lake("lake/")  # the same questions as methods, for notebooks
    lake.usage(days=90, principals=["arn:aws:iam::*:role/app-*"])

Names are imported on first use, so that ``import trailmin`` (and each ingest worker process)
does not pay for pandas and DuckDB until they are needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trailmin.api import (
        CompactSummary,
        DiffReport,
        IngestSummary,
        LakeInfo,
        Progress,
        authorization_details,
        backtest,
        compact,
        connect,
        diff,
        generate,
        ingest,
        lake_info,
        mapping_report,
        parse_time,
        principals,
        read_events,
        read_scps,
        remap,
        services,
        usage,
        verify,
        window,
        write_proposals,
    )
    from trailmin.errors import (
        CredentialsError,
        LakeError,
        NothingMatched,
        SourceError,
        TrailminError,
        UsageError,
    )
    from trailmin.explore import Lake
    from trailmin.queries import DEFAULT_DAYS, Window
    from trailmin.records import EVENT_SCHEMA

__version__ = "0.1.0"

_EXPORTS = {
    "CompactSummary": "trailmin.api",
    "IngestSummary": "trailmin.api",
    "LakeInfo": "trailmin.api",
    "Progress": "trailmin.api",
    "compact": "trailmin.api",
    "connect": "trailmin.api",
    "DiffReport": "trailmin.api",
    "audit": "trailmin.api",
    "authorization_details": "trailmin.api",
    "diff": "trailmin.api",
    "read_scps": "trailmin.api",
    "generate": "trailmin.api",
    "write_proposals": "trailmin.api",
    "verify": "trailmin.api",
    "backtest": "trailmin.api",
    "ingest": "trailmin.api",
    "lake_info": "trailmin.api",
    "mapping_report": "trailmin.api",
    "parse_time": "trailmin.api",
    "principals": "trailmin.api",
    "read_events": "trailmin.api",
    "remap": "trailmin.api",
    "services": "trailmin.api",
    "usage": "trailmin.api",
    "window": "trailmin.api",
    "DEFAULT_DAYS": "trailmin.queries",
    "Window": "trailmin.queries",
    "TrailminError": "trailmin.errors",
    "CredentialsError": "trailmin.errors",
    "LakeError": "trailmin.errors",
    "NothingMatched": "trailmin.errors",
    "SourceError": "trailmin.errors",
    "UsageError": "trailmin.errors",
    "Lake": "trailmin.explore",
    "EVENT_SCHEMA": "trailmin.records",
}

__all__ = [
    "DEFAULT_DAYS",
    "EVENT_SCHEMA",
    "CompactSummary",
    "CredentialsError",
    "DiffReport",
    "IngestSummary",
    "Lake",
    "LakeError",
    "LakeInfo",
    "NothingMatched",
    "Progress",
    "SourceError",
    "TrailminError",
    "UsageError",
    "Window",
    "__version__",
    "audit",
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
    "read_scps",
    "remap",
    "services",
    "usage",
    "verify",
    "window",
    "write_proposals",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trailmin' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
