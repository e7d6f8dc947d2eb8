"""Expansion: which catalog actions a set of policies grants, and on which resources.

Pure. ``Action``/``NotAction`` patterns are matched against every action of the pinned catalog
(iam-evaluation.md R2), so ``s3:Get*`` is the s3 actions it covers today. Each statement's
``Resource`` patterns are intersected with the ARN templates of each action's resource types: a
grant that can match none of them (``s3:GetObject`` on a bucket ARN) is *vacuous* and grants
nothing; an action with no resource type is granted only by ``*`` (R3.2).

Two forms (R9): **optimistic** (what could ever be allowed: Allow statements count whatever their
conditions, conditional Denies do not) for granted-but-unused, and **pessimistic** (what is allowed
whatever the conditions: conditional Allows do not count, conditional Denies do).
A Deny takes an action away only when it covers every resource (``*``); a narrower Deny leaves the
grant in place, as an upper bound should.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trailmin.aws import catalog
from trailmin.policy.evaluate import OPTIMISTIC, PESSIMISTIC, Mode, match_action, statements_of


@dataclass(frozen=True, slots=True)
class Grant:
    """An action a policy set grants: the resource patterns and the statements granting it."""

    action: str
    resources: tuple[str, ...]
    conditional: bool  # some granting statement has a condition
    via: tuple[str, ...]  # names of the granting policies


@functools.cache
def all_actions() -> tuple[str, ...]:
    """Return every action of the catalog, ``service:Name``, sorted."""
    return tuple(
        sorted(a.full_name for prefix in catalog.services() for a in catalog.actions_for(prefix))
    )


@functools.lru_cache(maxsize=4096)
def actions_matching(pattern: str) -> frozenset[str]:
    """Return the catalog actions an Action pattern matches (R2)."""
    if pattern == "*":
        return frozenset(all_actions())
    service = pattern.split(":", 1)[0].lower()
    if any(ch in service for ch in "*?"):
        pool: Sequence[str] = all_actions()
    else:
        pool = [a.full_name for a in catalog.actions_for(service)]
    return frozenset(a for a in pool if match_action(pattern, a))


def expand(
    policies: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    boundary: Mapping[str, Any] | None = None,
    scps: Sequence[Sequence[Mapping[str, Any]]] = (),
    mode: Mode = OPTIMISTIC,
) -> dict[str, Grant]:
    """Return the actions that the named ``policies`` grant, by action, in ``mode``.

    With a ``boundary``, an action is granted only if the boundary allows it too; with ``scps``
    (one list of policies per level of the organization), only if every level allows it (R8.2).
    """
    grants: dict[str, tuple[set[str], bool, set[str]]] = {}
    denied: set[str] = set()
    for name, policy in policies:
        for statement in statements_of(policy):
            conditional = bool(statement.get("Condition"))
            effect = statement.get("Effect")
            if effect == "Allow" and conditional and mode == PESSIMISTIC:
                continue
            if effect == "Deny" and conditional and mode == OPTIMISTIC:
                continue
            if effect == "Deny":
                if "*" in _resources(statement):
                    denied.update(_statement_actions(statement))
                continue
            if effect != "Allow":
                continue
            for action, usable in _allowed(json.dumps(statement, sort_keys=True, default=str)):
                found = grants.setdefault(action, (set(), False, set()))
                found[0].update(usable)
                grants[action] = (found[0], found[1] or conditional, found[2] | {name})
    allowed_by_boundary: set[str] | None = None
    if boundary is not None:
        allowed_by_boundary = set(expand([("boundary", boundary)], mode=mode))
    for level in scps:
        by_level = set(expand([(f"scp{i}", d) for i, d in enumerate(level)], mode=mode))
        allowed_by_boundary = (
            by_level if allowed_by_boundary is None else allowed_by_boundary & by_level
        )
    result: dict[str, Grant] = {}
    for action, (granted_on, conditional, via) in sorted(grants.items()):
        if action in denied:
            continue
        if allowed_by_boundary is not None and action not in allowed_by_boundary:
            continue
        patterns = ("*",) if "*" in granted_on else tuple(sorted(granted_on))
        result[action] = Grant(action, patterns, conditional, tuple(sorted(via)))
    return result


@functools.lru_cache(maxsize=16384)
def _allowed(statement_json: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Return, for an Allow statement (as canonical JSON: policies share statements, and
    principals share policies), each action it grants and the patterns that can match one of
    its resources; vacuous grants are left out."""
    statement = json.loads(statement_json)
    resources = _resources(statement)
    found = []
    for action in sorted(_statement_actions(statement)):
        usable = _usable(action, resources)
        if usable:
            found.append((action, tuple(usable)))
    return tuple(found)


def _statement_actions(statement: Mapping[str, Any]) -> frozenset[str]:
    if "Action" in statement:
        found: set[str] = set()
        for pattern in _listed(statement["Action"]):
            found |= actions_matching(str(pattern))
        return frozenset(found)
    if "NotAction" in statement:
        excluded: set[str] = set()
        for pattern in _listed(statement["NotAction"]):
            excluded |= actions_matching(str(pattern))
        return frozenset(all_actions()) - excluded
    return frozenset()


def _resources(statement: Mapping[str, Any]) -> tuple[str, ...]:
    if "Resource" in statement:
        return tuple(str(p) for p in _listed(statement["Resource"]))
    # NotResource: everything but the listed ARNs, which an upper bound reads as "*".
    return ("*",)


def _usable(action: str, patterns: tuple[str, ...]) -> list[str]:
    """Return the patterns that can match some resource of the action (not vacuous)."""
    found = catalog.action(action)
    if found is None:
        return list(patterns)
    if found.takes_no_resource:
        return ["*"] if "*" in patterns else []
    templates = [t.arn_template for t in found.resource_types if t.arn_template]
    if not templates:
        return list(patterns)
    return [p for p in patterns if p == "*" or any(arn_globs_intersect(p, t) for t in templates)]


_TEMPLATE_VARIABLE = re.compile(r"\$\{[^}]*\}")


def arn_globs_intersect(pattern: str, template: str) -> bool:
    """Return whether a Resource pattern and an ARN template (``${…}`` read as ``*``) can match
    a common ARN, segment by segment as R3 compares them."""
    left = _TEMPLATE_VARIABLE.sub("*", pattern).split(":", 5)
    right = _TEMPLATE_VARIABLE.sub("*", template).split(":", 5)
    left += ["*"] * (6 - len(left))
    right += ["*"] * (6 - len(right))
    return all(
        _globs_intersect(a.lower() if i < 5 else a, b.lower() if i < 5 else b)
        for i, (a, b) in enumerate(zip(left, right, strict=True))
    )


@functools.lru_cache(maxsize=65536)
def _globs_intersect(a: str, b: str) -> bool:
    """Return whether two globs (``*`` any run, ``?`` one character) share a matching string."""

    @functools.cache
    def walk(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return walk(i + 1, j) or (j < len(b) and walk(i, j + 1))
        if j < len(b) and b[j] == "*":
            return walk(i, j + 1) or (i < len(a) and walk(i + 1, j))
        if i < len(a) and j < len(b) and (a[i] == b[j] or a[i] == "?" or b[j] == "?"):
            return walk(i + 1, j + 1)
        return False

    return walk(0, 0)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
