"""The events lake: Parquet files under Hive partitions, and the manifest that says what they hold.

Layout of a lake directory::

    events/account=<id>/date=<yyyy-mm-dd>/part-<run>-<task>-<n>.parquet   the rows
    _trailmin/manifest.sqlite    sources ingested, files committed, runs, skipped records
    _trailmin/lock               held (flock) by the one process writing to the lake
    _trailmin/staging/           files being written (``<tag>/account=<id>/date=<d>/<name>``)

Exactly once, even across crashes. A data file is written under ``staging/`` (by a worker, which
never touches ``events/``), recorded in the manifest with the sources it holds in one SQLite
transaction (the commit), and only then moved into ``events/`` by the process holding the lock.
So ``events/`` never shows a file no commit lists. A crash between the commit and the move leaves
committed files in staging: the next writer moves them into place (``recover``) before anything
else, and deletes whatever else staging holds (files no commit lists, whose sources it reads again).

Compaction and remap retire files. The new file is committed in the transaction that retires the
old ones, then the partition's folder is swapped for a copy holding exactly its committed files
(hard links to the files kept and to the new one) in one rename (``renameat2`` with
``RENAME_EXCHANGE`` on Linux, ``renamex_np`` on macOS). A reader listing ``events/`` sees the old
files or the new one, never both nor neither, also when the process is killed at any point: the
next writer finishes the swap. Where the system cannot swap folders, the old files are deleted
before the new one is moved in: at worst a crash hides those rows (never doubles them) until the
next write.

Readers (``trailmin.connect`` and everything over it) read a snapshot: the manifest's committed
files, each where it is (in ``events/``, or in staging between a commit and its move), so one
snapshot never holds both a merged file and the files it replaced. A swap takes old paths away
while a reader may still be reading them (DuckDB opens files as it scans); the reader then runs
again over a fresh snapshot (``duck.reads_lake``), so it neither fails nor counts a row twice.
Keeping retired files for a grace period would not spare that: for a reader listing ``events/``
not to see rows twice, their paths must go at the swap.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import sqlite3
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trailmin.errors import LakeError, LakeLockedError
from trailmin.lake.schema import DICTIONARY_COLUMNS, FILE_SCHEMA, SCHEMA_VERSION

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
    """A data file written under staging, waiting for its commit and its move into ``events/``."""

    path: str  # where it is committed, relative to the lake directory
    account: str
    date: str
    rows: int
    bytes: int
    sources: tuple[str, ...]
    mapping_version: str
    staged: str = ""  # where it is written, relative to the lake directory; "" if in place


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
    """What ``recover`` did: committed files it moved into place, and the leftovers it removed."""

    orphan_files: list[str] = field(default_factory=list)  # in events/, listed by no commit
    staging_files: list[str] = field(default_factory=list)  # staged, listed by no commit
    placed_files: list[str] = field(default_factory=list)  # committed, moved in from staging


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


# The errors that say this user cannot write there, rather than that something broke.
_REFUSED = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR}


def _unusable(exc: OSError, lake: Path) -> Exception:
    """Return the ``LakeError`` naming the folder that could not be written, and the fix; any
    other failure as it is."""
    if exc.errno not in _REFUSED:
        return exc
    folder = Path(exc.filename).parent if exc.filename else lake
    if exc.errno == errno.ENOTDIR:
        file = next((p for p in [folder, *folder.parents] if p.exists()), folder)
        return LakeError(f"{file} is a file, not a folder; give --lake a folder")
    return _not_writable(folder, exc.strerror or str(exc), lake)


def _not_writable(folder: Path, reason: str, lake: Path) -> LakeError:
    return LakeError(
        f"cannot write in {folder} ({reason}), so {lake} cannot be used as a lake; give "
        f"--lake a folder you can write to, or make {folder} writable"
    )


def _folder_of(path: str) -> str:
    return path.rsplit("/", 1)[0]


def _name_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    """Return the entries of ``folder``, none when it does not exist."""
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda e: e.name)
    except FileNotFoundError:
        return []


def _prune_empty(folder: Path, top: Path) -> None:
    """Remove ``folder`` and its parents up to (not including) ``top`` while they are empty."""
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty: another task's files are being written there
        folder = folder.parent


def _remove_tree_contents(top: Path) -> list[Path]:
    """Return the files removed after removing everything inside ``top`` (kept itself)."""
    removed: list[Path] = []
    for folder, subfolders, names in os.walk(top, topdown=False):
        for name in sorted(names):
            path = Path(folder) / name
            path.unlink(missing_ok=True)
            removed.append(path)
        for name in subfolders:
            with contextlib.suppress(FileNotFoundError):
                (Path(folder) / name).rmdir()
    return sorted(removed)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # Linux, <linux/fs.h>
_RENAME_SWAP = 2  # macOS, <stdio.h>
_NOT_SUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV}


def _exchange(first: Path, second: Path) -> bool:
    """Return whether the folders ``first`` and ``second`` were swapped, in one rename; False,
    having done nothing, where the system or the file system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    if sys.platform.startswith("linux"):
        function = getattr(libc, "renameat2", None)  # glibc 2.28, Linux 3.15
        args: tuple[Any, ...] = (
            _AT_FDCWD,
            os.fsencode(first),
            _AT_FDCWD,
            os.fsencode(second),
            _RENAME_EXCHANGE,
        )
    elif sys.platform == "darwin":
        function = getattr(libc, "renamex_np", None)  # macOS 10.12
        args = (os.fsencode(first), os.fsencode(second), _RENAME_SWAP)
    else:
        return False
    if function is None:
        return False
    if function(*args) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NOT_SUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))


