"""Where CloudTrail records come from: local files and S3 objects, listed and read as bytes.

A source is listed once into ``SourceObject`` values (cheap: names, sizes, ETags or mtimes) so the
lake's manifest can tell what is new before anything is read; reading then yields each object's
bytes, which the pure decoder in ``decode.py`` turns into records.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trailmin.errors import SourceError
from trailmin.ingestion.decode import MAX_TEXT_BYTES

# The most bytes a source may hold as stored: no more than the text it may expand to.
MAX_SOURCE_BYTES = MAX_TEXT_BYTES

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
    # Named like CloudTrail files but not readable as one (a dangling link, a pipe, a device, a
    # folder that cannot be listed): (path, why), reported as skipped sources.
    unreadable: list[tuple[str, str]] = field(default_factory=list)


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
    """Return the CloudTrail files at ``paths`` (files, or directory trees walked in order).

    Only regular files are read (a link is followed to one): a named pipe would block the run
    while it holds the lake's lock, and a device such as ``/dev/zero`` never ends. Those, links
    to nothing and folders that cannot be listed go to ``Listing.unreadable`` with the reason.
    """
    listing = Listing()
    for path in paths:
        if not path.exists():
            raise SourceError(f"{path} does not exist; give a CloudTrail file or directory")
        if not path.is_dir():
            listing.listed += 1
            _add_file(listing, path)
            continue

        def unlistable(error: OSError) -> None:
            where = error.filename or "a folder"
            listing.unreadable.append(
                (
                    str(where),
                    f"could not list the folder ({error.strerror or error}); check its "
                    "permissions and run ingest again",
                )
            )

        for root, dirs, files in os.walk(path, onerror=unlistable):
            dirs.sort()
            for name in sorted(files):
                listing.listed += 1
                full = Path(root) / name
                if is_digest(name) or not name.endswith(LOCAL_SUFFIXES):
                    listing.ignored.append(str(full))
                    continue
                _add_file(listing, full)
    return listing


def _add_file(listing: Listing, path: Path) -> None:
    """Add ``path`` to ``listing`` as an object when it is a regular file, else as unreadable."""
    try:
        found = path.stat()
    except FileNotFoundError:
        listing.unreadable.append(
            (str(path), "a symbolic link to a file that does not exist; fix or remove the link")
        )
        return
    except OSError as exc:
        listing.unreadable.append((str(path), f"could not be read ({exc.strerror or exc})"))
        return
    if not stat.S_ISREG(found.st_mode):
        listing.unreadable.append(
            (
                str(path),
                f"not a regular file ({_kind(found.st_mode)}); only files are read, so that a "
                "pipe or a device cannot stall the run",
            )
        )
        return
    listing.objects.append(
        SourceObject(uri=os.path.abspath(path), size=found.st_size, mtime=found.st_mtime)
    )


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def read_local(obj: SourceObject) -> bytes:
    """Return the bytes of a local source object, at most ``MAX_SOURCE_BYTES`` of them.

    Opened without following a change of kind: a file replaced by a pipe after listing is
    refused instead of blocking.
    """
    descriptor = os.open(obj.uri, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{obj.uri} is no longer a regular file")
        data = handle.read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        raise OSError(f"{obj.uri} grew past {MAX_SOURCE_BYTES:,} bytes while it was read")
    return data


def iter_local(objects: list[SourceObject]) -> Iterator[tuple[SourceObject, bytes | Exception]]:
    """Yield each local object with its bytes, or the error that stopped reading it."""
    for obj in objects:
        try:
            yield obj, read_local(obj)
        except OSError as exc:
            yield obj, exc
