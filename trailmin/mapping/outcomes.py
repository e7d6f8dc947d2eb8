"""What a call's error code says about authorization: refused, not reached, or passed.

A call refused by authorization (``AccessDenied``…) is evidence that something was asked for,
never a grant. A call that failed *after* authorization (``NoSuchKey``, ``BucketNotEmpty``, a
quota reached) needed, and held, the permission: a policy without it would turn that failure into
an access-denied error. A call that failed before authorization was looked at (throttling,
request validation, bad credentials) says nothing either way, and neither does an error code the
table does not know. The table is data (``data/error_codes.csv``, a line of provenance each): glob
patterns over the code, the first match deciding.
"""

from __future__ import annotations

import csv
import fnmatch
import functools
import re

from trailmin.mapping.actions import data_file

SUCCEEDED = "succeeded"  # no error code
DENIED = "denied"  # refused by authorization
AUTHORIZED = "authorized"  # failed after authorization passed
BEFORE = "before"  # failed before authorization was decided
UNKNOWN = "unknown"  # an error code the table does not know
OUTCOMES = (SUCCEEDED, DENIED, AUTHORIZED, BEFORE, UNKNOWN)


@functools.cache
def rules() -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    """Return the table's (pattern, outcome, compiled pattern) rows, in order."""
    rows = csv.DictReader(data_file("error_codes.csv").splitlines())
    return tuple(
        (row["pattern"], row["outcome"], re.compile(fnmatch.translate(row["pattern"])))
        for row in rows
    )


@functools.cache
def outcome_of(error_code: str | None) -> str:
    """Return what ``error_code`` (None: the call succeeded) says about authorization."""
    if error_code is None:
        return SUCCEEDED
    for _, outcome, pattern in rules():
        if pattern.match(error_code):
            return outcome
    return UNKNOWN


def denied_codes() -> frozenset[str]:
    """Return the error codes that mean authorization refused the call."""
    return frozenset(p for p, outcome, _ in rules() if outcome == DENIED)
