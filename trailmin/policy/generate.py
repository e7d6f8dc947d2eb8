"""Generate: the least-privilege policies that allow what each principal did, and nothing else.

Pure: usage rows in, ``Proposal`` values out. A proposal holds the policy documents (each within
the managed-policy size limit, split deterministically when larger), the evidence for each
statement (calls, first and last seen, inferred actions), what was asked for and refused, what
could not be scoped, and every generalization made. The same usage always gives byte-identical
documents: actions and resources are sorted and Sids are derived from the statement's content.

Rules (DESIGN.md section 5):

- only calls that passed authorization grant: the successful ones, and those that failed after it
  (``NoSuchKey``, ``BucketNotEmpty``: see ``mapping/outcomes.py``); a refused call is listed beside
  the policy, never in it, and a call that failed before authorization grants nothing;
- actions are grouped by identical resource sets, one statement per group;
- ``Resource: "*"`` only for actions that take no resource, or whose resource the mapping could not
  scope (reported as ``unscoped``); ``*`` used by an action covers its other resources too;
- **generalization** (off by default) collapses a statement's ARNs under one container (a bucket,
  a table) to their longest common path prefix + ``*`` (``prefix``) or to the container's ``/*``
  (``container``), only when the statement names more than ``max_resources`` ARNs, and reports
  every pattern with the ARNs it covers;
- no action wildcards;
- a policy is at most ``policy_size`` characters as AWS counts them (no whitespace); a larger set of
  statements is packed into several policies, a statement too large on its own is split by
  resources; past ``max_policies`` a warning says the principal exceeds the attachment quota.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from trailmin.aws import catalog, roles
from trailmin.aws.arns import escape
from trailmin.errors import UsageError
from trailmin.mapping.resources import Scope, scope_of
from trailmin.policy import churn
from trailmin.policy.catalog_replay import Mismatch
from trailmin.policy.evaluate import Layers, Request, match_action, pattern_matches, replay

POLICY_VERSION = "2012-10-17"
MANAGED_POLICY_SIZE = 6_144  # characters, whitespace not counted (IAM quotas)
# An Identity Center permission set's inline policy: PutInlinePolicyToPermissionSet takes up to
# 32,768 characters, but it is provisioned as an inline policy of a role in every assigned account,
# and a role's inline policies may not exceed 10,240 characters together (IAM quotas).
PERMISSION_SET_POLICY_SIZE = 10_240
ATTACHED_POLICIES = 10  # managed policies per role or user, by default (adjustable to 20)
GENERALIZE_LEVELS = ("exact", "churn", "prefix", "container")


# --- input ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Used:
    """One row of usage: a principal's calls that needed ``action`` on ``resource``."""

    principal: str
    principal_type: str
    action: str
    resource: str
    calls: int
    succeeded: int
    denied: int
    first_seen: datetime
    last_seen: datetime
    inferred: bool = False
    derivation: str = ""
    last_succeeded: datetime | None = None
    # Calls that got past authorization: the successes, and failures that came after it
    # (NoSuchKey, BucketNotEmpty…). None: the successes only.
    authorized: int | None = None

    @property
    def granting(self) -> int:
        """Return how many calls show the permission was needed and held."""
        return self.succeeded if self.authorized is None else self.authorized


