"""The IAM security checklist, answered from the lake and IAM's own reports.

Pure: each check takes plain rows (from the lake's SQL, the authorization details, the
credential report) and returns ``Finding`` values, each with a stable code, a severity, the
principals concerned and the evidence. The codes:

- ``ROOT_ACCOUNT_USED`` (high): calls made as the root user itself (not by a service for it),
  apart from the tasks only root can do (``ROOT_TASK``, info; ``mapping/data/root_tasks.csv``);
  ``ROOT_SIGNIN_FAILED`` (medium): failed console sign-ins as root. A root session opened with
  ``sts:AssumeRoot`` (centralized root access) is root use too, named after its caller.
- ``CONSOLE_SIGNIN_WITHOUT_MFA`` (high for root, medium for a user): a console sign-in with
  ``MFAUsed: No``. ``USER_PASSWORD_WITHOUT_MFA`` (medium): a user with a console password and no
  MFA device, from the credential report; ``ROOT_WITHOUT_MFA`` (high): the root user has none.
- ``LONG_TERM_KEY_IN_USE`` (medium; high when an application in AWS compute uses it, or the key is
  root's): an ``AKIA…`` access key in the events, with the calls, addresses and user agents.
- ``ACCESS_KEY_OLD`` (medium) past the age limit, ``ACCESS_KEY_UNUSED`` (low) never used or not in
  the window, ``ROOT_ACCESS_KEY`` (high) an active key of the root user, from the credential
  report.
- ``UNUSED_PRINCIPAL`` (low): a user or role with no call in the window; ``ROLE_NEVER_USED``
  (low): a role IAM never saw used (no ``RoleLastUsed``) since its creation, a week ago or more,
  and none in the window either.
- ``NEW_SERVICE``, ``NEW_REGION``, ``NEW_NETWORK`` (low) and ``DENIED_SPIKE`` (medium): activity
  against the principal's own baseline (its events before the recent days).
- ``AWS_MANAGED_POLICY_ATTACHED`` (low): an AWS-managed policy where a customer-managed proposal
  exists, with the size of the reduction.
- ``NO_PASSWORD_POLICY``, ``PASSWORD_TOO_SHORT``, ``PASSWORD_REUSE_ALLOWED`` (medium) and
  ``PASSWORD_EXPIRY_LONG`` (low): the account password policy against the CIS values.
- From the authorization details: ``UNUSED_POLICY`` (low), a customer managed policy attached to
  nothing; ``EMPTY_GROUP`` (low), a group without members; ``USER_INLINE_POLICY`` and
  ``USER_ATTACHED_POLICY`` (low), a user with policies of its own rather than through groups;
  ``FULL_ADMIN_POLICY`` (high), ``"Action": "*"`` on ``"Resource": "*"``; ``SERVICE_WIDE_GRANT``
  (medium), ``"service:*"``; the last two in customer managed and inline policies, with how
  little of it its holders used in the window.
- ``POSSIBLY_SHARED_IDENTITY`` (medium): an IAM user's credentials used from two places at once.

Every finding names the AWS Security Hub controls and the CIS AWS Foundations Benchmark
recommendations it answers (``Finding.controls``), from ``trailmin/data/controls.csv``.
"""

from __future__ import annotations

import base64
import csv
import functools
import io
import ipaddress
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from trailmin.aws import roles
from trailmin.errors import UsageError
from trailmin.iam.details import AuthorizationDetails, iam_time
from trailmin.mapping.actions import data_file
from trailmin.policy.evaluate import statements_of
from trailmin.policy.expand import actions_matching, expand
from trailmin.policy.generate import Proposal
from trailmin.query.sql import Filters, Window
from trailmin.text import markdown as md

HIGH, MEDIUM, LOW, INFO = "high", "medium", "low", "info"
SEVERITY_ORDER = {HIGH: 0, MEDIUM: 1, LOW: 2, INFO: 3}
# User agents of SDKs running inside AWS compute (the SDKs add the execution environment).
# The codes of check 6: activity unlike the principal's own baseline.
UNUSUAL_CODES = frozenset({"NEW_SERVICE", "NEW_REGION", "NEW_NETWORK", "DENIED_SPIKE"})
# An access key never used yet, younger than this, is not called unused.
NEW_KEY_GRACE = timedelta(days=7)
# The credential report's row of the root user.
ROOT_ROW = "<root_account>"
# Evidence items shown under a finding in Markdown; the JSON has them all.
EVIDENCE_SHOWN = 3
# Fewer networks than this in a baseline never count as churning (see varied_networks).
MIN_VARIED_NETWORKS = 2
# AWS_EXECUTION_ENV, which SDKs put in the user agent: Lambda and ECS set it, plain EC2 does not.
COMPUTE_MARKERS = ("exec-env/AWS_Lambda", "exec-env/AWS_ECS", "AWS_Lambda_")
# A source address in these came through a VPC endpoint: the caller is inside a VPC (or a network
# joined to one). RFC 1918 and IPv6 unique local addresses; not the documentation ranges.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
# A role never used, younger than this, is not called unused (as a new access key).
NEW_ROLE_GRACE = NEW_KEY_GRACE
# A customer managed policy or a group, younger than this, is not called unused or empty.
NEW_ENTITY_GRACE = NEW_KEY_GRACE
# IAM reports a role's last use for the trailing 400 days (IAM API reference, RoleLastUsed).
ROLE_LAST_USED_DAYS = 400
# The table of the controls each code answers, in trailmin/data/.
CONTROLS_TABLE = "controls.csv"
# The CIS AWS Foundations Benchmark versions of the table (their numbering differs), oldest first.
CIS_VERSIONS = ("v1.2.0", "v1.4.0", "v3.0.0", "v5.0.0")
# Every code the audit (``trailmin.api.audit``) can emit; the table has a row for each.
AUDIT_CODES = frozenset(
    {
        "ROOT_ACCOUNT_USED",
        "ROOT_SIGNIN_FAILED",
        "ROOT_TASK",
        "CONSOLE_SIGNIN_WITHOUT_MFA",
        "USER_PASSWORD_WITHOUT_MFA",
        "ROOT_WITHOUT_MFA",
        "LONG_TERM_KEY_IN_USE",
        "ACCESS_KEY_OLD",
        "ACCESS_KEY_UNUSED",
        "ROOT_ACCESS_KEY",
        "UNUSED_PRINCIPAL",
        "ROLE_NEVER_USED",
        "NEW_SERVICE",
        "NEW_REGION",
        "NEW_NETWORK",
        "DENIED_SPIKE",
        "AWS_MANAGED_POLICY_ATTACHED",
        "NO_PASSWORD_POLICY",
        "PASSWORD_TOO_SHORT",
        "PASSWORD_REUSE_ALLOWED",
        "PASSWORD_EXPIRY_LONG",
        "UNUSED_POLICY",
        "EMPTY_GROUP",
        "USER_INLINE_POLICY",
        "USER_ATTACHED_POLICY",
        "FULL_ADMIN_POLICY",
        "SERVICE_WIDE_GRANT",
        "POSSIBLY_SHARED_IDENTITY",
    }
)


