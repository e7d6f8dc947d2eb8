"""The diff: what a principal holds against what it used.

Pure. Per principal, from its current policies (``trailmin.iam.details``), its usage rows and the
proposal generated from them:

- **used and granted**;
- **granted but unused**, by service: whole services unused apart from services partly used
  ("N of M actions unused"), the riskiest access level first (Permissions management, Write, then
  the rest);
- **granted too broadly**: used on a few ARNs, granted on a wildcard; the narrower resources are
  the proposal's;
- **usage unknown**: granted actions CloudTrail records only as data events (or as KMS events a
  trail may exclude) when the lake holds no such events for the service: their absence says
  nothing (``mapping/data/data_events.csv``);
- **used but not granted**: a resource policy or another path allowed it, or a bug; always shown;
- **asked for and refused**;
- **kept by Access Advisor** (``trailmin.iam.access_advisor``), when its reports are given:
  granted actions the trail shows unused but Access Advisor saw attempted at or after the window's
  start (a region or account the lake lacks, data events not logged, a use after the lake's newest
  event) are not called unused, with the time, region and entity it reports. The reverse, a
  service the trail shows used that Access Advisor has no record of, makes no claim: its data
  lags by hours and only the identity policies' services are listed.

Granted is the optimistic expansion (iam-evaluation.md R9): what the policies could ever allow.
``diff_report`` makes the diff of every principal asked for, as a ``DiffReport`` that also names
the principals with calls the authorization details lack.
"""

from __future__ import annotations

import csv
import fnmatch
import functools
import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from trailmin.aws import catalog, roles
from trailmin.iam.access_advisor import AccessAdvisor, LastAccess, since, window_bounds
from trailmin.iam.details import AuthorizationDetails, Holdings
from trailmin.iam.trust import TrustReport
from trailmin.mapping.actions import data_file, service_prefix
from trailmin.policy.evaluate import pattern_matches
from trailmin.policy.expand import Grant, expand
from trailmin.policy.generate import Proposal, Used
from trailmin.query.sql import Window, principal_matcher
from trailmin.text import markdown as md
from trailmin.text.wording import counted

if TYPE_CHECKING:
    import pandas as pd

LEVEL_ORDER = {level: rank for rank, level in enumerate(catalog.ACCESS_LEVELS)}
FEW_RESOURCES = 20  # "used only on a few ARNs": at most this many


@dataclass(frozen=True, slots=True)
class UnusedService:
    """A service of which some or all granted actions went unused."""

    service: str
    granted: int
    unused: tuple[str, ...]  # sorted by access level (riskiest first), then name
    whole: bool  # no action of the service was used
    # A whole service's last attempt in Access Advisor (before the window, or none at all);
    # None without a report that lists the service.
    advisor: LastAccess | None = None

    @property
    def top_level(self) -> str:
        """Return the riskiest access level among the unused actions."""
        return min((access_level(a) for a in self.unused), key=LEVEL_ORDER.__getitem__)


@dataclass(frozen=True, slots=True)
class TooBroad:
    """An action used on a few ARNs but granted on a wildcard."""

    action: str
    granted: tuple[str, ...]
    used_on: tuple[str, ...]
    narrower: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NotGranted:
    """A permission used though no identity policy grants it."""

    action: str
    resource: str
    calls: int
    reason: str


@dataclass(frozen=True, slots=True)
class Kept:
    """Granted actions the trail shows unused that Access Advisor saw attempted at or after the
    window's start: not proposed for removal."""

    service: str
    actions: tuple[str, ...]  # the unused actions kept, riskiest first
    seen: LastAccess  # Access Advisor's most recent attempt
    tracked_action: str | None  # ACTION_LEVEL: the tracked action seen; None: the service
    after_window: bool  # the attempt is after the window's end
    window_end: datetime
    region_in_lake: bool | None  # None: no region reported, or the lake's regions not given

    def reason(self) -> str:
        """Return why the actions are kept, in words."""
        what = f"{self.tracked_action} (a tracked action)" if self.tracked_action else "it"
        said = f"Access Advisor reports an attempt of {what}"
        if self.seen.when is not None:
            said += f" on {self.seen.when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        if self.seen.region:
            said += f" in {self.seen.region}"
        if self.seen.entity:
            said += f" by {self.seen.entity}"
        if self.after_window:
            # As Window.span shows it: the end is exclusive.
            last = (self.window_end - timedelta(microseconds=1)).astimezone(UTC)
            said += f", after the window (which ends {last:%Y-%m-%d %H:%M} UTC)"
        if self.region_in_lake is False:
            said += f"; the lake holds no event from {self.seen.region}"
        elif self.region_in_lake and not self.after_window:
            said += (
                f"; the lake holds events from {self.seen.region} but not this call: perhaps data "
                "events or events the trail leaves out, or another account's trail"
            )
        return said

    def to_dict(self) -> dict[str, Any]:
        """Return the kept actions as JSON values."""
        return {
            "service": self.service,
            "actions": list(self.actions),
            "tracked_action": self.tracked_action,
            "access_advisor": self.seen.to_dict(),
            "after_window": self.after_window,
            "region_in_lake": self.region_in_lake,
            "reason": self.reason(),
        }