def used_from_frame(frame: Any) -> list[Used]:
    """Return the rows of a usage DataFrame (``trailmin.usage``) as ``Used`` values."""
    import pandas as pd

    columns = [
        "principal",
        "principal_type",
        "action",
        "resource",
        "calls",
        "succeeded",
        "denied",
        "first_seen",
        "last_seen",
        "inferred",
        "derivation",
        "last_succeeded",
        "authorized",
    ]
    found = []
    for row in frame[columns].itertuples(index=False, name=None):
        principal, kind, action, resource, calls, ok, denied, first, last = row[:9]
        inferred, how, good, authorized = row[9:]
        found.append(
            Used(
                principal=str(principal),
                principal_type=str(kind),
                action=str(action),
                resource=str(resource),
                calls=int(calls),
                succeeded=int(ok),
                denied=int(denied),
                first_seen=first.to_pydatetime(),
                last_seen=last.to_pydatetime(),
                inferred=bool(inferred) if not pd.isna(inferred) else False,
                derivation=str(how) if not pd.isna(how) else "",
                last_succeeded=None if pd.isna(good) else good.to_pydatetime(),
                authorized=int(authorized),
            )
        )
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """How policies are generated. The defaults grant exactly what was used."""

    generalize: str = "churn"
    max_resources: int = 10
    action_wildcards: bool = False
    policy_size: int = MANAGED_POLICY_SIZE
    max_policies: int = ATTACHED_POLICIES
    name_prefix: str = "trailmin"

    def __post_init__(self) -> None:
        if self.generalize not in GENERALIZE_LEVELS:
            raise UsageError(
                f"generalize {self.generalize!r} is not one of {', '.join(GENERALIZE_LEVELS)}"
            )
        if self.max_resources < 1:
            raise UsageError("max_resources must be at least 1")
        if self.max_policies < 1:
            raise UsageError("max_policies must be at least 1")
        if self.policy_size < 200:
            raise UsageError("a policy size under 200 characters cannot hold a statement")


# --- output values -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Statement:
    """An Allow statement: these actions on these resources."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the statement as IAM JSON (a single action or resource as a string)."""
        return {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": self.actions[0] if len(self.actions) == 1 else list(self.actions),
            "Resource": self.resources[0] if len(self.resources) == 1 else list(self.resources),
        }


@dataclass(frozen=True, slots=True)
class Policy:
    """One policy document of a proposal."""

    name: str
    statements: tuple[Statement, ...]

    def document(self) -> dict[str, Any]:
        """Return the policy document as IAM JSON."""
        return {"Version": POLICY_VERSION, "Statement": [s.to_dict() for s in self.statements]}

    def to_json(self) -> str:
        """Return the document as JSON text, the same bytes for the same statements."""
        return json.dumps(self.document(), indent=2) + "\n"

    @property
    def size(self) -> int:
        """Return the size as IAM counts it: characters, whitespace not counted."""
        return policy_size(self.document())


