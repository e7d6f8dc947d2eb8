"""The IAM security checklist, answered from the lake and IAM's own reports.

Pure: each check takes plain rows (from the lake's SQL, the authorization details, the
credential report) and returns ``Finding`` values, each with a stable code, a severity, the
principals concerned and the evidence. The codes:

- ``ROOT_ACCOUNT_USED`` (high): calls made as the root user itself (not by a service for it),
  apart from the tasks only root can do (``ROOT_TASK``, info; ``mapping/data/root_tasks.csv``);
  ``ROOT_SIGNIN_FAILED`` (medium): failed console sign-ins as root.
- ``CONSOLE_SIGNIN_WITHOUT_MFA`` (high for root, medium for a user): a console sign-in with
  ``MFAUsed: No``. ``USER_PASSWORD_WITHOUT_MFA`` (medium): a user with a console password and no
  MFA device, from the credential report; ``ROOT_WITHOUT_MFA`` (high): the root user has none.
- ``LONG_TERM_KEY_IN_USE`` (medium; high when an application in AWS compute uses it, or the key is
  root's): an ``AKIA…`` access key in the events, with the calls, addresses and user agents.
- ``ACCESS_KEY_OLD`` (medium) past the age limit, ``ACCESS_KEY_UNUSED`` (low) never used or not in
  the window, ``ROOT_ACCESS_KEY`` (high) an active key of the root user, from the credential
  report.
- ``UNUSED_PRINCIPAL`` (low): a user or role with no call in the window.
- ``NEW_SERVICE``, ``NEW_REGION``, ``NEW_NETWORK`` (low) and ``DENIED_SPIKE`` (medium): activity
  against the principal's own baseline (its events before the recent days).
- ``AWS_MANAGED_POLICY_ATTACHED`` (low): an AWS-managed policy where a customer-managed proposal
  exists, with the size of the reduction.
"""

from __future__ import annotations

import base64
import csv
import functools
import io
import ipaddress
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from trailmin.aws import roles
from trailmin.errors import UsageError
from trailmin.iam.details import AuthorizationDetails, iam_time
from trailmin.mapping.actions import data_file
from trailmin.policy.expand import expand
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


def root_usage(events: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Check 1: calls as root. ``events``: the root user's own events (principal_arn,
    event_time, event_source, event_name, source_ip, user_agent, event_id, error_code,
    error_message), without those AWS services made for it (``invokedBy``) or on their own.

    A task that needs root only in one case (a bucket policy that denies everyone) counts as
    root use, with the case named: the record cannot tell. A failed sign-in is its own finding.
    """
    needed = root_tasks()
    used: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    tasks: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    failed: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    cases: dict[str, set[str]] = defaultdict(set)
    for event in events:
        key = (event["event_source"], event["event_name"])
        root = event["principal_arn"]
        if event["event_name"] == "ConsoleLogin" and (
            event.get("error_code") or event.get("error_message")
        ):
            failed[root].append(event)
        elif key in needed and not needed[key]:
            tasks[root].append(event)
        else:
            used[root].append(event)
            if needed.get(key):
                cases[root].add(f"{_names([event])} is one only if {needed[key]}")
    found = []
    for root, calls in sorted(used.items()):
        found.append(
            Finding(
                "ROOT_ACCOUNT_USED",
                HIGH,
                (root,),
                f"{_count(len(calls), 'call')} as the root user ({_names(calls)}) from "
                f"{_addresses(calls)}; do this work with a "
                "role and keep root for the tasks that need it"
                + "".join(f" ({case}: check that it was)" for case in sorted(cases[root])),
                tuple(_evidence(c) for c in calls),
            )
        )
    for root, attempts in sorted(failed.items()):
        found.append(
            Finding(
                "ROOT_SIGNIN_FAILED",
                MEDIUM,
                (root,),
                f"{_count(len(attempts), 'failed console sign-in')} as the root user from "
                f"{_addresses(attempts)}; if it was not "
                "the account's owner, someone has the root email address: check its MFA",
                tuple(_evidence(c) for c in attempts),
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
                    )
                )
    return found


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
) -> list[Finding]:
    """Check 5: users and roles in the authorization details with no activity since ``since``.

    ``held``: rows of (arn, unique_id, last_used: a role's RoleLastUsed). ``active``: the ARNs and
    unique IDs (AIDA…, AROA…) the lake shows acting in the window, and the roles it shows being
    assumed; an ID matches whatever the path. ``last_used``: more last uses by ARN (a user's
    password or keys, from the credential report). A role only AWS services use leaves no call of
    its own in the lake, but IAM's RoleLastUsed tells. Service-linked roles are left out.
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
        evidence = {"since": _iso(since), "last_used": _iso(latest)}
        if roles.role_path(arn).startswith(roles.IDENTITY_CENTER_PATH):
            advice = (
                "an IAM Identity Center permission set's role: if no one needs it in this account, "
                "remove the account assignment in IAM Identity Center"
            )
        else:
            advice = "remove it, or confirm what it is kept for"
        found.append(
            Finding(
                "UNUSED_PRINCIPAL",
                LOW,
                (arn,),
                f"no activity since {_iso(since)}"
                + (f" (last used {_iso(latest)})" if latest else "")
                + f"; {advice}",
                (evidence,),
            )
        )
    return found


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
) -> Checked:
    """Return the unused principals of ``details`` (none of ``active`` in the window, nor used
    since by IAM's account or the credential ``report``), and a note when the lake, beginning
    at ``oldest``, covers less than the window."""
    notes = []
    since = max(window.start, oldest)
    if since > window.start:
        notes.append(
            f"the lake's events begin {since:%Y-%m-%d}, inside the {window.days}-day window: "
            "a principal is called unused for that shorter time"
        )
    found = unused_principals(
        (
            {"arn": h.arn, "unique_id": h.unique_id, "last_used": h.last_used}
            for h in details.principals.values()
        ),
        active=active,
        since=since,
        last_used=report_last_used(report) if report is not None else None,
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