@dataclass(frozen=True, slots=True)
class Diff:
    """The difference between what a principal holds and what it used."""

    principal: str
    policies: tuple[str, ...]  # "name (kind[, via group])"
    boundary: str | None
    granted: int
    used_and_granted: tuple[tuple[str, int], ...]  # (action, calls)
    unused: tuple[UnusedService, ...]
    too_broad: tuple[TooBroad, ...]
    unknown: tuple[str, ...]
    not_granted: tuple[NotGranted, ...]
    refused: tuple[tuple[str, str, int], ...]  # (action, resource, denied calls)
    missing_documents: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    kept: tuple[Kept, ...] = ()  # unused in the trail, attempted per Access Advisor
    access_advisor: AccessAdvisor | None = None  # the principal's report, when given

    def to_dict(self) -> dict[str, Any]:
        """Return the diff as JSON-ready values."""
        return {
            "principal": self.principal,
            "policies": list(self.policies),
            "boundary": self.boundary,
            "granted_actions": self.granted,
            "used_and_granted": [{"action": a, "calls": n} for a, n in self.used_and_granted],
            "unused": [
                {
                    "service": u.service,
                    "whole_service": u.whole,
                    "granted": u.granted,
                    "unused": [{"action": a, "access_level": access_level(a)} for a in u.unused],
                    "access_advisor": None if u.advisor is None else u.advisor.to_dict(),
                }
                for u in self.unused
            ],
            "kept_by_access_advisor": [k.to_dict() for k in self.kept],
            "too_broad": [
                {
                    "action": t.action,
                    "granted": list(t.granted),
                    "used_on": list(t.used_on),
                    "narrower": list(t.narrower),
                }
                for t in self.too_broad
            ],
            "usage_unknown": list(self.unknown),
            "used_not_granted": [
                {"action": n.action, "resource": n.resource, "calls": n.calls, "reason": n.reason}
                for n in self.not_granted
            ],
            "refused": [{"action": a, "resource": r, "denied": n} for a, r, n in self.refused],
            "missing_documents": list(self.missing_documents),
            "notes": list(self.notes),
            "access_advisor": (
                None if self.access_advisor is None else self.access_advisor.summary()
            ),
        }

    def to_json(self) -> str:
        """Return the diff as JSON text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def rows(self) -> list[dict[str, Any]]:
        """Return the diff as long-form rows (section, service, action, …), for a DataFrame."""
        found: list[dict[str, Any]] = []

        def add(section: str, action: str, **extra: Any) -> None:
            found.append(
                {
                    "principal": self.principal,
                    "section": section,
                    "service": action.split(":", 1)[0],
                    "action": action,
                    "access_level": access_level(action),
                    **extra,
                }
            )

        for action, calls in self.used_and_granted:
            add("used", action, calls=calls)
        for service in self.unused:
            for action in service.unused:
                add("unused-service" if service.whole else "unused", action)
        for kept in self.kept:
            for action in kept.actions:
                add("kept-access-advisor", action)
        for broad in self.too_broad:
            add("too-broad", broad.action, resource=" ".join(broad.granted))
        for action in self.unknown:
            add("usage-unknown", action)
        for missing in self.not_granted:
            add("not-granted", missing.action, resource=missing.resource, calls=missing.calls)
        for action, resource, denied in self.refused:
            add("refused", action, resource=resource, calls=denied)
        return found


@functools.cache
def access_level(action: str) -> str:
    """Return the catalog's access level of ``action`` ("Unknown" when not in the catalog)."""
    found = catalog.action(action)
    return found.access_level if found is not None else "Unknown"


def _level_key(action: str) -> tuple[int, str]:
    return (LEVEL_ORDER.get(access_level(action), len(LEVEL_ORDER)), action.lower())