@dataclass(frozen=True, slots=True)
class Control:
    """A Security Hub control and the CIS AWS Foundations Benchmark recommendations it maps to,
    by version (``CIS_VERSIONS``), as the source the table names says; either may be missing."""

    security_hub: str  # "IAM.5", or "" for a CIS recommendation Security Hub has no control for
    cis: tuple[tuple[str, str], ...]  # (version, number): ("v3.0.0", "1.10")
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Return the control as JSON-ready values."""
        return {
            "security_hub": self.security_hub or None,
            "cis": dict(self.cis),
            "source": self.source,
        }

    def label(self) -> str:
        """Return the control in a few words: ``IAM.5 (CIS v1.4.0 1.10, v3.0.0 1.10)``."""
        cis = ", ".join(f"{version} {number}" for version, number in self.cis)
        if not self.security_hub:
            return f"CIS {cis}"
        return self.security_hub + (f" (CIS {cis})" if cis else "")


@functools.cache
def controls_table() -> tuple[dict[str, str], ...]:
    """Return the rows of ``trailmin/data/controls.csv``: a finding code, the case it applies to
    (``applies_to``: "" for every finding of the code), the Security Hub control, the CIS number
    of each version, and the source."""
    text = resources.files("trailmin").joinpath("data", CONTROLS_TABLE).read_text()
    return tuple(dict(row) for row in csv.DictReader(text.splitlines()))


@functools.cache
def controls_of(code: str, applies_to: str = "") -> tuple[Control, ...]:
    """Return the controls a finding of ``code`` answers in the case ``applies_to`` (the rows of
    the table for every case of the code, and those for this one)."""
    found = []
    for row in controls_table():
        if row["code"] != code or row["applies_to"] not in ("", applies_to):
            continue
        cis = tuple(
            (version, row[_cis_column(version)])
            for version in CIS_VERSIONS
            if row[_cis_column(version)]
        )
        if row["security_hub"] or cis:
            found.append(Control(row["security_hub"], cis, row["source"]))
    return tuple(found)


def _cis_column(version: str) -> str:
    return "cis_" + version.replace(".", "_")


@dataclass(frozen=True, slots=True)
class Finding:
    """One answer of the checklist: what, how bad, who, and the evidence. ``applies_to`` says
    which case of the code it is, where the controls it answers depend on it (``root`` or
    ``user``, ``customer-managed`` or ``inline``, ``90 days`` unused…)."""

    code: str
    severity: str
    principals: tuple[str, ...]
    message: str
    evidence: tuple[Mapping[str, Any], ...] = ()
    applies_to: str = ""

    @property
    def controls(self) -> tuple[Control, ...]:
        """Return the Security Hub controls and CIS recommendations the finding answers."""
        return controls_of(self.code, self.applies_to)

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as JSON-ready values."""
        return {
            "code": self.code,
            "severity": self.severity,
            "principals": list(self.principals),
            "message": self.message,
            "controls": [c.to_dict() for c in self.controls],
            "evidence": [dict(e) for e in self.evidence],
        }


@dataclass(slots=True)
class Audit:
    """Every finding, most severe first."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    window: Window | None = None  # the events checked

    def to_dict(self) -> dict[str, Any]:
        """Return the audit as JSON-ready values."""
        return {
            "window": None if self.window is None else self.window.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            "notes": self.notes,
        }

    def codes(self) -> set[str]:
        """Return the codes found."""
        return {f.code for f in self.findings}

    def to_markdown(self) -> str:
        """Return the audit as Markdown, most severe first: the principals as code, the messages,
        evidence and notes as text (``trailmin.text.markdown``), whatever the records held."""
        lines = ["# IAM security checklist", ""]
        if self.window is not None:
            lines += [md.text(self.window.sentence()), ""]
        if not self.findings:
            lines.append("No finding.")
        for f in self.findings:
            who = ", ".join(md.code(p) for p in f.principals)
            lines.append(f"- **{f.severity}** `{f.code}` {who}: {md.text(f.message)}")
            if f.controls:
                labels = "; ".join(c.label() for c in f.controls)
                lines.append(f"  - controls: {md.text(labels)}")
            lines.extend(f"  - {md.text(_evidence_line(e))}" for e in f.evidence[:EVIDENCE_SHOWN])
            if len(f.evidence) > EVIDENCE_SHOWN:
                lines.append(f"  - … {len(f.evidence) - EVIDENCE_SHOWN:,} more (see the JSON)")
        lines.extend(f"\n> {md.text(note)}" for note in self.notes)
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


def unusual_by_principal(
    findings: Iterable[Finding], codes: Iterable[str] = UNUSUAL_CODES
) -> dict[str, tuple[str, ...]]:
    """Return, by principal, the sorted unusual-activity codes (``codes``) of the checklist's
    ``findings`` that concern it."""
    wanted = set(codes)
    found: dict[str, set[str]] = {}
    for finding in findings:
        if finding.code in wanted:
            for principal in finding.principals:
                found.setdefault(principal, set()).add(finding.code)
    return {principal: tuple(sorted(found[principal])) for principal in sorted(found)}


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Return findings most severe first, then by code and principal."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.code, f.principals))


# --- 1. root -------------------------------------------------------------------------------------


@functools.cache
def root_tasks() -> dict[tuple[str, str], str]:
    """Return the (eventSource, eventName) of tasks that only the root user can do, each with
    the case it must be for it to be one ("" when always); see ``root_tasks.csv``."""
    rows = csv.DictReader(data_file("root_tasks.csv").splitlines())
    return {(r["event_source"], r["event_name"]): r["only_when"] for r in rows}


# Whose root use: the root user, and who opened its sessions with sts:AssumeRoot (none: its own).
_RootKey = tuple[str, tuple[str, ...]]


def root_usage(events: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Check 1: calls as root. ``events``: the root user's own events (principal_arn,
    event_time, event_source, event_name, source_ip, user_agent, event_id, error_code,
    error_message), without those AWS services made for it (``invokedBy``) or on their own; and,
    when the call may be one of a session opened with ``sts:AssumeRoot`` (centralized root
    access), ``assumed_by``: who called AssumeRoot, and ``task_policies``
    (``trailmin.query.audit.root_calls_sql`` finds them).

    A task that needs root only in one case (a bucket policy that denies everyone) counts as
    root use, with the case named: the record cannot tell. A failed sign-in is its own finding.
    The calls of AssumeRoot sessions are root use as well, in findings of their own that name
    the callers among their principals: the session's records say only ``Root``.
    """
    needed = root_tasks()
    used: dict[_RootKey, list[Mapping[str, Any]]] = defaultdict(list)
    tasks: dict[_RootKey, list[Mapping[str, Any]]] = defaultdict(list)
    failed: dict[_RootKey, list[Mapping[str, Any]]] = defaultdict(list)
    cases: dict[_RootKey, set[str]] = defaultdict(set)
    for event in events:
        key = (event["event_source"], event["event_name"])
        who = (event["principal_arn"], tuple(sorted(event.get("assumed_by") or ())))
        if event["event_name"] == "ConsoleLogin" and (
            event.get("error_code") or event.get("error_message")
        ):
            failed[who].append(event)
        elif key in needed and not needed[key]:
            tasks[who].append(event)
        else:
            used[who].append(event)
            if needed.get(key):
                cases[who].add(f"{_names([event])} is one only if {needed[key]}")
    found = []
    for (root, callers), calls in sorted(used.items()):
        advice = (
            "; check with them that each call was meant (a task policy limits what such a "
            "session may do, not why)"
            if callers
            else "; do this work with a role and keep root for the tasks that need it"
        )
        found.append(
            Finding(
                "ROOT_ACCOUNT_USED",
                HIGH,
                (root, *callers),
                f"{_count(len(calls), 'call')} as the root user ({_names(calls)}) from "
                f"{_addresses(calls)}{_assumed(callers, calls)}{advice}"
                + "".join(f" ({case}: check that it was)" for case in sorted(cases[root, callers])),
                tuple(_root_evidence(c) for c in calls),
            )
        )
    for (root, callers), attempts in sorted(failed.items()):
        found.append(
            Finding(
                "ROOT_SIGNIN_FAILED",
                MEDIUM,
                (root, *callers),
                f"{_count(len(attempts), 'failed console sign-in')} as the root user from "
                f"{_addresses(attempts)}; if it was not "
                "the account's owner, someone has the root email address: check its MFA",
                tuple(_root_evidence(c) for c in attempts),
            )
        )
    for (root, callers), calls in sorted(tasks.items()):
        found.append(
            Finding(
                "ROOT_TASK",
                INFO,
                (root, *callers),
                f"{_count(len(calls), 'call')} as root for tasks only root can do "
                f"({_names(calls)}){_assumed(callers, calls)}",
                tuple(_root_evidence(c) for c in calls),
            )
        )
    return found


