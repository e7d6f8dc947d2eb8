"""The IAM security checklist, answered from the lake and IAM's own reports.

Pure: each check takes plain rows (from the lake's SQL, the authorization details, the
credential report) and returns ``Finding`` values, each with a stable code, a severity, the
principals concerned and the evidence. The codes:

- ``ROOT_ACCOUNT_USED`` (high): calls made as the root user, apart from the tasks only root can do
  (``ROOT_TASK``, info; ``mapping/data/root_tasks.csv``).
- ``CONSOLE_SIGNIN_WITHOUT_MFA`` (high for root, medium for a user): a console sign-in with
  ``MFAUsed: No``. ``USER_PASSWORD_WITHOUT_MFA`` (medium): a user with a console password and no
  MFA device, from the credential report.
- ``LONG_TERM_KEY_IN_USE`` (medium; high when an application on EC2, Lambda or ECS uses it): an
  ``AKIA…`` access key in the events, with the calls, source addresses and user agents.
- ``ACCESS_KEY_OLD`` (medium) past the age limit, ``ACCESS_KEY_UNUSED`` (low) never used or not in
  the window, from the credential report.
- ``UNUSED_PRINCIPAL`` (low): a user or role with no call in the window.
- ``NEW_SERVICE``, ``NEW_REGION``, ``NEW_NETWORK`` (low) and ``DENIED_SPIKE`` (medium): activity
  against the principal's own baseline (its events before the recent days).
- ``AWS_MANAGED_POLICY_ATTACHED`` (low): an AWS-managed policy where a customer-managed proposal
  exists, with the size of the reduction.
"""

from __future__ import annotations

import csv
import functools
import io
import ipaddress
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from trailmin.mapping.actions import data_file

HIGH, MEDIUM, LOW, INFO = "high", "medium", "low", "info"
SEVERITY_ORDER = {HIGH: 0, MEDIUM: 1, LOW: 2, INFO: 3}
# User agents of SDKs running inside AWS compute (the SDKs add the execution environment).
# The codes of check 6: activity unlike the principal's own baseline.
UNUSUAL_CODES = frozenset({"NEW_SERVICE", "NEW_REGION", "NEW_NETWORK", "DENIED_SPIKE"})
# Evidence items shown under a finding in Markdown; the JSON has them all.
EVIDENCE_SHOWN = 3
# Fewer networks than this in a baseline never count as churning (see varied_networks).
MIN_VARIED_NETWORKS = 2
COMPUTE_MARKERS = ("exec-env/AWS_Lambda", "exec-env/AWS_ECS", "AWS_Lambda_", "exec-env/AWS_EC2")


@dataclass(frozen=True, slots=True)
class Finding:
    """One answer of the checklist: what, how bad, who, and the evidence."""

    code: str
    severity: str
    principals: tuple[str, ...]
    message: str
    evidence: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as JSON-ready values."""
        return {
            "code": self.code,
            "severity": self.severity,
            "principals": list(self.principals),
            "message": self.message,
            "evidence": [dict(e) for e in self.evidence],
        }


@dataclass(slots=True)
class Audit:
    """Every finding, most severe first."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the audit as JSON-ready values."""
        return {"findings": [f.to_dict() for f in self.findings], "notes": self.notes}

    def codes(self) -> set[str]:
        """Return the codes found."""
        return {f.code for f in self.findings}

    def to_markdown(self) -> str:
        """Return the audit as Markdown, most severe first."""
        lines = ["# IAM security checklist", ""]
        if not self.findings:
            lines.append("No finding.")
        for f in self.findings:
            who = ", ".join(f"`{p}`" for p in f.principals)
            lines.append(f"- **{f.severity}** `{f.code}` {who}: {f.message}")
            lines.extend(f"  - {_evidence_line(e)}" for e in f.evidence[:EVIDENCE_SHOWN])
            if len(f.evidence) > EVIDENCE_SHOWN:
                lines.append(f"  - … {len(f.evidence) - EVIDENCE_SHOWN:,} more (see the JSON)")
        lines.extend(f"\n> {note}" for note in self.notes)
        return "\n".join(lines) + "\n"

    def to_frame(self) -> Any:
        """Return a pandas DataFrame: a row per (finding, principal)."""
        import pandas as pd

        frame = pd.DataFrame(self.rows(), columns=["code", "severity", "principal", "message"])
        for name in ("code", "severity"):
            frame[name] = frame[name].astype("category")
        return frame

    def rows(self) -> list[dict[str, Any]]:
        """Return a row per (finding, principal), for a DataFrame."""
        return [
            {"code": f.code, "severity": f.severity, "principal": p, "message": f.message}
            for f in self.findings
            for p in f.principals or ("",)
        ]


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Return findings most severe first, then by code and principal."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.code, f.principals))