@functools.cache
def _data_event_rules() -> tuple[tuple[str, str], ...]:
    rows = csv.DictReader(data_file("data_events.csv").splitlines())
    return tuple((row["action"].lower(), row["recorded_as"]) for row in rows)


@functools.cache
def recorded_as(action: str) -> str | None:
    """Return how CloudTrail records ``action`` when not as an ordinary management event:
    "data" (a data event, off by default) or "excludable" (a trail may leave it out)."""
    lowered = action.lower()
    for pattern, kind in _data_event_rules():
        if fnmatch.fnmatchcase(lowered, pattern):
            return kind
    return None


def diff(
    holdings: Holdings,
    used: Sequence[Used],
    proposal: Proposal | None,
    *,
    data_event_services: frozenset[str] = frozenset(),
    services_seen: frozenset[str] = frozenset(),
    scps: Sequence[Sequence[Mapping[str, Any]]] = (),
    access_advisor: AccessAdvisor | None = None,
    window: tuple[datetime, datetime] | None = None,
    regions_seen: frozenset[str] | None = None,
) -> Diff:
    """Return the diff of one principal.

    ``data_event_services`` are the services whose data events the lake holds;
    ``services_seen`` those with any event at all (a trail excluding KMS events has none of kms).
    ``scps``: the organization's SCPs over the principal's account, one list per level.
    ``access_advisor``: the principal's Access Advisor report, compared with ``window`` (start
    inclusive, end exclusive: ``access_advisor.window_bounds``); ``regions_seen`` are the lake's
    regions, to say whether an attempt Access Advisor reports is from a region the lake lacks.
    """
    grants = expand(
        [(p.name, p.document) for p in holdings.policies if p.document is not None],
        boundary=holdings.boundary.document if holdings.boundary is not None else None,
        scps=scps,
    )
    authorized = [u for u in used if u.granting > 0]
    calls: dict[str, int] = defaultdict(int)
    resources: dict[str, set[str]] = defaultdict(set)
    for row in authorized:
        calls[row.action] += row.granting
        resources[row.action].add(row.resource)
    used_and_granted = tuple(sorted((a, n) for a, n in calls.items() if a in grants))
    not_granted = _not_granted(authorized, grants)
    unknown: list[str] = []
    unused_by_service: dict[str, list[str]] = defaultdict(list)
    granted_by_service: dict[str, int] = defaultdict(int)
    for action in grants:
        service = action.split(":", 1)[0]
        granted_by_service[service] += 1
        if action in calls:
            continue
        kind = recorded_as(action)
        if (kind == "data" and service not in data_event_services) or (
            kind == "excludable" and service not in services_seen
        ):
            unknown.append(action)
            continue
        unused_by_service[service].append(action)
    used_services = {a.split(":", 1)[0] for a in calls}
    notes = [
        f"the details hold no document for {name}: what it grants is not counted"
        for name in holdings.missing
    ]
    kept: tuple[Kept, ...] = ()
    if access_advisor is not None:
        if window is None:
            notes.append("Access Advisor's report is not compared: the window has no event")
        else:
            kept = _keep(unused_by_service, used_services, access_advisor, window, regions_seen)
            notes += _advisor_notes(access_advisor, window)
    unused = [
        UnusedService(
            service,
            granted_by_service[service],
            tuple(sorted(actions, key=_level_key)),
            whole=service not in used_services,
            advisor=(
                _service_access(access_advisor, service)
                if service not in used_services and window is not None
                else None
            ),
        )
        for service, actions in unused_by_service.items()
    ]
    unused.sort(key=lambda u: (not u.whole, LEVEL_ORDER.get(u.top_level, 9), u.service))
    return Diff(
        principal=holdings.arn,
        policies=tuple(
            f"{p.name} ({p.kind}{f', via group {p.via}' if p.via else ''})"
            for p in holdings.policies
        ),
        boundary=holdings.boundary.name if holdings.boundary is not None else None,
        granted=len(grants),
        used_and_granted=used_and_granted,
        unused=tuple(unused),
        too_broad=_too_broad(grants, resources, proposal),
        unknown=tuple(sorted(unknown, key=_level_key)),
        not_granted=not_granted,
        refused=tuple(
            sorted(
                ((u.action, u.resource, u.denied) for u in used if u.denied > 0),
                key=lambda r: (r[0].lower(), r[1]),
            )
        ),
        missing_documents=holdings.missing,
        notes=tuple(notes),
        kept=kept,
        access_advisor=access_advisor,
    )