def _assumed(callers: Sequence[str], calls: Sequence[Mapping[str, Any]]) -> str:
    """Return the words saying who opened the root sessions of ``calls`` with sts:AssumeRoot
    (and under which task policies), or "" for root's own."""
    if not callers:
        return ""
    policies = sorted(
        {str(p).rsplit("/", 1)[-1] for c in calls for p in c.get("task_policies") or ()}
    )
    return f", in sessions that {' or '.join(callers)} opened with sts:AssumeRoot" + (
        f" (task policy {', '.join(policies)})" if policies else ""
    )


def _root_evidence(event: Mapping[str, Any]) -> dict[str, Any]:
    found = _evidence(event)
    if event.get("assumed_by"):
        found["assumed_by"] = sorted(event["assumed_by"])
        found["task_policies"] = sorted(event.get("task_policies") or [])
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
            applies_to="root" if kinds[principal] == "Root" else "user",
        )
        for principal, events in sorted(by_principal.items())
    ]


def passwords_without_mfa(report: Sequence[Mapping[str, str]]) -> list[Finding]:
    """Check 2, from the credential report: users with a console password and no MFA device,
    and the root user without MFA (its ``password_enabled`` is always ``not_supported``)."""
    found = []
    for row in report:
        if _yes(row.get("mfa_active")):
            continue
        evidence = ({"password_last_used": _iso(iam_time(row.get("password_last_used")))},)
        if row.get("user") == ROOT_ROW:
            message = "the root user has no MFA device; add one (a hardware key or passkey)"
            found.append(Finding("ROOT_WITHOUT_MFA", HIGH, (row["arn"],), message, evidence))
        elif _yes(row.get("password_enabled")):
            message = f"{row['user']} has a console password and no MFA device"
            found.append(
                Finding("USER_PASSWORD_WITHOUT_MFA", MEDIUM, (row["arn"],), message, evidence)
            )
    return found


# --- 3. long-term keys ---------------------------------------------------------------------------