@dataclass(frozen=True, slots=True)
class MemberUse:
    """A group member's calls behind a group statement: who needed which permission, how often
    (calls that passed authorization) and when (first seen, last success when known)."""

    member: str  # the user's ARN
    action: str
    resource: str
    calls: int
    first_seen: datetime
    last_seen: datetime

    def to_dict(self) -> dict[str, Any]:
        """Return the member's use as JSON-ready values."""
        return {
            "member": self.member,
            "action": self.action,
            "resource": self.resource,
            "calls": self.calls,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a statement is there: the calls behind it that passed authorization (``first_seen``
    is that of all their calls, refused ones included; ``last_seen`` that of the last success
    when known)."""

    sid: str
    calls: int
    first_seen: datetime
    last_seen: datetime
    inferred: tuple[str, ...]  # actions CloudTrail did not log as calls (iam:PassRole)
    unscoped: tuple[str, ...]  # actions granted on "*" because no resource could be derived
    # A group's statement: which members made those calls (``trailmin.policy.groups``).
    members: tuple[MemberUse, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the evidence as JSON-ready values (``members`` only for a group's)."""
        found: dict[str, Any] = {
            "sid": self.sid,
            "calls": self.calls,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "inferred": list(self.inferred),
            "unscoped": list(self.unscoped),
        }
        if self.members:
            found["members"] = [m.to_dict() for m in self.members]
        return found


class Widened(StrEnum):
    """What a generalization widened into a pattern."""

    RESOURCE = "resource"
    ACTION = "action"


@dataclass(frozen=True, slots=True)
class Generalization:
    """A pattern that replaced several ARNs (``kind`` RESOURCE: for ``actions``) or several
    actions (``kind`` ACTION), and what it covers."""

    pattern: str
    covers: tuple[str, ...]
    actions: tuple[str, ...] = ()
    kind: Widened = Widened.RESOURCE
    # Learned from the window (``churn``): the part generalized, its distinct values, and how
    # many of them were first used in the last third of the window.
    part: str | None = None
    distinct: int | None = None
    late: int | None = None
    sibling: bool = False  # learned where the same part holds more values (another region's)

    def to_dict(self) -> dict[str, Any]:
        """Return the generalization as JSON-ready values."""
        found: dict[str, Any] = {"kind": self.kind, "pattern": self.pattern}
        if self.kind is Widened.RESOURCE:
            found["actions"] = list(self.actions)
        if self.part is not None:
            found["evidence"] = {
                "part": self.part,
                "distinct": self.distinct,
                "first_used_in_last_third": self.late,
                "learned_from": "the same part of a sibling resource" if self.sibling else "these",
            }
        found["covers"] = list(self.covers)
        return found


@dataclass(frozen=True, slots=True)
class DeniedPermission:
    """A permission asked for and refused: not in the policy, for a person to decide."""

    action: str
    resource: str
    denied: int
    last_seen: datetime
    also_allowed: bool  # the same permission also succeeded at other times

    def to_dict(self) -> dict[str, Any]:
        """Return the refusal as JSON-ready values."""
        return {
            "action": self.action,
            "resource": self.resource,
            "denied": self.denied,
            "last_seen": _iso(self.last_seen),
            "also_allowed": self.also_allowed,
        }


class TargetKind(StrEnum):
    """What a proposal is written for."""

    ROLE = "role"
    USER = "user"
    GROUP = "group"  # an IAM group's managed policies (trailmin.policy.groups)
    PERMISSION_SET = "permission-set"  # an IAM Identity Center permission set's inline policy


@dataclass(frozen=True, slots=True)
class Target:
    """What a proposal is applied to: a role's, user's or group's managed policies, or a
    permission set."""

    kind: TargetKind
    name: str  # the role, user, group or permission set name
    account: str
    path: str = "/"

    def __post_init__(self) -> None:
        # A kind given as its text ("role") is the kind itself.
        object.__setattr__(self, "kind", TargetKind(self.kind))


@dataclass(frozen=True, slots=True)
class Proposal:
    """The proposed policies for one principal, with their evidence; or why there is none."""

    principal: str
    principal_type: str
    target: Target | None
    policies: tuple[Policy, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    refused: tuple[DeniedPermission, ...] = ()
    generalizations: tuple[Generalization, ...] = ()
    warnings: tuple[str, ...] = ()
    skipped: str | None = None  # why no policy is proposed
    replayed: int = 0  # distinct (action, resource) pairs replayed against the policies
    replay_failures: tuple[tuple[str, str, str], ...] = ()  # (action, resource, decision)
    # Calls refused on the resources the catalog names for them (catalog_replay.Mismatch).
    catalog_failures: tuple[Mismatch, ...] = ()
    catalog_version: str = field(default_factory=catalog.catalog_version)

    @property
    def slug(self) -> str:
        """Return a file-system-safe name for the principal (account and name).

        Only letters, digits and ``+=,.@_-`` are kept, and never a name of only dots, so that
        no principal, however it is spelled in a record, names a folder outside the output.
        """
        account, _, rest = self.principal.partition(":iam::")
        if rest:
            number, _, name = rest.partition(":")
            slug = _safe(f"{number}-{name.replace('/', '-')}")
        else:
            slug = _safe(account)
        return slug if slug.strip(".") else f"principal-{slug}"

    def to_dict(self) -> dict[str, Any]:
        """Return the whole proposal (documents, evidence, refusals) as JSON-ready values."""
        return {
            "principal": self.principal,
            "principal_type": self.principal_type,
            "target": None
            if self.target is None
            else {
                "kind": self.target.kind,
                "name": self.target.name,
                "account": self.target.account,
                "path": self.target.path,
            },
            "skipped": self.skipped,
            "catalog_version": self.catalog_version,
            "policies": [
                {"name": p.name, "size": p.size, "document": p.document()} for p in self.policies
            ],
            "evidence": [e.to_dict() for e in self.evidence],
            "refused": [r.to_dict() for r in self.refused],
            "generalizations": [g.to_dict() for g in self.generalizations],
            "warnings": list(self.warnings),
            "replay": {
                "pairs": self.replayed,
                "failures": [
                    {"action": a, "resource": r, "decision": d} for a, r, d in self.replay_failures
                ],
                "catalog_failures": [m.to_dict() for m in self.catalog_failures],
            },
        }


# --- who gets a proposal -------------------------------------------------------------------------

_SKIPPED = {
    "ServiceLinkedRole": "a service-linked role: AWS defines and updates its permissions",
    "Root": "the root user: no policy limits it; move the work to a role and lock root away",
    "AWSService": "an AWS service acting on its own: it holds no IAM policy here",
    "AWSAccount": "another account's principal: its own account grants its permissions",
    "FederatedUser": "a federated user: its permissions are those of the user that called "
    "GetFederationToken, intersected with the session policy",
    "SAMLUser": "a SAML sign-in: the role it assumed is the principal to propose for",
    "WebIdentityUser": "a web identity sign-in: the role it assumed is the principal to propose "
    "for",
}


# IAM API reference, Role, User and Group: a path is "/" or "/" printable ASCII "/", a name is
# of [\w+=,.@-]. Matched whole (``$`` would let "role/admin\n" name the real role admin). A group
# is never a caller; its proposals come from its members' calls (trailmin.policy.groups).
_IAM_PRINCIPAL = re.compile(
    r"arn:aws[a-z-]*:iam::(\d{12}):(role|user|group)((?:/[\x21-\x7e]*)?/[\w+=,.@-]+)",
    re.ASCII,
)


def target_of(principal: str, principal_type: str) -> tuple[Target | None, str | None]:
    """Return what a proposal for the principal applies to, or why it gets none."""
    if principal_type in _SKIPPED:
        return None, _SKIPPED[principal_type]
    match = _IAM_PRINCIPAL.fullmatch(principal)
    if match is None:
        return None, f"not an IAM role or user ARN ({principal_type})"
    account, kind, rest = match.groups()
    path, _, name = rest.rpartition("/")
    path = (path or "") + "/"
    if kind == "role":
        permission_set = roles.permission_set(principal)
        if permission_set is not None:
            return Target(TargetKind.PERMISSION_SET, permission_set, account, path), None
        if roles.is_aws_reserved(principal):
            return None, "an AWS-reserved role: AWS manages it and it cannot be changed"
        if roles.is_service_linked(principal):
            return None, _SKIPPED["ServiceLinkedRole"]
    return Target(TargetKind(kind), name, account, path), None


# --- generation ----------------------------------------------------------------------------------


def generate(
    used: Iterable[Used],
    options: Options | None = None,
    *,
    window: tuple[datetime, datetime] | None = None,
) -> list[Proposal]:
    """Return a proposal per principal in ``used``, sorted by principal ARN. ``window`` is the
    time the usage covers (by default, from its first use to its last), over which ``churn``
    generalization tells resources that kept changing from stable ones."""
    options = options or Options()
    by_principal: dict[str, list[Used]] = defaultdict(list)
    for row in used:
        by_principal[row.principal].append(row)
    if window is None and by_principal:
        rows = [r for group in by_principal.values() for r in group]
        window = (min(r.first_seen for r in rows), max(r.last_seen for r in rows))
    return [proposal_for(rows, options, window=window) for _, rows in sorted(by_principal.items())]


def proposal_for(
    rows: Sequence[Used], options: Options, *, window: tuple[datetime, datetime] | None = None
) -> Proposal:
    """Return the proposal for one principal's usage rows."""
    principal, kind = rows[0].principal, rows[0].principal_type
    refused = refusals(rows)
    target, reason = target_of(principal, kind)
    if target is None:
        return Proposal(principal, kind, None, refused=refused, skipped=reason)
    granted = [r for r in rows if r.granting > 0]
    if not granted:
        return Proposal(
            principal,
            kind,
            target,
            refused=refused,
            skipped="no call that passed authorization needed a permission in the window",
        )
    generalizations: list[Generalization] = []
    learned: dict[tuple[str, str], str] = {}
    if options.generalize == "churn":
        learned, generalizations = _learn(granted, window)
    resources_of: dict[str, set[str]] = defaultdict(set)
    for row in granted:
        action = catalog.canonical(row.action)
        resources_of[action].add(learned.get((action, row.resource)) or policy_resource(row))
    for action, resources in resources_of.items():
        if "*" in resources:
            resources_of[action] = {"*"}  # "*" covers the action's other resources
    statements = _statements(resources_of)
    if options.generalize in ("prefix", "container"):
        statements, generalizations = _generalize(statements, options)
    if options.action_wildcards:
        statements, wildcards = _action_wildcards(statements)
        generalizations.extend(wildcards)
    size = (
        PERMISSION_SET_POLICY_SIZE
        if target.kind is TargetKind.PERMISSION_SET
        else min(options.policy_size, MANAGED_POLICY_SIZE)
    )
    packed = _pack(statements, size)
    warnings: list[str] = []
    if target.kind is TargetKind.PERMISSION_SET and len(packed) > 1:
        warnings.append(
            f"the permission set needs {sum(len(p) for p in packed)} statements in "
            f"{len(packed)} documents, but holds one inline policy of {size:,} characters: "
            "generalize (--generalize prefix) or attach customer-managed policies to it"
        )
    elif target.kind is not TargetKind.PERMISSION_SET and len(packed) > options.max_policies:
        warnings.append(
            f"{len(packed)} managed policies are needed, more than the {options.max_policies} "
            f"a {target.kind} can have attached by default: raise the quota, or generalize"
        )
    policies = tuple(
        Policy(_policy_name(options.name_prefix, target, index, len(packed)), tuple(group))
        for index, group in enumerate(packed, start=1)
    )
    # The replay check: every call that passed authorization must be allowed by the documents,
    # whatever the keys CloudTrail does not show (pessimistic, iam-evaluation.md R9).
    pairs = sorted({(catalog.canonical(r.action), r.resource) for r in granted})
    layers = Layers(identity=[p.document() for p in policies], caller_side_only=True)
    failures = tuple(
        (f.action, f.resource, f.decision.value)
        for f in replay([Request(a, r, principal=principal) for a, r in pairs], layers)
    )
    if failures:
        return Proposal(
            principal,
            kind,
            target,
            refused=refused,
            skipped=f"the replay check failed: the generated policies would refuse "
            f"{len(failures)} of the {len(pairs)} permissions used; nothing is proposed",
            replayed=len(pairs),
            replay_failures=failures,
        )
    return Proposal(
        principal,
        kind,
        target,
        policies=policies,
        evidence=_evidence(policies, granted),
        refused=refused,
        generalizations=tuple(generalizations),
        warnings=tuple(warnings),
        replayed=len(pairs),
    )


def refuse_on_mismatch(proposal: Proposal, mismatches: Sequence[Mismatch]) -> Proposal:
    """Return ``proposal``, or, when the catalog replay found calls its policies would refuse,
    no policy and why: a proposal that would refuse a call it was made from is not proposed."""
    if not mismatches:
        return proposal
    calls = sum(m.calls for m in mismatches)
    actions = sorted({m.action for m in mismatches})
    return replace(
        proposal,
        policies=(),
        evidence=(),
        generalizations=(),
        skipped=f"the catalog replay failed: the generated policies would refuse {calls:,} calls "
        f"of {', '.join(actions)} on the resources AWS authorizes them against; nothing is "
        "proposed",
        catalog_failures=tuple(mismatches),
    )


def _learn(
    granted: Sequence[Used], window: tuple[datetime, datetime] | None
) -> tuple[dict[tuple[str, str], str], list[Generalization]]:
    """Return the patterns that replace the ARNs whose parts kept changing in the window."""
    exact = [
        r for r in granted if r.resource != "*" and scope_of(r.derivation) is not Scope.PATTERN
    ]
    if not exact:
        return {}, []
    start, end = window or (
        min(r.first_seen for r in granted),
        max(r.last_seen for r in granted),
    )
    seen = [churn.Seen(catalog.canonical(r.action), r.resource, r.first_seen) for r in exact]
    sensitive = frozenset(s.action for s in seen if _sensitive(s.action))
    replaced, patterns = churn.generalize(seen, start=start, end=end, ids_only=sensitive)
    return replaced, [
        Generalization(
            p.pattern,
            p.covers,
            p.actions,
            part=p.part,
            distinct=p.distinct,
            late=p.late,
            sibling=p.sibling,
        )
        for p in patterns
    ]


@functools.cache
def _sensitive(action: str) -> bool:
    """Whether ``action``'s names and paths are never generalized (only the ids AWS makes):
    privilege escalation, defence evasion (``trailmin/data/review_actions.csv``) or permissions
    management."""
    from trailmin.policy.review import table  # review reads proposals: imported when first needed

    found = catalog.action(action)
    if found is None:
        return True
    return found.full_name.lower() in table() or found.access_level == "Permissions management"


def _statements(resources_of: dict[str, set[str]]) -> list[Statement]:
    """Return one statement per group of actions sharing a resource set, in a stable order."""
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for action, resources in resources_of.items():
        groups[tuple(sorted(resources))].append(action)
    statements = [
        _statement(tuple(sorted(actions, key=str.lower)), resources)
        for resources, actions in groups.items()
    ]
    return sorted(statements, key=lambda s: (s.actions[0].lower(), s.resources))


def _statement(actions: tuple[str, ...], resources: tuple[str, ...], part: str = "") -> Statement:
    """Return a statement whose Sid is made from its services and a digest of its content."""
    digest = hashlib.sha256(json.dumps([actions, resources]).encode()).hexdigest()[:8].upper()
    services = sorted({a.split(":", 1)[0] for a in actions})
    words = "".join(re.sub(r"[^A-Za-z0-9]", "", s).capitalize() for s in services)
    return Statement(f"{words[:48]}{digest}{part}", actions, resources)


def _generalize(
    statements: list[Statement], options: Options
) -> tuple[list[Statement], list[Generalization]]:
    """Return the statements with many ARNs under one container collapsed to a pattern."""
    found: list[Generalization] = []
    resources_of: dict[str, set[str]] = {}
    for statement in statements:
        resources = set(statement.resources)
        if len(resources) > options.max_resources and "*" not in resources:
            by_container: dict[str, list[str]] = defaultdict(list)
            for arn in sorted(resources):
                container = _container(arn)
                if container is not None:
                    by_container[container].append(arn)
            for container, arns in sorted(by_container.items()):
                if len(arns) < 2:
                    continue
                pattern = _pattern(container, arns, options.generalize)
                resources.difference_update(arns)
                resources.add(pattern)
                found.append(Generalization(pattern, tuple(arns), statement.actions))
        for action in statement.actions:
            resources_of[action] = resources
    return _statements(resources_of), sorted(found, key=lambda g: (g.pattern, g.actions))


def _action_wildcards(
    statements: list[Statement],
) -> tuple[list[Statement], list[Generalization]]:
    """Return the statements with each family of actions they hold whole written as a wildcard.

    ``kms:GenerateDataKey*`` replaces the four GenerateDataKey actions only when the statement
    holds all four: a wildcard may cover nothing the principal did not do on these resources, as
    the catalog stands today. (A wildcard grows when AWS adds actions: this is why it is asked for.)
    """
    found: list[Generalization] = []
    rewritten: list[Statement] = []
    for statement in statements:
        by_service: dict[str, list[str]] = defaultdict(list)
        for action in statement.actions:
            by_service[action.split(":", 1)[0]].append(action.split(":", 1)[1])
        actions: list[str] = []
        for service, names in sorted(by_service.items()):
            universe = [a.name for a in catalog.actions_for(service)]
            used = {n.lower() for n in names}
            handled: set[str] = set()
            for name in sorted(names, key=str.lower):
                if name.lower() in handled:
                    continue
                pattern, covered = _widest_prefix(name, universe, used)
                if len(covered) < 2:
                    actions.append(f"{service}:{name}")
                    continue
                handled.update(c.lower() for c in covered)
                actions.append(f"{service}:{pattern}*")
                found.append(
                    Generalization(
                        f"{service}:{pattern}*",
                        tuple(f"{service}:{c}" for c in sorted(covered, key=str.lower)),
                        kind=Widened.ACTION,
                    )
                )
        rewritten.append(
            _statement(tuple(sorted(set(actions), key=str.lower)), statement.resources)
        )
    rewritten.sort(key=lambda s: (s.actions[0].lower(), s.resources))
    found.sort(key=lambda g: g.pattern)
    return rewritten, found


def _widest_prefix(name: str, universe: list[str], used: set[str]) -> tuple[str, list[str]]:
    """Return the widest wildcard prefix from ``name`` whose catalog actions were all used
    (spelled as their common prefix), and those actions."""
    for length in range(len(name) + 1):
        prefix = name[:length].lower()
        covered = [u for u in universe if u.lower().startswith(prefix)]
        if all(c.lower() in used for c in covered):
            # As long as it covers the same actions: GenerateDataKey*, not GenerateD*, which
            # would also take in a GenerateDocument that AWS may add tomorrow.
            return _common_prefix(covered), covered
    return name, [name]


def _common_prefix(names: list[str]) -> str:
    common = names[0]
    for name in names[1:]:
        while not name.startswith(common):
            common = common[:-1]
    return common


def _container(arn: str) -> str | None:
    """Return the part of an ARN that names its container (``arn:aws:s3:::bucket/``,
    ``arn:aws:dynamodb:r:a:table/T/``), or None for an ARN with no path under a container."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or any(ch in arn for ch in "*?$"):
        return None
    rest = parts[5]
    # The resource type ("table/", "log-group:") is not a container; S3 has no type.
    if parts[2] == "s3":
        head, slash, _ = rest.partition("/")
        return f"{':'.join(parts[:5])}:{head}/" if slash else None
    kind, slash, tail = rest.partition("/")
    name, slash2, _ = tail.partition("/")
    if not slash or not slash2:
        return None
    return f"{':'.join(parts[:5])}:{kind}/{name}/"


def _pattern(container: str, arns: list[str], level: str) -> str:
    """Return the narrowest pattern for ``arns`` under ``container`` at ``level``."""
    if level == "container":
        return container + "*"
    common = _common_prefix([arn[len(container) :] for arn in arns])
    # Cut back to a path boundary: a/b/c1, a/b/c2 -> a/b/*, never a/b/c*.
    common = common[: common.rfind("/") + 1]
    return container + common + "*"


def policy_size(document: dict[str, Any]) -> int:
    """Return a document's size as IAM counts it: whitespace outside values not counted."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False))


_EMPTY = policy_size({"Version": POLICY_VERSION, "Statement": []})


def _pack(statements: list[Statement], size: int) -> list[list[Statement]]:
    """Return the statements packed into documents of at most ``size`` characters.

    In order, each statement goes into the first document it fits (first fit); one too large
    for any document is first split by resources into statements that fit.
    """
    room = size - _EMPTY
    pieces = [
        (piece, policy_size(piece.to_dict()))
        for statement in statements
        for piece in _split(statement, room)
    ]
    packed: list[list[Statement]] = []
    used: list[int] = []
    for piece, length in pieces:
        for index, group in enumerate(packed):
            if used[index] + 1 + length <= room:  # one comma between statements
                group.append(piece)
                used[index] += 1 + length
                break
        else:
            packed.append([piece])
            used.append(length)
    return packed


def _split(statement: Statement, room: int) -> list[Statement]:
    if policy_size(statement.to_dict()) <= room:
        return [statement]
    if len(statement.resources) == 1:
        raise UsageError(
            f"statement {statement.sid} does not fit a policy of this size even with one resource"
        )
    pieces: list[Statement] = []
    chunk: list[str] = []
    for resource in statement.resources:
        trial = _statement(statement.actions, (*chunk, resource), f"P{len(pieces) + 1}")
        if chunk and policy_size(trial.to_dict()) > room:
            pieces.append(_statement(statement.actions, tuple(chunk), f"P{len(pieces) + 1}"))
            chunk = [resource]
        else:
            chunk.append(resource)
    pieces.append(_statement(statement.actions, tuple(chunk), f"P{len(pieces) + 1}"))
    return pieces


def _policy_name(prefix: str, target: Target, index: int, count: int) -> str:
    name = f"{prefix}-{target.name}"
    name = re.sub(r"[^A-Za-z0-9+=,.@_-]", "-", name)[:120]
    return name if count == 1 else f"{name}-{index}"


def rows_by_statement(policies: Sequence[Policy], rows: Iterable[Used]) -> dict[str, list[Used]]:
    """Return the rows each statement of ``policies`` allows, by Sid: a row goes to the first
    statement, in document order, whose actions and resources cover it (none: in no list)."""
    statements_of: dict[str, list[Statement]] = defaultdict(list)
    order: list[Statement] = []
    for policy in policies:
        for statement in policy.statements:
            order.append(statement)
            for action in statement.actions:
                statements_of[action].append(statement)
    rows_of: dict[str, list[Used]] = defaultdict(list)
    for row in rows:
        action = catalog.canonical(row.action)
        candidates = statements_of.get(action) or [
            s for s in order if any(match_action(a, action) for a in s.actions)
        ]
        for statement in candidates:
            if _covered(row, statement.resources):
                rows_of[statement.sid].append(row)
                break
    return rows_of


def _evidence(policies: tuple[Policy, ...], granted: list[Used]) -> tuple[Evidence, ...]:
    """Return, for each statement, the successful calls it allows."""
    rows_of = rows_by_statement(policies, granted)
    order = [statement for policy in policies for statement in policy.statements]
    found: list[Evidence] = []
    for statement in order:
        rows = rows_of[statement.sid]
        found.append(
            Evidence(
                sid=statement.sid,
                calls=sum(r.granting for r in rows),
                first_seen=min(r.first_seen for r in rows),
                last_seen=max(r.last_succeeded or r.last_seen for r in rows),
                inferred=tuple(sorted({catalog.canonical(r.action) for r in rows if r.inferred})),
                unscoped=tuple(
                    sorted(
                        {
                            catalog.canonical(r.action)
                            for r in rows
                            if r.resource == "*" and scope_of(r.derivation) is Scope.UNSCOPED
                        }
                    )
                ),
            )
        )
    return tuple(found)


def _covered(row: Used, patterns: tuple[str, ...]) -> bool:
    """Whether a statement's resources cover the row's resource (R3, by the evaluator)."""
    if policy_resource(row) in _exact(patterns):
        return True
    return any(
        pattern_matches(p, row.resource) for p in patterns if "*" in p or "?" in p or "$" in p
    )


@functools.lru_cache(maxsize=1024)
def _exact(patterns: tuple[str, ...]) -> frozenset[str]:
    return frozenset(patterns)


def policy_resource(row: Used) -> str:
    """Return the row's resource as a policy names it: a pattern the mapping derived stays a
    pattern; an exact ARN has its ``$``, ``*`` and ``?`` written ``${$}``, ``${*}``, ``${?}``
    (R5.3), so that an S3 key like ``q?.txt`` grants that key and not ``qa.txt``."""
    if row.resource == "*" or scope_of(row.derivation) is Scope.PATTERN:
        return row.resource
    return escape_resource(row.resource)


escape_resource = escape


def refusals(rows: Sequence[Used]) -> tuple[DeniedPermission, ...]:
    """Return the permissions ``rows`` asked for and were refused, by action and resource."""
    return tuple(
        DeniedPermission(
            catalog.canonical(r.action),
            r.resource,
            r.denied,
            r.last_seen,
            also_allowed=r.succeeded > 0,
        )
        for r in sorted(rows, key=lambda r: (r.action.lower(), r.resource))
        if r.denied > 0
    )


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9+=,.@_-]", "-", text)
