"""The backtest: would a proposal made from the earlier part of the window have held in the later?

Pure: proposals, the later part's calls and the lake's resources in; figures out. Two numbers
judge a proposal, always together (DESIGN.md section 5):

- **breakage**: the share of the later part's calls that passed authorization and that the
  proposal would refuse, each refusal with its cause: an action the earlier part never used
  (``new action``) or a resource outside what was granted (``resource``);
- **leakage**: the share of probes the proposal allows. A probe is a request the principal never
  made: one of its granted actions on a resource of a type that action takes, that exists in the
  account (some principal of the lake used it) and that this principal never touched; or an
  action of a service it used that it never called, on one of its own resources (or ``*`` for
  an action that takes none).

People (Identity Center roles, console users) do new things by nature: they are counted apart
from workloads.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from trailmin.aws import catalog
from trailmin.policy import churn
from trailmin.policy.evaluate import (
    Decision,
    Layers,
    Request,
    evaluate,
    match_action,
    pattern_matches,
    statements_of,
)
from trailmin.policy.generate import Proposal

NEW_ACTION = "new action"
RESOURCE = "resource"
# Probes per granted action on resources the principal never touched, and resources tried per
# never-used action: enough to measure, few enough to evaluate quickly on a large lake.
PROBES_PER_ACTION = 40


@dataclass(frozen=True, slots=True)
class LaterCall:
    """Calls of the later part with the same permissions: each (action, resource) they needed."""

    principal: str
    permissions: tuple[tuple[str, str], ...]
    calls: int


@dataclass(frozen=True, slots=True)
class Broken:
    """Later calls the proposal would refuse, and why."""

    action: str
    resource: str
    cause: str  # NEW_ACTION or RESOURCE
    calls: int

    def to_dict(self) -> dict[str, Any]:
        """Return the refusal as JSON-ready values."""
        return {
            "action": self.action,
            "resource": self.resource,
            "cause": self.cause,
            "calls": self.calls,
        }


@dataclass(frozen=True, slots=True)
class Result:
    """The backtest of one principal."""

    principal: str
    principal_type: str
    human: bool
    proposed: bool  # the earlier part gave policies to replay against
    skipped: str | None  # why not, when not
    later_calls: int
    refused_new_action: int = 0
    refused_resource: int = 0
    broken: tuple[Broken, ...] = ()
    resource_probes: int = 0
    resource_probes_allowed: int = 0
    action_probes: int = 0
    action_probes_allowed: int = 0
    held_actions: int | None = None  # actions its current policies grant (authorization details)
    removed_actions: int | None = None  # of which the proposal drops

    @property
    def refused(self) -> int:
        """Return how many later calls the proposal would refuse."""
        return self.refused_new_action + self.refused_resource

    @property
    def breakage(self) -> float | None:
        """Return the share of later calls refused (None without a proposal or later calls)."""
        if not self.proposed or not self.later_calls:
            return None
        return self.refused / self.later_calls

    @property
    def probes(self) -> int:
        """Return how many probes were made."""
        return self.resource_probes + self.action_probes

    @property
    def leakage(self) -> float | None:
        """Return the share of probes the proposal allows (None without probes)."""
        if not self.proposed or not self.probes:
            return None
        return (self.resource_probes_allowed + self.action_probes_allowed) / self.probes

    def to_dict(self) -> dict[str, Any]:
        """Return the principal's backtest as JSON-ready values."""
        return {
            "principal": self.principal,
            "principal_type": self.principal_type,
            "human": self.human,
            "proposed": self.proposed,
            "skipped": self.skipped,
            "later_calls": self.later_calls,
            "refused": self.refused,
            "refused_new_action": self.refused_new_action,
            "refused_resource": self.refused_resource,
            "breakage": self.breakage,
            "resource_probes": self.resource_probes,
            "resource_probes_allowed": self.resource_probes_allowed,
            "action_probes": self.action_probes,
            "action_probes_allowed": self.action_probes_allowed,
            "leakage": self.leakage,
            "held_actions": self.held_actions,
            "removed_actions": self.removed_actions,
            "broken": [b.to_dict() for b in self.broken],
        }