# --- 1. root -------------------------------------------------------------------------------------


@functools.cache
def root_tasks() -> frozenset[tuple[str, str]]:
    """Return the (eventSource, eventName) of tasks that only the root user can do."""
    rows = csv.DictReader(data_file("root_tasks.csv").splitlines())
    return frozenset((r["event_source"], r["event_name"]) for r in rows)


def root_usage(events: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Check 1: calls as root. ``events``: the root user's events (principal_arn, event_time,
    event_source, event_name, source_ip, user_agent, event_id)."""
    needed = root_tasks()
    by_account: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    tasks: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for event in events:
        key = (event["event_source"], event["event_name"])
        (tasks if key in needed else by_account)[event["principal_arn"]].append(event)
    found = []
    for root, calls in sorted(by_account.items()):
        found.append(
            Finding(
                "ROOT_ACCOUNT_USED",
                HIGH,
                (root,),
                f"{_count(len(calls), 'call')} as the root user ({_names(calls)}) from "
                f"{', '.join(sorted({str(c['source_ip']) for c in calls}))}; do this work with a "
                "role and keep root for the tasks that need it",
                tuple(_evidence(c) for c in calls),
            )
        )
    for root, calls in sorted(tasks.items()):
        found.append(
            Finding(
                "ROOT_TASK",
                INFO,
                (root,),
                f"{_count(len(calls), 'call')} as root for tasks only root can do "
                f"({_names(calls)})",
                tuple(_evidence(c) for c in calls),
            )
        )
    return found


# --- 2. MFA --------------------------------------------------------------------------------------


def console_without_mfa(signins: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Check 2: successful console sign-ins of root and IAM users with ``MFAUsed: No``.
    ``signins``: ConsoleLogin events (principal_arn, principal_type, additional_event_data,
    error_code, error_message, event_time, source_ip, event_id). A failed sign-in has no error
    code, only ``errorMessage: Failed authentication``: it is not a sign-in."""
    by_principal: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for event in signins:
        if event.get("principal_type") not in {"IAMUser", "Root"}:
            continue
        if event.get("error_code") or event.get("error_message"):
            continue
        data = _json(event.get("additional_event_data"))
        if str(data.get("MFAUsed", "")).lower() != "no":
            continue
        by_principal[event["principal_arn"]].append(event)
        kinds[event["principal_arn"]] = event["principal_type"]
    return [
        Finding(
            "CONSOLE_SIGNIN_WITHOUT_MFA",
            HIGH if kinds[principal] == "Root" else MEDIUM,
            (principal,),
            f"{_count(len(events), 'console sign-in')} without MFA"
            + (" as the root user" if kinds[principal] == "Root" else "")
            + "; require an MFA device",
            tuple(_evidence(e) for e in events),
        )
        for principal, events in sorted(by_principal.items())
    ]


def passwords_without_mfa(report: Sequence[Mapping[str, str]]) -> list[Finding]:
    """Check 2, from the credential report: users with a console password and no MFA device."""
    return [
        Finding(
            "USER_PASSWORD_WITHOUT_MFA",
            HIGH if row["user"] == "<root_account>" else MEDIUM,
            (row["arn"],),
            f"{row['user']} has a console password and no MFA device",
            ({"password_last_used": _iso(_time(row.get("password_last_used")))},),
        )
        for row in report
        if _yes(row.get("password_enabled")) and not _yes(row.get("mfa_active"))
    ]


# --- 3. long-term keys ---------------------------------------------------------------------------


