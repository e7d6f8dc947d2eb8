"""``trailmin.Lake``: one lake, its questions as methods, for notebooks.

A thin layer over ``trailmin.api``: each method calls the function of the same name with this
lake and returns what it returns (pandas DataFrames with tz-aware UTC times, categoricals for the
columns that repeat)::

    import trailmin
    lake = trailmin.Lake("lake/")
    lake.ingest(["sample_logs/"])
    lake.principals(days=30).head()
    lake.usage(principals=["arn:aws:iam::*:role/app-*"], services=["s3"])

Like every command, each reads the last 90 days up to the newest event unless given ``days``
(``days="all"`` for every event) or ``start``/``end``; ``.attrs["window"]`` of a returned frame
says the window and what fell outside it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trailmin import api

if TYPE_CHECKING:
    import pandas as pd

    from trailmin.mapping.report import MappingReport
    from trailmin.query.sql import Days, Window

Moment = str | date | datetime | None


class Lake:
    """An events lake, asked questions from Python. Creating one reads nothing."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"trailmin.Lake({str(self.path)!r})"

    def ingest(self, sources: Sequence[str | Path], **options: Any) -> api.IngestSummary:
        """Return the summary of ingesting ``sources`` into this lake (see ``trailmin.ingest``)."""
        return api.ingest(sources, lake=self.path, **options)

    def info(self) -> api.LakeInfo:
        """Return what the lake holds (see ``trailmin.lake_info``)."""
        return api.lake_info(self.path)

    def events(
        self,
        *,
        start: Moment = None,
        end: Moment = None,
        accounts: Sequence[str] | None = None,
        principals: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Return the events, oldest first (see ``trailmin.read_events``)."""
        return api.read_events(
            self.path,
            start=start,
            end=end,
            accounts=accounts,
            principals=principals,
            columns=columns,
            limit=limit,
        )

    def usage(
        self,
        *,
        start: Moment = None,
        end: Moment = None,
        days: Days = None,
        accounts: Sequence[str] | None = None,
        regions: Sequence[str] | None = None,
        principals: Sequence[str] | None = None,
        services: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Return a row per (principal, action, resource) used (see ``trailmin.usage``)."""
        return api.usage(
            self.path,
            start=start,
            end=end,
            days=days,
            accounts=accounts,
            regions=regions,
            principals=principals,
            services=services,
        )

    def principals(
        self,
        *,
        start: Moment = None,
        end: Moment = None,
        days: Days = None,
        accounts: Sequence[str] | None = None,
        regions: Sequence[str] | None = None,
        principals: Sequence[str] | None = None,
        services: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Return a row per principal, busiest first (see ``trailmin.principals``)."""
        return api.principals(
            self.path,
            start=start,
            end=end,
            days=days,
            accounts=accounts,
            regions=regions,
            principals=principals,
            services=services,
        )

    def services(
        self,
        *,
        start: Moment = None,
        end: Moment = None,
        days: Days = None,
        accounts: Sequence[str] | None = None,
        regions: Sequence[str] | None = None,
        principals: Sequence[str] | None = None,
        services: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Return a row per IAM service, busiest first (see ``trailmin.services``)."""
        return api.services(
            self.path,
            start=start,
            end=end,
            days=days,
            accounts=accounts,
            regions=regions,
            principals=principals,
            services=services,
        )

    def window(
        self,
        *,
        start: Moment = None,
        end: Moment = None,
        days: Days = None,
        accounts: Sequence[str] | None = None,
        regions: Sequence[str] | None = None,
        principals: Sequence[str] | None = None,
        services: Sequence[str] | None = None,
    ) -> Window:
        """Return the window these filters read and what fell outside it (see
        ``trailmin.window``); ``usage()`` and the others keep theirs in ``.attrs["window"]``."""
        return api.window(
            self.path,
            start=start,
            end=end,
            days=days,
            accounts=accounts,
            regions=regions,
            principals=principals,
            services=services,
        )

    def mapping_report(self, *, start: Moment = None, end: Moment = None) -> MappingReport:
        """Return how the events map to IAM actions; ``.to_frame()`` gives its DataFrame."""
        return api.mapping_report(self.path, start=start, end=end)

    def sql(self, query: str) -> pd.DataFrame:
        """Return the result of a DuckDB query over the lake's ``events`` view."""
        return _sql(self.path, query)


@api.reads_lake
def _sql(lake: Path, query: str) -> pd.DataFrame:
    with contextlib.closing(api.connect(lake)) as db:
        frame: pd.DataFrame = api.query_arrow(db, query).to_pandas()
    return frame