def _service_access(report: AccessAdvisor | None, service: str) -> LastAccess | None:
    found = report.service(service) if report is not None else None
    return found.last if found is not None else None


def _keep(
    unused_by_service: dict[str, list[str]],
    used_services: set[str],
    report: AccessAdvisor,
    window: tuple[datetime, datetime],
    regions_seen: frozenset[str] | None,
) -> tuple[Kept, ...]:
    """Take out of ``unused_by_service`` what ``report`` saw attempted at or after the window's
    start, and return it: a whole service unused in the trail that Access Advisor saw (any
    action of it may have been the attempt, so all of its unused actions stay), and with
    ACTION_LEVEL, an unused tracked action of a service partly used."""
    start, end = window

    def kept(service: str, actions: Sequence[str], seen: LastAccess, tracked: str | None) -> Kept:
        region_in_lake = (
            None if regions_seen is None or seen.region is None else seen.region in regions_seen
        )
        after = seen.when is not None and seen.when >= end
        ordered = tuple(sorted(actions, key=_level_key))
        return Kept(service, ordered, seen, tracked, after, end, region_in_lake)

    found: list[Kept] = []
    for service in sorted(unused_by_service):
        record = report.service(service)
        if record is None:
            continue
        actions = unused_by_service[service]
        if service not in used_services:
            seen = since(record.last, start)
            if seen is not None:
                found.append(kept(service, actions, seen, None))
                del unused_by_service[service]
            continue
        for action in sorted(actions, key=_level_key):
            seen = since(record.actions.get(action.lower()), start)
            if seen is not None:
                found.append(kept(service, [action], seen, action))
                actions.remove(action)
        if not actions:
            del unused_by_service[service]
    return tuple(found)


def _advisor_notes(report: AccessAdvisor, window: tuple[datetime, datetime]) -> list[str]:
    notes = []
    if report.created is not None and report.created < window[0]:
        notes.append(
            f"Access Advisor's report was made on {report.created.astimezone(UTC):%Y-%m-%d %H:%M} "
            "UTC, before the window starts: it cannot show use in the window"
        )
    if report.truncated:
        notes.append(
            "Access Advisor's report is truncated (IsTruncated): services after its last page "
            "were not compared; save every page (--marker) as a list under the principal's ARN"
        )
    return notes


def diff_report(
    details: AuthorizationDetails,
    used: Sequence[Used],
    proposals: Sequence[Proposal],
    *,
    event_sources: Sequence[tuple[str, bool]],
    principals: Sequence[str] = (),
    scps: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]] | None = None,
    window: Window | None = None,
    access_advisor: Mapping[str, AccessAdvisor] | None = None,
    regions: Sequence[str] | None = None,
) -> DiffReport:
    """Return the diff of each user and role of ``details`` that ``principals`` select (all when
    empty; service-linked roles never), and the principals with usage the details lack.

    ``event_sources`` are the lake's event sources, each with whether it holds data events;
    ``scps`` maps an account id to its SCPs, one list of policies per level;
    ``access_advisor`` maps a principal's ARN to its Access Advisor report, compared with
    ``window``; ``regions`` are the lake's regions.
    """
    by_principal: dict[str, list[Used]] = defaultdict(list)
    for row in used:
        by_principal[row.principal].append(row)
    proposed = {p.principal: p for p in proposals}
    data_services = frozenset(service_prefix(s) for s, data in event_sources if data)
    seen = frozenset(service_prefix(s) for s, _ in event_sources)
    selected = principal_matcher(principals)
    wanted = [p for p in details.principals if selected(p) and not roles.is_service_linked(p)]
    diffs = [
        diff(
            details.principals[arn],
            by_principal.get(arn, []),
            proposed.get(arn),
            data_event_services=data_services,
            services_seen=seen,
            scps=(scps or {}).get(arn.split(":")[4], ()),
            access_advisor=(access_advisor or {}).get(arn),
            window=window_bounds(window),
            regions_seen=None if regions is None else frozenset(regions),
        )
        for arn in sorted(wanted)
    ]
    missing = sorted(
        p
        for p in by_principal
        if p not in details.principals and re.match(r"^arn:[^:]+:iam::\d{12}:(user|role)/", p)
    )
    advisor_missing = sorted(a for a in access_advisor or {} if a not in details.principals)
    return DiffReport(diffs, missing, window=window, advisor_not_in_details=advisor_missing)


