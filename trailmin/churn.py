"""Which parts of a principal's resources keep changing, and the patterns that predict them.

Pure. A proposal made of the exact ARNs a principal used refuses tomorrow's new object key, log
stream, instance or task-definition revision. This module learns, from the window, which parts
of each resource keep taking new values and generalizes exactly those parts, keeping the stable
ones exact:

1. each ARN is read against the ARN templates of the resource types its action accepts (the
   catalog), giving the value of every variable (``${BucketName}``, ``${ObjectName}``, …);
2. per template, variables are taken left to right, and the ARNs grouped by the values of the
   variables before (the same bucket, the same log group, the same task family). A group's
   values *churn* when new ones kept appearing through the window: at least ``MIN_DISTINCT``
   distinct values whose first uses fall in at least ``MIN_SLOTS`` of the window's ``SLOTS``
   equal parts (a name such as a table or bucket needs ``MIN_NAME_SLOTS``: new tables are rarer
   than new ids and cost more when wrongly predicted). Values of all the principal's actions on
   the template are pooled: keys written and keys read are the same key space;
3. a churning variable becomes ``*``; a hierarchical one (an object key, a log stream, an IAM
   path) is split at ``/`` and generalized at the shallowest level whose children churn, cut back
   past parts shaped like dates (``2026``, ``10``, ``2026-10-05``, ``dt=2026-10-05``), which
   change next month whatever the window showed: ``invoices/2026/10/inv-1.pdf`` becomes
   ``invoices/*``;
4. partition, region and account are never generalized.

Each pattern is reported with its evidence: the distinct values seen, how many first appeared in
the last third of the window, and the ARNs it covers.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from trailmin import catalog

SLOTS = 20
MIN_SLOTS = 3
MIN_NAME_SLOTS = 4
MIN_DISTINCT = 3
MIN_NAMES = 5

_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")
_FIXED = frozenset({"Partition", "Region", "Account"})
# Variables whose values are paths (split at "/"); the others are single names or ids.
_PATHS = frozenset(
    {
        "ObjectName",
        "LogGroupName",
        "LogStreamName",
        "ParameterNameWithoutLeadingSlash",
        "RoleNameWithPath",
        "UserNameWithPath",
        "GroupNameWithPath",
        "PolicyNameWithPath",
        "InstanceProfileNameWithPath",
    }
)
# Parts of a path that are dates or times: a year, a month or day, a date, a partition key's date.
_DATE = re.compile(
    r"^(?:[A-Za-z_]+=)?(?:(?:19|20|21)\d\d(?:-?\d\d(?:-?\d\d)?)?|\d{1,2}|\d{4}-\d{2}-\d{2}T[\d:]+Z?)$"
)
# A value with a run of digits or hex is an id, a revision or a date, not a name.
_ID = re.compile(r"\d{2,}|[0-9a-f]{6,}")


@dataclass(frozen=True, slots=True)
class Seen:
    """An exact resource an action was used on, and when it was first used."""

    action: str
    arn: str
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class Pattern:
    """A pattern that replaced the ARNs of ``actions`` it covers, and the evidence for it."""

    pattern: str  # as a policy writes it (exact parts escaped)
    actions: tuple[str, ...]
    covers: tuple[str, ...]
    distinct: int  # distinct values of the generalized part
    late: int  # of which first used in the last third of the window
    part: str  # the template variable generalized, e.g. "ObjectName"


@dataclass(frozen=True, slots=True)
class _Template:
    text: str
    pieces: tuple[str, ...]  # literal, variable, literal, variable, …, literal
    regex: re.Pattern[str]


@functools.cache
def _template(text: str) -> _Template:
    pieces = tuple(_VARIABLE.split(text))
    regex = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            regex.append(re.escape(piece))
        elif piece in _FIXED:
            regex.append("([^:]*)")
        else:
            regex.append("(.+)" if piece in _PATHS else "([^:/]+)")
    return _Template(text, pieces, re.compile("^" + "".join(regex) + "$"))


@functools.cache
def _templates(action: str) -> tuple[_Template, ...]:
    found = catalog.action(action)
    if found is None:
        return ()
    ordered = sorted(found.resource_types, key=lambda rt: not rt.required)
    return tuple(_template(rt.arn_template) for rt in ordered if rt.arn_template)


def read(action: str, arn: str) -> tuple[_Template, tuple[str, ...]] | None:
    """Return the template ``arn`` is an ARN of for ``action``, and its variables' values."""
    for template in _templates(action):
        match = template.regex.match(arn)
        if match is not None:
            return template, match.groups()
    return None


def escape(text: str) -> str:
    """Return ``text`` with the characters IAM reads as wildcards or variables made literal."""
    if not any(ch in text for ch in "$*?"):
        return text
    return "".join({"$": "${$}", "*": "${*}", "?": "${?}"}.get(ch, ch) for ch in text)


@dataclass(slots=True)
class _Entry:
    action: str
    arn: str
    first_seen: datetime
    values: list[str]  # each variable's value, escaped, or a pattern once generalized


