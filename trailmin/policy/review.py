"""Review first: the statements of a proposal a reviewer should read before any other.

Pure: a ``Proposal`` (and the checklist's unusual-activity codes for its principal) in, a
``Review`` out. A statement is listed for each action it grants that is

- ``privilege-escalation``: a documented path to more privilege than the principal holds
  (``iam:PassRole``, ``iam:CreatePolicyVersion``, ``lambda:UpdateFunctionCode``…);
- ``defence-evasion``: blinds or removes the account's defences (``cloudtrail:StopLogging``,
  ``guardduty:DeleteDetector``, ``ec2:DeleteFlowLogs``…);
- ``permissions-management``: any other action whose access level in the catalog is
  "Permissions management" (``iam:PutRolePolicy`` is one, but the table names it first).

The first two are a data table, ``data/review_actions.csv``, each row with its sources (Rhino
Security Labs' privilege escalation methods as Pacu implements them, Bishop Fox's iam-vulnerable,
PMapper's edges, Stratus Red Team, MITRE ATT&CK, AWS's own guides). It lists the step that gives
the privilege or removes the defence, not the companions that are harmless alone
(``lambda:InvokeFunction``, ``dynamodb:PutItem``). The third category comes from the catalog, so
it follows AWS as the catalog does.

Most severe first: on ``*`` before scoped, then privilege escalation, defence evasion,
permissions management. A statement whose action is a pattern (``iam:Put*``, with
``action_wildcards``) is listed for every action of the table or of the catalog it covers.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from trailmin.aws import catalog
from trailmin.policy.evaluate import match_action
from trailmin.policy.generate import Proposal, Statement
from trailmin.text import markdown as md

PRIVILEGE_ESCALATION = "privilege-escalation"
DEFENCE_EVASION = "defence-evasion"
PERMISSIONS_MANAGEMENT = "permissions-management"
# Most severe first.
CATEGORIES = (PRIVILEGE_ESCALATION, DEFENCE_EVASION, PERMISSIONS_MANAGEMENT)
CATALOG_PROVENANCE = 'Service Authorization Reference: access level "Permissions management"'
TABLE = "review_actions.csv"


@dataclass(frozen=True, slots=True)
class Row:
    """A row of the table: an action, its category and where that comes from."""

    action: str
    category: str
    provenance: str


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One action a statement grants that a reviewer should read first, and why."""

    policy: str
    sid: str
    action: str
    resources: tuple[str, ...]
    category: str
    any_resource: bool  # the statement grants it on "*"
    provenance: str
    granted_as: str  # the statement's action: the action itself, or a pattern covering it

    def to_dict(self) -> dict[str, Any]:
        """Return the item as JSON-ready values."""
        return {
            "policy": self.policy,
            "sid": self.sid,
            "action": self.action,
            "granted_as": self.granted_as,
            "resources": list(self.resources),
            "any_resource": self.any_resource,
            "category": self.category,
            "provenance": self.provenance,
        }


@dataclass(frozen=True, slots=True)
class Review:
    """What to read first in one principal's proposal: its items, most severe first, and the
    checklist's unusual-activity codes for the principal."""

    principal: str
    items: tuple[ReviewItem, ...] = ()
    unusual: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        """Return whether there is anything to read first."""
        return bool(self.items or self.unusual)

    def to_dict(self) -> dict[str, Any]:
        """Return the review as JSON-ready values."""
        return {
            "principal": self.principal,
            "unusual_activity": list(self.unusual),
            "items": [item.to_dict() for item in self.items],
        }


def table_text() -> str:
    """Return the text of the table of privilege-escalation and defence-evasion actions."""
    return resources.files("trailmin").joinpath("data", TABLE).read_text()


@functools.cache
def table() -> Mapping[str, Row]:
    """Return the table's rows by lower-case action."""
    rows = (Row(**row) for row in csv.DictReader(table_text().splitlines()))
    return {row.action.lower(): row for row in rows}


def review(proposal: Proposal, unusual: Iterable[str] = ()) -> Review:
    """Return what to read first in ``proposal``: its items most severe first, and ``unusual``,
    the checklist's unusual-activity codes for its principal."""
    items = [
        item
        for policy in proposal.policies
        for statement in policy.statements
        for item in _items(policy.name, statement)
    ]
    items.sort(key=severity)
    return Review(proposal.principal, tuple(items), tuple(sorted(set(unusual))))


