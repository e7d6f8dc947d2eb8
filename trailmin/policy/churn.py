"""Which parts of a principal's resources keep changing, and the patterns that predict them.

Pure. A proposal made of the exact ARNs a principal used refuses tomorrow's new object key, log
stream, instance or task-definition revision. This module learns, from the window, which parts
of each resource keep taking new values and generalizes exactly those parts, keeping the stable
ones exact:

1. each ARN is read against the ARN templates of the resource types its action accepts (the
   catalog), giving the value of every variable (``${BucketName}``, ``${ObjectName}``, …). The
   partition, region and account fields are never generalized, whatever their variable is called;
2. per template, variables are taken left to right, and the ARNs grouped by the values of the
   variables before (the same bucket, the same log group, the same task family). A group's
   values *churn* when new ones kept appearing through the window: at least ``MIN_DISTINCT``
   values first used in at least ``MIN_SLOTS`` of the window's ``SLOTS`` equal parts, all of
   them shaped like the ids AWS makes (``i-0abc…``, a UUID, a revision number): then the part
   becomes ``*``. Names (a bucket, a table, a role: anything else) need ``MIN_NAMES`` values in
   ``MIN_NAME_SLOTS`` parts, and become their common prefix and ``*`` (``job-runner-*``), never a
   bare ``*``: new names are rarer than new ids, and a wrong prediction there widens to every
   resource of the type;
3. a path (an object key, a log stream, an IAM path) is split at ``/`` and generalized at the
   shallowest level whose children churn, cut back past a trailing date (``2026/10``,
   ``2026-10-05``, ``dt=2026-10-05``), which changes next month whatever the window showed:
   ``invoices/2026/10/inv-1.pdf`` becomes ``invoices/*``. At the root of a resource's name (an
   IAM role's path and name) the rule for names applies;
4. the values of all the principal's actions on a template are pooled (keys written and keys
   read are one key space), but a pattern is given to an action only when that action used at
   least two of the values itself, or when its access level is no higher than that of an action
   that did: one ``DeleteObject`` beside many reads stays exact;
5. a path pattern is given too to the same part of a sibling that holds fewer values: the same
   resource in another region (the bucket ``…-eu-west-1`` beside ``…-us-east-1``), never
   another account or another name.

Each pattern is reported with its evidence: the part generalized, the distinct values it covers,
how many were first used in the last third of the window, and whether it was learned from a
sibling.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from trailmin.aws import catalog
from trailmin.aws.arns import TEMPLATE_VARIABLE, escape, template_forms

SLOTS = 20
MIN_SLOTS = 3
MIN_DISTINCT = 3
MIN_NAMES = 5
MIN_NAME_SLOTS = 4

_VARIABLE = TEMPLATE_VARIABLE
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
# The ids AWS makes: EC2's prefix-hex (i-, vol-, sg-, subnet-…), UUIDs, long hex (ECS task
# ids, hashes), numbers (revisions, versions).
_AWS_ID = re.compile(
    r"^(?:[a-z]{1,12}-[0-9a-f]{8,32}"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|[0-9a-f]{16,}|\d+)$"
)
_YEAR = re.compile(r"^(?:(?:year|yyyy|y)=)?(?:199\d|20[0-4]\d)$", re.IGNORECASE)
_MONTH_OR_DAY = re.compile(r"^(?:(?:month|day|hour|mm|dd|hh|m|d|h)=)?\d{1,2}$", re.IGNORECASE)
_DATE = re.compile(
    r"^(?:[A-Za-z_]+=)?(?:199\d|20[0-4]\d)-?(?:0[1-9]|1[0-2])(?:-?(?:0[1-9]|[12]\d|3[01]))?"
    r"(?:T[\d:.]+Z?)?$"
)
_SEPARATORS = "-_./:"
_LEVELS = {level: rank for rank, level in enumerate(reversed(catalog.ACCESS_LEVELS))}


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
    distinct: int  # distinct values of the generalized part among the ARNs covered
    late: int  # of which first used in the last third of the window
    part: str  # the template variable generalized, e.g. "ObjectName"
    sibling: bool = False  # learned from the same part of a sibling (another region's)


@dataclass(frozen=True, slots=True)
class _Template:
    text: str
    pieces: tuple[str, ...]  # literal, variable, literal, variable, …, literal
    fixed: tuple[bool, ...]  # per variable: in the partition, region or account field
    regex: re.Pattern[str]

    @property
    def variables(self) -> tuple[str, ...]:
        return self.pieces[1::2]

    def top(self) -> int | None:
        """Return the position of the first variable that names the resource."""
        return next((i for i, fixed in enumerate(self.fixed) if not fixed), None)


@functools.cache
def _template(text: str) -> _Template:
    pieces = tuple(_VARIABLE.split(text))
    regex, fixed = [], []
    colons = 0
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            regex.append(re.escape(piece))
            colons += piece.count(":")
            continue
        # arn:partition:service:region:account:resource: the fields before the fifth colon.
        in_head = colons < 5 and piece not in _PATHS
        fixed.append(in_head)
        if in_head:
            regex.append("([^:]*)")
        else:
            regex.append("(.+)" if piece in _PATHS else "([^:/]+)")
    return _Template(text, pieces, tuple(fixed), re.compile("^" + "".join(regex) + "$"))


@functools.cache
def _templates(action: str) -> tuple[_Template, ...]:
    found = catalog.action(action)
    if found is None:
        return ()
    ordered = sorted(found.resource_types, key=lambda rt: not rt.required)
    return tuple(
        _template(form)
        for rt in ordered
        if rt.arn_template
        for form in template_forms(rt.arn_template)
    )


def read(action: str, arn: str) -> tuple[_Template, tuple[str, ...]] | None:
    """Return the template ``arn`` is an ARN of for ``action``, and its variables' values."""
    for template in _templates(action):
        match = template.regex.match(arn)
        if match is not None:
            return template, match.groups()
    return None


