"""DuckDB over the lake: a connection whose ``events`` view is a snapshot of the committed
files (``snapshot`` says which, to tell when it moved), reads that start again when a writer
retired files of their snapshot, and query results as Arrow tables, rows or pandas DataFrames.

DuckDB and pandas are imported when first used: ingest needs neither.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import pyarrow as pa

from trailmin.errors import LakeError
from trailmin.lake.schema import EVENT_SCHEMA
from trailmin.lake.store import Store

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

# DuckDB would read ``account=012345678901`` as a number and drop the leading zero.
HIVE_TYPES = "{'account': 'VARCHAR', 'date': 'DATE'}"

# How many times a read starts again, over a fresh snapshot, when files it was reading were
# retired meanwhile (each compacted or remapped partition retires files).
READ_ATTEMPTS = 5

_Params = ParamSpec("_Params")
_Result = TypeVar("_Result")


def reads_lake(function: Callable[_Params, _Result]) -> Callable[_Params, _Result]:
    """Return ``function`` (which reads a lake through ``connect``) run again over a fresh
    snapshot when a writer retired a file of its snapshot while it ran (``trailmin.lake.store``).

    Its ``lake`` (first or keyword argument) is a path, or an object with the lake's ``path``
    (``trailmin.Lake``, which opens a fresh snapshot when the manifest's has moved).
    """

    @functools.wraps(function)
    def read(*args: _Params.args, **kwargs: _Params.kwargs) -> _Result:
        lake = kwargs.get("lake", args[0] if args else None)
        path = lake if isinstance(lake, (str, Path)) else getattr(lake, "path", None)
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                return function(*args, **kwargs)
            except Exception as exc:
                if not isinstance(path, (str, Path)) or not _retired_meanwhile(exc, Path(path)):
                    raise
                if attempt == READ_ATTEMPTS:
                    raise _unreadable(path) from None
        raise AssertionError("unreachable")

    return read


def _unreadable(lake: str | Path) -> LakeError:
    """Return the error of a read that found files of its snapshot gone, attempt after attempt."""
    missing = [p for p in Store.open(lake).committed_files() if not p.exists()]
    if missing:
        more = f", nor are {len(missing) - 1} more" if len(missing) > 1 else ""
        return LakeError(
            f"{missing[0]} is committed in the lake's manifest but is not on disk{more}; restore "
            "the lake from a backup, or ingest its sources into a new lake"
        )
    return LakeError(
        f"the lake's files were replaced {READ_ATTEMPTS} times while they were read (by "
        "`trailmin lake compact` or `trailmin remap`); run this again when that finishes"
    )


def _retired_meanwhile(exc: BaseException, lake: Path) -> bool:
    """Return whether ``exc`` is DuckDB failing to open a file of ``lake`` (of a snapshot)."""
    duckdb = sys.modules.get("duckdb")
    if duckdb is None or not isinstance(exc, duckdb.IOException):
        return False
    text = str(exc)
    missing = any(s in text for s in ("No files found", "No such file", "Cannot open file"))
    return missing and str(lake) in text


def snapshot(lake: str | Path) -> tuple[Path, ...]:
    """Return the snapshot ``connect`` would read now: the manifest's committed files, each
    where it is. It moves when an ingest, a compaction or a remap commits (or a file it
    committed is moved from staging into ``events/``)."""
    return tuple(Store.open(lake).committed_files())


def connect(lake: str | Path) -> duckdb.DuckDBPyConnection:
    """Return a DuckDB connection with an ``events`` view over a snapshot of the lake's
    committed files (the manifest's list at this moment, each file where it is)."""
    import duckdb  # loaded when first asked for: ingest does not need it

    the_lake = Store.open(lake)
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    # stdout is for results. In Jupyter, DuckDB refuses the setting without ipywidgets, and
    # draws no bar on stdout there anyway.
    with contextlib.suppress(duckdb.Error):
        db.execute("SET enable_progress_bar = false")
    files = [str(p) for p in the_lake.committed_files()]
    if files:
        for attempt in range(1, READ_ATTEMPTS + 1):
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            try:
                # union_by_name opens every file here, so a snapshot's file retired since fails
                # now rather than in a query.
                db.execute(
                    f"CREATE OR REPLACE VIEW events AS SELECT * FROM read_parquet([{listing}], "
                    f"hive_partitioning = true, hive_types = {HIVE_TYPES}, union_by_name = true)"
                )
                break
            except duckdb.IOException as exc:
                if attempt == READ_ATTEMPTS or not _retired_meanwhile(exc, the_lake.path):
                    db.close()
                    raise
                files = [str(p) for p in the_lake.committed_files()]
    else:
        columns = ", ".join(f"CAST(NULL AS {_duck_type(f.type)}) AS {f.name}" for f in EVENT_SCHEMA)
        db.execute(
            f"CREATE VIEW events AS SELECT {columns}, CAST(NULL AS VARCHAR) AS account, "
            "CAST(NULL AS DATE) AS date WHERE false"
        )
    return db


def _duck_type(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ"
    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_list(kind):
        return f"{_duck_type(kind.value_type)}[]"
    if pa.types.is_struct(kind):
        fields = ", ".join(f"{f.name} {_duck_type(f.type)}" for f in kind)
        return f"STRUCT({fields})"
    return "VARCHAR"


# --- results -------------------------------------------------------------------------------------


def query_arrow(db: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pa.Table:
    """Return the result of ``sql`` as an Arrow table (DuckDB 2 renamed the method)."""
    relation = db.sql(sql, params=list(params) or None)
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    table: pa.Table = fetch()
    return table


def query_rows(db: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """Return the result of ``sql`` as a dict per row."""
    rows: list[dict[str, Any]] = query_arrow(db, sql).to_pylist()
    return rows


def query_row(db: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """Return the first row of ``sql``'s result (an aggregate's one row)."""
    row: tuple[Any, ...] = db.sql(sql).fetchall()[0]
    return row


def to_frame(
    table: pa.Table, *, arrow_backed: bool = False, categories: Sequence[str] = ()
) -> pd.DataFrame:
    """Return ``table`` as a DataFrame: booleans nullable, the ``categories`` columns it has
    categorical, and, when ``arrow_backed``, strings and lists kept in Arrow and zone-less
    timestamps (the queries' aggregates) marked UTC."""
    if arrow_backed:
        # A usage table can have millions of rows, and making a Python object of every cell
        # would take longer than the query.
        frame: pd.DataFrame = _utc(table).to_pandas(types_mapper=_arrow_backed)
    else:
        frame = table.to_pandas(types_mapper=_pandas_type)
    for name in categories:
        if name in frame.columns:
            frame[name] = frame[name].astype("category")
    return frame


def _pandas_type(kind: pa.DataType) -> Any:
    import pandas as pd

    if pa.types.is_boolean(kind):
        return pd.BooleanDtype()
    return None


def _arrow_backed(kind: pa.DataType) -> Any:
    import pandas as pd

    if pa.types.is_boolean(kind):
        return pd.BooleanDtype()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pd.StringDtype("pyarrow")
    if pa.types.is_list(kind):
        return pd.ArrowDtype(kind)
    return None


def _utc(table: pa.Table) -> pa.Table:
    """Return ``table`` with its zone-less timestamps (the queries' aggregates) marked UTC."""
    for index, kind in enumerate(table.schema.types):
        if pa.types.is_timestamp(kind) and kind.tz is None:
            name = table.schema.names[index]
            table = table.set_column(index, name, table[name].cast(pa.timestamp(kind.unit, "UTC")))
    return table
