"""Groups: users who get permissions from groups keep getting them from groups.

Pure: the usage rows (as ``generate`` takes them) and what users and groups hold today in, a
``GroupProposals`` out: a ``Proposal`` per group (its target a ``TargetKind.GROUP``, so the
renderers write it), a ``Proposal`` per IAM user holding only what none of its groups carries, the
users with policies of their own (Security Hub IAM.2) moved into a group, and for every other
principal the proposal ``generate`` makes. The statements, generalizations, packing, names and
the replay check of each proposal are ``generate.proposal_for``'s.

Rules (issue 18, section 2):

- **What counts for a group**: a member's call that passed authorization, evaluated against the
  group's current documents (``evaluate.replay``, optimistic: a condition the record cannot tell
  is taken as met, since the call happened). The group's proposal is made from those calls of all
  its members; the evidence of each statement names the members and what each used
  (``Evidence.members``). A group whose grants nobody used gets no policy and says it is a
  candidate for removal.
- **What stays with the user**: the calls none of its groups grants (granted by its own policies,
  or by none the details show). A user whose groups carry everything it used gets no policy.
- **Two groups granting the same call** (``carriers``): a call is carried by as few of the
  granting groups as cover every member who made it. A group that is the only one granting it to
  some member carries it; the members it leaves uncovered are covered one group at a time by the
  group that covers most of them, ties broken by the fewest members who would hold it without
  having used it, then by the narrower group (fewer actions granted today, ``expand``), then by
  ARN. A member's call goes to every carrier among its groups (and into each one's evidence). The
  call is never dropped from both: ``GroupProposals.shared`` lists it with who carries it, and
  each group that grants it today but does not carry it says so in its warnings.
- **Policies of the user's own** (IAM.2, "permissions through groups only"): what it used that no
  group of its carries moves into a group, never into a user policy. That is an existing group
  it fits: one whose proposal already allows every such call, and whose members used nothing the
  user did not (joining it gives the user nothing it did not use), the one made from the most
  calls, then by ARN; else a new group named from the user (``<user>-direct``). A user whose own
  policies granted nothing it used beyond its groups is told to detach them. ``Move`` says which.
- **The replay check of the split** (``replay_split``): every call that passed authorization of
  every user must be allowed, pessimistically, by the user's proposal together with the proposals
  of its groups (and of the group it moves into). A user that fails it gets no policy, and the
  refused calls in ``replay_failures``, as ``generate`` does.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from trailmin.aws import catalog
from trailmin.policy.evaluate import OPTIMISTIC, Layers, Request, replay
from trailmin.policy.expand import expand
from trailmin.policy.generate import (
    MemberUse,
    Options,
    Proposal,
    TargetKind,
    Used,
    generate,
    proposal_for,
    refusals,
    rows_by_statement,
    target_of,
)
from trailmin.query.sql import principal_matcher

USER_TYPE = "IAMUser"  # the principal_type of an IAM user's calls
GROUP_TYPE = "Group"  # the principal_type of a group's proposal
DIRECT_GROUP = "{user}-direct"  # the name of a group proposed for a user's own policies
NAME_LENGTH = 128  # an IAM group name's longest

Pair = tuple[str, str]  # (action, resource)


# --- input ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Group:
    """An IAM group and the policies it grants today: inline and attached, each (name, document);
    a document None when the details lack it."""

    arn: str
    policies: tuple[tuple[str, Mapping[str, Any] | None], ...] = ()

    @property
    def name(self) -> str:
        """Return the group's name (the ARN's last part)."""
        return self.arn.rsplit("/", 1)[-1]

    @property
    def documents(self) -> list[Mapping[str, Any]]:
        """Return the documents the details hold."""
        return [d for _, d in self.policies if d is not None]

    @property
    def missing(self) -> tuple[str, ...]:
        """Return the policies whose documents the details lack."""
        return tuple(n for n, d in self.policies if d is None)


@dataclass(frozen=True, slots=True)
class User:
    """An IAM user: the groups it is in (their ARNs) and its own policies, inline and attached,
    each (name, document)."""

    arn: str
    groups: tuple[str, ...] = ()
    policies: tuple[tuple[str, Mapping[str, Any] | None], ...] = ()

    @property
    def name(self) -> str:
        """Return the user's name (the ARN's last part)."""
        return self.arn.rsplit("/", 1)[-1]


# --- output --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shared:
    """A call that two or more groups of the members who made it grant today, and which of those
    groups carry it in their proposals."""

    action: str
    resource: str
    members: tuple[str, ...]  # the users who made it with a choice of groups
    granted_by: tuple[str, ...]  # those users' groups that grant it today
    carried_by: tuple[str, ...]  # those of them whose proposal carries it

    def to_dict(self) -> dict[str, Any]:
        """Return the shared call as JSON-ready values."""
        return {
            "action": self.action,
            "resource": self.resource,
            "members": list(self.members),
            "granted_by": list(self.granted_by),
            "carried_by": list(self.carried_by),
        }


@dataclass(frozen=True, slots=True)
class Move:
    """A user with policies of its own (Security Hub IAM.2): the group that now carries what it
    used of them, or None when none of its calls needed them."""

    user: str
    policies: tuple[str, ...]  # its own policies: to detach once the group carries their use
    group: str | None
    existing: bool  # the user joins ``group`` as it is; else ``group`` is a new one to create
    permissions: tuple[Pair, ...] = ()  # what moves: (action, resource) the user used

    def to_dict(self) -> dict[str, Any]:
        """Return the move as JSON-ready values."""
        return {
            "user": self.user,
            "policies": list(self.policies),
            "group": self.group,
            "existing": self.existing,
            "permissions": [{"action": a, "resource": r} for a, r in self.permissions],
        }


@dataclass(frozen=True, slots=True)
class GroupProposals:
    """The proposals for groups and the users in them, and for every other principal."""

    groups: tuple[Proposal, ...] = ()
    users: tuple[Proposal, ...] = ()
    others: tuple[Proposal, ...] = ()  # roles and the rest, as ``generate`` makes them
    moves: tuple[Move, ...] = ()
    shared: tuple[Shared, ...] = ()
    # The groups (ARNs) each user's calls rely on: its own, and the one it moves into.
    groups_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def proposals(self) -> list[Proposal]:
        """Return every proposal, by principal ARN: what ``render`` and ``write_proposals``
        write, in place of ``generate``'s."""
        return sorted((*self.others, *self.users, *self.groups), key=lambda p: p.principal)

    @property
    def failures(self) -> tuple[tuple[str, str, str, str], ...]:
        """Return the calls the replay check found refused: (user, action, resource, decision)."""
        return tuple(
            (p.principal, action, resource, decision)
            for p in self.users
            for action, resource, decision in p.replay_failures
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the proposals, moves and shared calls as JSON-ready values."""
        return {
            "groups": [p.to_dict() for p in self.groups],
            "users": [p.to_dict() for p in self.users],
            "others": [p.to_dict() for p in self.others],
            "moves": [m.to_dict() for m in self.moves],
            "shared": [s.to_dict() for s in self.shared],
            "groups_of": {user: list(groups) for user, groups in sorted(self.groups_of.items())},
            "failures": [
                {"user": u, "action": a, "resource": r, "decision": d}
                for u, a, r, d in self.failures
            ],
        }


# --- the proposals -------------------------------------------------------------------------------


def propose_groups(
    used: Iterable[Used],
    users: Sequence[User],
    groups: Sequence[Group],
    options: Options | None = None,
    *,
    window: tuple[datetime, datetime] | None = None,
    principals: Sequence[str] = (),
) -> GroupProposals:
    """Return the proposals for the IAM users in ``used``, their groups, and everyone else.

    ``users`` and ``groups`` are what the authorization details hold. ``principals`` (ARNs or
    globs) selects whose proposals are returned, and the groups of the users selected; the split
    is always made from the calls of every member, so that a group's proposal does not depend on
    who was asked for. ``window`` as for ``generate``.
    """
    options = options or Options()
    rows = list(used)
    if window is None and rows:
        window = (min(r.first_seen for r in rows), max(r.last_seen for r in rows))
    selected = principal_matcher(principals)
    others = generate(
        [r for r in rows if r.principal_type != USER_TYPE and selected(r.principal)],
        options,
        window=window,
    )
    rows_of: dict[str, list[Used]] = defaultdict(list)
    for row in rows:
        if row.principal_type == USER_TYPE:
            rows_of[row.principal].append(row)
    held = {u.arn: u for u in users}
    by_arn = {g.arn: g for g in groups}
    members_of: dict[str, set[str]] = defaultdict(set)
    for user in users:
        for group in user.groups:
            members_of[group].add(user.arn)

    # Which groups of each user grant each of its calls, and which of them carry it.
    granted_by = {
        arn: _granting_groups(held[arn], _granting(rows_of[arn]), by_arn)
        for arn in sorted(rows_of)
        if arn in held
    }
    breadth = functools.cache(lambda arn: _breadth(by_arn.get(arn)))
    carried = carriers(granted_by, members_of, breadth)
    group_rows: dict[str, list[Used]] = defaultdict(list)
    residual: dict[str, list[Used]] = {}
    for arn in granted_by:
        residual[arn] = []
        for row in _granting(rows_of[arn]):
            carriers_of_row = carried.get((arn, _pair(row)), ())
            for group in carriers_of_row:
                group_rows[group].append(row)
            if not carriers_of_row:
                residual[arn].append(row)
    notes = _shared_notes(granted_by, carried)
    built = {
        arn: _group_proposal(
            arn, group_rows[arn], sorted(members_of[arn]), options, window, by_arn.get(arn)
        )
        for arn in sorted(set(members_of) | set(group_rows))
    }

    # Users with policies of their own: what only those granted moves into a group.
    moves: list[Move] = []
    before = {arn: tuple(found) for arn, found in group_rows.items()}  # what a fit is judged on
    groups_of = {arn: tuple(held[arn].groups) for arn in granted_by}
    taken = {arn.lower() for arn in (*by_arn, *built)}
    for arn in sorted(granted_by):
        user = held[arn]
        if not user.policies:
            continue
        own = tuple(name for name, _ in user.policies)
        moving = residual[arn]
        if not moving:
            moves.append(Move(arn, own, None, existing=False))
            continue
        pairs = tuple(sorted({_pair(r) for r in moving}))
        fit = _fitting_group(user, moving, rows_of[arn], built, before)
        if fit is None:
            fit = _new_group(user, taken)
            taken.add(fit.lower())
        moves.append(Move(arn, own, fit, existing=fit in built, permissions=pairs))
        group_rows[fit].extend(moving)
        members_of[fit].add(arn)
        groups_of[arn] = (*groups_of[arn], fit)
        residual[arn] = []
    moved = {m.group for m in moves if m.group is not None}
    for arn in sorted(moved):
        new = arn not in built
        built[arn] = _group_proposal(
            arn, group_rows[arn], sorted(members_of[arn]), options, window, by_arn.get(arn)
        )
        built[arn] = _said(built[arn], _move_note(arn, moves, new=new))
    for arn, lines in notes.items():
        if arn in built:
            built[arn] = _said(built[arn], *lines)

    # A proposal per user selected, and the groups they rely on.
    move_of = {m.user: m for m in moves}
    user_proposals = []
    for arn in sorted(rows_of):
        if not selected(arn):
            continue
        user_proposals.append(
            _user_proposal(
                rows_of[arn],
                held.get(arn),
                residual.get(arn, []),
                move_of.get(arn),
                groups_of.get(arn, ()),
                options,
                window,
            )
        )
    wanted = {g for p in user_proposals for g in groups_of.get(p.principal, ())}
    wanted |= {g for g, members in members_of.items() if any(selected(m) for m in members)}
    result = GroupProposals(
        groups=tuple(built[arn] for arn in sorted(wanted) if arn in built),
        users=tuple(user_proposals),
        others=tuple(others),
        moves=tuple(m for m in moves if selected(m.user)),
        shared=tuple(
            s for s in _shared(granted_by, carried) if any(selected(m) for m in s.members)
        ),
        groups_of={arn: groups_of[arn] for arn in groups_of if selected(arn)},
    )
    return replay_split(result, rows)


def carriers(
    granted_by: Mapping[str, Mapping[Pair, frozenset[str]]],
    members_of: Mapping[str, Iterable[str]],
    breadth: Callable[[str], int] = lambda arn: 0,
) -> dict[tuple[str, Pair], tuple[str, ...]]:
    """Return, per (user, call), the groups whose proposals carry the call: as few of the groups
    granting it as cover every user who made it (the module docstring gives the rule).

    ``granted_by`` maps each user to its calls and the groups of its that grant each;
    ``members_of`` maps a group to its members; ``breadth`` tells how many actions a group
    grants today (the narrower wins a tie).
    """
    users_of: dict[Pair, dict[str, frozenset[str]]] = defaultdict(dict)
    for user, grants in granted_by.items():
        for pair, groups in grants.items():
            if groups:
                users_of[pair][user] = groups
    found: dict[tuple[str, Pair], tuple[str, ...]] = {}
    for pair, granted in sorted(users_of.items()):
        callers = set(granted)
        chosen = {next(iter(g)) for g in granted.values() if len(g) == 1}
        uncovered = sorted(u for u, g in granted.items() if not g & chosen)
        while uncovered:
            candidates = sorted(set().union(*(granted[u] for u in uncovered)))
            best = min(
                candidates,
                key=lambda g: (
                    -sum(g in granted[u] for u in uncovered),
                    len(set(members_of.get(g, ())) - callers),
                    breadth(g),
                    g,
                ),
            )
            chosen.add(best)
            uncovered = [u for u in uncovered if best not in granted[u]]
        for user, groups in granted.items():
            found[user, pair] = tuple(sorted(groups & chosen))
    return found


def replay_split(result: GroupProposals, used: Iterable[Used]) -> GroupProposals:
    """Return ``result`` with each user's proposal replayed together with its groups' (the
    groups ``result.groups_of`` names): a user whose calls they would refuse gets no policy, and
    the refused calls as ``replay_failures``. Run again after editing a proposal by hand."""
    rows_of: dict[str, list[Used]] = defaultdict(list)
    for row in used:
        if row.principal_type == USER_TYPE and row.granting > 0:
            rows_of[row.principal].append(row)
    documents_of = {
        p.principal: [policy.document() for policy in p.policies] for p in result.groups
    }
    checked = []
    for proposal in result.users:
        rows = rows_of.get(proposal.principal)
        if not rows or proposal.replay_failures:
            checked.append(proposal)  # nothing to replay, or refused already on its own
            continue
        groups = result.groups_of.get(proposal.principal, ())
        documents = [p.document() for p in proposal.policies]
        documents += [d for g in groups for d in documents_of.get(g, ())]
        pairs = sorted({_pair(r) for r in rows})
        refused = replay(
            [Request(a, r, principal=proposal.principal) for a, r in pairs],
            Layers(identity=documents, caller_side_only=True),
        )
        failures = tuple((f.action, f.resource, f.decision.value) for f in refused)
        if not failures:
            checked.append(replace(proposal, replayed=len(pairs)))
            continue
        names = ", ".join(_name(g) for g in groups) or "none"
        checked.append(
            replace(
                proposal,
                policies=(),
                evidence=(),
                generalizations=(),
                skipped=f"the replay check failed: its proposal and its groups' ({names}) would "
                f"refuse {len(failures)} of the {len(pairs)} permissions it used; nothing is "
                "proposed for the user",
                replayed=len(pairs),
                replay_failures=failures,
            )
        )
    return replace(result, users=tuple(checked))


# --- steps ---------------------------------------------------------------------------------------


def _granting(rows: Iterable[Used]) -> list[Used]:
    return [r for r in rows if r.granting > 0]


def _pair(row: Used) -> Pair:
    return catalog.canonical(row.action), row.resource


def _name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _allowed(
    pairs: Sequence[Pair], principal: str, documents: Sequence[Mapping[str, Any]], **how: Any
) -> set[Pair]:
    """Return the pairs ``documents`` allow to ``principal`` (the evaluator's replay)."""
    if not documents:
        return set()
    refused = replay(
        [Request(a, r, principal=principal) for a, r in pairs],
        Layers(identity=documents, caller_side_only=True),
        **how,
    )
    return set(pairs) - {(f.action, f.resource) for f in refused}


def _granting_groups(
    user: User, rows: Sequence[Used], groups: Mapping[str, Group]
) -> dict[Pair, frozenset[str]]:
    """Return each call of ``user`` with the groups of its whose documents allow it today."""
    pairs = sorted({_pair(r) for r in rows})
    found: dict[Pair, set[str]] = {p: set() for p in pairs}
    for arn in user.groups:
        group = groups.get(arn)
        if group is None:
            continue
        for pair in _allowed(pairs, user.arn, group.documents, mode=OPTIMISTIC):
            found[pair].add(arn)
    return {p: frozenset(g) for p, g in found.items()}


def _breadth(group: Group | None) -> int:
    """Return how many actions the group grants today (the optimistic expansion)."""
    if group is None:
        return 0
    return len(expand([(n, d) for n, d in group.policies if d is not None]))


def _shared(
    granted_by: Mapping[str, Mapping[Pair, frozenset[str]]],
    carried: Mapping[tuple[str, Pair], tuple[str, ...]],
) -> list[Shared]:
    """Return the calls some member could have had carried by more than one group."""
    members: dict[Pair, set[str]] = defaultdict(set)
    granting: dict[Pair, set[str]] = defaultdict(set)
    carrying: dict[Pair, set[str]] = defaultdict(set)
    for user, grants in granted_by.items():
        for pair, groups in grants.items():
            if len(groups) > 1:
                members[pair].add(user)
                granting[pair] |= groups
                carrying[pair] |= set(carried.get((user, pair), ()))
    return [
        Shared(
            action,
            resource,
            tuple(sorted(members[action, resource])),
            tuple(sorted(granting[action, resource])),
            tuple(sorted(carrying[action, resource])),
        )
        for action, resource in sorted(members)
    ]


def _shared_notes(
    granted_by: Mapping[str, Mapping[Pair, frozenset[str]]],
    carried: Mapping[tuple[str, Pair], tuple[str, ...]],
) -> dict[str, list[str]]:
    """Return, per group, a line for each group that carries calls it grants but leaves."""
    left: dict[tuple[str, tuple[str, ...]], dict[Pair, set[str]]] = defaultdict(
        lambda: defaultdict(set)
    )
    for user, grants in granted_by.items():
        for pair, groups in grants.items():
            carrying = carried.get((user, pair), ())
            for group in sorted(groups - set(carrying)):
                left[group, carrying][pair].add(user)
    notes: dict[str, list[str]] = defaultdict(list)
    for (group, carrying), pairs in sorted(left.items()):
        listed = "; ".join(
            f"{a} on {r} (used by {', '.join(_name(u) for u in sorted(users))})"
            for (a, r), users in sorted(pairs.items())
        )
        count = len(pairs)
        notes[group].append(
            f"{count} permission{'s' if count > 1 else ''} its members used "
            f"{'are' if count > 1 else 'is'} also granted by "
            f"{', '.join(_name(g) for g in carrying)}, whose proposal carries "
            f"{'them' if count > 1 else 'it'}: {listed}"
        )
    return notes


def _group_proposal(
    arn: str,
    rows: Sequence[Used],
    members: Sequence[str],
    options: Options,
    window: tuple[datetime, datetime] | None,
    group: Group | None,
) -> Proposal:
    """Return the proposal of a group from the calls of its members it carries, with the
    members behind each statement."""
    target, _ = target_of(arn, GROUP_TYPE)
    assert target is not None, arn
    assert target.kind is TargetKind.GROUP, arn
    warnings = []
    if group is not None and group.missing:
        warnings.append(
            f"the details lack the documents of {', '.join(group.missing)}: calls they grant "
            "are counted for the members' other groups or the members themselves"
        )
    if not rows:
        names = ", ".join(_name(m) for m in members) or "none"
        return Proposal(
            arn,
            GROUP_TYPE,
            target,
            warnings=tuple(warnings),
            skipped=f"none of its members ({names}) used anything it grants in the window: "
            "a candidate for removal",
        )
    # The group's own rows: its members' calls under its name, their refusals left with them.
    as_group = [replace(r, principal=arn, principal_type=GROUP_TYPE, denied=0) for r in rows]
    named = replace(options, name_prefix=f"{options.name_prefix}-group")
    proposal = proposal_for(as_group, named, window=window)
    if proposal.policies:
        by_sid = rows_by_statement(proposal.policies, rows)
        evidence = tuple(
            replace(e, members=_member_uses(by_sid.get(e.sid, []))) for e in proposal.evidence
        )
        proposal = replace(proposal, evidence=evidence)
    return _said(proposal, *warnings)


def _member_uses(rows: Iterable[Used]) -> tuple[MemberUse, ...]:
    """Return who used what of a statement: a line per (member, action, resource)."""
    found: dict[tuple[str, str, str], list[Used]] = defaultdict(list)
    for row in rows:
        action, resource = _pair(row)
        found[action, resource, row.principal].append(row)
    return tuple(
        MemberUse(
            member=member,
            action=action,
            resource=resource,
            calls=sum(r.granting for r in group),
            first_seen=min(r.first_seen for r in group),
            last_seen=max(r.last_succeeded or r.last_seen for r in group),
        )
        for (action, resource, member), group in sorted(found.items())
    )


def _fitting_group(
    user: User,
    moving: Sequence[Used],
    rows: Sequence[Used],
    built: Mapping[str, Proposal],
    group_rows: Mapping[str, Sequence[Used]],
) -> str | None:
    """Return the existing group ``user`` fits: its proposal allows every call that moves, and
    its members used nothing the user did not; the one made from the most calls, then by ARN."""
    account = user.arn.split(":")[4]
    needed = sorted({_pair(r) for r in moving})
    used = {_pair(r) for r in rows}
    fits = []
    for arn, proposal in built.items():
        if arn in user.groups or arn.split(":")[4] != account or not proposal.policies:
            continue
        theirs = {_pair(r) for r in group_rows.get(arn, ())}
        if not theirs <= used:
            continue
        documents = [p.document() for p in proposal.policies]
        if len(_allowed(needed, user.arn, documents)) == len(needed):
            fits.append((-len(theirs), arn))
    return min(fits)[1] if fits else None


def _new_group(user: User, taken: set[str]) -> str:
    """Return the ARN of a new group named from ``user``, not one the account has."""
    prefix = user.arn.split(":user/")[0]
    base = DIRECT_GROUP.format(user=user.name)[:NAME_LENGTH]
    name, count = base, 1
    while f"{prefix}:group/{name}".lower() in taken:
        count += 1
        suffix = f"-{count}"
        name = base[: NAME_LENGTH - len(suffix)] + suffix
    return f"{prefix}:group/{name}"


def _move_note(arn: str, moves: Sequence[Move], *, new: bool) -> str:
    """Return what to do for the users that move into the group ``arn``."""
    users = [m for m in moves if m.group == arn]
    who = ", ".join(_name(m.user) for m in users)
    policies = ", ".join(p for m in users for p in m.policies)
    if new:
        return (
            f"a new group (IAM.2, permissions through groups only): create {_name(arn)}, add "
            f"{who} to it, attach this proposal, then detach {policies} from {who}"
        )
    return (
        f"{who} join{'s' if len(users) == 1 else ''} this group (IAM.2, permissions through "
        f"groups only): add {who} to it, attach this proposal, then detach {policies} from {who}"
    )


def _user_proposal(
    rows: Sequence[Used],
    user: User | None,
    residual: Sequence[Used],
    move: Move | None,
    groups: Sequence[str],
    options: Options,
    window: tuple[datetime, datetime] | None,
) -> Proposal:
    """Return a user's proposal: what none of its groups carries, or why there is none."""
    principal, kind = rows[0].principal, rows[0].principal_type
    if user is None:
        return _said(
            proposal_for(rows, options, window=window),
            "the authorization details do not hold this user: its groups are unknown, so all "
            "it used is proposed for the user",
        )
    target, _ = target_of(principal, kind)
    granted = _granting(rows)
    if target is None or not granted:
        return proposal_for(rows, options, window=window)
    refused = refusals(rows)
    names = ", ".join(_name(g) for g in groups)
    if move is not None:
        own = ", ".join(move.policies)
        if move.group is None:
            why = (
                f"its groups ({names}) carry all it used: its own policies ({own}) granted "
                "nothing it needed; detach them (IAM.2)"
            )
        else:
            joins = "joins the existing group" if move.existing else "moves to a new group"
            why = (
                f"what it used of its own policies ({own}) {joins} {_name(move.group)} (IAM.2, "
                f"permissions through groups only); detach them once it is in {_name(move.group)}"
            )
        return Proposal(principal, kind, target, refused=refused, skipped=why)
    if not residual:
        return Proposal(
            principal,
            kind,
            target,
            refused=refused,
            skipped=f"its groups ({names}) carry all it used: nothing is proposed for the user",
        )
    proposal = replace(proposal_for(residual, options, window=window), refused=refused)
    pairs = sorted({_pair(r) for r in residual})
    documents = [d for _, d in user.policies if d is not None]
    held = _allowed(pairs, principal, documents, mode=OPTIMISTIC)
    nowhere = [p for p in pairs if p not in held]
    lines = []
    if groups:
        lines.append(f"only what its groups ({names}) do not grant; they carry the rest")
    if nowhere:
        count = len(nowhere)
        lines.append(
            f"{count} permission{'s' if count > 1 else ''} it used {'are' if count > 1 else 'is'} "
            "granted by no policy of its own or of its groups (a resource policy, or details "
            "older than the calls): " + "; ".join(f"{a} on {r}" for a, r in nowhere)
        )
    return _said(proposal, *lines)


def _said(proposal: Proposal, *lines: str) -> Proposal:
    """Return ``proposal`` with ``lines`` added to its warnings."""
    return replace(proposal, warnings=(*proposal.warnings, *lines)) if lines else proposal