def long_term_keys(calls: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Check 3: ``AKIA…`` keys in the events, by user. ``calls``: rows of (principal_arn,
    access_key_id, calls, source_ips, user_agents, first_seen, last_seen)."""
    found = []
    for row in sorted(calls, key=lambda r: (r["principal_arn"], r["access_key_id"])):
        agents = [str(a) for a in row["user_agents"]]
        compute = any(marker in a for a in agents for marker in COMPUTE_MARKERS)
        root = str(row["principal_arn"]).endswith(":root")
        found.append(
            Finding(
                "LONG_TERM_KEY_IN_USE",
                HIGH if compute or root else MEDIUM,
                (row["principal_arn"],),
                f"access key {row['access_key_id']} made {_count(row['calls'], 'call')} from "
                f"{', '.join(row['source_ips'][:5])}"
                + (
                    "; the root user's access key: delete it"
                    if root
                    else "; an application in AWS compute uses a user's key: give it a role"
                    if compute
                    else "; a role (or IAM Identity Center for people) would serve"
                ),
                (
                    {
                        "access_key_id": row["access_key_id"],
                        "calls": row["calls"],
                        "source_ips": list(row["source_ips"]),
                        "user_agents": agents[:10],
                        "first_seen": _iso(row["first_seen"]),
                        "last_seen": _iso(row["last_seen"]),
                    },
                ),
            )
        )
    return found


# --- 4. key age and use --------------------------------------------------------------------------


def access_keys(
    report: Sequence[Mapping[str, str]], *, now: datetime, max_age_days: int, window_start: datetime
) -> list[Finding]:
    """Check 4: active keys older than ``max_age_days``, and keys never used or not since the
    window's start, from the credential report."""
    found = []
    for row in report:
        for slot in ("1", "2"):
            if not _yes(row.get(f"access_key_{slot}_active")):
                continue
            rotated = _time(row.get(f"access_key_{slot}_last_rotated"))
            used = _time(row.get(f"access_key_{slot}_last_used_date"))
            evidence = {
                "key": slot,
                "last_rotated": _iso(rotated),
                "last_used": _iso(used),
                "last_used_service": _known(row.get(f"access_key_{slot}_last_used_service")),
            }
            if rotated is not None and now - rotated > timedelta(days=max_age_days):
                found.append(
                    Finding(
                        "ACCESS_KEY_OLD",
                        MEDIUM,
                        (row["arn"],),
                        f"{row['user']}'s access key {slot} is {(now - rotated).days} days old "
                        f"(more than {max_age_days}); rotate it, or replace it with a role",
                        (evidence,),
                    )
                )
            if used is None or used < window_start:
                found.append(
                    Finding(
                        "ACCESS_KEY_UNUSED",
                        LOW,
                        (row["arn"],),
                        f"{row['user']}'s access key {slot} "
                        + ("was never used" if used is None else f"was last used {_iso(used)}")
                        + "; deactivate it",
                        (evidence,),
                    )
                )
    return found


def parse_credential_report(text: str) -> list[dict[str, str]]:
    """Return the rows of a credential report (CSV, as GetCredentialReport gives it)."""
    return [dict(row) for row in csv.DictReader(io.StringIO(text))]


# --- 5. unused principals ------------------------------------------------------------------------


def unused_principals(held: Iterable[str], active: set[str], *, days: int) -> list[Finding]:
    """Check 5: users and roles in the authorization details with no call in the window."""
    return [
        Finding(
            "UNUSED_PRINCIPAL",
            LOW,
            (arn,),
            f"no call in the last {days} days; remove it, or confirm what it is kept for",
        )
        for arn in sorted(held)
        if arn not in active and ":role/aws-service-role/" not in arn
    ]


# --- 6. against the principal's baseline ---------------------------------------------------------


def network_of(address: str) -> str | None:
    """Return the /24 (IPv4) or /48 (IPv6) network of an address, or None for a name."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def varied_networks(firsts: Sequence[Mapping[str, Any]], *, recent_start: datetime) -> set[str]:
    """Return the principals whose baseline shows networks changing all the time.

    Code in AWS compute outside a VPC (Lambda, CodeBuild) and hosted CI runners call from
    addresses of a large pool, new from one run to the next: for such a principal a network never
    seen before is the rule, not a sign. A baseline churns when it shows at least
    ``MIN_VARIED_NETWORKS`` networks and more than one for every two days it was active.
    ``firsts`` rows carry ``baseline_active_days``, the days with events before ``recent_start``.
    """
    seen: dict[str, int] = defaultdict(int)
    active: dict[str, int] = {}
    for row in firsts:
        if row["kind"] == "network" and row["first_seen"] < recent_start:
            seen[row["principal_arn"]] += 1
            active[row["principal_arn"]] = row["baseline_active_days"]
    return {
        principal
        for principal, count in seen.items()
        if count >= MIN_VARIED_NETWORKS and count > active[principal] / 2
    }


def unusual_activity(
    firsts: Sequence[Mapping[str, Any]],
    denied: Sequence[Mapping[str, Any]],
    *,
    recent_start: datetime,
    min_baseline: int = 20,
) -> list[Finding]:
    """Check 6: what a principal did in the recent days that its baseline never shows.

    ``firsts``: rows of (principal_arn, kind: service/region/network, value, first_seen,
    baseline_events, baseline_active_days) where ``baseline_events`` counts the principal's
    events before ``recent_start`` and ``baseline_active_days`` the days they fall on.
    ``denied``: rows of (principal_arn, recent_denied, baseline_denied, baseline_days,
    recent_days, recent_calls). A principal needs ``min_baseline`` events before the recent days
    to have a baseline at all (for new things and for refusals alike), and a new network means
    something only for a principal whose baseline networks do not churn (see
    ``varied_networks``).
    """
    codes = {"service": "NEW_SERVICE", "region": "NEW_REGION", "network": "NEW_NETWORK"}
    varied = varied_networks(firsts, recent_start=recent_start)
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in firsts:
        if row["baseline_events"] < min_baseline or row["first_seen"] < recent_start:
            continue
        if row["kind"] == "network" and row["principal_arn"] in varied:
            continue
        grouped[row["principal_arn"], row["kind"]].append(row)
    found = [
        Finding(
            codes[kind],
            LOW,
            (principal,),
            f"first use of {kind} {', '.join(str(r['value']) for r in rows)} in the recent days, "
            "never seen before for this principal",
            tuple({"value": r["value"], "first_seen": _iso(r["first_seen"])} for r in rows),
        )
        for (principal, kind), rows in sorted(grouped.items())
    ]
    baselines = {row["principal_arn"]: row["baseline_events"] for row in firsts}
    for row in denied:
        if baselines.get(row["principal_arn"], 0) < min_baseline:
            continue  # no baseline to compare the refusals with
        baseline_rate = row["baseline_denied"] / max(row["baseline_days"], 1)
        recent_rate = row["recent_denied"] / max(row["recent_days"], 1)
        if row["recent_denied"] >= 5 and recent_rate > 3 * baseline_rate:
            found.append(
                Finding(
                    "DENIED_SPIKE",
                    MEDIUM,
                    (row["principal_arn"],),
                    f"{row['recent_denied']} access-denied calls in the recent days, "
                    f"{recent_rate:.1f} a day against {baseline_rate:.1f} before",
                    (
                        {
                            "recent_denied": row["recent_denied"],
                            "baseline_denied": row["baseline_denied"],
                            "refused_calls": list(row.get("recent_calls") or []),
                        },
                    ),
                )
            )
    return found


# --- 7. AWS-managed policies ---------------------------------------------------------------------


def aws_managed(attached: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Check 7: AWS-managed policies attached where a proposal exists. ``attached``: rows of
    (principal_arn, policy_arn, granted: actions the AWS policy grants, proposed: actions of
    the proposal)."""
    return [
        Finding(
            "AWS_MANAGED_POLICY_ATTACHED",
            LOW,
            (row["principal_arn"],),
            f"{row['policy_arn'].rsplit('/', 1)[-1]} grants {row['granted']:,} actions; the "
            f"proposed customer-managed policy needs {row['proposed']:,} "
            f"({row['granted'] - row['proposed']:,} fewer)",
            (
                {
                    "policy": row["policy_arn"],
                    "granted": row["granted"],
                    "proposed": row["proposed"],
                },
            ),
        )
        for row in sorted(attached, key=lambda r: (r["principal_arn"], r["policy_arn"]))
    ]


# --- helpers -------------------------------------------------------------------------------------


def _evidence_line(evidence: Mapping[str, Any]) -> str:
    parts = []
    for key, value in evidence.items():
        if value is None or value in ([], ""):
            continue
        shown = ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
        parts.append(f"{key}: {shown}")
    line = "; ".join(parts)
    return line if len(line) <= 300 else line[:299] + "…"


def _known(value: str | None) -> str | None:
    """Return a credential report cell, or None for its N/A, no_information and not_supported."""
    return None if value in (None, "", "N/A", "no_information", "not_supported") else value


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _names(calls: Sequence[Mapping[str, Any]]) -> str:
    names = sorted({f"{str(c['event_source']).split('.')[0]}:{c['event_name']}" for c in calls})
    return ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")


def _evidence(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "event_id": event.get("event_id"),
        "time": _iso(event.get("event_time")),
        "event": f"{event.get('event_source')} {event.get('event_name')}",
        "source_ip": event.get("source_ip"),
    }


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else {}
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _yes(value: Any) -> bool:
    return str(value).lower() == "true"


def _time(value: Any) -> datetime | None:
    if not value or value in {"N/A", "no_information", "not_supported"}:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return None if value is None else str(value)