class _Window:
    """The window's equal parts, to tell values that kept appearing from those seen at once."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.length = max((end - start).total_seconds(), 1.0)

    def slot(self, when: datetime) -> int:
        return min(int((when - self.start).total_seconds() / self.length * SLOTS), SLOTS - 1)

    def late(self, when: datetime) -> bool:
        return (when - self.start).total_seconds() >= self.length * 2 / 3


def _churns(firsts: dict[str, datetime], window: _Window) -> bool:
    if len(firsts) < MIN_DISTINCT:
        return False
    slots = {window.slot(when) for when in firsts.values()}
    if any(_ID.search(value) for value in firsts):
        return len(slots) >= MIN_SLOTS
    return len(firsts) >= MIN_NAMES and len(slots) >= MIN_NAME_SLOTS


def _firsts(entries: Iterable[_Entry], key: Iterable[str]) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    for entry, value in zip(entries, key, strict=True):
        if value not in found or entry.first_seen < found[value]:
            found[value] = entry.first_seen
    return found


def generalize(
    seen: Sequence[Seen], *, start: datetime, end: datetime
) -> tuple[dict[tuple[str, str], str], list[Pattern]]:
    """Return, for each (action, ARN) of ``seen`` that a pattern replaces, the pattern, and the
    patterns with their evidence. ARNs no template of their action reads are left alone."""
    window = _Window(start, end)
    by_template: dict[str, list[_Entry]] = defaultdict(list)
    templates: dict[str, _Template] = {}
    for item in seen:
        read_as = read(item.action, item.arn)
        if read_as is None:
            continue
        template, values = read_as
        templates[template.text] = template
        by_template[template.text].append(
            _Entry(item.action, item.arn, item.first_seen, [escape(v) for v in values])
        )
    replaced: dict[tuple[str, str], str] = {}
    patterns: list[Pattern] = []
    for text, entries in sorted(by_template.items()):
        template = templates[text]
        variables = template.pieces[1::2]
        evidence: dict[tuple[int, tuple[str, ...]], tuple[int, int]] = {}
        for position, variable in enumerate(variables):
            if variable in _FIXED:
                continue
            groups: dict[tuple[str, ...], list[_Entry]] = defaultdict(list)
            for entry in entries:
                groups[tuple(entry.values[:position])].append(entry)
            for parent, members in groups.items():
                changed = (
                    _generalize_path(members, position, window)
                    if variable in _PATHS
                    else _generalize_name(members, position, window)
                )
                for value, (distinct, late) in changed.items():
                    evidence[(position, (*parent, value))] = (distinct, late)
        for entry in entries:
            pattern = _fill(template, entry.values)
            if pattern != escape(entry.arn):
                replaced[(entry.action, entry.arn)] = pattern
        patterns.extend(_patterns(template, entries, replaced, evidence))
    return replaced, sorted(patterns, key=lambda p: (p.pattern, p.actions))


def _generalize_name(
    members: list[_Entry], position: int, window: _Window
) -> dict[str, tuple[int, int]]:
    firsts = _firsts(members, (m.values[position] for m in members))
    if not _churns(firsts, window):
        return {}
    for member in members:
        member.values[position] = "*"
    return {"*": (len(firsts), sum(1 for when in firsts.values() if window.late(when)))}


def _generalize_path(
    members: list[_Entry], position: int, window: _Window
) -> dict[str, tuple[int, int]]:
    """Generalize the values at ``position`` at the shallowest level of the path whose children
    churn; return the patterns made, with their distinct and late counts."""
    found: dict[str, tuple[int, int]] = {}

    def descend(prefix: tuple[str, ...], group: list[_Entry]) -> None:
        depth = len(prefix)
        children: dict[str, list[_Entry]] = defaultdict(list)
        for member in group:
            parts = member.values[position].split("/")
            if len(parts) > depth:
                children[parts[depth]].append(member)
        firsts: dict[str, datetime] = {}
        for child, under in children.items():
            firsts[child] = min(m.first_seen for m in under)
        if _churns(firsts, window):
            kept = list(prefix)
            while kept and _DATE.match(kept[-1]):
                kept.pop()  # a date's parts change next month whatever the window showed
            pattern = "/".join(kept) + ("/*" if kept else "*")
            for member in group:
                member.values[position] = pattern
            arns = _firsts(group, (m.arn for m in group))
            found[pattern] = (len(arns), sum(1 for when in arns.values() if window.late(when)))
            return
        for child, under in children.items():
            deeper = [m for m in under if len(m.values[position].split("/")) > depth + 1]
            if len(deeper) > 1:
                descend((*prefix, child), deeper)

    descend((), members)
    return found


def _fill(template: _Template, values: list[str]) -> str:
    out = []
    for index, piece in enumerate(template.pieces):
        out.append(piece if index % 2 == 0 else values[index // 2])
    return "".join(out)


def _patterns(
    template: _Template,
    entries: list[_Entry],
    replaced: dict[tuple[str, str], str],
    evidence: dict[tuple[int, tuple[str, ...]], tuple[int, int]],
) -> list[Pattern]:
    covered: dict[str, list[_Entry]] = defaultdict(list)
    for entry in entries:
        pattern = replaced.get((entry.action, entry.arn))
        if pattern is not None:
            covered[pattern].append(entry)
    variables = template.pieces[1::2]
    found = []
    for pattern, group in covered.items():
        values = group[0].values
        # The evidence of the deepest part generalized (the one the pattern was made for).
        position, distinct, late = max(
            (
                (position, *evidence[(position, tuple(values[: position + 1]))])
                for position in range(len(values))
                if (position, tuple(values[: position + 1])) in evidence
            ),
            default=(0, len({e.arn for e in group}), 0),
        )
        found.append(
            Pattern(
                pattern=pattern,
                actions=tuple(sorted({e.action for e in group}, key=str.lower)),
                covers=tuple(sorted({e.arn for e in group})),
                distinct=distinct,
                late=late,
                part=variables[position],
            )
        )
    return found