@dataclass(frozen=True, slots=True)
class Totals:
    """Breakage and leakage over a set of principals: calls and probes added up."""

    principals: int
    later_calls: int
    refused: int
    refused_new_action: int
    probes: int
    probes_allowed: int
    resource_probes: int = 0
    resource_probes_allowed: int = 0
    # Principals the earlier part gave no proposal (the replay checks withheld it, or it did
    # nothing then), and their later calls: outside the breakage, and said.
    unproposed: int = 0
    unproposed_calls: int = 0

    @property
    def breakage(self) -> float | None:
        """Return the share of the later calls refused."""
        return self.refused / self.later_calls if self.later_calls else None

    @property
    def leakage(self) -> float | None:
        """Return the share of probes allowed."""
        return self.probes_allowed / self.probes if self.probes else None

    @property
    def resource_leakage(self) -> float | None:
        """Return the share of the probes on other resources (not other actions) allowed."""
        if not self.resource_probes:
            return None
        return self.resource_probes_allowed / self.resource_probes

    @property
    def coverage(self) -> float | None:
        """Return the share of the later calls made by principals that had a proposal."""
        total = self.later_calls + self.unproposed_calls
        return self.later_calls / total if total else None

    def to_dict(self) -> dict[str, Any]:
        """Return the totals as JSON-ready values."""
        return {
            "principals": self.principals,
            "later_calls": self.later_calls,
            "refused": self.refused,
            "refused_new_action": self.refused_new_action,
            "breakage": self.breakage,
            "probes": self.probes,
            "probes_allowed": self.probes_allowed,
            "leakage": self.leakage,
            "resource_probes": self.resource_probes,
            "resource_probes_allowed": self.resource_probes_allowed,
            "resource_leakage": self.resource_leakage,
            "unproposed": self.unproposed,
            "unproposed_calls": self.unproposed_calls,
            "coverage": self.coverage,
        }


def totals(results: Iterable[Result]) -> Totals:
    """Return the figures of ``results`` that had a proposal, added up, and how many later
    calls were made by those that had none."""
    results = list(results)
    counted = [r for r in results if r.proposed]
    missing = [r for r in results if not r.proposed]
    return Totals(
        principals=len(counted),
        later_calls=sum(r.later_calls for r in counted),
        refused=sum(r.refused for r in counted),
        refused_new_action=sum(r.refused_new_action for r in counted),
        probes=sum(r.probes for r in counted),
        probes_allowed=sum(r.resource_probes_allowed + r.action_probes_allowed for r in counted),
        resource_probes=sum(r.resource_probes for r in counted),
        resource_probes_allowed=sum(r.resource_probes_allowed for r in counted),
        unproposed=sum(1 for r in missing if r.later_calls),
        unproposed_calls=sum(r.later_calls for r in missing),
    )


@dataclass(frozen=True, slots=True)
class Backtest:
    """Proposals from the earlier part of the window, replayed on the later part."""

    earlier: tuple[datetime, datetime]
    later: tuple[datetime, datetime]
    generalize: str
    results: tuple[Result, ...]
    new_principals: tuple[str, ...] = ()  # principals seen only in the later part
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def workloads(self) -> Totals:
        """Return the figures of the workloads (not people)."""
        return totals(r for r in self.results if not r.human)

    @property
    def people(self) -> Totals:
        """Return the figures of the people (Identity Center roles, console users)."""
        return totals(r for r in self.results if r.human)

    def to_dict(self) -> dict[str, Any]:
        """Return the backtest as JSON-ready values."""
        return {
            "earlier": [_iso(t) for t in self.earlier],
            "later": [_iso(t) for t in self.later],
            "generalize": self.generalize,
            "workloads": self.workloads.to_dict(),
            "people": self.people.to_dict(),
            "principals": [r.to_dict() for r in self.results],
            "new_principals": list(self.new_principals),
            "notes": list(self.notes),
        }

    def to_frame(self) -> Any:
        """Return a DataFrame: a row per principal, with its breakage and leakage."""
        import pandas as pd

        rows = [{k: v for k, v in r.to_dict().items() if k != "broken"} for r in self.results]
        return pd.DataFrame(rows)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


# --- the replay ----------------------------------------------------------------------------------


def _documents(proposal: Proposal) -> list[dict[str, Any]]:
    return [p.document() for p in proposal.policies]


