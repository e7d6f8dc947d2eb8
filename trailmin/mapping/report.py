"""The mapping report: how every kind of event in a lake maps to IAM actions, and what does not.

Pure: it takes the lake's events grouped by (eventSource, eventName, eventType) and the
access-denied messages, and returns values. ``trailmin.mapping_report`` runs the SQL.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from trailmin.mapping.actions import (
    INSIGHT,
    NO_PERMISSION,
    SERVICE_EVENT,
    SIGN_IN,
    UNMAPPED,
    map_event,
)
from trailmin.mapping.outcomes import DENIED, outcome_of

# "... is not authorized to perform: ec2:DescribeInstanceAttribute on resource ..." and
# "... because no identity-based policy allows the s3:ListBucket action".
_NAMED_ACTION = re.compile(
    r"(?:to perform:?|allows the)\s+([a-z0-9][a-z0-9-]*:[A-Za-z0-9*]+)", re.IGNORECASE
)
# Statuses of events that need no permission of the caller.
NOT_PERMISSIONS = frozenset({NO_PERMISSION, SERVICE_EVENT, SIGN_IN, INSIGHT})


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One kind of event: how it maps and how often it occurred."""

    event_source: str
    event_name: str
    event_type: str | None
    status: str
    actions: tuple[str, ...]
    events: int
    provenance: str
    # Of the (action, resource) pairs whose action takes a resource, how many were scoped
    # (None when none takes one, or the lake holds no permissions for the kind).
    scoped: int | None = None
    unscoped: int | None = None

    @property
    def scoped_share(self) -> float | None:
        """Return the share of resource-taking pairs scoped to an ARN or a pattern."""
        if not self.scoped and not self.unscoped:
            return None
        return round((self.scoped or 0) / ((self.scoped or 0) + (self.unscoped or 0)), 4)


@dataclass(frozen=True, slots=True)
class MappingFinding:
    """Something the mapping cannot vouch for, with a stable code and the evidence."""

    code: str
    event_source: str
    event_name: str
    message: str
    evidence: tuple[str, ...]  # event ids


@dataclass(slots=True)
class MappingReport:
    """Totals on top, a row per kind of event, and the findings."""

    rows: list[ReportRow] = field(default_factory=list)
    findings: list[MappingFinding] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, Any]:
        """Return events by status and the share of permission-needing calls that map."""
        by_status: Counter[str] = Counter()
        for row in self.rows:
            by_status[row.status] += row.events
        needing = sum(n for status, n in by_status.items() if status not in NOT_PERMISSIONS)
        mapped = needing - by_status[UNMAPPED]
        scoped = sum(r.scoped or 0 for r in self.rows)
        unscoped = sum(r.unscoped or 0 for r in self.rows)
        return {
            "events": sum(by_status.values()),
            "by_status": dict(sorted(by_status.items())),
            "needing_permission": needing,
            "mapped": mapped,
            "mapped_share": round(mapped / needing, 4) if needing else None,
            "kinds_unmapped": sum(1 for r in self.rows if r.status == UNMAPPED),
            "resources_scoped": scoped,
            "resources_unscoped": unscoped,
            "scoped_share": round(scoped / (scoped + unscoped), 4) if scoped + unscoped else None,
        }

    def to_frame(self) -> Any:
        """Return the rows as a pandas DataFrame (one row per kind of event)."""
        import pandas as pd

        frame = pd.DataFrame(self.to_dict()["rows"])
        if not frame.empty:
            frame["status"] = frame["status"].astype("category")
        return frame

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready values."""
        return {
            "totals": self.totals,
            "rows": [
                {
                    "event_source": r.event_source,
                    "event_name": r.event_name,
                    "event_type": r.event_type,
                    "status": r.status,
                    "actions": list(r.actions),
                    "events": r.events,
                    "scoped_share": r.scoped_share,
                    "provenance": r.provenance,
                }
                for r in self.rows
            ],
            "findings": [
                {
                    "code": f.code,
                    "event_source": f.event_source,
                    "event_name": f.event_name,
                    "message": f.message,
                    "evidence": list(f.evidence),
                }
                for f in self.findings
            ],
        }


def named_action(error_message: str | None) -> str | None:
    """Return the IAM action an access-denied message names, or None when it names none."""
    if not error_message:
        return None
    match = _NAMED_ACTION.search(error_message)
    return match.group(1) if match else None


def build_report(
    kinds: list[tuple[str | None, str | None, str | None, int]],
    denials: list[tuple[str | None, str | None, str | None, str | None, str]],
    scoping: dict[tuple[str | None, str | None, str | None], tuple[int, int]] | None = None,
) -> MappingReport:
    """Return the report for event kinds ``(source, name, type, count)`` and the denied calls
    ``(source, name, error_code, error_message, event_id)``; unmapped kinds first, then by count.

    ``scoping`` gives, per kind, how many resource-taking (action, resource) pairs of the lake's
    permissions column were scoped and how many were not.
    """
    report = MappingReport()
    for source, name, kind, count in kinds:
        mapped = map_event(source or "", name or "", kind)
        scoped, unscoped = (scoping or {}).get((source, name, kind), (None, None))
        report.rows.append(
            ReportRow(
                event_source=source or "",
                event_name=name or "",
                event_type=kind,
                status=mapped.status,
                actions=mapped.actions,
                events=count,
                provenance=mapped.provenance,
                scoped=scoped,
                unscoped=unscoped,
            )
        )
    report.rows.sort(key=lambda r: (r.status != UNMAPPED, -r.events, r.event_source, r.event_name))
    disagreements: dict[tuple[str, str, str], list[str]] = {}
    for source, name, code, message, event_id in denials:
        if outcome_of(code) != DENIED:
            continue
        asked = named_action(message)
        if asked is None:
            continue
        mapped = map_event(source or "", name or "")
        if mapped.status in NOT_PERMISSIONS or mapped.status == UNMAPPED:
            continue
        if asked.lower() not in {a.lower() for a in mapped.actions}:
            disagreements.setdefault((source or "", name or "", asked), []).append(event_id)
    for (source, name, asked), ids in sorted(disagreements.items()):
        mapped = map_event(source, name)
        report.findings.append(
            MappingFinding(
                code="MAPPING_DISAGREES_WITH_DENIAL",
                event_source=source,
                event_name=name,
                message=(
                    f"AWS refused {name} naming {asked}; the mapping says "
                    f"{', '.join(mapped.actions)}"
                ),
                evidence=tuple(sorted(ids)[:10]),
            )
        )
    return report
