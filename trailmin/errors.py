"""Exceptions raised by trailmin's library code.

One root, so that a caller can catch everything trailmin raises on purpose::

    TrailminError
    ├── SourceError        a source cannot be read at all (missing path, unreachable bucket)
    ├── LakeError          the lake directory is unusable (not a lake, other schema, bad manifest)
    │   └── LakeLockedError    another process holds the lake's lock
    └── UsageError         options that contradict each other or name nothing

Problems inside the data (a truncated file, a record without ``eventTime``) are not exceptions:
they are reported as skipped sources and records with a reason, and the run goes on.
Messages state the fact, then the fix.
"""

from __future__ import annotations


class TrailminError(Exception):
    """The root of every error trailmin raises on purpose."""


class SourceError(TrailminError):
    """A source cannot be read at all."""


class LakeError(TrailminError):
    """The lake directory cannot be used as asked."""


class LakeLockedError(LakeError):
    """Another process is writing to the lake."""


class UsageError(TrailminError):
    """The options given contradict each other or select nothing."""
