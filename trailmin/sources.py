"""Where CloudTrail records come from: local files and S3 objects, listed and read as bytes.

A source is listed once into ``SourceObject`` values (cheap: names, sizes, ETags or mtimes) so the
lake's manifest can tell what is new before anything is read; reading then yields each object's
bytes, which the pure decoder in ``records.py`` turns into rows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trailmin.errors import SourceError

# The files a local tree may hold that trailmin reads; anything else is left alone.
LOCAL_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz")

# <account>_CloudTrail_<region>_<yyyymmddThhmmZ>_<random>.json.gz, as CloudTrail names its files.
LOG_FILE_NAME = re.compile(
    r"^(?P<account>\d{12})_CloudTrail_(?P<region>[a-z0-9-]+)_"
    r"(?P<stamp>\d{8}T\d{4}Z)_(?P<random>[A-Za-z0-9]+)\.json(?:\.gz)?$"
)
DIGEST_MARKER = "CloudTrail-Digest"
# CloudTrail delivers a record up to about 15 minutes after the call: a file delivered in the
# hour after a window's end can still hold records from inside the window.
DELIVERY_SLACK = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class SourceObject:
    """One file or S3 object to ingest: its URI and what tells a changed copy from the same."""

    uri: str
    size: int
    etag: str | None = None
    mtime: float | None = None

    @property
    def version(self) -> str:
        """Return the token the manifest compares: the ETag for S3, size and mtime for files."""
        if self.etag is not None:
            return f"etag:{self.etag}"
        return f"size:{self.size}:mtime:{self.mtime}"


@dataclass(slots=True)
class Listing:
    """The objects a source selection names, and what was passed over while listing it."""

    objects: list[SourceObject] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # digests and foreign files, not errors
    listed: int = 0  # objects returned by the listing calls (S3) or files seen (local)


def is_digest(name: str) -> bool:
    """Return whether ``name`` is a CloudTrail digest file (integrity data, not records)."""
    return DIGEST_MARKER in name


def account_of_name(name: str) -> str | None:
    """Return the account id in a CloudTrail log file name, or None when it has none."""
    match = LOG_FILE_NAME.match(name.rsplit("/", 1)[-1])
    return match["account"] if match else None


def stamp_of_name(name: str) -> datetime | None:
    """Return the delivery time in a CloudTrail log file name, or None when it has none."""
    match = LOG_FILE_NAME.match(name.rsplit("/", 1)[-1])
    if match is None:
        return None
    return datetime.strptime(match["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)


def list_local(paths: list[Path]) -> Listing:
    """Return the CloudTrail files at ``paths`` (files, or directory trees walked in order)."""
    listing = Listing()
    for path in paths:
        if not path.exists():
            raise SourceError(f"{path} does not exist; give a CloudTrail file or directory")
        if path.is_file():
            listing.listed += 1
            listing.objects.append(_local_object(path))
            continue
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                listing.listed += 1
                full = Path(root) / name
                if is_digest(name) or not name.endswith(LOCAL_SUFFIXES):
                    listing.ignored.append(str(full))
                    continue
                listing.objects.append(_local_object(full))
    return listing


def _local_object(path: Path) -> SourceObject:
    stat = path.stat()
    return SourceObject(uri=os.path.abspath(path), size=stat.st_size, mtime=stat.st_mtime)


def read_local(obj: SourceObject) -> bytes:
    """Return the bytes of a local source object."""
    return Path(obj.uri).read_bytes()


def iter_local(objects: list[SourceObject]) -> Iterator[tuple[SourceObject, bytes | Exception]]:
    """Yield each local object with its bytes, or the error that stopped reading it."""
    for obj in objects:
        try:
            yield obj, read_local(obj)
        except OSError as exc:
            yield obj, exc