def severity(item: ReviewItem) -> tuple[Any, ...]:
    """Return the sort key of an item: most severe first, then by action and statement."""
    return (not item.any_resource, CATEGORIES.index(item.category), item.action, item.sid)


def proposal_document(
    proposal: Proposal, *, unusual: Iterable[str] | None = None
) -> dict[str, Any]:
    """Return the proposal as JSON-ready values with its ``review`` items (a list, empty when
    none), and ``unusual_activity`` when the checklist was asked (``unusual`` not None)."""
    found = review(proposal, unusual or ())
    document = proposal.to_dict()
    document["review"] = [item.to_dict() for item in found.items]
    if unusual is not None:
        document["unusual_activity"] = list(found.unusual)
    return document


def _items(policy: str, statement: Statement) -> Iterator[ReviewItem]:
    any_resource = "*" in statement.resources
    seen: set[str] = set()
    for granted in statement.actions:
        for action, row in _classify(granted):
            if action.lower() in seen:
                continue
            seen.add(action.lower())
            yield ReviewItem(
                policy=policy,
                sid=statement.sid,
                action=action,
                resources=statement.resources,
                category=row.category,
                any_resource=any_resource,
                provenance=row.provenance,
                granted_as=granted,
            )


def _classify(granted: str) -> list[tuple[str, Row]]:
    """Return the actions ``granted`` (an action or a pattern) covers that are to be reviewed,
    each with its row (for a catalog action, a row made from its access level)."""
    if not any(c in granted for c in "*?"):
        row = table().get(granted.lower()) or _catalog_row(granted)
        return [] if row is None else [(row.action, row)]
    found = {row.action: row for row in table().values() if match_action(granted, row.action)}
    prefix = granted.partition(":")[0]
    if not any(c in prefix for c in "*?"):
        for entry in catalog.actions_for(prefix):
            if entry.full_name not in found and match_action(granted, entry.full_name):
                row = _catalog_row(entry.full_name)
                if row is not None:
                    found[entry.full_name] = row
    return sorted(found.items())


def _catalog_row(name: str) -> Row | None:
    entry = catalog.action(name)
    if entry is None or entry.access_level != "Permissions management":
        return None
    return Row(entry.full_name, PERMISSIONS_MANAGEMENT, CATALOG_PROVENANCE)


def markdown(reviews: Iterable[Review], folders: Mapping[str, str]) -> list[str]:
    """Return the lines of the "Review first" section: per principal (``folders`` gives each
    one's folder), its unusual activity and its items, most severe first. Principals, actions,
    resources and statement ids are text or code spans, never Markdown
    (``trailmin.text.markdown``)."""
    flagged = sorted((r for r in reviews if r.flagged), key=_principal_order)
    lines = ["## Review first", ""]
    if not flagged:
        lines.append(
            "No proposed statement grants a privilege-escalation, defence-evasion or "
            "permissions-management action, and the checklist finds no unusual activity."
        )
        return lines
    lines += [
        "Statements that grant privilege-escalation, defence-evasion or permissions-management "
        "actions, most severe first (on `*` before scoped), and the principals whose activity "
        "the checklist finds unusual. Each proposal.json lists them under `review`, with the "
        "sources of each.",
    ]
    for found in flagged:
        folder = folders.get(found.principal)
        name = md.link(found.principal, folder) if folder else md.text(found.principal)
        lines += ["", f"### {name}", ""]
        if found.unusual:
            lines.append(
                f"**The checklist flags unusual activity for this principal "
                f"({', '.join(found.unusual)}).**"
                + ("" if found.items else " No statement of its proposal is listed here.")
            )
            if found.items:
                lines.append("")
        lines.extend(_item_line(item) for item in found.items)
    return lines


def _principal_order(found: Review) -> tuple[Any, ...]:
    """Unusual activity with dangerous statements first (what an intrusion looks like), then
    dangerous statements, most severe first, then unusual activity alone."""
    group = 0 if found.items and found.unusual else 1 if found.items else 2
    top = severity(found.items[0]) if found.items else ()
    return (group, top, found.principal)


def _item_line(item: ReviewItem) -> str:
    category = item.category.replace("-", " ")
    action, sid = md.code(item.action), md.code(item.sid)
    via = f" (as {md.code(item.granted_as)})" if item.granted_as != item.action else ""
    if item.any_resource:
        return f"- **{action} on `*`**{via}: {category}, statement {sid}"
    where = (
        md.code(item.resources[0])
        if len(item.resources) == 1
        else f"{len(item.resources)} resources"
    )
    return f"- {action} on {where}{via}: {category}, statement {sid}"