def long_term_keys(calls: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Check 3: ``AKIA…`` keys in the events, by user. ``calls``: rows of (principal_arn,
    access_key_id, calls, source_ips, user_agents, first_seen, last_seen, via_vpc_endpoint).

    High when the key is root's, or an application in AWS uses it: a user agent naming Lambda or
    ECS (``AWS_EXECUTION_ENV``, which plain EC2 does not set), or calls from inside a VPC (a
    private source address, or through a VPC endpoint), where an instance profile or task role
    would serve.
    """
    found = []
    for row in sorted(calls, key=lambda r: (r["principal_arn"], r["access_key_id"])):
        agents = [str(a) for a in row["user_agents"]]
        addresses = [str(a) for a in row["source_ips"]]
        runtime = any(marker in a for a in agents for marker in COMPUTE_MARKERS)
        inside = bool(row.get("via_vpc_endpoint")) or any(_private(a) for a in addresses)
        root = str(row["principal_arn"]).endswith(":root")
        if root:
            advice = "; the root user's access key: delete it"
        elif runtime:
            advice = "; an application in AWS compute uses a user's key: give it a role"
        elif inside:
            advice = (
                "; called from inside a VPC (a private address or a VPC endpoint), where an "
                "instance profile or task role would serve: give it a role"
            )
        else:
            advice = "; a role (or IAM Identity Center for people) would serve"
        found.append(
            Finding(
                "LONG_TERM_KEY_IN_USE",
                HIGH if root or runtime or inside else MEDIUM,
                (row["principal_arn"],),
                f"access key {row['access_key_id']} made {_count(row['calls'], 'call')} from "
                f"{', '.join(addresses[:5])}{advice}",
                (
                    {
                        "access_key_id": row["access_key_id"],
                        "calls": row["calls"],
                        "source_ips": addresses,
                        "user_agents": agents[:10],
                        "via_vpc_endpoint": bool(row.get("via_vpc_endpoint")),
                        "first_seen": _iso(row["first_seen"]),
                        "last_seen": _iso(row["last_seen"]),
                    },
                ),
                applies_to="root" if root else "user",
            )
        )
    return found


def _private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # a service name, as CloudTrail writes for calls AWS services make
    return any(ip in network for network in PRIVATE_NETWORKS if network.version == ip.version)


# --- 4. key age and use --------------------------------------------------------------------------


def access_keys(
    report: Sequence[Mapping[str, str]], *, now: datetime, max_age_days: int, days: int
) -> list[Finding]:
    """Check 4: active keys older than ``max_age_days``, and keys not used in the last ``days``
    days before ``now`` (never, or not since), from the credential report. A key created within
    those days is not called unused. The root user's active keys are a finding of their own."""
    since = now - timedelta(days=days)
    found = []
    for row in report:
        root = row.get("user") == ROOT_ROW
        for slot in ("1", "2"):
            if not _yes(row.get(f"access_key_{slot}_active")):
                continue
            rotated = iam_time(row.get(f"access_key_{slot}_last_rotated"))
            used = iam_time(row.get(f"access_key_{slot}_last_used_date"))
            evidence = {
                "key": slot,
                "last_rotated": _iso(rotated),
                "last_used": _iso(used),
                "last_used_service": _known(row.get(f"access_key_{slot}_last_used_service")),
            }
            if root:
                found.append(
                    Finding(
                        "ROOT_ACCESS_KEY",
                        HIGH,
                        (row["arn"],),
                        f"the root user has an active access key ({slot}"
                        + (f", last used {_iso(used)}" if used else ", never used")
                        + "); delete it",
                        (evidence,),
                    )
                )
                continue
            if rotated is not None and now - rotated > timedelta(days=max_age_days):
                found.append(
                    Finding(
                        "ACCESS_KEY_OLD",
                        MEDIUM,
                        (row["arn"],),
                        f"{row['user']}'s access key {slot} is {(now - rotated).days} days old "
                        f"(more than {max_age_days}); rotate it, or replace it with a role",
                        (evidence,),
                        applies_to="over 90 days" if now - rotated > timedelta(days=90) else "",
                    )
                )
            # A key made in the window had no whole window to be used in: unused only when it
            # was never used and is past a week old.
            if (
                rotated is not None
                and rotated >= since
                and (used is not None or now - rotated <= NEW_KEY_GRACE)
            ):
                continue
            if used is None or used < since:
                idle = now - (used or rotated or since)
                found.append(
                    Finding(
                        "ACCESS_KEY_UNUSED",
                        LOW,
                        (row["arn"],),
                        f"{row['user']}'s access key {slot} "
                        + (
                            f"was never used in its {(now - rotated).days} days"
                            if used is None and rotated is not None
                            else "was never used"
                            if used is None
                            else f"was last used {_iso(used)}"
                        )
                        + f" (none in the last {days} days); deactivate it",
                        (evidence,),
                        applies_to=unused_span(idle.days),
                    )
                )
    return found


def unused_span(days: int) -> str:
    """Return the case of the controls table an unused credential or user answers: ``90 days``
    (IAM.8 and IAM.22), ``45 days`` (IAM.22) or "" (neither), after ``days`` days unused."""
    return "90 days" if days >= 90 else "45 days" if days >= 45 else ""


def parse_credential_report(
    text: str, source: str = "the credential report"
) -> list[dict[str, str]]:
    """Return the rows of a credential report: its CSV, or ``aws iam get-credential-report``'s
    JSON output (the CSV in ``Content``, base64-encoded)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            content = json.loads(stripped)["Content"]
            text = base64.b64decode(content).decode("utf-8")
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"{source} is JSON but not `aws iam get-credential-report` output ({exc}); save "
                "the report with `aws iam get-credential-report --query Content --output text "
                "| base64 -d > report.csv`"
            ) from None
    rows = [dict(row) for row in csv.DictReader(io.StringIO(text))]
    header = set(rows[0]) if rows else set(next(csv.reader(io.StringIO(text)), []))
    missing = {"user", "arn", "mfa_active", "access_key_1_active"} - header
    if missing:
        raise UsageError(
            f"{source} is not a credential report (no {', '.join(sorted(missing))} column); save "
            "it with `aws iam get-credential-report --query Content --output text | base64 -d "
            "> report.csv`"
        )
    return rows


# --- 5. unused principals ------------------------------------------------------------------------


def unused_principals(
    held: Iterable[Mapping[str, Any]],
    *,
    active: set[str],
    since: datetime,
    last_used: Mapping[str, datetime | None] | None = None,
    now: datetime | None = None,
    days: int = 0,
) -> list[Finding]:
    """Check 5: users and roles in the authorization details with no activity since ``since``.

    ``held``: rows of (arn, unique_id, last_used: a role's RoleLastUsed, created: its
    CreateDate). ``active``: the ARNs and unique IDs (AIDA…, AROA…) the lake shows acting in the
    window, and the roles it shows being assumed; an ID matches whatever the path. ``last_used``:
    more last uses by ARN (a user's password or keys, from the credential report). A role only
    AWS services use leaves no call of its own in the lake, but IAM's RoleLastUsed tells.
    Service-linked roles are left out. ``days``: how long the window judged is.

    Two codes tell two things. ``UNUSED_PRINCIPAL``: nothing in the lake's window, nor any later
    use IAM knows of; the principal may have been used before. ``ROLE_NEVER_USED``: with ``now``
    and a role's ``created``, a role that IAM never saw used (no RoleLastUsed, which covers the
    trailing 400 days) and the lake neither: such a role is reported under this code instead. A
    role that young (``NEW_ROLE_GRACE``) is not judged at all: it had no time to be used. AWS's
    own roles (service-linked and under ``/aws-reserved/``) are never ``ROLE_NEVER_USED``.
    """
    found = []
    for row in sorted(held, key=lambda r: str(r["arn"])):
        arn = str(row["arn"])
        if roles.is_service_linked(arn):
            continue
        if arn in active or (row.get("unique_id") and row["unique_id"] in active):
            continue
        uses = [row.get("last_used"), (last_used or {}).get(arn)]
        latest = max((u for u in uses if u is not None), default=None)
        if latest is not None and latest >= since:
            continue
        role = ":role/" in arn
        created = row.get("created")
        if (
            role
            and now is not None
            and created is not None
            and row.get("last_used") is None
            and not roles.is_aws_reserved(arn)
        ):
            if now - created >= NEW_ROLE_GRACE:
                found.append(_never_used(arn, created, now, since))
            continue
        evidence = {"since": _iso(since), "last_used": _iso(latest)}
        if roles.role_path(arn).startswith(roles.IDENTITY_CENTER_PATH):
            advice = (
                "an IAM Identity Center permission set's role: if no one needs it in this account, "
                "remove the account assignment in IAM Identity Center"
            )
        else:
            advice = "remove it, or confirm what it is kept for"
        idle = (now - latest).days if now is not None and latest is not None else days
        found.append(
            Finding(
                "UNUSED_PRINCIPAL",
                LOW,
                (arn,),
                f"no activity since {_iso(since)}"
                + (f" (last used {_iso(latest)})" if latest else "")
                + f"; {advice}",
                (evidence,),
                applies_to="role" if role else unused_span(max(idle, days)),
            )
        )
    return found


def _never_used(arn: str, created: datetime, now: datetime, since: datetime) -> Finding:
    """Return the ROLE_NEVER_USED finding of the role ``arn``, made at ``created``."""
    age = (now - created).days
    if age <= ROLE_LAST_USED_DAYS:
        when = f"since it was created {_iso(created)} ({age} days ago)"
    else:
        when = (
            f"in the {ROLE_LAST_USED_DAYS} days IAM tracks (created {_iso(created)}, "
            f"{age} days ago)"
        )
    return Finding(
        "ROLE_NEVER_USED",
        LOW,
        (arn,),
        f"IAM has no record of the role being used {when}, and the lake shows no use since "
        f"{_iso(since)}; delete it, or confirm what it is kept for",
        ({"created": _iso(created), "role_last_used": None, "lake_since": _iso(since)},),
    )


def report_last_used(report: Sequence[Mapping[str, str]]) -> dict[str, datetime]:
    """Return each user's last use in the credential report: password or either access key."""
    found = {}
    for row in report:
        uses = [
            iam_time(row.get(column))
            for column in (
                "password_last_used",
                "access_key_1_last_used_date",
                "access_key_2_last_used_date",
            )
        ]
        latest = max((u for u in uses if u is not None), default=None)
        if latest is not None:
            found[row["arn"]] = latest
    return found


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
            f"proposed customer-managed policy keeps {row['proposed']:,} of them "
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


# --- the audit's steps: what the checks above found, with notes on what they could not judge ---

# What a step of the audit found: findings, and notes on what it could not judge.
Checked = tuple[list[Finding], list[str]]


@dataclass(frozen=True, slots=True)
class AuditWindow:
    """The audit's window as bounds (the lake's own where the window has none), and where its
    recent days begin."""

    start: datetime
    end: datetime  # exclusive
    days: int
    recent: datetime
    recent_days: int


def audit_window(
    filters: Filters, oldest: datetime, newest: datetime, recent_days: int
) -> AuditWindow:
    """Return the bounds of the window of ``filters`` over a lake from ``oldest`` to ``newest``."""
    start = filters.start or oldest
    end = filters.end or newest + timedelta(microseconds=1)
    days = filters.days or math.ceil((end - start) / timedelta(days=1))
    return AuditWindow(start, end, days, end - timedelta(days=recent_days), recent_days)


def unusual_findings(
    firsts: list[dict[str, Any]], denied: list[dict[str, Any]], window: AuditWindow
) -> Checked:
    """Return the findings of unusual activity from each principal's first uses
    (``trailmin.query.audit.firsts_sql``) and refusals (``refusals_sql``), each principal's
    recent days against its baseline before them."""
    # Networks: a source address's /24 (or /48); the first use of the network, not the address.
    networks: dict[tuple[str, str], dict[str, Any]] = {}
    for row in firsts:
        if row["kind"] != "network":
            continue
        network = network_of(str(row["value"]))
        if network is None:
            continue
        key = (row["principal_arn"], network)
        if key not in networks or row["first_seen"] < networks[key]["first_seen"]:
            networks[key] = {**row, "value": network}
    firsts = [r for r in firsts if r["kind"] != "network"] + list(networks.values())
    # Refusal rates per day of the baseline the principal has in the lake, not of the window.
    began = {row["principal_arn"]: max(row["first_event"], window.start) for row in firsts}
    for row in denied:
        start = began.get(row["principal_arn"], window.start)
        row["baseline_days"] = max((window.recent - start).total_seconds() / 86_400, 1.0)
        row["recent_days"] = window.recent_days
    found = unusual_activity(firsts, denied, recent_start=window.recent)
    notes = []
    if not any(row["first_seen"] < window.recent for row in firsts):
        notes.append(
            f"no event before the recent {window.recent_days} days: nothing to compare new "
            "services, regions, networks and refusals with (use a longer lake or a shorter "
            "--recent-days)"
        )
    varied = varied_networks(firsts, recent_start=window.recent)
    if varied:
        notes.append(
            f"new networks are not checked for {len(varied)} principal(s) whose baseline networks "
            "change all the time (code in AWS compute or CI runners calling from a large pool of "
            "addresses): " + ", ".join(sorted(varied))
        )
    return found, notes


# --- 8. the account password policy ------------------------------------------------------------

# CIS AWS Foundations Benchmark 1.8 and 1.9 (Security Hub IAM.15 and IAM.16); the expiry is CIS
# 1.2.0's 1.11 (IAM.17), which later versions dropped.
CIS_MIN_PASSWORD_LENGTH = 14
CIS_PASSWORD_REUSE_PREVENTION = 24
CIS_MAX_PASSWORD_AGE_DAYS = 90
# IAM's own rule when an account has no password policy (the IAM User Guide, "Set an account
# password policy for IAM users").
IAM_DEFAULT_MIN_PASSWORD_LENGTH = 8


def parse_password_policy(text: str, *, source: str = "the password policy") -> dict[str, Any]:
    """Return the account password policy in the saved output of
    ``aws iam get-account-password-policy`` (``{"PasswordPolicy": {…}}``, or the policy itself);
    ``{}`` means the account has none (``{}`` or ``{"PasswordPolicy": null}``, as a saved
    ``NoSuchEntity`` answer is written)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{source} is not JSON ({exc.msg} at line {exc.lineno}); save it with "
            "`aws iam get-account-password-policy > password-policy.json`"
        ) from None
    if isinstance(value, dict) and set(value) <= {"PasswordPolicy"}:
        value = value.get("PasswordPolicy") or {}
    if not isinstance(value, dict) or any(not isinstance(k, str) for k in value):
        raise UsageError(
            f"{source} is not a password policy; save it with "
            "`aws iam get-account-password-policy > password-policy.json`"
        )
    for key in ("MinimumPasswordLength", "PasswordReusePrevention", "MaxPasswordAge"):
        number = value.get(key)
        if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
            raise UsageError(f"{source}: {key} is {number!r}, not a whole number")
    return value


def password_policy_findings(policy: Mapping[str, Any]) -> list[Finding]:
    """Check 8: the account password policy against the CIS values: no policy at all, a
    minimum length under 14, reuse prevention under 24 passwords, no expiry within 90 days."""
    if not policy:
        return [
            Finding(
                "NO_PASSWORD_POLICY",
                MEDIUM,
                (),
                "the account has no password policy: IAM then asks for "
                f"{IAM_DEFAULT_MIN_PASSWORD_LENGTH} characters and prevents no reuse; set one "
                f"(length {CIS_MIN_PASSWORD_LENGTH}, {CIS_PASSWORD_REUSE_PREVENTION} passwords "
                "remembered)",
            )
        ]
    found = []
    length = policy.get("MinimumPasswordLength") or IAM_DEFAULT_MIN_PASSWORD_LENGTH
    if length < CIS_MIN_PASSWORD_LENGTH:
        found.append(
            Finding(
                "PASSWORD_TOO_SHORT",
                MEDIUM,
                (),
                f"the password policy asks for {length} characters, under the "
                f"{CIS_MIN_PASSWORD_LENGTH} of CIS 1.8",
                ({"MinimumPasswordLength": length},),
            )
        )
    reuse = policy.get("PasswordReusePrevention")
    if reuse is None or reuse < CIS_PASSWORD_REUSE_PREVENTION:
        said = "prevents no reuse" if reuse is None else f"remembers {reuse} passwords"
        found.append(
            Finding(
                "PASSWORD_REUSE_ALLOWED",
                MEDIUM,
                (),
                f"the password policy {said}, under the {CIS_PASSWORD_REUSE_PREVENTION} of CIS 1.9",
                ({"PasswordReusePrevention": reuse},),
            )
        )
    age = policy.get("MaxPasswordAge")
    if policy.get("ExpirePasswords") is False or age is None or age > CIS_MAX_PASSWORD_AGE_DAYS:
        said = "never expire" if age is None else f"expire after {age} days"
        found.append(
            Finding(
                "PASSWORD_EXPIRY_LONG",
                LOW,
                (),
                f"passwords {said}, past the {CIS_MAX_PASSWORD_AGE_DAYS} days of CIS 1.2.0's "
                "1.11 (later CIS versions and NIST SP 800-63B no longer ask for expiry)",
                ({"MaxPasswordAge": age},),
            )
        )
    return found


def credential_findings(
    report: list[dict[str, str]] | None, now: datetime, max_key_age_days: int, days: int
) -> Checked:
    """Return the findings of the checks on the credential report (passwords without MFA, old
    and unused keys), or a note that there is none."""
    if report is None:
        return [], ["no credential report: key ages and passwords without MFA are not checked"]
    found = passwords_without_mfa(report)
    found += access_keys(report, now=now, max_age_days=max_key_age_days, days=days)
    return found, []


def unused_principal_findings(
    details: AuthorizationDetails,
    window: AuditWindow,
    oldest: datetime,
    active: set[str],
    report: list[dict[str, str]] | None,
    *,
    now: datetime | None = None,
) -> Checked:
    """Return the unused principals of ``details`` (none of ``active`` in the window, nor used
    since by IAM's account or the credential ``report``), the roles never used as of ``now``
    (``unused_principals``), and a note when the lake, beginning at ``oldest``, covers less than
    the window."""
    notes = []
    since = max(window.start, oldest)
    if since > window.start:
        notes.append(
            f"the lake's events begin {since:%Y-%m-%d}, inside the {window.days}-day window: "
            "a principal is called unused for that shorter time"
        )
    found = unused_principals(
        (
            {"arn": h.arn, "unique_id": h.unique_id, "last_used": h.last_used, "created": h.created}
            for h in details.principals.values()
        ),
        active=active,
        since=since,
        last_used=report_last_used(report) if report is not None else None,
        now=now,
        days=(window.end - since).days,
    )
    return found, notes


def aws_managed_attached(details: AuthorizationDetails) -> list[tuple[str, str, Mapping[str, Any]]]:
    """Return (principal ARN, policy name, document) of each AWS-managed policy a principal of
    ``details`` holds whose document the details include."""
    return [
        (arn, policy.name, policy.document)
        for arn, holdings in details.principals.items()
        for policy in holdings.policies
        if policy.aws_managed and policy.document is not None
    ]


def aws_managed_findings(
    attached: Sequence[tuple[str, str, Mapping[str, Any]]], proposals: Sequence[Proposal]
) -> list[Finding]:
    """Check 7 over ``aws_managed_attached``'s policies: the actions each grants against those
    of them the principal's proposal keeps (no finding for a principal without one)."""
    by_principal = {p.principal: p for p in proposals}
    rows = []
    for arn, name, document in attached:
        proposal = by_principal.get(arn)
        if proposal is None or not proposal.policies:
            continue
        proposed = set(expand([(p.name, p.document()) for p in proposal.policies]))
        granted = set(expand([(name, document)]))
        rows.append(
            {
                "principal_arn": arn,
                "policy_arn": name,
                "granted": len(granted),
                "proposed": len(granted & proposed),
            }
        )
    return aws_managed(rows)


# --- 9. policies, groups and users' own policies, from the authorization details ----------------

# The inline policy the SES console gives the SMTP users it creates (ses-smtp-user.<date>):
# Security Hub exempts those users from IAM.2 (Security Hub user guide, IAM.2's note).
SES_SMTP_POLICY = "AmazonSesSendingAccess"
SES_SMTP_USER_PREFIX = "ses-smtp-user."
# An Action element granting every action of one service: "s3:*" (not "s3:Get*").
_SERVICE_WIDE = re.compile(r"[A-Za-z0-9-]+:\*")
# Action elements granting every action: "*", and "*:*" as CIS writes it.
_EVERY_ACTION = frozenset({"*", "*:*"})


def unused_policies(details: AuthorizationDetails, *, now: datetime) -> list[Finding]:
    """Check 9: customer managed policies attached to no user, group or role, and the
    permissions boundary of none: IAM's ``AttachmentCount`` and ``PermissionsBoundaryUsageCount``
    are 0 (or missing) and no entity of the details names the policy. A policy made within
    ``NEW_ENTITY_GRACE`` of ``now`` is not judged, nor one IAM says cannot be attached."""
    referenced = _references(details)
    found = []
    for arn, policy in sorted(details.policies.items()):
        if policy.aws_managed or not policy.attachable:
            continue
        if policy.created is not None and now - policy.created < NEW_ENTITY_GRACE:
            continue
        if policy.attachments or policy.boundary_uses or referenced[arn]:
            continue
        found.append(
            Finding(
                "UNUSED_POLICY",
                LOW,
                (),
                f"the customer managed policy {policy.name} is attached to no user, group or "
                "role and is no permissions boundary; delete it if nothing is meant to use it",
                (
                    {
                        "policy": arn,
                        "created": _iso(policy.created),
                        "attachments": policy.attachments,
                        "boundary_uses": policy.boundary_uses,
                    },
                ),
            )
        )
    return found


def empty_groups(details: AuthorizationDetails, *, now: datetime) -> list[Finding]:
    """Check 9: groups no user is a member of. A group's entry in the details does not list its
    members: they are the users whose ``GroupList`` names it, so a group is judged only when
    the details list the users. A group made within ``NEW_ENTITY_GRACE`` is not judged."""
    if "UserDetailList" not in details.listed:
        return []
    found = []
    for name, group in sorted(details.groups.items()):
        if group.members:
            continue
        if group.created is not None and now - group.created < NEW_ENTITY_GRACE:
            continue
        held = [p.name for p in group.policies]
        found.append(
            Finding(
                "EMPTY_GROUP",
                LOW,
                (),
                f"the group {name} has no members"
                + (f" (it holds {', '.join(_short(n) for n in held)})" if held else "")
                + "; delete it, or add the users it is for",
                ({"group": group.arn or name, "policies": held, "created": _iso(group.created)},),
            )
        )
    return found


def user_policies(details: AuthorizationDetails) -> list[Finding]:
    """Check 9, Security Hub IAM.2 (CIS: IAM users receive permissions only through groups):
    users with inline policies of their own (``USER_INLINE_POLICY``) or with managed policies
    attached to them directly (``USER_ATTACHED_POLICY``). The policies their groups give them
    are not theirs. The SMTP users the SES console creates, with its inline policy, are left out
    as Security Hub leaves them out."""
    found = []
    for arn, holding in sorted(details.principals.items()):
        if holding.kind != "user":
            continue
        inline = [
            p.name
            for p in holding.policies
            if p.kind == "inline"
            and not (p.name == SES_SMTP_POLICY and holding.name.startswith(SES_SMTP_USER_PREFIX))
        ]
        attached = [p.name for p in holding.policies if p.via is None and p.kind in _DIRECT_MANAGED]
        groups = list(holding.groups)
        into = (
            f"a group {holding.name} is in ({', '.join(groups)}), or a new one,"
            if groups
            else "a group (the user is in none yet)"
        )
        if inline:
            found.append(
                Finding(
                    "USER_INLINE_POLICY",
                    LOW,
                    (arn,),
                    f"{holding.name} has {_policies(len(inline), 'inline')} of its own "
                    f"({', '.join(inline)}); IAM users should get their permissions only through "
                    f"groups: move {_them(inline)} to {into} and delete {_them(inline)} from "
                    "the user",
                    ({"policies": inline, "groups": groups},),
                )
            )
        if attached:
            found.append(
                Finding(
                    "USER_ATTACHED_POLICY",
                    LOW,
                    (arn,),
                    f"{holding.name} has {_policies(len(attached), 'managed')} attached directly "
                    f"({', '.join(_short(a) for a in attached)}); IAM users should get their "
                    f"permissions only through groups: attach {_them(attached)} to {into} and "
                    f"detach {_them(attached)} from the user",
                    ({"policies": attached, "groups": groups},),
                )
            )
    return found


# Who holds a policy: a user or role ARN, and the group it holds it through (None: its own).
Holder = tuple[str, str | None]


@dataclass(frozen=True, slots=True)
class BroadGrant:
    """A policy whose Allow statements grant every action on every resource
    (``FULL_ADMIN_POLICY``) or every action of a service (``SERVICE_WIDE_GRANT``), and who
    holds it."""

    code: str
    policy: str  # a managed policy's ARN, or an inline policy's name
    kind: str  # "customer-managed" or "inline"
    owner: str | None  # the user, role or group an inline policy is part of
    grants: tuple[str, ...]  # "*"; "s3:*"; "NotAction s3:*"
    statements: tuple[Mapping[str, Any], ...]  # which: index, Sid, condition keys
    holders: tuple[Holder, ...]


def broad_grants(details: AuthorizationDetails) -> list[BroadGrant]:
    """Return the full-administrator and service-wide grants of the customer managed and
    inline policies of ``details``, as Security Hub IAM.1 and IAM.21 define them.

    IAM.1 (and CIS "IAM policies that allow full *:* administrative privileges"): an Allow
    statement with ``"Action": "*"`` over ``"Resource": "*"`` (``*:*`` too). ``NotAction`` is
    not counted, as the control counts only ``Action``; a ``Condition`` does not spare the
    statement, as the control does not look at conditions (the evidence names the condition's
    keys). IAM.21: an Allow statement with ``"Action": "service:*"`` whatever its resources, or
    ``"NotAction": "service:*"`` (everything but that service); ``ec2:Describe*`` passes. Both
    controls check customer managed policies only (not AWS managed ones, nor inline ones): the
    inline policies of users, roles and groups are checked as well here, as their own case
    (``applies_to`` "inline", which the controls table maps to no control). Both controls leave
    out the policies used as permissions boundaries: a policy the details show as a boundary
    and attached to nothing is left out; attached as well, it grants, and is checked.
    """
    boundaries = {h.boundary.name for h in details.principals.values() if h.boundary is not None}
    identity = _references(details, boundaries=False)
    # (policy, kind, owner, document, holders) of each policy to check.
    sources: list[tuple[str, str, str | None, Mapping[str, Any] | None, list[Holder]]] = []
    for arn, managed in sorted(details.managed.items()):
        if ":iam::aws:policy/" in arn or (arn in boundaries and not identity[arn]):
            continue
        holders: list[Holder] = [
            (h.arn, p.via)
            for h in details.principals.values()
            for p in h.policies
            if p.name == arn and p.kind in ("managed", "group-managed")
        ]
        sources.append((arn, "customer-managed", None, managed, holders))
    sources += [
        (p.name, "inline", h.arn, p.document, [(h.arn, None)])
        for h in details.principals.values()
        for p in h.policies
        if p.kind == "inline"
    ]
    for name, group in sorted(details.groups.items()):
        for p in group.policies:
            if p.kind == "group-inline":
                members: list[Holder] = [(member, name) for member in group.members]
                sources.append((p.name, "inline", group.arn or name, p.document, members))
    found = []
    for policy, kind, owner, document, holders in sources:
        if document is None:
            continue
        full, wide = _broad_statements(document)
        held = tuple(sorted(set(holders), key=lambda h: (h[0], h[1] or "")))
        if full:
            found.append(
                BroadGrant("FULL_ADMIN_POLICY", policy, kind, owner, ("*",), tuple(full), held)
            )
        if wide:
            grants = tuple(sorted({grant for grant, _ in wide}))
            where = tuple({id(w): w for _, w in wide}.values())
            found.append(BroadGrant("SERVICE_WIDE_GRANT", policy, kind, owner, grants, where, held))
    return sorted(found, key=lambda g: (g.code, g.kind, g.owner or "", g.policy))


def _broad_statements(
    document: Mapping[str, Any],
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Return the statements of ``document`` that grant every action on every resource, and
    the service-wide grants (``s3:*``, ``NotAction s3:*``) with their statements."""
    full: list[dict[str, Any]] = []
    wide: list[tuple[str, dict[str, Any]]] = []
    for index, statement in enumerate(statements_of(document)):
        if statement.get("Effect") != "Allow":
            continue
        condition = statement.get("Condition")
        where = {
            "statement": index,
            "sid": statement.get("Sid"),
            "condition_keys": sorted(
                str(key)
                for keys in (condition.values() if isinstance(condition, Mapping) else ())
                if isinstance(keys, Mapping)
                for key in keys
            ),
        }
        actions = _strings(statement.get("Action"))
        if _EVERY_ACTION & set(actions) and "*" in _strings(statement.get("Resource")):
            full.append(where)
            continue
        wide += [
            (f"{a.split(':', 1)[0].lower()}:*", where)
            for a in actions
            if _SERVICE_WIDE.fullmatch(a)
        ]
        wide += [
            (f"NotAction {a.split(':', 1)[0].lower()}:*", where)
            for a in _strings(statement.get("NotAction"))
            if _SERVICE_WIDE.fullmatch(a)
        ]
    return full, wide


def actions_used(rows: Iterable[Mapping[Any, Any]]) -> dict[str, set[str]]:
    """Return, by principal, the actions its calls of the window needed and passed
    authorization for: the usage table's rows (principal, action, authorized)."""
    found: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.get("authorized"):
            found[str(row["principal"])].add(str(row["action"]))
    return dict(found)


def grant_findings(
    grants: Sequence[BroadGrant], used: Mapping[str, Set[str]] | None = None
) -> list[Finding]:
    """Check 9: a finding per policy of ``broad_grants``, naming its holders and, with ``used``
    (``actions_used`` of the window), how many of the actions it grants each of them used."""
    found = []
    for grant in grants:
        label = (
            f"the customer managed policy {_short(grant.policy)}"
            if grant.kind == "customer-managed"
            else f"the inline policy {grant.policy} of {_short(grant.owner or '')}"
        )
        principals = tuple(sorted({p for p, _ in grant.holders}))
        holders: list[dict[str, Any]] = []
        for principal, via in grant.holders:
            if used is None:
                holders.append({"principal": principal, "via": via})
                continue
            for g in grant.grants:
                taken = sorted(a for a in used.get(principal, set()) if _covers(g, a))
                holders.append(
                    {
                        "principal": principal,
                        "via": via,
                        "grant": g,
                        "granted": _granted(g),
                        "used": len(taken),
                        "actions": taken[:20],
                    }
                )
        where = [{"policy": grant.policy, **w} for w in grant.statements]
        conditional = any(w["condition_keys"] for w in grant.statements)
        if grant.code == "FULL_ADMIN_POLICY":
            what = 'every action on every resource ("Action": "*" over "Resource": "*")'
            severity = HIGH
        else:
            what = f"every action of a service ({', '.join(grant.grants)})"
            severity = MEDIUM
        found.append(
            Finding(
                grant.code,
                severity,
                principals,
                f"{label} allows {what}"
                + (
                    ", under a condition (Security Hub counts it all the same)"
                    if conditional
                    else ""
                )
                + _held(grant, principals, used)
                + "; grant the actions its holders use instead (trailmin generate proposes them)",
                tuple(where + holders),
                applies_to=grant.kind,
            )
        )
    return found


def _held(grant: BroadGrant, principals: Sequence[str], used: Mapping[str, Set[str]] | None) -> str:
    """Return the words on who holds ``grant`` and how little of it they used."""
    if not principals:
        return "; nothing holds it"
    if used is None:
        return f"; {_count(len(principals), 'principal')} hold it"
    taken = {
        a
        for p in principals
        for a in used.get(p, set())
        if any(_covers(g, a) for g in grant.grants)
    }
    granted = sum(_granted(g) for g in grant.grants)
    return (
        f"; its {_count(len(principals), 'holder')} used {len(taken):,} of its {granted:,} actions "
        "in the window"
    )


def _covers(grant: str, action: str) -> bool:
    """Return whether a broad grant (``*``, ``s3:*``, ``NotAction s3:*``) covers ``action``."""
    if grant == "*":
        return True
    service = action.split(":", 1)[0].lower()
    if grant.startswith("NotAction "):
        return service != grant.removeprefix("NotAction ").split(":", 1)[0]
    return service == grant.split(":", 1)[0]


def _granted(grant: str) -> int:
    """Return how many catalog actions a broad grant covers."""
    if grant.startswith("NotAction "):
        return len(actions_matching("*")) - len(actions_matching(grant.removeprefix("NotAction ")))
    return len(actions_matching(grant))


# Kinds of HeldPolicy attached to the principal itself (not through a group).
_DIRECT_MANAGED = ("managed", "aws-managed")


def _references(details: AuthorizationDetails, *, boundaries: bool = True) -> defaultdict[str, int]:
    """Return how many entities of ``details`` name each managed policy: attached to a user,
    role or group, and (``boundaries``) as a permissions boundary."""
    counts: defaultdict[str, int] = defaultdict(int)
    for holding in details.principals.values():
        for policy in holding.policies:
            if policy.via is None and policy.kind in _DIRECT_MANAGED:
                counts[policy.name] += 1
        if boundaries and holding.boundary is not None:
            counts[holding.boundary.name] += 1
    for group in details.groups.values():
        for policy in group.policies:
            if policy.kind in ("group-managed", "group-aws-managed"):
                counts[policy.name] += 1
    return counts


def _them(items: Sequence[Any]) -> str:
    return "it" if len(items) == 1 else "them"


def _policies(n: int, kind: str) -> str:
    return f"{n} {kind} " + ("policy" if n == 1 else "policies")


def _short(name: str) -> str:
    """Return a policy's, group's or principal's name without its ARN's prefix and path."""
    return name.rsplit("/", 1)[-1] if name.startswith("arn:") else name


def _strings(value: Any) -> list[str]:
    """Return a policy element's strings (one string, or a list of them)."""
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, str)]


def details_findings(
    details: AuthorizationDetails, *, now: datetime, used: Mapping[str, Set[str]] | None = None
) -> list[Finding]:
    """Return check 9's findings on ``details`` as of ``now``: unused policies, empty groups,
    users' own policies, and the broad grants with ``used`` (``actions_used``)."""
    found = unused_policies(details, now=now)
    found += empty_groups(details, now=now)
    found += user_policies(details)
    found += grant_findings(broad_grants(details), used)
    return found


# --- 10. identities shared between people or places ---------------------------------------------

# User agents of the AWS Management Console's own calls (the first word of the user agent), and
# what browsers send: a console session, not a program.
_CONSOLE_AGENTS = ("AWS Internal", "signin.amazonaws.com")


def agent_family(agent: str) -> str:
    """Return what stays the same in the user agents of one client from call to call: a
    browser's whole user agent; else its first word (``aws-cli/2.15.0``, ``Boto3/1.34.0``):
    the AWS CLI and SDKs add the command, the OS and the like after it."""
    return agent if agent.startswith("Mozilla/") else agent.split(" ", 1)[0]


def client_kind(agent: str) -> str:
    """Return ``console`` for the AWS Management Console's calls and a browser's, else
    ``program``."""
    family = agent_family(agent)
    if family.startswith("Mozilla/") or "console" in family.lower() or family in _CONSOLE_AGENTS:
        return "console"
    return "program"


@dataclass(frozen=True, slots=True)
class _Session:
    credential: str
    network: str
    version: int
    agent: str
    kind: str
    first: datetime
    last: datetime
    calls: int
    addresses: frozenset[str]


def shared_identities(rows: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Check 10: IAM users whose credentials are used from two places at once.

    ``rows``: the calls of IAM users, a row per (principal_arn, credential: the access key, slot:
    the start of a few minutes, source_ip, user_agent) with its first_seen, last_seen and calls
    (``trailmin.query.audit.shared_sessions_sql``). Within one slot, a *session* is a
    credential used from one network (``network_of``: the /24 or /48) with one client
    (``agent_family``). Two sessions are one identity used from two places when all hold:

    - their networks differ, of the same IP version: a laptop calls over IPv4 and IPv6 at once,
      from two networks that are one place;
    - their clients differ, and are of the same kind (``client_kind``): a person runs the
      console in a browser and the CLI from a server or a VPN at once, two networks and two
      agents that are one person; so console with program is not judged;
    - they are the same credential (one access key in two places), or both console sessions
      (two sign-ins of one user): two access keys of one user are the rotation or one person's
      two machines more often than two people;
    - their times overlap: one's calls begin before the other's end, both ways; a person who
      moves from one network to another uses the two one after the other;
    - each client keeps to its own network in the slot: a client seen from both networks is a
      machine behind a pool of addresses (a corporate NAT), not two places.

    Addresses that are not IP addresses (AWS services, ``AWS Internal``) are left out.
    """
    slots: dict[tuple[str, Any], dict[tuple[str, str, str], list[Mapping[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in rows:
        network = network_of(str(row["source_ip"]))
        if network is None:
            continue
        agent = agent_family(str(row["user_agent"]))
        key = (str(row["credential"]), network, agent)
        slots[row["principal_arn"], row["slot"]][key].append(row)
    occurrences: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (principal, slot), grouped in sorted(slots.items(), key=lambda i: (i[0][0], str(i[0][1]))):
        sessions = [
            _Session(
                credential,
                network,
                ipaddress.ip_network(network).version,
                agent,
                client_kind(agent),
                min(r["first_seen"] for r in found),
                max(r["last_seen"] for r in found),
                sum(int(r["calls"]) for r in found),
                frozenset(str(r["source_ip"]) for r in found),
            )
            for (credential, network, agent), found in grouped.items()
        ]
        networks_of: dict[str, set[str]] = defaultdict(set)
        for s in sessions:
            networks_of[s.agent].add(s.network)
        for i, a in enumerate(sessions):
            for b in sessions[i + 1 :]:
                if (
                    a.network != b.network
                    and a.version == b.version
                    and a.agent != b.agent
                    and a.kind == b.kind
                    and (a.credential == b.credential or a.kind == "console")
                    and a.first <= b.last
                    and b.first <= a.last
                    and networks_of[a.agent] == {a.network}
                    and networks_of[b.agent] == {b.network}
                ):
                    first, second = sorted((a, b), key=lambda s: (s.first, s.network))
                    occurrences[principal].append(
                        {
                            "slot": _iso(slot),
                            "credentials": sorted({first.credential, second.credential}),
                            "networks": [first.network, second.network],
                            "source_ips": sorted(first.addresses | second.addresses),
                            "user_agents": [first.agent, second.agent],
                            "from": _iso(max(first.first, second.first)),
                            "to": _iso(min(first.last, second.last)),
                            "calls": first.calls + second.calls,
                        }
                    )
    found = []
    for principal, seen in sorted(occurrences.items()):
        credentials = sorted({c for o in seen for c in o["credentials"]})
        networks = sorted({n for o in seen for n in o["networks"]})
        what = (
            f"access key {credentials[0]} was"
            if len(credentials) == 1 and credentials[0].startswith("AKIA")
            else "console sign-ins were"
            if not any(c.startswith("AKIA") for c in credentials)
            else f"access keys {', '.join(credentials)} were"
        )
        found.append(
            Finding(
                "POSSIBLY_SHARED_IDENTITY",
                MEDIUM,
                (principal,),
                f"{_short(principal)}'s {what} used at the same time from {len(networks)} "
                f"networks ({', '.join(networks[:4])}) with different clients, "
                f"{_count(len(seen), 'time')}: one identity for two people or two places; give "
                "each person their own user (or IAM Identity Center) and each workload a role",
                tuple(seen),
            )
        )
    return found


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


def _addresses(events: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(sorted({str(e["source_ip"]) for e in events}))


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
    except (json.JSONDecodeError, RecursionError):  # not JSON, or nested past any real record
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _yes(value: Any) -> bool:
    return str(value).lower() == "true"


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return None if value is None else str(value)