def _not_granted(authorized: Sequence[Used], grants: Mapping[str, Grant]) -> tuple[NotGranted, ...]:
    found: dict[tuple[str, str], tuple[int, str]] = {}
    for row in authorized:
        grant = grants.get(row.action)
        if grant is None:
            reason = "no identity policy grants the action"
        elif row.resource == "*" or any(
            p == "*" or pattern_matches(p, row.resource) for p in grant.resources
        ):
            continue
        else:
            reason = "the identity policies grant the action on other resources"
        calls, _ = found.get((row.action, row.resource), (0, reason))
        found[row.action, row.resource] = (calls + row.granting, reason)
    return tuple(
        NotGranted(action, resource, calls, reason)
        for (action, resource), (calls, reason) in sorted(found.items())
    )


def _too_broad(
    grants: Mapping[str, Grant], resources: Mapping[str, set[str]], proposal: Proposal | None
) -> tuple[TooBroad, ...]:
    proposed: dict[str, set[str]] = defaultdict(set)
    for policy in proposal.policies if proposal is not None else ():
        for statement in policy.statements:
            for action in statement.actions:
                proposed[action].update(statement.resources)
    found: list[TooBroad] = []
    for action, used_on in sorted(resources.items()):
        grant = grants.get(action)
        if grant is None or "*" in used_on or len(used_on) > FEW_RESOURCES:
            continue
        wide = [p for p in grant.resources if "*" in p or "?" in p]
        if not wide:
            continue
        narrower = tuple(sorted(proposed.get(action) or used_on))
        if set(narrower) == set(grant.resources):
            continue
        found.append(TooBroad(action, grant.resources, tuple(sorted(used_on)), narrower))
    return tuple(found)


