"""Counts in words: "1 call", "2 calls", "1,204 events"; one rule for every output."""

from __future__ import annotations


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """Return ``number`` with thousands separators and ``noun`` in the form the number needs.

    The plural is ``noun + "s"`` unless given ("1 policy", "2 policies").
    """
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"
