"""Replay recorded calls against policies: would these policies have allowed what was done?

Pure. The request context of each call is filled from what the lake keeps of its CloudTrail record
(iam-evaluation.md R9's recommendation): ``aws:SourceIp``, ``aws:PrincipalArn``,
``aws:PrincipalAccount``, ``aws:PrincipalType``, ``aws:RequestedRegion``,
``aws:MultiFactorAuthPresent``, ``aws:SecureTransport``, ``aws:ViaAWSService``, ``aws:userid``,
``aws:username``, ``aws:CurrentTime`` and ``aws:EpochTime``. Every other key a policy's conditions
name is *unknown* for that call, and the replay is pessimistic: a call counts as allowed only if it
is allowed whatever those keys held. A refusal says which keys it hinged on.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trailmin.policy.catalog_replay import Mismatch
from trailmin.policy.evaluate import PESSIMISTIC, Decision, Layers, Request, evaluate, statements_of
from trailmin.query.sql import Window

# What the lake's columns give, by condition key (lower case).
DERIVABLE = frozenset(
    {
        "aws:sourceip",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principaltype",
        "aws:requestedregion",
        "aws:multifactorauthpresent",
        "aws:securetransport",
        "aws:viaawsservice",
        "aws:userid",
        "aws:username",
        "aws:currenttime",
        "aws:epochtime",
    }
)
# The event columns a replay reads, and those it reads only when a policy asks for the time.
COLUMNS = (
    "source_ip",
    "aws_region",
    "mfa_authenticated",
    "tls_version",
    "principal_id",
    "user_name",
    "invoked_by",
    "principal_account_id",
    "principal_type",
)
TIME_KEYS = frozenset({"aws:currenttime", "aws:epochtime"})
_PRINCIPAL_TYPES = {
    "IAMUser": "User",
    "Role": "AssumedRole",
    "IdentityCenterRole": "AssumedRole",
    "ServiceLinkedRole": "AssumedRole",
    "Root": "Account",
    "FederatedUser": "FederatedUser",
}


def condition_keys(policies: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """Return the condition keys (lower case) the policies' statements name."""
    found: set[str] = set()
    for policy in policies:
        for statement in statements_of(policy):
            block = statement.get("Condition")
            if not isinstance(block, Mapping):
                continue
            for pairs in block.values():
                if isinstance(pairs, Mapping):
                    found.update(str(key).lower() for key in pairs)
    return frozenset(found)


def context_of(principal: str, event: Mapping[str, Any], wanted: frozenset[str]) -> dict[str, str]:
    """Return the ``wanted`` keys that the event's columns tell, with their values."""
    found: dict[str, str] = {}

    def put(key: str, value: Any) -> None:
        if key in wanted and value is not None and not _missing(value):
            found[key] = str(value)

    source_ip = event.get("source_ip")
    if isinstance(source_ip, str):
        try:
            ipaddress.ip_address(source_ip)
        except ValueError:
            source_ip = None  # a service name ("lambda.amazonaws.com"), not an address
        put("aws:sourceip", source_ip)
    put("aws:principalarn", principal)
    put("aws:principalaccount", event.get("principal_account_id"))
    put("aws:principaltype", _PRINCIPAL_TYPES.get(str(event.get("principal_type"))))
    put("aws:requestedregion", event.get("aws_region"))
    mfa = event.get("mfa_authenticated")
    if isinstance(mfa, bool):
        put("aws:multifactorauthpresent", "true" if mfa else "false")
    if event.get("tls_version"):
        put("aws:securetransport", "true")  # a record without TLS details says nothing
    put("aws:viaawsservice", "true" if event.get("invoked_by") else "false")
    put("aws:userid", event.get("principal_id"))
    if event.get("principal_type") == "IAMUser":
        put("aws:username", event.get("user_name"))
    when = event.get("event_time")
    if isinstance(when, datetime):
        put("aws:currenttime", when.isoformat().replace("+00:00", "Z"))
        put("aws:epochtime", int(when.timestamp()))
    return found