@dataclass(slots=True)
class DiffReport:
    """The diff of each principal, and the principals the authorization details lack."""

    diffs: list[Diff]
    not_in_details: list[str] = field(default_factory=list)
    window: Window | None = None  # the usage compared with
    advisor_not_in_details: list[str] = field(default_factory=list)  # Access Advisor's keys
    trust: TrustReport | None = None  # each role's trust policy against who assumed it

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready values."""
        return {
            "window": None if self.window is None else self.window.to_dict(),
            "principals": [d.to_dict() for d in self.diffs],
            "not_in_details": self.not_in_details,
            "access_advisor_not_in_details": self.advisor_not_in_details,
            "trust": None if self.trust is None else self.trust.to_dict()["roles"],
        }

    def to_markdown(self) -> str:
        """Return the report as Markdown."""
        text = to_markdown(self.diffs)
        if self.window is not None:
            heading, _, rest = text.partition("\n")
            text = f"{heading}\n\n{md.text(self.window.sentence())}\n{rest}"
        if self.not_in_details:
            text += "\n## Principals with calls but no authorization details\n\n"
            text += "".join(f"- {md.text(p)}\n" for p in self.not_in_details)
        if self.advisor_not_in_details:
            text += "\n## Access Advisor reports of principals the details lack\n\n"
            text += "Not compared with anything: check the ARNs they are filed under.\n\n"
            text += "".join(f"- {md.text(p)}\n" for p in self.advisor_not_in_details)
        if self.trust is not None and self.trust.roles:
            text += "\n" + self.trust.to_markdown(level=2, window=False)
        return text

    def to_frame(self) -> pd.DataFrame:
        """Return the report as one long DataFrame: a row per (principal, section, action)."""
        import pandas as pd

        columns = ["principal", "section", "service", "action", "access_level", "resource", "calls"]
        frame = pd.DataFrame([row for d in self.diffs for row in d.rows()], columns=columns)
        for name in ("principal", "section", "service", "access_level"):
            frame[name] = frame[name].astype("category")
        return frame


# --- Markdown ------------------------------------------------------------------------------------


def to_markdown(diffs: Sequence[Diff]) -> str:
    """Return the diffs as a Markdown report, a section per principal; names, actions and ARNs
    in it are text, never Markdown (``trailmin.text.markdown``)."""
    lines = ["# What each principal holds against what it used", ""]
    for item in diffs:
        lines += _markdown(item)
    return "\n".join(lines).rstrip() + "\n"


def _markdown(item: Diff) -> list[str]:
    used = len(item.used_and_granted)
    share = f" ({used / item.granted:.1%})" if item.granted else ""
    lines = [
        f"## {md.text(item.principal)}",
        "",
        f"Policies: {', '.join(md.text(p) for p in item.policies) or 'none'}"
        + (f"; boundary: {md.text(item.boundary)}" if item.boundary else "")
        + ".",
        f"Used {used:,} of the {item.granted:,} actions granted{share}.",
        "",
    ]
    if item.access_advisor is not None:
        report = item.access_advisor
        made = (
            f" made {report.created.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            if report.created is not None
            else ""
        )
        level = "action level" if report.granularity == "ACTION_LEVEL" else "service level"
        lines[-1:] = [f"Compared with Access Advisor's report{made} ({level}).", ""]
    lines.extend(f"> {md.text(note)}" for note in item.notes)
    whole = [u for u in item.unused if u.whole]
    partly = [u for u in item.unused if not u.whole]
    if whole or partly:
        lines += ["### Granted but unused", ""]
    if whole:
        lines.append(f"Whole services unused ({len(whole)}):")
        lines.append("")
        for service in whole:
            lines.append(
                f"- **{md.text(service.service)}**: {len(service.unused)} actions, "
                f"{_levels(service)}{_advisor_words(service.advisor)}"
            )
        lines.append("")
    if partly:
        lines.append("Services partly used:")
        lines.append("")
        for service in partly:
            lines.append(
                f"- **{md.text(service.service)}**: {len(service.unused)} of {service.granted} "
                f"actions unused: {_levels(service, names=True)}"
            )
        lines.append("")
    if item.kept:
        lines += [
            "### Unused in the trail, but Access Advisor saw them used",
            "",
            "Not proposed for removal. Access Advisor counts every attempt, denied ones too; a "
            "proposal generated from the trail leaves these out: keep them if you apply it.",
            "",
        ]
        for kept in item.kept:
            shown = ", ".join(md.text(a) for a in kept.actions[:12])
            more = f" and {len(kept.actions) - 12} more" if len(kept.actions) > 12 else ""
            lines.append(
                f"- **{md.text(kept.service)}** ({counted(len(kept.actions), 'action')}: "
                f"{shown}{more}): {md.text(kept.reason())}"
            )
        lines.append("")
    if item.too_broad:
        lines += ["### Granted too broadly", "", "| action | granted on | used on | narrower |"]
        lines.append("|---|---|---|---|")
        for broad in item.too_broad:
            shown = "<br>".join(md.cell(n) for n in broad.narrower[:5])
            if len(broad.narrower) > 5:
                shown += f"<br>… and {len(broad.narrower) - 5} more (JSON has them all)"
            granted = "<br>".join(md.cell(g) for g in broad.granted)
            lines.append(
                f"| {md.cell(broad.action)} | {granted} | {counted(len(broad.used_on), 'ARN')} "
                f"| {shown} |"
            )
        lines.append("")
    if item.unknown:
        lines += [
            "### Usage unknown",
            "",
            "CloudTrail records these only as data events (or as KMS events a trail may leave "
            "out), and the lake holds none for their service: unused or not, it cannot tell.",
            "",
            ", ".join(md.text(a) for a in item.unknown),
            "",
        ]
    if item.not_granted:
        lines += [
            "### Used but not granted",
            "",
            "| action | resource | calls | why |",
            "|---|---|---|---|",
        ]
        for missing in item.not_granted:
            lines.append(
                f"| {md.cell(missing.action)} | {md.cell(missing.resource)} | {missing.calls:,} "
                f"| {missing.reason} |"
            )
        lines.append("")
    if item.refused:
        lines += [
            "### Asked for and refused",
            "",
            "| action | resource | denied |",
            "|---|---|---|",
        ]
        for action, resource, denied in item.refused:
            lines.append(f"| {md.cell(action)} | {md.cell(resource)} | {denied:,} |")
        lines.append("")
    return lines


def _advisor_words(advisor: LastAccess | None) -> str:
    if advisor is None:
        return ""
    if advisor.when is None:
        return "; Access Advisor: no attempt in its tracking period"
    return (
        f"; Access Advisor: last attempt {advisor.when.astimezone(UTC):%Y-%m-%d}, before the window"
    )


def _levels(service: UnusedService, *, names: bool = False) -> str:
    by_level: dict[str, list[str]] = defaultdict(list)
    for action in service.unused:
        by_level[access_level(action)].append(action)
    parts = []
    for level in sorted(by_level, key=lambda lv: LEVEL_ORDER.get(lv, 9)):
        actions = by_level[level]
        if names:
            shown = ", ".join(md.text(a.split(":", 1)[1]) for a in actions[:12])
            more = f" and {len(actions) - 12} more" if len(actions) > 12 else ""
            parts.append(f"{level}: {shown}{more}")
        else:
            parts.append(f"{level} {len(actions)}")
    return "; ".join(parts)