@functools.cache
def _level(action: str) -> int:
    found = catalog.action(action)
    return _LEVELS.get(found.access_level, len(_LEVELS)) if found is not None else len(_LEVELS)


@dataclass(slots=True)
class _Entry:
    action: str
    arn: str
    first_seen: datetime
    exact: tuple[str, ...]  # each variable's value, escaped
    values: list[str]  # the same, or a pattern once generalized


class _Window:
    """The window's equal parts, to tell values that kept appearing from those seen at once."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.length = max((end - start).total_seconds(), 1.0)

    def slot(self, when: datetime) -> int:
        part = int((when - self.start).total_seconds() / self.length * SLOTS)
        return min(max(part, 0), SLOTS - 1)

    def late(self, when: datetime) -> bool:
        return (when - self.start).total_seconds() >= self.length * 2 / 3


def _firsts(pairs: Iterable[tuple[str, datetime]]) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    for value, when in pairs:
        if value not in found or when < found[value]:
            found[value] = when
    return found


def _pattern_of(firsts: dict[str, datetime], window: _Window, *, names: bool) -> str | None:
    """Return what a part with these values (and when each was first used) becomes: ``*`` for
    churning AWS ids, ``prefix*`` for churning names, or None when it holds still. ``names``:
    a name must keep a prefix even when its values look like ids."""
    if len(firsts) < MIN_DISTINCT:
        return None
    if not names:
        # The ids among them (versions beside an alias): new ids keep coming, the rest holds.
        ids = [when for value, when in firsts.items() if _AWS_ID.match(value)]
        if len(ids) >= MIN_DISTINCT and len({window.slot(when) for when in ids}) >= MIN_SLOTS:
            return "*"
    slots = len({window.slot(when) for when in firsts.values()})
    if len(firsts) < MIN_NAMES or slots < MIN_NAME_SLOTS:
        return None
    prefix = _common_prefix(list(firsts))
    cut = max(prefix.rfind(s) for s in _SEPARATORS) + 1
    return prefix[:cut] + "*" if cut > 0 else None


def _common_prefix(values: list[str]) -> str:
    first, last = min(values), max(values)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def _without_date(parts: list[str]) -> list[str]:
    """Return ``parts`` with a trailing date taken off (``2026/10``, ``2026-10-05``,
    ``dt=2026-10-05/hour=03``): its parts change next month whatever the window showed."""
    kept = list(parts)
    while kept:
        last = kept[-1]
        if _DATE.match(last) or _YEAR.match(last):
            kept.pop()
            continue
        # A month, day or hour only right after a year or another date part.
        tail = kept[-4:-1]
        if _MONTH_OR_DAY.match(last) and any(_YEAR.match(p) or _DATE.match(p) for p in tail):
            kept.pop()
            continue
        break
    return kept


def generalize(
    seen: Sequence[Seen],
    *,
    start: datetime,
    end: datetime,
    ids_only: frozenset[str] = frozenset(),
) -> tuple[dict[tuple[str, str], str], list[Pattern]]:
    """Return, for each (action, ARN) of ``seen`` that a pattern replaces, the pattern, and the
    patterns with their evidence. ARNs no template of their action reads are left alone.

    The actions of ``ids_only`` (privilege escalation: passing a role, running a command) keep
    every name and path exact, and only take ``*`` for ids AWS makes (new instances, revisions):
    a pattern over role names would pass roles the principal never passed."""
    window = _Window(start, end)
    by_template: dict[str, list[_Entry]] = defaultdict(list)
    for item in seen:
        read_as = read(item.action, item.arn)
        if read_as is None:
            continue
        template, values = read_as
        exact = tuple(escape(v) for v in values)
        by_template[template.text].append(
            _Entry(item.action, item.arn, item.first_seen, exact, list(exact))
        )
    replaced: dict[tuple[str, str], str] = {}
    patterns: list[Pattern] = []
    for text, entries in sorted(by_template.items()):
        template = _template(text)
        how: dict[tuple[str, str], tuple[int, bool]] = {}  # (action, arn) -> (part, sibling)
        for position, variable in enumerate(template.variables):
            if template.fixed[position]:
                continue
            groups: dict[tuple[str, ...], list[_Entry]] = defaultdict(list)
            for entry in entries:
                groups[tuple(entry.values[:position])].append(entry)
            made: list[tuple[tuple[str, ...], str, frozenset[str]]] = []
            for parent, members in groups.items():
                if variable in _PATHS:
                    found = _generalize_path(
                        members,
                        position,
                        window,
                        root_is_name=position == template.top(),
                        excluded=ids_only,
                    )
                else:
                    # A name people chose (a bucket, a table, a function: the catalog's
                    # variables called …Name) keeps a prefix; ids (…Id, …Number) may go whole.
                    found = _generalize_name(
                        members, position, window, names="Name" in variable, ids_only=ids_only
                    )
                for pattern, actions in found:
                    made.append((parent, pattern, actions))
                    for member in members:
                        if member.values[position] == pattern:
                            how[(member.action, member.arn)] = (position, False)
            if variable in _PATHS:
                for member in _transfer(groups, made, position, template):
                    how[(member.action, member.arn)] = (position, True)
        for entry in entries:
            pattern = _fill(template, entry.values)
            if pattern != _fill(template, list(entry.exact)):
                replaced[(entry.action, entry.arn)] = pattern
        patterns.extend(_patterns(template, entries, replaced, how, window))
    return replaced, sorted(patterns, key=lambda p: (p.pattern, p.actions))


def _granted_to(members: list[_Entry], position: int) -> frozenset[str]:
    """Return the actions a pattern over ``members`` is given to: those that used two of its
    values or more, and those whose access level is no higher than one of theirs."""
    used: dict[str, set[str]] = defaultdict(set)
    for member in members:
        used[member.action].add(member.exact[position])
    evidence = [a for a, values in used.items() if len(values) >= 2]
    ceiling = max((_level(a) for a in evidence), default=min(_level(a) for a in used))
    return frozenset(a for a in used if a in evidence or _level(a) <= ceiling)


def _generalize_name(
    members: list[_Entry],
    position: int,
    window: _Window,
    *,
    names: bool,
    ids_only: frozenset[str],
) -> list[tuple[str, frozenset[str]]]:
    firsts = _firsts((m.values[position], m.first_seen) for m in members)
    pattern = _pattern_of(firsts, window, names=names)
    if pattern is None:
        return []
    actions = _granted_to(members, position)
    if pattern != "*":
        actions -= ids_only
    for member in members:
        if member.action in actions:
            member.values[position] = pattern  # the values are escaped already, and so is it
    return [(pattern, actions)]


def _generalize_path(
    members: list[_Entry],
    position: int,
    window: _Window,
    *,
    root_is_name: bool,
    excluded: frozenset[str],
) -> list[tuple[str, frozenset[str]]]:
    """Generalize the values at ``position`` at the shallowest level of the path whose children
    churn; return the patterns made and the actions given each."""
    found: list[tuple[str, frozenset[str]]] = []

    def descend(prefix: tuple[str, ...], group: list[_Entry]) -> None:
        depth = len(prefix)
        children: dict[str, list[_Entry]] = defaultdict(list)
        for member in group:
            parts = member.exact[position].split("/")
            if len(parts) > depth:
                children[parts[depth]].append(member)
        firsts = {child: min(m.first_seen for m in under) for child, under in children.items()}
        if root_is_name and depth == 0:
            # The root of a resource's own name (an IAM role's path or name): names' rule.
            child_pattern = _pattern_of(firsts, window, names=True)
            kept: list[str] = []
        else:
            # Keys, streams and paths under a container: any new value counts, not only ids.
            slots = len({window.slot(when) for when in firsts.values()})
            churns = len(firsts) >= MIN_DISTINCT and slots >= MIN_SLOTS
            child_pattern = "*" if churns else None
            kept = _without_date(list(prefix))
            if root_is_name and not kept:
                child_pattern = None  # cut back to the root of a name: never a bare "*"
        if child_pattern is not None:
            pattern = ("/".join(kept) + "/" if kept else "") + child_pattern
            actions = _granted_to(group, position) - excluded
            for member in group:
                if member.action in actions and member.values[position] == member.exact[position]:
                    member.values[position] = pattern
            found.append((pattern, actions))
            return
        for child, under in children.items():
            deeper = [m for m in under if len(m.exact[position].split("/")) > depth + 1]
            if len(deeper) > 1:
                descend((*prefix, child), deeper)

    descend((), members)
    return found


_REGION = re.compile(r"(?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov)?-[a-z]+-\d")


def _regionless(parent: tuple[str, ...], template: _Template) -> tuple[str, ...]:
    """Return ``parent`` with every region name taken out: the key of its siblings."""
    out = []
    for position, value in enumerate(parent):
        variable = template.variables[position]
        out.append("" if variable == "Region" else _REGION.sub("<region>", value))
    return tuple(out)


def _transfer(
    groups: dict[tuple[str, ...], list[_Entry]],
    made: list[tuple[tuple[str, ...], str, frozenset[str]]],
    position: int,
    template: _Template,
) -> list[_Entry]:
    """Give the path patterns learned in one group to its siblings (the same resource in another
    region), for the actions they were given, where the sibling's values are under the prefix.
    Return the members changed."""
    changed: list[_Entry] = []
    for source, pattern, actions in made:
        prefix = pattern[:-1]
        if not prefix or not pattern.endswith("/*"):
            continue  # a whole path or a name's prefix is never carried over
        key = _regionless(source, template)
        for parent, members in groups.items():
            if parent == source or _regionless(parent, template) != key:
                continue
            for member in members:
                value = member.values[position]
                fresh = value == member.exact[position]
                if fresh and member.action in actions and value.startswith(prefix):
                    member.values[position] = pattern
                    changed.append(member)
    return changed


def _fill(template: _Template, values: list[str]) -> str:
    out = []
    for index, piece in enumerate(template.pieces):
        out.append(piece if index % 2 == 0 else values[index // 2])
    return "".join(out)


def _patterns(
    template: _Template,
    entries: list[_Entry],
    replaced: dict[tuple[str, str], str],
    how: dict[tuple[str, str], tuple[int, bool]],
    window: _Window,
) -> list[Pattern]:
    covered: dict[str, list[_Entry]] = defaultdict(list)
    for entry in entries:
        pattern = replaced.get((entry.action, entry.arn))
        if pattern is not None:
            covered[pattern].append(entry)
    found = []
    for pattern, group in covered.items():
        marks = [how[(e.action, e.arn)] for e in group if (e.action, e.arn) in how]
        position = max((p for p, _ in marks), default=0)
        values = _firsts((e.exact[position], e.first_seen) for e in group)
        found.append(
            Pattern(
                pattern=pattern,
                actions=tuple(sorted({e.action for e in group}, key=str.lower)),
                covers=tuple(sorted({e.arn for e in group})),
                distinct=len(values),
                late=sum(1 for when in values.values() if window.late(when)),
                part=template.variables[position],
                sibling=any(sibling for _, sibling in marks),
            )
        )
    return found
