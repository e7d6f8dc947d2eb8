"""``trailmin.Lake``: one lake, its questions as methods, for notebooks and scripts.

A thin layer over ``trailmin.api``: each method calls the function of the same name with this
lake and returns what it returns (pandas DataFrames with tz-aware UTC times, categoricals for the
columns that repeat)::

    import trailmin
    with trailmin.Lake("lake/") as lake:
        lake.ingest(["sample_logs/"])
        lake.principals(days=30).head()
        lake.usage(principals=["arn:aws:iam::*:role/app-*"], services=["s3"])

Like every command, each reads the last 90 days up to the newest event unless given ``days``
(``days="all"`` for every event) or ``start``/``end``; ``.attrs["window"]`` of a returned frame
says the window and what fell outside it.

A ``Lake`` opens one DuckDB connection, on its first question, and asks every later question on
it; it opens another when the lake's snapshot has moved (an ingest, a compaction or a remap
committed since, here or in another process), so a question never reads files a compaction
retired. The functions of ``trailmin.api`` take a ``Lake`` in place of a path and use its
connection too: ``trailmin.backtest(lake)`` opens nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, Unpack

from trailmin import api
from trailmin.lake import duck

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from trailmin.mapping.report import MappingReport
    from trailmin.query.sql import FilterOptions, Window

Moment = str | date | datetime | None


class Lake:
    """An events lake, asked questions from Python over one DuckDB connection. Creating one
    reads nothing; ``close()`` (or leaving a ``with`` block) closes the connection, and a later
    question opens another."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: duckdb.DuckDBPyConnection | None = None
        self._snapshot: tuple[Path, ...] = ()

    def __repr__(self) -> str:
        return f"trailmin.Lake({str(self.path)!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def connection(self) -> duckdb.DuckDBPyConnection:
        """Return the DuckDB connection this lake's questions run on, its ``events`` view over
        the lake's snapshot: the one open, or a new one when none is or the snapshot has moved.

        The one before is closed then, with the tables and settings made on it: ask for the
        connection again rather than keeping it.
        """
        # Taken before connecting: should it move meanwhile, the next question opens again.
        current = duck.snapshot(self.path)
        if self._db is None or current != self._snapshot:
            self.close()
            self._db = duck.connect(self.path)
            self._snapshot = current
        return self._db

    def close(self) -> None:
        """Close the DuckDB connection, if open; a later question opens another."""
        db, self._db, self._snapshot = self._db, None, ()
        if db is not None:
            db.close()

    def ingest(self, sources: Sequence[str | Path], **options: Any) -> api.IngestSummary:
        """Return the summary of ingesting ``sources`` into this lake (see ``trailmin.ingest``);
        the next question reads what it added."""
        self.close()
        return api.ingest(sources, lake=self.path, **options)

    def info(self) -> api.LakeInfo:
        """Return what the lake holds (see ``trailmin.lake_info``)."""
        return api.lake_info(self)

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
            self,
            start=start,
            end=end,
            accounts=accounts,
            principals=principals,
            columns=columns,
            limit=limit,
        )

    def usage(self, **filters: Unpack[FilterOptions]) -> pd.DataFrame:
        """Return a row per (principal, action, resource) used (see ``trailmin.usage``)."""
        return api.usage(self, **filters)

    def principals(self, **filters: Unpack[FilterOptions]) -> pd.DataFrame:
        """Return a row per principal, busiest first (see ``trailmin.principals``)."""
        return api.principals(self, **filters)

    def services(self, **filters: Unpack[FilterOptions]) -> pd.DataFrame:
        """Return a row per IAM service, busiest first (see ``trailmin.services``)."""
        return api.services(self, **filters)

    def window(self, **filters: Unpack[FilterOptions]) -> Window:
        """Return the window these filters read and what fell outside it (see
        ``trailmin.window``); ``usage()`` and the others keep theirs in ``.attrs["window"]``."""
        return api.window(self, **filters)

    def mapping_report(self, *, start: Moment = None, end: Moment = None) -> MappingReport:
        """Return how the events map to IAM actions; ``.to_frame()`` gives its DataFrame."""
        return api.mapping_report(self, start=start, end=end)

    def sql(self, query: str) -> pd.DataFrame:
        """Return the result of a DuckDB query over the lake's ``events`` view."""
        return _sql(self, query)


@api.reads_lake
def _sql(lake: Lake, query: str) -> pd.DataFrame:
    frame: pd.DataFrame = api.query_arrow(lake.connection(), query).to_pandas()
    return frame
