"""The events lake: Parquet files under Hive partitions, and the manifest that says what they hold.

Layout of a lake directory::

    events/account=<id>/date=<yyyy-mm-dd>/part-<run>-<task>-<n>.parquet   the rows
    _trailmin/manifest.sqlite    sources ingested, files committed, runs, skipped records
    _trailmin/lock               held (flock) by the one process writing to the lake
    _trailmin/staging/           files being written; never read

Exactly once, even across crashes: a data file is written under ``staging/``, renamed into
``events/``, and only then recorded in the manifest together with the sources it holds, in one
SQLite transaction. A file in ``events/`` that the manifest does not list is the leftover of a run
that died before its commit; the next writer deletes it (``recover``) and ingests its sources again.
Readers go through the manifest's file list, so they never see such a leftover.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trailmin.errors import LakeError, LakeLockedError
from trailmin.records import DICTIONARY_COLUMNS, FILE_SCHEMA, SCHEMA_VERSION

EVENTS_DIR = "events"
META_DIR = "_trailmin"
MANIFEST = "manifest.sqlite"

# Row groups large enough for DuckDB and Athena to scan well (DuckDB's own default is 122,880).
ROW_GROUP_ROWS = 131_072
# Rows buffered per worker before the largest partition is flushed as a (smaller) row group:
# one full row group (about 100 MB of Arrow data for CloudTrail rows).
MAX_BUFFERED_ROWS = 131_072
# A data file is closed and a new one begun past this many rows.
MAX_FILE_ROWS = 4_194_304
# Open Parquet writers per worker; past this the least recently used is closed.
MAX_OPEN_FILES = 32

# zstd at level 1: as small as level 3 on CloudTrail columns (measured), and faster to write.
# Dictionary pages only where values repeat (elsewhere the writer would build one and drop it),
# and min/max statistics only on the columns queries filter on (long JSON texts cost the most).
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": sorted(DICTIONARY_COLUMNS | {"tls_version"}),
    "write_statistics": [
        "event_time",
        "event_source",
        "event_name",
        "event_type",
        "aws_region",
        "principal_arn",
        "principal_type",
        "error_code",
        "recipient_account_id",
    ],
}

_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    uri TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT,
    mtime REAL,
    status TEXT NOT NULL,          -- ingested | partial | skipped
    rows INTEGER NOT NULL,
    skipped_records INTEGER NOT NULL,
    reason TEXT,
    run_id TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,         -- relative to the lake directory
    account TEXT NOT NULL,
    date TEXT NOT NULL,
    rows INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    mapping_version TEXT NOT NULL  -- the event -> permissions mapping its rows were filled with
);
CREATE TABLE IF NOT EXISTS source_files (
    uri TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (uri, path)
);
CREATE INDEX IF NOT EXISTS source_files_by_path ON source_files (path);
CREATE TABLE IF NOT EXISTS record_problems (
    uri TEXT NOT NULL,
    position INTEGER NOT NULL,
    reason TEXT NOT NULL,
    run_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS record_problems_by_uri ON record_problems (uri);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    summary TEXT
);
"""


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """A data file moved into ``events/``, waiting for its manifest commit."""

    path: str  # relative to the lake directory
    account: str
    date: str
    rows: int
    bytes: int
    sources: tuple[str, ...]
    mapping_version: str


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What became of one source object in a run."""

    uri: str
    version: str
    size: int
    etag: str | None
    mtime: float | None
    rows: int
    status: str  # ingested | partial | skipped
    reason: str | None = None
    problems: tuple[tuple[int, str], ...] = ()  # (position, reason) of each record left out


@dataclass(frozen=True, slots=True)
class KnownSource:
    """A source the manifest has seen before."""

    version: str
    status: str
    rows: int


@dataclass(slots=True)
class Recovery:
    """What ``recover`` removed: the leftovers of runs that died before their commit."""

    orphan_files: list[str] = field(default_factory=list)
    staging_files: list[str] = field(default_factory=list)


def _insert_files(db: sqlite3.Connection, files: Sequence[WrittenFile], run_id: str) -> None:
    db.executemany(
        "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(f.path, f.account, f.date, f.rows, f.bytes, run_id, f.mapping_version) for f in files],
    )
    db.executemany(
        "INSERT OR IGNORE INTO source_files VALUES (?, ?)",
        [(uri, f.path) for f in files for uri in f.sources],
    )


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string (seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Lake:
    """A lake directory: its manifest, its lock and its committed data files."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.events_dir = self.path / EVENTS_DIR
        self.meta_dir = self.path / META_DIR
        self.staging_dir = self.meta_dir / "staging"
        self.manifest_path = self.meta_dir / MANIFEST

    # --- opening ---------------------------------------------------------------------------

    @classmethod
    def check_target(cls, path: Path | str) -> None:
        """Raise ``LakeError`` unless ``path`` is a lake, an empty directory or nothing yet."""
        lake = cls(path)
        if lake.path.exists() and not lake.path.is_dir():
            raise LakeError(f"{lake.path} is a file; give --lake a directory")
        if (
            lake.path.exists()
            and not lake.manifest_path.exists()
            and any(p.name not in {EVENTS_DIR, META_DIR} for p in lake.path.iterdir())
        ):
            raise LakeError(
                f"{lake.path} is not empty and is not a trailmin lake; give --lake a new or "
                "empty directory"
            )

    @classmethod
    def create(cls, path: Path | str) -> Lake:
        """Return the lake at ``path``, creating an empty one when the directory has none."""
        cls.check_target(path)
        lake = cls(path)
        lake.events_dir.mkdir(parents=True, exist_ok=True)
        lake.staging_dir.mkdir(parents=True, exist_ok=True)
        with lake._connect() as db:
            db.executescript(_SCHEMA_SQL)
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            db.execute("INSERT OR IGNORE INTO meta VALUES ('created_at', ?)", (utc_now(),))
        lake._check_version()
        return lake

    @classmethod
    def open(cls, path: Path | str) -> Lake:
        """Return the existing lake at ``path``."""
        lake = cls(path)
        if not lake.manifest_path.exists():
            raise LakeError(
                f"{lake.path} is not a trailmin lake (no {META_DIR}/{MANIFEST}); "
                "create one with `trailmin ingest SOURCE --lake DIR`"
            )
        lake._check_version()
        return lake

    def _check_version(self) -> None:
        with self._connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version != SCHEMA_VERSION:
            raise LakeError(
                f"{self.path} holds lake schema {version}, this trailmin reads schema "
                f"{SCHEMA_VERSION}; ingest into a new lake directory"
            )

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.manifest_path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise LakeError(f"cannot open {self.manifest_path}: {exc}") from None
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    # --- the writer's lock and recovery ----------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[Recovery]:
        """Hold the lake's write lock; on entry, clear what a crashed writer left behind."""
        self.meta_dir.mkdir(parents=True, exist_ok=True)
        lock_path = self.meta_dir / "lock"
        handle = lock_path.open("a+")
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise LakeLockedError(
                    f"{self.path} is being written by {holder}; wait for it to finish, "
                    "or ingest into another lake"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {utc_now()}\n")
            handle.flush()
            yield self.recover()
        finally:
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
            handle.close()

    def recover(self) -> Recovery:
        """Delete staged files and data files no commit recorded; return what was removed.

        Call only while holding the lock.
        """
        recovery = Recovery()
        if self.staging_dir.exists():
            for staged in sorted(self.staging_dir.rglob("*")):
                if staged.is_file():
                    staged.unlink()
                    recovery.staging_files.append(str(staged.relative_to(self.path)))
        committed = set(self.committed_paths())
        for path in self.iter_data_files():
            relative = path.relative_to(self.path).as_posix()
            if relative not in committed:
                path.unlink()
                recovery.orphan_files.append(relative)
        return recovery

    def iter_data_files(self) -> Iterator[Path]:
        """Yield every Parquet file under ``events/``, committed or not, in path order."""
        if self.events_dir.exists():
            yield from sorted(self.events_dir.rglob("*.parquet"))

    # --- manifest reads --------------------------------------------------------------------

    def committed_paths(self) -> list[str]:
        """Return the committed data files, relative to the lake directory, in path order."""
        with contextlib.closing(self._connect()) as db:
            return [row[0] for row in db.execute("SELECT path FROM files ORDER BY path")]

    def committed_files(self) -> list[Path]:
        """Return the absolute paths of the committed data files, in path order."""
        return [self.path / p for p in self.committed_paths()]

    def known_sources(self) -> dict[str, KnownSource]:
        """Return every source the manifest has recorded, by URI."""
        with contextlib.closing(self._connect()) as db:
            rows = db.execute("SELECT uri, version, status, rows FROM sources")
            return {uri: KnownSource(v, s, n) for uri, v, s, n in rows}

    def event_ids_from(self, uris: Sequence[str]) -> dict[str, set[str]]:
        """Return the event ids already in the lake from each of ``uris``."""
        if not uris:
            return {}
        with contextlib.closing(self._connect()) as db:
            paths: dict[str, list[str]] = {}
            for uri in uris:
                for (path,) in db.execute("SELECT path FROM source_files WHERE uri = ?", (uri,)):
                    paths.setdefault(path, []).append(uri)
        found: dict[str, set[str]] = {uri: set() for uri in uris}
        for path, wanted in paths.items():
            table = pq.read_table(self.path / path, columns=["event_id", "source"])
            mask = pc.is_in(table["source"], value_set=pa.array(wanted, pa.string()))
            selected = table.filter(mask)
            for event_id, source in zip(
                selected["event_id"].to_pylist(), selected["source"].to_pylist(), strict=True
            ):
                found[source].add(event_id)
        return found

    def source_problems(self, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Return the sources and records left out, as the manifest lists them now."""
        with contextlib.closing(self._connect()) as db:
            skipped = [
                {"source": uri, "status": status, "reason": reason, "skipped_records": n}
                for uri, status, reason, n in db.execute(
                    "SELECT uri, status, reason, skipped_records FROM sources "
                    "WHERE status != 'ingested' ORDER BY uri LIMIT ?",
                    (limit,),
                )
            ]
        return skipped

    def record_problems(self, uri: str) -> list[tuple[int, str]]:
        """Return the (position, reason) of each record of ``uri`` left out by its last run."""
        with contextlib.closing(self._connect()) as db:
            return list(
                db.execute(
                    "SELECT position, reason FROM record_problems WHERE uri = ? ORDER BY position",
                    (uri,),
                )
            )

    # --- manifest writes -------------------------------------------------------------------

    def begin_run(self) -> str:
        """Record the start of a run and return its id."""
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
        with self._transaction() as db:
            db.execute("INSERT INTO runs (run_id, started_at) VALUES (?, ?)", (run_id, utc_now()))
        return run_id

    def finish_run(self, run_id: str, summary: dict[str, Any]) -> None:
        """Record the end of a run with its summary."""
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, summary = ? WHERE run_id = ?",
                (utc_now(), json.dumps(summary, sort_keys=True), run_id),
            )

    def commit(
        self, run_id: str, files: Sequence[WrittenFile], results: Sequence[SourceResult]
    ) -> None:
        """Record, in one transaction, data files already in ``events/`` and their sources."""
        now = utc_now()
        with self._transaction() as db:
            _insert_files(db, files, run_id)
            for r in results:
                previous = db.execute("SELECT rows FROM sources WHERE uri = ?", (r.uri,)).fetchone()
                # A source read again (retried or changed) adds only rows it did not have.
                rows = r.rows + (previous[0] if previous else 0)
                db.execute(
                    "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        r.uri,
                        r.version,
                        r.size,
                        r.etag,
                        r.mtime,
                        r.status,
                        rows,
                        len(r.problems),
                        r.reason,
                        run_id,
                        now,
                    ),
                )
                db.execute("DELETE FROM record_problems WHERE uri = ?", (r.uri,))
                db.executemany(
                    "INSERT INTO record_problems VALUES (?, ?, ?, ?)",
                    [(r.uri, pos, reason, run_id) for pos, reason in r.problems],
                )

    def replace_files(self, old: Sequence[str], new: Sequence[WrittenFile], run_id: str) -> None:
        """Swap committed files ``old`` for ``new`` (already in place) in one transaction."""
        with self._transaction() as db:
            for path in old:
                db.execute("DELETE FROM files WHERE path = ?", (path,))
                db.execute("DELETE FROM source_files WHERE path = ?", (path,))
            _insert_files(db, new, run_id)

    # --- summaries -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Return counts from the manifest: files, rows, sources by status, runs."""
        with contextlib.closing(self._connect()) as db:
            files, rows, size = db.execute(
                "SELECT count(*), coalesce(sum(rows), 0), coalesce(sum(bytes), 0) FROM files"
            ).fetchone()
            by_status = dict(db.execute("SELECT status, count(*) FROM sources GROUP BY status"))
            record_problems = db.execute("SELECT count(*) FROM record_problems").fetchone()[0]
            runs = db.execute("SELECT count(*) FROM runs").fetchone()[0]
            last = db.execute(
                "SELECT run_id, finished_at FROM runs WHERE finished_at IS NOT NULL "
                "ORDER BY finished_at DESC LIMIT 1"
            ).fetchone()
            partitions = db.execute(
                "SELECT count(*) FROM (SELECT DISTINCT account, date FROM files)"
            ).fetchone()[0]
            versions = dict(
                db.execute("SELECT mapping_version, count(*) FROM files GROUP BY mapping_version")
            )
        return {
            "files": files,
            "rows": rows,
            "bytes": size,
            "partitions": partitions,
            "mapping_versions": versions,
            "sources_ingested": by_status.get("ingested", 0),
            "sources_partial": by_status.get("partial", 0),
            "sources_skipped": by_status.get("skipped", 0),
            "records_skipped": record_problems,
            "runs": runs,
            "last_run": last[0] if last else None,
            "last_run_finished_at": last[1] if last else None,
        }

    def small_partitions(self, *, min_files: int = 2) -> list[tuple[str, str, str, list[str]]]:
        """Return (account, date, mapping version, files) for each partition holding
        ``min_files`` files or more of the same mapping version."""
        with contextlib.closing(self._connect()) as db:
            grouped: dict[tuple[str, str, str], list[str]] = {}
            for account, date, version, path in db.execute(
                "SELECT account, date, mapping_version, path FROM files "
                "ORDER BY account, date, mapping_version, path"
            ):
                grouped.setdefault((account, date, version), []).append(path)
        return [(a, d, v, paths) for (a, d, v), paths in grouped.items() if len(paths) >= min_files]

    def files_mapped_otherwise(self, version: str) -> list[tuple[str, str, str]]:
        """Return (path, account, date) of the committed files not filled by mapping ``version``."""
        with contextlib.closing(self._connect()) as db:
            return list(
                db.execute(
                    "SELECT path, account, date FROM files WHERE mapping_version != ? "
                    "ORDER BY path",
                    (version,),
                )
            )


# --- writing data files --------------------------------------------------------------------------


def row_group(table: pa.Table) -> pa.Table:
    """Return ``table`` with one dictionary a column and one chunk, ready to write."""
    if not table.schema.equals(FILE_SCHEMA):
        table = table.cast(FILE_SCHEMA)  # read back from Parquet: list fields are renamed
    return table.unify_dictionaries().combine_chunks()


def partition_dir(account: str, date: str) -> str:
    """Return the Hive partition directory (relative to the lake) of an account and day."""
    return f"{EVENTS_DIR}/account={account}/date={date}"


class _OpenFile:
    __slots__ = (
        "account",
        "buffered",
        "buffered_rows",
        "date",
        "final",
        "rows",
        "sources",
        "staged",
        "writer",
    )

    def __init__(self, staged: Path, final: str, account: str, date: str) -> None:
        self.staged = staged
        self.final = final
        self.account = account
        self.date = date
        self.writer: pq.ParquetWriter | None = None
        self.buffered: list[pa.Table] = []
        self.buffered_rows = 0
        self.rows = 0
        self.sources: set[str] = set()


class PartitionWriter:
    """Writes rows into one Parquet file per partition, in large row groups, memory bounded.

    Files are written under the lake's staging directory; ``close`` renames them into place and
    returns them for the manifest commit. ``discard`` deletes them.
    """

    def __init__(
        self,
        lake: Lake,
        *,
        tag: str,
        mapping_version: str,
        row_group_rows: int = ROW_GROUP_ROWS,
        max_buffered_rows: int = MAX_BUFFERED_ROWS,
        max_file_rows: int = MAX_FILE_ROWS,
        max_open_files: int = MAX_OPEN_FILES,
    ) -> None:
        self._lake = lake
        self._tag = tag
        self._mapping_version = mapping_version
        self._row_group_rows = row_group_rows
        self._max_buffered_rows = max_buffered_rows
        self._max_file_rows = max_file_rows
        self._max_open_files = max_open_files
        self._open: dict[tuple[str, str], _OpenFile] = {}
        self._buffered_rows = 0
        self._sequence = 0
        self._done: list[tuple[_OpenFile, int]] = []

    def add(self, table: pa.Table) -> None:
        """Buffer ``table`` (``FILE_SCHEMA`` plus ``account`` and ``date``) for writing."""
        if table.num_rows == 0:
            return
        for (account, date), part in _split_partitions(table):
            handle = self._handle(account, date)
            handle.buffered.append(part)
            handle.buffered_rows += part.num_rows
            handle.rows += part.num_rows
            handle.sources.update(_sources_in(part))
            self._buffered_rows += part.num_rows
            if handle.buffered_rows >= self._row_group_rows:
                self._flush(handle)
            if handle.rows >= self._max_file_rows:
                self._finish((account, date))
        while self._buffered_rows > self._max_buffered_rows:
            largest = max(self._open.values(), key=lambda h: h.buffered_rows)
            self._flush(largest)

    def _handle(self, account: str, date: str) -> _OpenFile:
        key = (account, date)
        handle = self._open.pop(key, None)
        if handle is None:
            if len(self._open) >= self._max_open_files:
                self._finish(next(iter(self._open)))
            self._sequence += 1
            name = f"part-{self._tag}-{self._sequence:05d}.parquet"
            staged = self._lake.staging_dir / name
            final = f"{partition_dir(account, date)}/{name}"
            handle = _OpenFile(staged, final, account, date)
        self._open[key] = handle  # re-inserted last: the dict's order is least recently used
        return handle

    def _flush(self, handle: _OpenFile) -> None:
        if not handle.buffered:
            return
        table = row_group(pa.concat_tables(handle.buffered).select(FILE_SCHEMA.names))
        if handle.writer is None:
            handle.staged.parent.mkdir(parents=True, exist_ok=True)
            handle.writer = pq.ParquetWriter(handle.staged, FILE_SCHEMA, **PARQUET_OPTIONS)
        handle.writer.write_table(table, row_group_size=self._row_group_rows)
        self._buffered_rows -= handle.buffered_rows
        handle.buffered = []
        handle.buffered_rows = 0
        del table
        # Hand the row group's buffers back to the system, so memory stays flat over a long run.
        pa.default_memory_pool().release_unused()

    def _finish(self, key: tuple[str, str]) -> None:
        handle = self._open.pop(key)
        self._flush(handle)
        if handle.writer is not None:
            handle.writer.close()
            self._done.append((handle, handle.rows))

    def close(self) -> list[WrittenFile]:
        """Finish every file, move it into ``events/`` and return them for the commit."""
        for key in list(self._open):
            self._finish(key)
        written: list[WrittenFile] = []
        for handle, rows in self._done:
            final = self._lake.path / handle.final
            final.parent.mkdir(parents=True, exist_ok=True)
            with open(handle.staged, "rb") as staged:
                os.fsync(staged.fileno())
            os.replace(handle.staged, final)
            written.append(
                WrittenFile(
                    path=handle.final,
                    account=handle.account,
                    date=handle.date,
                    rows=rows,
                    bytes=final.stat().st_size,
                    sources=tuple(sorted(handle.sources)),
                    mapping_version=self._mapping_version,
                )
            )
        self._done = []
        return written

    def discard(self) -> None:
        """Delete every file this writer staged."""
        for handle in [*self._open.values(), *(h for h, _ in self._done)]:
            if handle.writer is not None:
                with contextlib.suppress(Exception):
                    handle.writer.close()
            handle.staged.unlink(missing_ok=True)
        self._open = {}
        self._done = []


def _sources_in(table: pa.Table) -> list[str]:
    """Return the distinct sources of ``table``'s rows (its ``source`` is dictionary-encoded)."""
    column = table["source"]
    names: set[str] = set()
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            used = pc.unique(chunk.indices).to_numpy(zero_copy_only=False)
            names.update(chunk.dictionary.take(pa.array(used)).to_pylist())
        else:
            names.update(pc.unique(chunk).to_pylist())
    return sorted(names)


def _split_partitions(table: pa.Table) -> Iterator[tuple[tuple[str, str], pa.Table]]:
    accounts = table["account"]
    dates = table["date"]
    first_account = accounts[0].as_py()
    first_date = dates[0].as_py()
    if (
        pc.all(pc.equal(accounts, first_account)).as_py()
        and pc.all(pc.equal(dates, dates[0])).as_py()
    ):
        yield (first_account, first_date.isoformat()), table
        return
    keys = table.select(["account", "date"]).group_by(["account", "date"]).aggregate([])
    for account, date in zip(keys["account"].to_pylist(), keys["date"].to_pylist(), strict=True):
        mask = pc.and_(pc.equal(accounts, account), pc.equal(dates, pa.scalar(date, pa.date32())))
        yield (account, date.isoformat()), table.filter(mask)
