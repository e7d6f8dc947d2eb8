"""Ingest: list sources, read what the manifest has not seen, decode it into the lake.

The parent process lists and plans; tasks of many source objects go to worker processes, each of
which reads its objects (S3 with many requests in flight), decodes them and writes Parquet files.
The parent commits each finished task to the manifest, so a crash loses at most the tasks in
flight, and their sources are read again by the next run.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trailmin.errors import CredentialsError, SourceError, UsageError
from trailmin.ingestion import sources as src
from trailmin.ingestion.columns import Part, parts_to_table
from trailmin.ingestion.decode import BadSource, Decoded, decode_records
from trailmin.lake.store import PartitionWriter, SourceResult, Store, WrittenFile
from trailmin.mapping.permissions import mapping_version

# Source bytes (as stored, usually gzipped) per task: large enough for big Parquet files,
# small enough that a crash re-reads little and both workers get work.
TASK_BYTES = 64 * 1024 * 1024
DEFAULT_IN_FLIGHT = 32
# Records decoded before they are converted to Arrow together: enough that the fixed cost of
# each Arrow call vanishes, few enough that the structs stay small in memory (about 30 MB).
BATCH_RECORDS = 10_000
# Below this many source bytes, starting worker processes costs more than it saves.
SMALL_RUN_BYTES = 16 * 1024 * 1024
# The mapping version of files written without mapping; `trailmin remap` fills them.
UNMAPPED_VERSION = "unmapped"
# How many skipped-record reasons a summary quotes; the manifest keeps them all.
QUOTED_PROBLEMS = 20


@dataclass(frozen=True, slots=True)
class S3Config:
    """How workers build their S3 client (each process makes its own)."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """Counts so far, sent to the ``on_progress`` callback as the run goes."""

    sources_done: int
    sources_total: int
    events: int
    bytes_read: int


@dataclass(slots=True)
class IngestSummary:
    """What an ingest run did: the numbers, and every source or record it left out."""

    lake: str
    run_id: str = ""
    sources_listed: int = 0
    sources_ignored: int = 0
    sources_unchanged: int = 0
    # Of the unchanged: read before and skipped in whole or in part, left as they were.
    sources_still_bad: int = 0
    sources_read: int = 0
    sources_ingested: int = 0
    sources_partial: int = 0
    sources_skipped: int = 0
    events: int = 0
    records_skipped: int = 0
    bytes_read: int = 0
    files_written: int = 0
    seconds: float = 0.0
    workers: int = 1
    recovered_files: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    record_problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Return whether nothing was skipped."""
        return self.sources_skipped == 0 and self.records_skipped == 0

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-ready values."""
        data = asdict(self)
        data["clean"] = self.clean
        data["events_per_second"] = round(self.events / self.seconds) if self.seconds else None
        return data


@dataclass(frozen=True, slots=True)
class _Task:
    lake: str
    tag: str
    objects: tuple[src.SourceObject, ...]
    exclude: dict[str, frozenset[str]]
    s3: S3Config | None
    max_in_flight: int
    mapping_version: str
    latest: datetime  # no CloudTrail record is newer: the ingest's clock and a day of skew

    @property
    def map_permissions(self) -> bool:
        return self.mapping_version != UNMAPPED_VERSION


@dataclass(frozen=True, slots=True)
class _TaskResult:
    files: list[WrittenFile]
    results: list[SourceResult]
    # Sources that could not be read (uri, why): not recorded, so the next run tries them again.
    unread: list[tuple[str, str]] = field(default_factory=list)


def ingest(
    sources: Sequence[str | Path],
    *,
    lake: str | Path,
    accounts: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    workers: int | None = None,
    max_in_flight: int = DEFAULT_IN_FLIGHT,
    task_bytes: int = TASK_BYTES,
    profile: str | None = None,
    client_region: str | None = None,
    endpoint_url: str | None = None,
    map_permissions: bool = True,
    on_progress: Callable[[Progress], None] | None = None,
) -> IngestSummary:
    """Return the summary of ingesting ``sources`` (paths or ``s3://`` URIs) into ``lake``.

    Only objects the manifest has not recorded (or recorded as skipped, or changed since) are
    read. ``accounts``, ``regions``, ``start`` and ``end`` narrow what is listed. With
    ``map_permissions`` off, the ``permissions`` column is left empty for ``remap`` to fill.
    """
    if not sources:
        raise UsageError("no source given; name a directory, a file or an s3://bucket/prefix")
    start, end = _utc(start), _utc(end)
    if start is not None and end is not None and end <= start:
        raise UsageError(f"end {end:%Y-%m-%d %H:%M} is not after start {start:%Y-%m-%d %H:%M}")
    if max_in_flight < 1:
        raise UsageError("--max-in-flight must be at least 1")
    workers = _worker_count(workers)
    began = time.perf_counter()
    Store.check_target(lake)
    summary = IngestSummary(lake=str(Path(lake)), workers=workers)
    s3_config = S3Config(profile=profile, region=client_region, endpoint_url=endpoint_url)
    # Listed before the lake is created, so that a mistyped bucket leaves no empty lake behind.
    objects = _list_sources(
        sources,
        summary,
        accounts=accounts,
        regions=regions,
        start=start,
        end=end,
        s3=s3_config,
    )
    the_lake = Store.create(lake)
    with the_lake.locked(command="trailmin ingest") as recovery:
        summary.recovered_files = len(recovery.orphan_files)
        todo, exclude = _plan(the_lake, objects, summary)
        summary.run_id = run_id = the_lake.begin_run()
        version = mapping_version() if map_permissions else UNMAPPED_VERSION
        latest = datetime.now(UTC) + timedelta(days=1)
        if sum(o.size for o in todo) < SMALL_RUN_BYTES:
            workers = summary.workers = 1  # starting processes would cost more than they save
        tasks = [
            _Task(
                lake=str(the_lake.path),
                tag=f"{run_id}-{number:04d}",
                objects=tuple(chunk),
                exclude={o.uri: exclude[o.uri] for o in chunk if o.uri in exclude},
                s3=s3_config if any(o.uri.startswith("s3://") for o in chunk) else None,
                max_in_flight=max_in_flight,
                mapping_version=version,
                latest=latest,
            )
            for number, chunk in enumerate(_chunks(todo, task_bytes=task_bytes, workers=workers))
        ]

        def commit(result: _TaskResult) -> None:
            the_lake.commit(run_id, result.files, result.results)
            _tally(summary, result)

        if workers == 1 or len(tasks) <= 1:
            report = _local_progress(on_progress, len(todo))
            for task in tasks:
                commit(_run_task(task, progress=report))
        else:
            _run_pool(tasks, workers, commit, on_progress=on_progress, total=len(todo))
        summary.seconds = round(time.perf_counter() - began, 3)
        the_lake.finish_run(run_id, summary.to_dict())
    return summary


def _utc(moment: datetime | None) -> datetime | None:
    """Return ``moment`` as an aware datetime, a naive one being taken as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _worker_count(workers: int | None) -> int:
    if workers is None:
        return max(1, min(os.cpu_count() or 1, 8))
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    return workers


# --- listing and planning ------------------------------------------------------------------------


def _list_sources(
    sources: Sequence[str | Path],
    summary: IngestSummary,
    *,
    accounts: Sequence[str] | None,
    regions: Sequence[str] | None,
    start: datetime | None,
    end: datetime | None,
    s3: S3Config,
) -> list[src.SourceObject]:
    objects: dict[str, src.SourceObject] = {}
    for source in sources:
        text = str(source)
        if text.startswith("s3://"):
            from trailmin.ingestion import s3 as s3_source  # boto3 is imported only when S3 is used

            bucket, prefix = s3_source.parse_s3_uri(text)
            client = s3_source.make_client(
                profile=s3.profile, region=s3.region, endpoint_url=s3.endpoint_url
            )
            listing = s3_source.list_cloudtrail_objects(
                client, bucket, prefix, accounts=accounts, regions=regions, start=start, end=end
            )
            if not listing.objects:
                raise SourceError(
                    f"No CloudTrail objects under {text} for the accounts, regions and dates "
                    "asked; check the prefix, --account, --region and --start/--end"
                )
        else:
            listing = src.list_local([Path(text)])
            found = len(listing.objects)
            listing.objects = [
                o
                for o in listing.objects
                if _name_matches(o.uri, accounts=accounts, regions=regions, start=start, end=end)
            ]
            if not listing.objects and not listing.unreadable:
                raise SourceError(_nothing_local(text, listing, filtered=found > 0))
        summary.sources_listed += listing.listed
        summary.sources_ignored += len(listing.ignored)
        for uri, reason in listing.unreadable:
            _refuse(summary, uri, reason)
        for obj in listing.objects:
            if obj.size > src.MAX_SOURCE_BYTES:
                _refuse(summary, obj.uri, _too_large(obj.size))
                continue
            objects.setdefault(obj.uri, obj)
    return list(objects.values())


def _nothing_local(path: str, listing: src.Listing, *, filtered: bool) -> str:
    """Return why a local source gave nothing to ingest, and what to do."""
    if filtered:
        return (
            f"No CloudTrail files in {path} for the accounts, regions and dates asked; check "
            "--account, --region and --start/--end against the file names "
            "(<account>_CloudTrail_<region>_<yyyymmddThhmmZ>_…)"
        )
    if not listing.listed:
        return f"{path} holds no files; point ingest at the folder CloudTrail delivers to"
    return (
        f"No CloudTrail files in {path}: {listing.listed:,} "
        f"file{'s' if listing.listed != 1 else ''} seen, none of them a log "
        f"({len(listing.ignored):,} passed over: digests, and names not ending in "
        f"{', '.join(src.LOCAL_SUFFIXES)}); point ingest at the folder CloudTrail delivers to "
        "(AWSLogs/<account>/CloudTrail/…)"
    )


def _refuse(summary: IngestSummary, uri: str, reason: str) -> None:
    """Count a source refused before it was read (not a file, or too large to read)."""
    summary.sources_skipped += 1
    summary.skipped.append({"source": uri, "reason": reason})


def _too_large(size: int) -> str:
    return (
        f"too large to read ({size:,} bytes, limit {src.MAX_SOURCE_BYTES:,}); a CloudTrail "
        "delivery file is far smaller (an event is at most 256 KB): split it and ingest the parts"
    )


def _name_matches(
    uri: str,
    *,
    accounts: Sequence[str] | None,
    regions: Sequence[str] | None,
    start: datetime | None,
    end: datetime | None,
) -> bool:
    """Return whether a local file passes the filters, judged by its CloudTrail file name."""
    match = src.LOG_FILE_NAME.match(uri.rsplit("/", 1)[-1])
    if match is None:
        return True  # not named as CloudTrail names files: nothing to judge by, so keep it
    if accounts and match["account"] not in accounts:
        return False
    if regions and match["region"] not in regions:
        return False
    stamp = src.stamp_of_name(uri)
    if stamp is None:
        return True
    if start is not None and stamp < start:
        return False
    return not (end is not None and stamp >= end + src.DELIVERY_SLACK)


def _plan(
    lake: Store, objects: list[src.SourceObject], summary: IngestSummary
) -> tuple[list[src.SourceObject], dict[str, frozenset[str]]]:
    """Return the objects to read and, for those read before, the event ids already landed."""
    known = lake.known_sources()
    todo: list[src.SourceObject] = []
    again: list[str] = []
    for obj in objects:
        seen = known.get(obj.uri)
        # What a source yields depends only on its bytes: one read before, whatever it held
        # (records, some bad records, nothing readable), is read again only once it changes.
        if seen is not None and seen.version == obj.version:
            summary.sources_unchanged += 1
            summary.sources_still_bad += seen.status != "ingested"
            continue
        todo.append(obj)
        if seen is not None and seen.rows:
            again.append(obj.uri)
    exclude = {uri: frozenset(ids) for uri, ids in lake.event_ids_from(again).items()}
    return todo, exclude


def _chunks(
    objects: list[src.SourceObject], *, task_bytes: int, workers: int
) -> Iterator[list[src.SourceObject]]:
    """Yield consecutive runs of ``objects`` to be the run's tasks.

    With several workers, each task takes ``1 / (2 * workers)`` of what is left (at most
    ``task_bytes``, at least a sixteenth of the first task), so the last tasks are small and the
    workers finish together instead of one waiting on the other. With one, tasks of
    ``task_bytes`` only bound what a crash can lose.
    """
    remaining = sum(o.size for o in objects)
    smallest = max(1, min(task_bytes, remaining) // 16)

    def limit() -> int:
        if workers == 1:
            return task_bytes
        return max(smallest, min(task_bytes, remaining // (2 * workers)))

    chunk: list[src.SourceObject] = []
    size = 0
    for obj in objects:
        chunk.append(obj)
        size += obj.size
        if size >= limit():
            yield chunk
            remaining -= size
            chunk, size = [], 0
    if chunk:
        yield chunk


# --- running tasks -------------------------------------------------------------------------------


def _local_progress(
    on_progress: Callable[[Progress], None] | None, total: int
) -> Callable[[int, int, int], None] | None:
    if on_progress is None:
        return None
    counts = [0, 0, 0]

    def report(sources: int, events: int, size: int) -> None:
        counts[0] += sources
        counts[1] += events
        counts[2] += size
        on_progress(Progress(counts[0], total, counts[1], counts[2]))

    return report


_PROGRESS_QUEUE: Any = None
# How often a worker checks that its parent is still there (where the kernel cannot tell it).
PARENT_CHECK_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _init_worker(progress_queue: Any, parent: int) -> None:
    global _PROGRESS_QUEUE  # noqa: PLW0603 - one queue per worker process, set once at start
    _PROGRESS_QUEUE = progress_queue
    _die_with(parent)


def _die_with(parent: int) -> None:
    """Make this worker process end as soon as ``parent`` (the ingest's process) is gone.

    A parent killed outright (SIGKILL, the OOM killer) runs no cleanup, and its workers would
    otherwise decode on for good (about 200 MB each). On Linux the kernel kills this process when
    the thread that started it ends (the ingest's caller, blocked in ``_run_pool`` for as long as
    the pool lives); elsewhere, and as a fallback, a thread watches for the parent to change.
    """
    if sys.platform.startswith("linux"):
        # Without prctl, the watching thread below still ends the worker.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the kernel was asked to tell
    threading.Thread(
        target=_watch_parent, args=(parent,), name="trailmin-parent-watch", daemon=True
    ).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)  # orphaned: nothing it would write could be committed


def _queue_progress(sources: int, events: int, size: int) -> None:
    if _PROGRESS_QUEUE is not None:
        _PROGRESS_QUEUE.put((sources, events, size))


def _pool_task(task: _Task) -> _TaskResult:
    return _run_task(task, progress=_queue_progress if _PROGRESS_QUEUE is not None else None)


def _run_pool(
    tasks: list[_Task],
    workers: int,
    commit: Callable[[_TaskResult], None],
    *,
    on_progress: Callable[[Progress], None] | None,
    total: int,
) -> None:
    # spawn, not fork: the parent may hold threads (progress display, boto3) that fork would copy
    # in a locked state.
    context = multiprocessing.get_context("spawn")
    progress_queue = context.Queue() if on_progress is not None else None
    stop = threading.Event()
    drainer = None
    if on_progress is not None and progress_queue is not None:
        drainer = threading.Thread(
            target=_drain_progress, args=(progress_queue, on_progress, total, stop), daemon=True
        )
        drainer.start()
    try:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(tasks)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(progress_queue, os.getpid()),
        ) as pool:
            pending: set[Future[_TaskResult]] = set()
            queue_of_tasks = iter(tasks)
            # Keep one task queued behind each busy worker, not the whole run in memory.
            for task in queue_of_tasks:
                pending.add(pool.submit(_pool_task, task))
                if len(pending) >= 2 * workers:
                    break
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    commit(future.result())
                    next_task = next(queue_of_tasks, None)
                    if next_task is not None:
                        pending.add(pool.submit(_pool_task, next_task))
    finally:
        stop.set()
        if drainer is not None:
            drainer.join(timeout=5)


def _drain_progress(
    progress_queue: Any,
    on_progress: Callable[[Progress], None],
    total: int,
    stop: threading.Event,
) -> None:
    sources = events = size = 0
    while not stop.is_set():
        try:
            done, more_events, more_bytes = progress_queue.get(timeout=0.2)
        except queue.Empty:
            continue
        except (EOFError, OSError):
            return
        sources += done
        events += more_events
        size += more_bytes
        on_progress(Progress(sources, total, events, size))


def _iter_bodies(task: _Task) -> Iterator[tuple[src.SourceObject, bytes | Exception]]:
    local = [o for o in task.objects if not o.uri.startswith("s3://")]
    remote = [o for o in task.objects if o.uri.startswith("s3://")]
    yield from src.iter_local(local)
    if remote:
        from trailmin.ingestion import s3 as s3_source

        config = task.s3 or S3Config()
        client = s3_source.make_client(
            profile=config.profile,
            region=config.region,
            endpoint_url=config.endpoint_url,
            max_pool_connections=max(10, task.max_in_flight),
        )
        yield from s3_source.iter_s3_bodies(client, remote, max_in_flight=task.max_in_flight)


def _run_task(task: _Task, *, progress: Callable[[int, int, int], None] | None) -> _TaskResult:
    """Return the files written and the fate of each source of ``task``."""
    writer = PartitionWriter(Store(task.lake), tag=task.tag, mapping_version=task.mapping_version)
    batch = _Batch(task, writer)
    pending = [0, 0, 0]
    last_report = time.monotonic()
    # Decoding allocates millions of short-lived objects and makes none of them cyclic; the
    # cycle collector would walk them all again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for obj, body in _iter_bodies(task):
            events = batch.add(obj, body)
            if progress is not None:
                pending[0] += 1
                pending[1] += events
                pending[2] += obj.size
                now = time.monotonic()
                if now - last_report > 0.25:
                    progress(*pending)
                    pending = [0, 0, 0]
                    last_report = now
        batch.flush()
        files = writer.close()
    except BaseException:
        writer.discard()
        raise
    finally:
        if collecting:
            gc.enable()
    if progress is not None and pending[0]:
        progress(*pending)
    return _TaskResult(files=files, results=batch.results, unread=batch.unread)


class _Batch:
    """Decoded sources waiting to be converted to Arrow together (per-call costs are fixed)."""

    def __init__(self, task: _Task, writer: PartitionWriter) -> None:
        self._task = task
        self._writer = writer
        self._parts: list[Part] = []
        self._decoded: list[tuple[src.SourceObject, Decoded]] = []
        self._records = 0
        self.results: list[SourceResult] = []
        self.unread: list[tuple[str, str]] = []

    def add(self, obj: src.SourceObject, body: bytes | Exception) -> int:
        """Take one source's bytes; return how many records it holds (0 when skipped)."""
        if isinstance(body, CredentialsError):
            raise body  # every object after it would fail alike: stop, keeping what committed
        if isinstance(body, Exception):
            self.unread.append((obj.uri, SourceError.skip_reason(body)))
            return 0
        try:
            decoded = decode_records(body)
        except BadSource as exc:
            self.results.append(_skipped(obj, exc.reason))
            return 0
        except MemoryError:
            self.results.append(
                _skipped(obj, "too large to decode in memory; split the file and ingest the parts")
            )
            return 0
        self._parts.append(Part(decoded.records, obj.uri, src.account_of_name(obj.uri)))
        self._decoded.append((obj, decoded))
        self._records += len(decoded.records)
        if self._records >= BATCH_RECORDS:
            self.flush()
        return len(decoded.records)

    def flush(self) -> None:
        """Convert and write what is waiting, and record each source's result."""
        if not self._parts:
            return
        converted = parts_to_table(
            self._parts, map_permissions=self._task.map_permissions, latest=self._task.latest
        )
        table, part_of = converted.table, converted.part
        # A source read again drops the rows it landed before: its own, matched by event id.
        drop = np.zeros(table.num_rows, dtype=bool)
        for index, (obj, _) in enumerate(self._decoded):
            landed = self._task.exclude.get(obj.uri)
            if landed:
                known = pc.is_in(table["event_id"], value_set=pa.array(sorted(landed)))
                drop |= (part_of == index) & known.to_numpy(zero_copy_only=False)
        if drop.any():
            table = table.filter(pa.array(~drop))
            part_of = part_of[~drop]
        self._writer.add(table)
        rows = np.bincount(part_of, minlength=len(self._parts))
        unreadable: dict[int, list[tuple[int, str]]] = {}
        for owner, record in converted.skipped:
            unreadable.setdefault(owner, []).append((record.index, record.reason))
        for index, (obj, decoded) in enumerate(self._decoded):
            problems = tuple(
                sorted([(s.index, s.reason) for s in decoded.skipped] + unreadable.get(index, []))
            )
            self.results.append(
                SourceResult(
                    uri=obj.uri,
                    version=obj.version,
                    size=obj.size,
                    etag=obj.etag,
                    mtime=obj.mtime,
                    rows=int(rows[index]),
                    status="partial" if problems else "ingested",
                    reason=f"{len(problems)} record(s) left out" if problems else None,
                    problems=problems,
                )
            )
        self._parts, self._decoded, self._records = [], [], 0


def _skipped(obj: src.SourceObject, reason: str) -> SourceResult:
    return SourceResult(
        uri=obj.uri,
        version=obj.version,
        size=obj.size,
        etag=obj.etag,
        mtime=obj.mtime,
        rows=0,
        status="skipped",
        reason=reason,
    )


def _tally(summary: IngestSummary, result: _TaskResult) -> None:
    summary.files_written += len(result.files)
    for uri, reason in result.unread:
        summary.sources_read += 1
        _refuse(summary, uri, reason)
    for r in result.results:
        summary.sources_read += 1
        summary.bytes_read += r.size
        summary.events += r.rows
        summary.records_skipped += len(r.problems)
        if r.status == "ingested":
            summary.sources_ingested += 1
        elif r.status == "partial":
            summary.sources_partial += 1
        else:
            summary.sources_skipped += 1
            summary.skipped.append({"source": r.uri, "reason": r.reason or ""})
        for position, reason in r.problems:
            if len(summary.record_problems) < QUOTED_PROBLEMS:
                summary.record_problems.append(
                    {"source": r.uri, "position": position, "reason": reason}
                )