def _missing(value: Any) -> bool:
    """Whether a column value is pandas' or Arrow's "no value" (NaN, NA)."""
    return isinstance(value, float) and math.isnan(value)


@dataclass(frozen=True, slots=True)
class Call:
    """Calls of one kind: an action on a resource in one request context, and how many."""

    action: str
    resource: str
    context: Mapping[str, str]
    calls: int
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class RefusedCall:
    """Calls the policies would not have allowed."""

    action: str
    resource: str
    decision: str
    calls: int
    last_seen: datetime | None
    unknown_keys: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the refusal as JSON-ready values."""
        return {
            "action": self.action,
            "resource": self.resource,
            "decision": self.decision,
            "calls": self.calls,
            "last_seen": None
            if self.last_seen is None
            else self.last_seen.isoformat().replace("+00:00", "Z"),
            "unknown_keys": list(self.unknown_keys),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The replay of a principal's calls against policies."""

    principal: str
    calls: int
    kinds: int
    refused: tuple[RefusedCall, ...]
    # Calls refused on the resources the catalog names for them, built from the records
    # (catalog_replay): what a mapping error hides from the replay of the lake's permissions.
    mismatches: tuple[Mismatch, ...] = ()
    window: Window | None = None  # the calls replayed

    @property
    def passed(self) -> bool:
        """Return whether every call would have been allowed."""
        return not self.refused and not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        """Return the verdict as JSON-ready values."""
        return {
            "principal": self.principal,
            "calls": self.calls,
            "kinds": self.kinds,
            "passed": self.passed,
            "refused": [r.to_dict() for r in self.refused],
            "catalog_refused": [m.to_dict() for m in self.mismatches],
            "window": None if self.window is None else self.window.to_dict(),
        }


def verify(principal: str, policies: Sequence[Mapping[str, Any]], calls: Iterable[Call]) -> Verdict:
    """Return which of ``calls`` the identity ``policies`` would refuse (pessimistic, R9)."""
    layers = Layers(identity=list(policies), caller_side_only=True)
    wanted = condition_keys(policies)
    merged: dict[tuple[str, str, str, tuple[str, ...]], list[Any]] = {}
    total = kinds = 0
    for call in calls:
        total += call.calls
        kinds += 1
        unknown = frozenset(wanted - {k.lower() for k in call.context})
        request = Request(
            call.action, call.resource, call.context, principal=principal, unknown_keys=unknown
        )
        result = evaluate(request, layers, mode=PESSIMISTIC)
        if result.decision is not Decision.ALLOW:
            involved = tuple(sorted({key for _, key in evaluate(request, layers).unknown}))
            key = (call.action, call.resource, result.decision.value, involved)
            counts = merged.setdefault(key, [0, None])
            counts[0] += call.calls
            if call.last_seen is not None and (counts[1] is None or call.last_seen > counts[1]):
                counts[1] = call.last_seen
    refused = sorted(
        (RefusedCall(a, r, d, n, last, keys) for (a, r, d, keys), (n, last) in merged.items()),
        key=lambda r: (r.action.lower(), r.resource, r.decision),
    )
    return Verdict(principal, total, kinds, tuple(refused))


def documents_of(value: Any, source: str) -> list[dict[str, Any]]:
    """Return the policy documents in a file's JSON: one document, a list of them, a
    ``{"policies": [{"document": …}]}`` proposal index, or ``{"PolicyDocument": …}``."""
    if isinstance(value, dict) and "Statement" in value:
        return [value]
    if isinstance(value, dict) and isinstance(value.get("PolicyDocument"), dict):
        return [value["PolicyDocument"]]
    if isinstance(value, dict) and isinstance(value.get("policies"), list):
        return [p["document"] for p in value["policies"] if isinstance(p, dict) and "document" in p]
    if isinstance(value, list) and all(isinstance(v, dict) and "Statement" in v for v in value):
        return list(value)
    from trailmin.errors import UsageError

    raise UsageError(
        f"{source} holds no IAM policy document; give a JSON policy "
        '({"Version": …, "Statement": […]}), a list of them, or a proposal index.json'
    )