class _Policies:
    """A proposal's documents, with its decisions cached."""

    def __init__(self, proposal: Proposal) -> None:
        documents = _documents(proposal)
        self.layers = Layers(identity=documents, caller_side_only=True)
        self.actions = [
            a
            for d in documents
            for s in statements_of(d)
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        ]
        self._allowed: dict[tuple[str, str], bool] = {}

    def allows(self, action: str, resource: str) -> bool:
        key = (action, resource)
        if key not in self._allowed:
            result = evaluate(Request(action, resource), self.layers)
            self._allowed[key] = result.decision is Decision.ALLOW
        return self._allowed[key]

    def grants_action(self, action: str) -> bool:
        return any(match_action(pattern, action) for pattern in self.actions)


def replay_later(
    proposal: Proposal, calls: Iterable[LaterCall]
) -> tuple[int, int, int, tuple[Broken, ...]]:
    """Return the later calls, those refused for a new action, for a resource, and the
    refusals merged by (action, resource, cause), most calls first."""
    policies = _Policies(proposal)
    total = new_action = resource = 0
    merged: dict[tuple[str, str, str], int] = defaultdict(int)
    for call in calls:
        total += call.calls
        causes = []
        for logged, arn in call.permissions:
            action = catalog.canonical(logged)
            if policies.allows(action, arn):
                continue
            cause = RESOURCE if policies.grants_action(action) else NEW_ACTION
            causes.append(cause)
            merged[(action, arn, cause)] += call.calls
        if causes:
            if NEW_ACTION in causes:
                new_action += call.calls
            else:
                resource += call.calls
    broken = tuple(
        Broken(a, r, c, n)
        for (a, r, c), n in sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    )
    return total, new_action, resource, broken


# --- the probes ----------------------------------------------------------------------------------

PROBE_NAME = "trailmin-probe"


def _beside_patterns(proposal: Proposal) -> list[tuple[str, str]]:
    """Return a probe beside each pattern the proposal grants: the same ARN with the resource's
    name (the bucket, the table, the function) replaced, and every wildcard filled. A pattern
    that stays inside its resource refuses it; one that reaches across resources allows it,
    whether or not the lake saw such a resource."""
    found: list[tuple[str, str]] = []
    for policy in proposal.policies:
        for statement in policy.statements:
            for resource in statement.resources:
                if resource == "*" or "*" not in resource:
                    continue
                for action in statement.actions:
                    probe_arn = _other_resource(catalog.canonical(action), resource)
                    if probe_arn is not None:
                        found.append((catalog.canonical(action), probe_arn))
    return sorted(set(found))