class Store:
    """The storage of a lake directory: its manifest, its lock and its committed data files
    (``trailmin.Lake`` asks it questions through DuckDB)."""

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
        try:
            foreign = lake.path.exists() and not lake.manifest_path.exists()
            if foreign and any(p.name not in {EVENTS_DIR, META_DIR} for p in lake.path.iterdir()):
                raise LakeError(
                    f"{lake.path} is not empty and is not a trailmin lake; give --lake a new or "
                    "empty directory"
                )
        except OSError as exc:
            raise _unusable(exc, lake.path) from None

    @classmethod
    def create(cls, path: Path | str) -> Store:
        """Return the lake at ``path``, creating an empty one when the directory has none."""
        cls.check_target(path)
        lake = cls(path)
        try:
            lake.events_dir.mkdir(parents=True, exist_ok=True)
            lake.staging_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unusable(exc, lake.path) from None
        with lake._connect() as db:
            db.executescript(_SCHEMA_SQL)
            db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            db.execute("INSERT OR IGNORE INTO meta VALUES ('created_at', ?)", (utc_now(),))
        lake._check_version()
        return lake

    @classmethod
    def open(cls, path: Path | str) -> Store:
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
        with contextlib.closing(self._connect()) as db:
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            except sqlite3.OperationalError:
                row = None
        if row is None:
            # The manifest exists without its tables or its version: the ingest that created
            # the lake was stopped within its first moments (``create`` completes it).
            raise LakeError(
                f"{self.path} was never finished (the ingest that created it stopped before "
                "its manifest was written); run `trailmin ingest SOURCE --lake "
                f"{self.path}` again to complete it"
            )
        version = int(row[0])
        if version != SCHEMA_VERSION:
            raise LakeError(
                f"{self.path} holds lake schema {version}, this trailmin reads schema "
                f"{SCHEMA_VERSION}; ingest into a new lake directory"
            )

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.manifest_path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            if not os.access(self.meta_dir, os.W_OK):
                # SQLite writes its WAL index beside the manifest, even to read it.
                raise LakeError(
                    f"{self.meta_dir} is not writable ({exc}); trailmin writes beside the "
                    "manifest even to read the lake: give --lake a folder you can write to, "
                    "or make this one writable"
                ) from None
            raise LakeError(f"cannot open {self.manifest_path}: {exc}") from None
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
    def locked(self, *, command: str | None = None) -> Iterator[Recovery]:
        """Hold the lake's write lock for ``command`` (named to the writers it keeps out); on
        entry, finish or clear what a crashed writer left behind, and return what was done."""
        lock_path = self.meta_dir / "lock"
        try:
            self.meta_dir.mkdir(parents=True, exist_ok=True)
            handle = lock_path.open("a+")
        except OSError as exc:
            raise _unusable(exc, self.path) from None
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip()
                who = "another trailmin process"
                if holder:
                    who = f"{holder}, {who}"
                raise LakeLockedError(
                    f"{self.path} is being written by {who}; wait for it to finish, then run "
                    "this again"
                ) from None
            handle.seek(0)
            handle.truncate()
            running = f" ({command})" if command else ""
            handle.write(f"pid {os.getpid()} since {utc_now()}{running}\n")
            handle.flush()
            for folder in (self.events_dir, self.staging_dir):
                if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
                    raise _not_writable(folder, "Permission denied", self.path)
            try:
                recovery = self.recover()
            except OSError as exc:
                raise _unusable(exc, self.path) from None
            yield recovery
        finally:
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
            handle.close()

    def recover(self) -> Recovery:
        """Return what was done to make ``events/`` hold exactly the committed files: committed
        files left in staging moved into place, files no commit lists deleted, staging emptied.

        Call only while holding the lock.
        """
        recovery = Recovery()
        committed = set(self.committed_paths())
        present = {p.relative_to(self.path).as_posix() for p in self.iter_data_files()}
        staged = self._staged_by_name()
        folders = {_folder_of(p) for p in present - committed}
        folders |= {_folder_of(p) for p in committed - present if _name_of(p) in staged}
        for folder in sorted(folders):
            placed, retired = self._publish(folder, staged)
            recovery.placed_files += placed
            recovery.orphan_files += retired
        committed_names = {_name_of(p) for p in committed}
        for path in _remove_tree_contents(self.staging_dir):
            if path.name not in committed_names:  # a committed one is a link or a moved copy
                recovery.staging_files.append(path.relative_to(self.path).as_posix())
        return recovery

    def staging_path(self, tag: str, final: str) -> Path:
        """Return where to write, under staging, the file to be committed as ``final``: in a
        folder of its own (``tag``), under the same partition folders, so readers can read it
        there between its commit and its move."""
        return self.staging_dir / tag / Path(final).relative_to(EVENTS_DIR)

    def _staged_by_name(self) -> dict[str, Path]:
        """Return each Parquet file under staging, by file name (names are unique in a lake)."""
        found: dict[str, Path] = {}
        for folder, _, names in os.walk(self.staging_dir):  # a folder removed meanwhile: skipped
            for name in sorted(names):
                if name.endswith(".parquet"):
                    found.setdefault(name, Path(folder) / name)
        return found

    def _committed_in(self, folder: str) -> set[str]:
        """Return the names of the committed files in ``folder`` (relative to the lake)."""
        with contextlib.closing(self._connect()) as db:
            # "0" sorts just after "/": the range is the folder's paths, through the primary key.
            rows = db.execute(
                "SELECT path FROM files WHERE path > ? AND path < ?", (folder + "/", folder + "0")
            )
            return {_name_of(p) for (p,) in rows if _folder_of(p) == folder}

    def _publish(self, folder: str, staged: Mapping[str, Path]) -> tuple[list[str], list[str]]:
        """Return the files moved into ``folder`` (a partition under ``events/``) and those taken
        out of it, after making it hold exactly its committed files, found there or in ``staged``.

        Files only arriving are moved in one by one (each move is atomic and adds committed
        rows). When files leave, the folder is swapped for a copy in one rename; where that cannot
        be done, the leaving files go first, so a reader never sees a row twice.
        """
        target = self.path / folder
        names = self._committed_in(folder)
        entries = {e.name: e.is_file(follow_symlinks=False) for e in _scan(target)}
        leaving = sorted(n for n in entries if n.endswith(".parquet") and n not in names)
        arriving = {n: staged[n] for n in sorted(names) if n not in entries and n in staged}
        placed = [f"{folder}/{n}" for n in arriving]
        retired = [f"{folder}/{n}" for n in leaving]
        if leaving and all(entries.values()) and self._swap(target, entries, leaving, arriving):
            for path in arriving.values():
                path.unlink(missing_ok=True)  # its link is in place now
            return placed, retired
        for name in leaving:
            (target / name).unlink(missing_ok=True)
        if arriving:
            target.mkdir(parents=True, exist_ok=True)
        for name, path in arriving.items():
            os.replace(path, target / name)
            _prune_empty(path.parent, self.staging_dir)
        return placed, retired

    def _swap(
        self,
        target: Path,
        entries: Mapping[str, bool],
        leaving: list[str],
        arriving: Mapping[str, Path],
    ) -> bool:
        """Return whether ``target`` was swapped, in one rename, for a copy of it holding hard
        links to its entries but ``leaving`` and to the ``arriving`` files; False, having changed
        nothing under ``events/``, where the file system cannot link or swap."""
        top = self.staging_dir / f"swap-{uuid.uuid4().hex[:12]}"
        copy = top / target.relative_to(self.events_dir)
        copy.mkdir(parents=True)
        try:
            try:
                for name in entries:
                    if name not in leaving:
                        os.link(target / name, copy / name)
                for name, path in arriving.items():
                    os.link(path, copy / name)
            except OSError:
                return False
            return _exchange(copy, target)
        finally:
            # After the swap, this is the old folder: the files taken out, links to the others.
            _remove_tree_contents(top)
            with contextlib.suppress(OSError):
                top.rmdir()  # else the next writer's recover removes it

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
        """Return where each committed data file is, in path order: under ``events/``, or still
        in staging when its commit is done and its move is not (being moved, or its writer died
        between the two and the next writer has not yet moved it)."""
        staged = self._staged_by_name()
        located = []
        for relative in self.committed_paths():
            final = self.path / relative
            waiting = staged.get(_name_of(relative))
            located.append(waiting if waiting is not None and not final.exists() else final)
        return located

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
        """Record, in one transaction, staged data files and their sources; then move the files
        into ``events/`` (a crash before they are all moved leaves that to ``recover``)."""
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
        try:
            for written in files:
                if written.staged:
                    final = self.path / written.path
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(self.path / written.staged, final)
                    _prune_empty((self.path / written.staged).parent, self.staging_dir)
        except OSError as exc:  # committed: readers find the files in staging, recover moves them
            raise _unusable(exc, self.path) from None

    def replace_files(self, old: Sequence[str], new: Sequence[WrittenFile], run_id: str) -> None:
        """Swap committed files ``old`` for ``new`` (staged), all of one partition: in the
        manifest in one transaction, then in ``events/`` in one rename of the partition folder."""
        folders = {_folder_of(p) for p in [*old, *(f.path for f in new)]}
        if len(folders) != 1:
            raise ValueError(f"replace_files swaps files of one partition, not {sorted(folders)}")
        with self._transaction() as db:
            for path in old:
                db.execute("DELETE FROM files WHERE path = ?", (path,))
                db.execute("DELETE FROM source_files WHERE path = ?", (path,))
            _insert_files(db, new, run_id)
        staged = {_name_of(f.path): self.path / f.staged for f in new if f.staged}
        try:
            self._publish(folders.pop(), staged)
        except OSError as exc:  # committed: readers find the new files in staging, recover swaps
            raise _unusable(exc, self.path) from None
        for written in new:
            if written.staged:
                _prune_empty((self.path / written.staged).parent, self.staging_dir)

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

    Files are written under the lake's staging directory, and stay there: ``close`` finishes
    them and returns them for the commit, which moves them into ``events/``. So a writer that
    outlives its run (a worker whose parent was killed) cannot put a file where readers look.
    ``discard`` deletes them.
    """

    def __init__(
        self,
        lake: Store,
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
            final = f"{partition_dir(account, date)}/{name}"
            handle = _OpenFile(self._lake.staging_path(self._tag, final), final, account, date)
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
        """Return every file, finished and on disk (still staged), for the commit."""
        for key in list(self._open):
            self._finish(key)
        written: list[WrittenFile] = []
        for handle, rows in self._done:
            with open(handle.staged, "rb") as staged:
                os.fsync(staged.fileno())
            written.append(
                WrittenFile(
                    path=handle.final,
                    account=handle.account,
                    date=handle.date,
                    rows=rows,
                    bytes=handle.staged.stat().st_size,
                    sources=tuple(sorted(handle.sources)),
                    mapping_version=self._mapping_version,
                    staged=handle.staged.relative_to(self._lake.path).as_posix(),
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
            _prune_empty(handle.staged.parent, self._lake.staging_dir)
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
