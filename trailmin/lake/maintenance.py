"""Rewriting the lake's files in place: compaction (a partition's small files merged into few)
and remap (files filled by another mapping version filled again).

Both stage their new files with the ingest's ``PartitionWriter`` and swap them for the old ones
with ``Store.replace_files``: in the manifest in one transaction, in ``events/`` in one rename of
the partition's folder, so a crash at any point loses no row and doubles none
(``trailmin.lake.store``).
"""

from __future__ import annotations

import itertools
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from trailmin.lake.store import PartitionWriter, Store, WrittenFile, utc_now

# Rows read at a time from a file being rewritten.
BATCH_ROWS = 65_536


@dataclass(slots=True)
class CompactSummary:
    """What ``compact`` merged."""

    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-ready values."""
        return asdict(self)


def compact(lake: str | Path, *, target_rows: int = 4_000_000) -> CompactSummary:
    """Return what was merged after merging each partition's files into as few as fit.

    Incremental runs leave a few small files per partition; this rewrites them into files of up
    to ``target_rows`` rows with large row groups. Crash-safe like ingest: the new file is
    committed in the manifest in the same transaction that retires the old ones, and replaces
    them under ``events/`` in one rename of the partition's folder (see ``trailmin.lake.store``).
    """
    the_lake = Store.open(lake)
    summary = CompactSummary()
    with the_lake.locked(command="trailmin lake compact"):
        run_id = "compact-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        for account, day, version, paths in the_lake.small_partitions(min_files=2):
            old: list[str] = []
            merged: list[WrittenFile] = []
            for group in _groups_by_rows(the_lake, paths, target_rows):
                if len(group) >= 2:
                    old += group
                    merged += _rewrite(the_lake, account, day, group, run_id, version)
            if merged:  # one swap of the partition's folder for all its groups
                the_lake.replace_files(old, merged, run_id)
            summary.files_before += len(old)
            summary.files_after += len(merged)
            summary.rows += sum(new.rows for new in merged)
            summary.partitions += 1
        the_lake.finish_run(run_id, {"compact": summary.to_dict(), "finished": utc_now()})
    return summary


def _groups_by_rows(lake: Store, paths: list[str], target_rows: int) -> Iterator[list[str]]:
    """Yield ``paths`` in runs of files holding at most ``target_rows`` rows together (a file
    larger than that alone)."""
    group: list[str] = []
    rows = 0
    for path in paths:
        count = pq.ParquetFile(lake.path / path).metadata.num_rows
        if group and rows + count > target_rows:
            yield group
            group, rows = [], 0
        group.append(path)
        rows += count
    if group:
        yield group


@dataclass(slots=True)
class RemapSummary:
    """What ``remap`` rewrote."""

    mapping_version: str
    files: int = 0
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-ready values."""
        return asdict(self)


def remap(
    lake: str | Path, *, version: str, refill: Callable[[pa.Table], pa.Table]
) -> RemapSummary:
    """Return what was rewritten after passing the rows of every file filled by a mapping
    other than ``version`` through ``refill`` (which fills their ``permissions`` again).

    Files are rewritten one for one from their stored columns (the sources are not read again);
    as in compaction, each partition's files are swapped in one manifest transaction and one
    rename of its folder.
    """
    the_lake = Store.open(lake)
    summary = RemapSummary(mapping_version=version)
    with the_lake.locked(command="trailmin remap"):
        run_id = "remap-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        stale = the_lake.files_mapped_otherwise(version)
        for (account, day), rows in itertools.groupby(stale, key=lambda row: row[1:]):
            paths = [path for path, _, _ in rows]
            rewritten = [
                new
                for path in paths
                for new in _rewrite(the_lake, account, day, [path], run_id, version, refill)
            ]
            the_lake.replace_files(paths, rewritten, run_id)
            summary.files += len(rewritten)
            summary.rows += sum(new.rows for new in rewritten)
        the_lake.finish_run(run_id, {"remap": summary.to_dict(), "finished": utc_now()})
    return summary


def _rewrite(
    lake: Store,
    account: str,
    day: str,
    paths: list[str],
    run_id: str,
    version: str,
    refill: Callable[[pa.Table], pa.Table] | None = None,
) -> list[WrittenFile]:
    """Return the file staged (for ``Store.replace_files``) from the rows of ``paths``, passed
    through ``refill`` when given: one file, none when they hold no row."""
    # No file limit: a group is as large as compaction chose it, a remapped file as it was.
    writer = PartitionWriter(
        lake,
        tag=f"{run_id}-{uuid.uuid4().hex[:8]}",
        mapping_version=version,
        max_file_rows=sys.maxsize,
    )
    partition = {"account": pa.scalar(account), "date": pa.scalar(date.fromisoformat(day))}
    for path in paths:
        for batch in pq.ParquetFile(lake.path / path).iter_batches(batch_size=BATCH_ROWS):
            table = pa.Table.from_batches([batch])
            if refill is not None:
                table = refill(table)
            for name, value in partition.items():  # the writer files rows by these columns
                table = table.append_column(name, pa.repeat(value, table.num_rows))
            writer.add(table)
    return writer.close()