def _other_resource(action: str, pattern: str) -> str | None:
    read = churn.read(action, pattern)
    if read is None:
        return None
    template, values = read
    top = template.top()
    if top is None:
        return None
    filled = [v.replace("*", "x").replace("?", "x") for v in values]
    filled[top] = PROBE_NAME
    out = []
    for index, piece in enumerate(template.pieces):
        out.append(piece if index % 2 == 0 else filled[index // 2])
    return "".join(out)


def _account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) > 4 else ""


def _stable_sample(values: Sequence[str], limit: int, salt: str) -> list[str]:
    """Return at most ``limit`` of ``values``, the same ones every run."""
    if len(values) <= limit:
        return list(values)

    def rank(value: str) -> str:
        return hashlib.blake2b(f"{salt}\0{value}".encode(), digest_size=8).hexdigest()

    return sorted(values, key=rank)[:limit]


def probe(
    proposal: Proposal,
    *,
    touched: frozenset[str],
    used_actions: frozenset[str],
    resources: Mapping[str, Sequence[str]],
) -> tuple[int, int, int, int]:
    """Return the resource probes made and allowed, and the action probes made and allowed.

    ``touched`` are the resources the principal used in the window (patterns the mapping derived
    among them, such as a role of unknown path), ``used_actions`` its actions
    (canonical names), ``resources`` the lake's exact resources by service prefix.
    """
    policies = _Policies(proposal)
    account = _account(proposal.principal)
    granted = sorted({catalog.canonical(a) for a in policies.actions if "*" not in a})
    patterns = [t for t in touched if "*" in t or "?" in t]

    def never_touched(arn: str) -> bool:
        return arn not in touched and not any(pattern_matches(p, arn) for p in patterns)

    resource_probes = resource_allowed = 0
    for action in granted:
        service = action.split(":", 1)[0]
        candidates = [
            r
            for r in resources.get(service, ())
            if _account(r) in (account, "")
            and never_touched(r)
            and churn.read(action, r) is not None
        ]
        for arn in _stable_sample(candidates, PROBES_PER_ACTION, action):
            resource_probes += 1
            resource_allowed += policies.allows(action, arn)
    for action, arn in _beside_patterns(proposal):
        resource_probes += 1
        resource_allowed += policies.allows(action, arn)
    action_probes = action_allowed = 0
    own: dict[str, list[str]] = defaultdict(list)
    for arn in sorted(set(touched) - set(patterns)):
        own[arn.split(":", 3)[2] if arn.count(":") >= 3 else ""].append(arn)
    for service in sorted({a.split(":", 1)[0] for a in used_actions}):
        for other in catalog.actions_for(service):
            name = other.full_name
            if name in used_actions:
                continue
            if other.takes_no_resource:
                target: str | None = "*"
            else:
                target = next(
                    (r for r in own.get(service, ()) if churn.read(name, r) is not None), None
                )
            if target is None:
                continue
            action_probes += 1
            action_allowed += policies.allows(name, target)
    return resource_probes, resource_allowed, action_probes, action_allowed


# --- one principal -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Touched:
    """What the window's calls touched: each principal's resources (exact, or the patterns the
    mapping derived) and actions, and the lake's exact resources by the service of their ARN."""

    resources: dict[str, frozenset[str]]
    actions: dict[str, frozenset[str]]
    by_service: dict[str, list[str]]


def touched_from_rows(rows: Iterable[Mapping[str, Any]]) -> Touched:
    """Return what the calls of ``rows`` touched (``trailmin.query.backtest.resources_sql``:
    principal, action, resource, exact), for the probes."""
    resources: dict[str, set[str]] = {}
    actions: dict[str, set[str]] = {}
    everything: set[str] = set()
    for row in rows:
        actions.setdefault(row["principal"], set()).add(catalog.canonical(row["action"]))
        if row["resource"] != "*":
            # A pattern the mapping derived (a role of unknown path) counts as touched too:
            # what it matches is the principal's own, not a probe's.
            resources.setdefault(row["principal"], set()).add(row["resource"])
        if row["exact"]:
            everything.add(row["resource"])
    by_service: dict[str, list[str]] = {}
    for arn in sorted(everything):
        parts = arn.split(":", 3)
        if len(parts) > 2:
            by_service.setdefault(parts[2], []).append(arn)
    return Touched(
        resources={k: frozenset(v) for k, v in resources.items()},
        actions={k: frozenset(v) for k, v in actions.items()},
        by_service=by_service,
    )


def later_calls_from_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[LaterCall]]:
    """Return, per principal, the calls of ``rows`` (``trailmin.query.backtest.later_calls_sql``:
    principal, permissions as [action, resource] pairs, calls) as ``LaterCall``."""
    found: dict[str, list[LaterCall]] = {}
    for row in rows:
        pairs = tuple((a, r) for a, r in row["permissions"])
        found.setdefault(row["principal"], []).append(
            LaterCall(row["principal"], pairs, row["calls"])
        )
    return found


def result_for(
    proposal: Proposal,
    calls: Sequence[LaterCall],
    *,
    human: bool,
    held: tuple[int, int] | None,
    touched: Touched,
) -> Result:
    """Return the backtest of one proposal: the later ``calls`` it would refuse, and the probes
    it would allow. ``held`` is the actions the principal holds and how many the proposal drops
    (from the authorization details), when known."""
    common: dict[str, Any] = {
        "principal": proposal.principal,
        "principal_type": proposal.principal_type,
        "human": human,
        "held_actions": held[0] if held else None,
        "removed_actions": held[1] if held else None,
    }
    if not proposal.policies:
        return Result(
            **common,
            proposed=False,
            skipped=proposal.skipped,
            later_calls=sum(c.calls for c in calls),
        )
    total, new_action, resource, broken = replay_later(proposal, calls)
    probes = probe(
        proposal,
        touched=touched.resources.get(proposal.principal, frozenset()),
        used_actions=touched.actions.get(proposal.principal, frozenset()),
        resources=touched.by_service,
    )
    return Result(
        **common,
        proposed=True,
        skipped=None,
        later_calls=total,
        refused_new_action=new_action,
        refused_resource=resource,
        broken=broken,
        resource_probes=probes[0],
        resource_probes_allowed=probes[1],
        action_probes=probes[2],
        action_probes_allowed=probes[3],
    )
