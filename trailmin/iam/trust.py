"""Who may assume each role: the callers CloudTrail saw, a trust policy that allows exactly them,
and how today's trust policy differs.

Pure: the rows of ``trailmin.query.trust.assumptions_sql`` and a role's ``AssumeRolePolicyDocument``
(from the authorization details) in; ``Assumption``, ``TrustProposal``, ``TrustDiff`` and
``Finding`` values out. The replay check and the diff use the evaluator's trust-policy rules
(``trailmin.policy.evaluate.evaluate_trust``).

What a caller looks like in the role's account (CloudTrail user guide, "CloudTrail userIdentity
element" and "AWS STS API calls"), and what the proposal names for it:

- an IAM user or role session of a logged account: its user or role ARN (``Principal.AWS``);
- another account's principal: the role's account sees only ``type: AWSAccount`` with the
  account and the caller's unique ID (``AIDA…``, ``AROA…:session``). The ID is resolved to an ARN
  from the caller's own events in the lake or from its account's authorization details; left
  unresolved, the proposal names the account (``arn:…:iam::<account>:root``), the narrowest
  principal the logs show, and says so;
- a service (``type: AWSService``, ``invokedBy``): ``Principal.Service``;
- a web identity (``type: WebIdentityUser``; ``principalId`` is ``<provider>:<aud>:<sub>`` and
  ``userName`` the subject): ``Principal.Federated`` with the provider, and ``StringEquals`` on the
  provider's audience and subject keys with the values seen (IAM User Guide, "Available keys for
  AWS web identity federation");
- a SAML user (``type: SAMLUser``; the provider in ``requestParameters.principalArn``):
  ``Principal.Federated`` with the provider.

``sts:ExternalId`` is required with the values given when every call of the caller gave one;
``sts:TagSession`` and ``sts:SetSourceIdentity`` are allowed when the calls passed tags or a
source identity (IAM User Guide, "Passing session tags in AWS STS": "the role's trust policy
must allow sts:TagSession"; "Monitor and control actions taken with assumed roles": "the role
trust policy must allow sts:SetSourceIdentity"). A condition of today's trust policy on a key
the record does not carry (``SAML:aud``, ``aws:SourceAccount``, …) is kept when every statement
that trusts the caller has it alike: the proposal is never wider than today's policy on what
the logs cannot show. Roles AWS manages (service-linked, IAM Identity Center) get no proposal.
"""

from __future__ import annotations

import csv
import functools
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from importlib import resources
from typing import Any

from trailmin.aws import roles
from trailmin.aws.arns import account_of, partition_of
from trailmin.errors import UsageError
from trailmin.iam.audit import HIGH, MEDIUM, Finding
from trailmin.policy.evaluate import (
    Decision,
    Mode,
    Request,
    as_list,
    evaluate_trust,
    match_action,
    statements_of,
)
from trailmin.policy.generate import POLICY_VERSION, Proposal, policy_size
from trailmin.query.sql import Window
from trailmin.query.trust import ASSUME_ACTIONS
from trailmin.text import markdown as md

ASSUME_ROLE = "sts:AssumeRole"
WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
SAML = "sts:AssumeRoleWithSAML"
TAG_SESSION = "sts:TagSession"
SET_SOURCE_IDENTITY = "sts:SetSourceIdentity"
EXTERNAL_ID = "sts:ExternalId"
# IAM's default quota for a trust policy (IAM User Guide, "IAM and AWS STS quotas": role trust
# policy length 2,048 characters, raisable to 4,096).
TRUST_POLICY_SIZE = 2048
GITHUB = "token.actions.githubusercontent.com"
# The audience GitHub Actions and EKS put in their tokens for AWS.
DEFAULT_AUDIENCE = "sts.amazonaws.com"
# Condition keys that confine a Principal "*" to some callers (IAM User Guide, "AWS global
# condition context keys"): who calls, from which account or organization, for which resource.
CONFINING_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
        "aws:userid",
    )
)
SOURCE_ACCOUNT = "aws:SourceAccount"


@functools.cache
def source_account_services() -> dict[str, str]:
    """Return the service principals whose own documentation shows ``aws:SourceAccount`` in the
    trust policy of a role they assume (cross-service confused deputy prevention), with the
    page: ``trailmin/data/service_source_conditions.csv``, a quote per row."""
    text = resources.files("trailmin").joinpath("data", "service_source_conditions.csv")
    return {
        row["service_principal"]: row["url"]
        for row in csv.DictReader(text.read_text().splitlines())
        if row["source_account"] == "yes"
    }


# The codes of ``trust_findings`` (their rows in ``trailmin/data/controls.csv``).
TRUST_CODES = frozenset(
    {
        "TRUST_ANYONE",
        "TRUST_OIDC_NO_SUBJECT",
        "TRUST_OIDC_NO_AUDIENCE",
        "TRUST_THIRD_PARTY_NO_EXTERNAL_ID",
    }
)
_NEGATED = re.compile(r"^(ForAllValues:|ForAnyValue:)?(StringNot|ArnNot|NotIpAddress|Null)")


class CallerKind(StrEnum):
    """Who assumed the role, as a trust policy's Principal names it."""

    AWS = "AWS"
    SERVICE = "Service"
    WEB_IDENTITY = "WebIdentity"
    SAML = "SAML"


@dataclass(frozen=True, slots=True)
class Assumption:
    """Calls of one caller assuming one role, alike in everything a trust policy can see."""

    role: str
    action: str  # sts:AssumeRole, sts:AssumeRoleWithWebIdentity or sts:AssumeRoleWithSAML
    kind: CallerKind
    caller: str  # a user or role ARN, an account's root ARN, a service principal, a provider
    account: str | None  # the caller's account, when it has one
    calls: int
    first_seen: datetime
    last_seen: datetime
    refused: bool = False
    error_code: str | None = None
    external_id: str | None = None
    audience: str | None = None  # a web identity's aud
    subject: str | None = None  # a web identity's sub, a SAML user's subject
    source_identity: str | None = None
    tagged: bool = False
    unique_id: str | None = None  # another account's caller, known by its ID only

    @property
    def resolved(self) -> bool:
        """Return whether the caller is named as itself (not only by its account)."""
        return not (
            self.kind is CallerKind.AWS and self.caller.endswith(":root") and self.unique_id
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the assumption as JSON-ready values (no external id: it is a shared secret)."""
        found: dict[str, Any] = {
            "role": self.role,
            "action": self.action,
            "kind": str(self.kind),
            "caller": self.caller,
            "account": self.account,
            "calls": self.calls,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
        }
        if self.refused:
            found["refused"] = self.error_code or True
        if self.external_id is not None:
            found["external_id"] = "given"
        for name in ("audience", "subject", "source_identity", "unique_id"):
            if getattr(self, name) is not None:
                found[name] = getattr(self, name)
        if self.tagged:
            found["tagged"] = True
        return found


# --- from the lake's rows -------------------------------------------------------------------------


def unique_ids(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return the unique IDs of the callers known only by them (another account's principals)."""
    return sorted(
        {_unique_id(r["caller_id"]) for r in rows if r["caller_type"] == "AWSAccount"} - {None}  # type: ignore[arg-type]
    )


def assumptions_of(
    rows: Iterable[Mapping[str, Any]], arns_by_id: Mapping[str, str] | None = None
) -> tuple[list[Assumption], list[str]]:
    """Return the assumptions in ``assumptions_sql``'s rows, another account's callers resolved
    by ``arns_by_id`` (unique ID to ARN), and a note of the calls that cannot be read into one
    (no role anywhere in the record, no caller), said rather than passed over. A call logged in
    both accounts (the caller's and the role's) is counted once: when the role's account logs
    calls of a role, only those count."""
    known = arns_by_id or {}
    read = [(row, _assumption(row, known)) for row in rows]
    logged_by_role = {
        row["role_arn"]
        for row, _ in read
        if row["role_arn"] and row["recipient_account_id"] == account_of(row["role_arn"])
    }
    merged: dict[tuple[Any, ...], Assumption] = {}
    unread: dict[str, int] = defaultdict(int)
    for row, assumption in read:
        if isinstance(assumption, str):
            unread[assumption] += int(row["calls"])
            continue
        if assumption.role in logged_by_role and row["recipient_account_id"] != account_of(
            assumption.role
        ):
            continue  # the caller's copy of a call its role's account logs too
        key = _shape(assumption)
        was = merged.get(key)
        merged[key] = (
            assumption
            if was is None
            else replace(
                was,
                calls=was.calls + assumption.calls,
                first_seen=min(was.first_seen, assumption.first_seen),
                last_seen=max(was.last_seen, assumption.last_seen),
            )
        )
    notes = []
    if unread:
        total = sum(unread.values())
        reasons = "; ".join(f"{reason} ({calls:,})" for reason, calls in sorted(unread.items()))
        notes.append(
            f"{total:,} assume call{'s' if total != 1 else ''} of the window not read: {reasons}"
        )
    return sorted(merged.values(), key=_order), notes


def _shape(a: Assumption) -> tuple[Any, ...]:
    return (
        a.role,
        a.action,
        a.kind,
        a.caller,
        a.refused,
        a.error_code,
        a.external_id,
        a.audience,
        a.subject,
        a.source_identity,
        a.tagged,
        a.unique_id,
    )


def _order(a: Assumption) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in _shape(a))


def _assumption(row: Mapping[str, Any], known: Mapping[str, str]) -> Assumption | str:
    """Return the assumption a row shows, or why it cannot be read."""
    role = row["role_arn"]
    action = ASSUME_ACTIONS.get(row["event_name"])
    if not role or action is None or ":role/" not in role:
        return "the record names no role (no roleArn, none in the error message)"
    caller_type = row["caller_type"]
    common: dict[str, Any] = {
        "role": role,
        "action": action,
        "calls": int(row["calls"]),
        "first_seen": row["first_seen"],
        "last_seen": row["last_seen"],
        "refused": row["error_code"] is not None,
        "error_code": row["error_code"],
        "external_id": row["external_id"],
        "source_identity": row["source_identity"],
        "tagged": bool(row["tagged"]),
    }
    if caller_type == "AWSService":
        service = row["invoked_by"] or row["caller_arn"]
        if not service:
            return "a service's call without invokedBy"
        return Assumption(kind=CallerKind.SERVICE, caller=service, account=None, **common)
    if caller_type == "WebIdentityUser" or action == WEB_IDENTITY:
        provider, audience, subject = web_identity(row["caller_id"], row["user_name"])
        if provider is None:
            return "a web identity without its provider (no principalId)"
        return Assumption(
            kind=CallerKind.WEB_IDENTITY,
            caller=provider,
            account=account_of(provider),
            audience=audience,
            subject=subject,
            **common,
        )
    if caller_type == "SAMLUser" or action == SAML:
        provider = row["saml_provider"]
        if not provider:
            return "a SAML call without its provider (no principalArn)"
        return Assumption(
            kind=CallerKind.SAML,
            caller=provider,
            account=account_of(provider),
            subject=row["user_name"],
            **common,
        )
    account = row["caller_account"] or account_of(row["caller_arn"])
    if caller_type == "AWSAccount":
        unique = _unique_id(row["caller_id"])
        caller = known.get(unique or "") or row["caller_arn"]
        if not caller and account:
            caller = f"arn:{partition_of(role)}:iam::{account}:root"
        if not caller:
            return "another account's call without its account"
        resolved = caller != f"arn:{partition_of(role)}:iam::{account}:root"
        return Assumption(
            kind=CallerKind.AWS,
            caller=caller,
            account=account,
            unique_id=None if resolved else unique,
            **common,
        )
    if not row["caller_arn"]:
        return "no caller in userIdentity"
    return Assumption(kind=CallerKind.AWS, caller=row["caller_arn"], account=account, **common)


def web_identity(
    principal_id: str | None, user_name: str | None
) -> tuple[str | None, str | None, str | None]:
    """Return a web identity's (provider, audience, subject) from its ``principalId``
    (``<provider>:<aud>:<sub>``, the provider an IAM OIDC provider's ARN or a name such as
    ``cognito-identity.amazonaws.com``) and ``userName`` (the subject)."""
    if not principal_id:
        return None, None, None
    subject = user_name or None
    head = principal_id
    if subject and principal_id.endswith(":" + subject):
        head = principal_id[: -len(subject) - 1]
    else:
        subject = None
    if head.startswith("arn:"):
        match = re.match(r"(arn:[^:]+:iam::\d{12}:oidc-provider/[^:]+)(?::(.+))?$", head)
        if match is None:
            return None, None, None
        rest = match.group(2) or ""
        if subject is None and rest.startswith(DEFAULT_AUDIENCE + ":"):
            # No userName: the audience GitHub and EKS send (sts.amazonaws.com) has no colon,
            # so what follows it is the subject.
            return match.group(1), DEFAULT_AUDIENCE, rest[len(DEFAULT_AUDIENCE) + 1 :] or None
        return match.group(1), match.group(2) if subject else None, subject
    provider, _, audience = head.partition(":")
    return provider or None, (audience or None) if subject else None, subject


def provider_host(provider: str) -> str:
    """Return the prefix of a web identity provider's condition keys: an IAM OIDC provider's
    URL without ``https://`` (``token.actions.githubusercontent.com``), else its name."""
    return provider.split(":oidc-provider/", 1)[1] if ":oidc-provider/" in provider else provider


# IAM User Guide, "Available keys for AWS web identity federation": Amazon and Facebook name the
# application ``app_id`` and the user ``user_id`` and ``id``; the others ``aud`` and ``sub``.
_KEYS = {
    "www.amazon.com": ("www.amazon.com:app_id", "www.amazon.com:user_id"),
    "graph.facebook.com": ("graph.facebook.com:app_id", "graph.facebook.com:id"),
}


def web_identity_keys(provider: str) -> tuple[str, str]:
    """Return the condition keys of a web identity's audience and subject."""
    host = provider_host(provider)
    return _KEYS.get(host, (f"{host}:aud", f"{host}:sub"))


# --- the request each assumption made -------------------------------------------------------------


def requests_of(assumption: Assumption, unknown: Iterable[str] = ()) -> list[Request]:
    """Return the requests the trust policy authorized for ``assumption``: its assume action,
    and ``sts:TagSession`` / ``sts:SetSourceIdentity`` when it passed tags or a source identity.
    ``unknown``: condition keys the record cannot tell (a condition on one is unknown, not
    false)."""
    context: dict[str, str] = {}
    principal = service = federated = None
    if assumption.kind is CallerKind.AWS:
        principal = assumption.caller
        if assumption.account:
            context["aws:PrincipalAccount"] = assumption.account
        if assumption.resolved:
            context["aws:PrincipalArn"] = assumption.caller
    elif assumption.kind is CallerKind.SERVICE:
        service = assumption.caller
    else:
        federated = assumption.caller
    if assumption.external_id is not None:
        context[EXTERNAL_ID] = assumption.external_id
    if assumption.source_identity is not None:
        context["sts:SourceIdentity"] = assumption.source_identity
    if assumption.kind is CallerKind.WEB_IDENTITY:
        aud_key, sub_key = web_identity_keys(assumption.caller)
        if assumption.audience is not None:
            context[aud_key] = assumption.audience
        if assumption.subject is not None:
            context[sub_key] = assumption.subject
    if assumption.kind is CallerKind.SAML and assumption.subject is not None:
        context["saml:sub"] = assumption.subject
    actions = [assumption.action]
    if assumption.tagged:
        actions.append(TAG_SESSION)
    if assumption.source_identity is not None:
        actions.append(SET_SOURCE_IDENTITY)
    return [
        Request(
            action,
            assumption.role,
            context=context,
            principal=principal,
            service=service,
            federated=federated,
            unknown_keys=frozenset(unknown),
        )
        for action in actions
    ]


@dataclass(frozen=True, slots=True)
class TrustRefusal:
    """An observed assumption a trust policy does not allow."""

    caller: str
    action: str
    decision: str
    calls: int
    subject: str | None = None  # a web identity's or SAML user's subject
    unknown: tuple[str, ...] = ()  # the condition keys the records cannot tell it hinged on

    @property
    def who(self) -> str:
        """Return the caller as a person reads it: with its subject when it has one."""
        return self.caller if self.subject is None else f"{self.caller} (subject {self.subject})"

    def to_dict(self) -> dict[str, Any]:
        """Return the refusal as JSON-ready values."""
        return {
            "caller": self.caller,
            "subject": self.subject,
            "action": self.action,
            "decision": self.decision,
            "calls": self.calls,
            "unknown_keys": list(self.unknown),
        }


def check_trust(
    document: Mapping[str, Any],
    assumptions: Sequence[Assumption],
    *,
    carried: Iterable[str] | None = (),
) -> list[TrustRefusal]:
    """Return the observed (allowed) assumptions ``document`` refuses, each caller and action
    once. A condition on a key the record cannot tell (``unobservable``) is unknown; an unknown
    counts as a refusal (the pessimistic replay of the evaluation spec, R9) except on the
    ``carried`` keys: conditions kept from today's policy, which allowed these very calls.
    ``carried=None`` accepts every unknown (today's policy, which did allow them)."""
    kept = None if carried is None else {k.lower() for k in carried}
    refused: dict[tuple[str, str, str], TrustRefusal] = {}
    for assumption in assumptions:
        if assumption.refused:
            continue
        for request in requests_of(assumption, unobservable(document, assumption)):
            result = _as_one_of(request, document, assumption)
            if result.decision is Decision.ALLOW:
                continue
            if result.decision is Decision.UNKNOWN and (
                kept is None or all(key.lower() in kept for _, key in result.unknown)
            ):
                continue
            subject = assumption.subject if assumption.kind is CallerKind.WEB_IDENTITY else None
            key = (assumption.caller, subject or "", request.action)
            was = refused.get(key)
            calls = assumption.calls + (was.calls if was else 0)
            refused[key] = TrustRefusal(
                assumption.caller,
                request.action,
                str(result.decision),
                calls,
                subject,
                tuple(sorted({k for _, k in result.unknown})),
            )
    return [refused[key] for key in sorted(refused)]


def _as_one_of(request: Request, document: Mapping[str, Any], assumption: Assumption) -> Any:
    """Return the trust decision on ``request``; for another account's caller known only by
    its ID, allowed when the document allows it as one of the users and roles of that account
    it names (the caller is one of them, which one the record does not say)."""
    result = evaluate_trust(request, document, mode=Mode.THREE_VALUED)
    if result.decision is Decision.ALLOW or assumption.resolved:
        return result
    for statement in statements_of(document):
        for kind, value in _entries(statement):
            if kind == "AWS" and account_of(value) == assumption.account and ":iam::" in value:
                named = replace(request, principal=value)
                other = evaluate_trust(named, document, mode=Mode.THREE_VALUED)
                if other.decision is Decision.ALLOW:
                    return other
    return result


# Keys whose absence from a request is known: the caller did not pass them.
_ABSENT_WHEN_NOT_GIVEN = frozenset({EXTERNAL_ID.lower(), "sts:sourceidentity"})


def unobservable(document: Mapping[str, Any], assumption: Assumption) -> set[str]:
    """Return the condition keys of ``document`` that ``assumption``'s record cannot tell: all
    but those its request carries and those whose absence is known (``sts:ExternalId``,
    ``sts:SourceIdentity``)."""
    (request, *_) = requests_of(assumption)
    known = {k.lower() for k in request.context} | _ABSENT_WHEN_NOT_GIVEN
    return {
        key
        for statement in statements_of(document)
        for _, key, _ in _flat_conditions(statement)
        if key.lower() not in known
    }


# --- the proposal ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrustProposal:
    """The trust policy proposed for one role, or why there is none."""

    role: str
    document: Mapping[str, Any] | None
    callers: tuple[str, ...] = ()
    carried: tuple[str, ...] = ()  # condition keys kept from today's policy
    notes: tuple[str, ...] = ()
    skipped: str | None = None
    replayed: int = 0
    refusals: tuple[TrustRefusal, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the proposal as JSON-ready values."""
        return {
            "role": self.role,
            "document": self.document,
            "callers": list(self.callers),
            "carried_conditions": list(self.carried),
            "notes": list(self.notes),
            "skipped": self.skipped,
            "replay": {
                "assumptions": self.replayed,
                "refused": [r.to_dict() for r in self.refusals],
            },
        }


def trust_document(data: Any, source: str) -> Mapping[str, Any]:
    """Return the trust policy in ``data``: a policy document, or a role's
    ``AssumeRolePolicyDocument`` as ``aws iam get-role`` prints it; a UsageError naming
    ``source`` for anything else."""
    if isinstance(data, Mapping) and isinstance(data.get("Role"), Mapping):
        data = data["Role"].get("AssumeRolePolicyDocument")
    if isinstance(data, Mapping) and "AssumeRolePolicyDocument" in data:
        data = data["AssumeRolePolicyDocument"]
    if not isinstance(data, Mapping) or not statements_of(data):
        raise UsageError(
            f"{source} is not a trust policy: give a policy document with a Statement list "
            "(a trust-policy.json trailmin wrote, or `aws iam get-role --role-name NAME`'s output)"
        )
    return data


def managed_by_aws(role: str) -> str | None:
    """Return why AWS manages ``role``'s trust policy, or None when its owner does."""
    if roles.is_service_linked(role):
        return "a service-linked role: its service defines its trust policy"
    if roles.is_aws_reserved(role):
        return "an AWS-reserved role (IAM Identity Center's): AWS manages its trust policy"
    return None


def propose_trust(
    role: str,
    assumptions: Sequence[Assumption],
    current: Mapping[str, Any] | None = None,
    *,
    source_account: bool = False,
) -> TrustProposal:
    """Return the trust policy that allows exactly the observed (not refused) assumptions of
    ``role``, replay-checked against them. ``current``: today's trust policy, whose conditions
    on keys the records do not carry are kept (the module docstring).

    A service whose documentation shows ``aws:SourceAccount`` in its roles' trust policies
    (``source_account_services``) is named in a note; with ``source_account``, its statement
    requires the role's own account as the source account: a rule, reported, since CloudTrail
    does not record the source account (a service acting for another account's resource would
    be refused)."""
    mine = [a for a in assumptions if a.role == role]
    reason = managed_by_aws(role)
    if reason is not None:
        return TrustProposal(role, None, skipped=reason)
    allowed = [a for a in mine if not a.refused]
    if not allowed:
        return TrustProposal(
            role, None, skipped="no caller assumed it in the window: nothing to trust"
        )
    notes: list[str] = []
    unread = [
        a
        for a in allowed
        if a.kind is CallerKind.WEB_IDENTITY and a.subject is None and _pins_subject(a.caller)
    ]
    if unread:
        return TrustProposal(
            role,
            None,
            skipped=f"{unread[0].caller}: a call's subject is not in its record, and a trust "
            "policy without its subject would let any identity of the provider in",
        )
    statements: list[dict[str, Any]] = []
    carried: set[str] = set()
    for kind, members in _by_kind(allowed).items():
        rule = _account if source_account and kind is CallerKind.SERVICE else None
        statements += _statements(
            kind, members, current, notes, carried, rule(role) if rule else None
        )
    documented = source_account_services()
    services = sorted({a.caller for a in allowed if a.kind is CallerKind.SERVICE} & set(documented))
    for service in services:
        if source_account:
            notes.append(
                f"{service}: requires {SOURCE_ACCOUNT} {_account(role)}, the role's own account "
                f"(a rule: AWS documents that the service sends it, {documented[service]}; "
                "CloudTrail does not record it)"
            )
        elif not any(SOURCE_ACCOUNT.lower() == k.lower() for k in carried):
            notes.append(
                f"{service}: AWS documents {SOURCE_ACCOUNT} for its roles' trust policies "
                f"({documented[service]}); CloudTrail does not record it, so it is not added: "
                f"StringEquals {SOURCE_ACCOUNT} {_account(role)} would confine it to this account "
                "(--source-account adds it)"
            )
    for index, statement in enumerate(statements):
        statement["Sid"] = f"Trust{index + 1}"
    document: dict[str, Any] = {"Version": POLICY_VERSION, "Statement": statements}
    size = policy_size(document)
    if size > TRUST_POLICY_SIZE:
        notes.append(
            f"{size:,} characters, over IAM's default trust policy quota of "
            f"{TRUST_POLICY_SIZE:,} (raisable to 4,096)"
        )
    notes.extend(
        f"a caller of account {a.account} is known only by its ID {a.unique_id} (its "
        "account's logs or authorization details are not given): the account is trusted"
        for a in allowed
        if not a.resolved
    )
    refusals = check_trust(document, allowed, carried=carried)
    return TrustProposal(
        role,
        document,
        callers=tuple(sorted({a.caller for a in allowed})),
        carried=tuple(sorted(carried)),
        notes=tuple(dict.fromkeys(notes)),
        replayed=len(allowed),
        refusals=tuple(refusals),
    )


def _by_kind(assumptions: Sequence[Assumption]) -> dict[CallerKind, list[Assumption]]:
    found: dict[CallerKind, list[Assumption]] = {}
    for kind in CallerKind:
        members = [a for a in assumptions if a.kind is kind]
        if members:
            found[kind] = members
    return found


def _statements(
    kind: CallerKind,
    members: Sequence[Assumption],
    current: Mapping[str, Any] | None,
    notes: list[str],
    carried: set[str],
    source_account: str | None = None,
) -> list[dict[str, Any]]:
    """Return the statements that trust ``members``, all of one kind: callers alike in their
    actions and conditions share one. Each caller's conditions are the values its calls showed
    and, per statement of ``current`` that lets it in today, that statement's conditions on the
    other keys (the keys kept are added to ``carried``): a caller let in today by one statement
    or another gets a statement for each, so that neither condition is lost."""
    by_caller: dict[str, list[Assumption]] = defaultdict(list)
    for a in members:
        by_caller[a.caller].append(a)
    groups: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for caller, calls in sorted(by_caller.items()):
        actions = {a.action for a in calls}
        if any(a.tagged for a in calls):
            actions.add(TAG_SESSION)
        if any(a.source_identity is not None for a in calls):
            actions.add(SET_SOURCE_IDENTITY)
        conditions: tuple[tuple[str, tuple[str, ...]], ...] = ()
        if kind is CallerKind.AWS:
            given = {a.external_id for a in calls}
            if None not in given:
                conditions = ((EXTERNAL_ID, tuple(sorted(v for v in given if v))),)
        elif kind is CallerKind.WEB_IDENTITY:
            conditions = _web_conditions(caller, calls, notes)
        elif source_account and caller in source_account_services():
            conditions = ((SOURCE_ACCOUNT, (source_account,)),)
            carried.add(SOURCE_ACCOUNT)  # the rule's key: the records cannot tell it
        ours = {key.lower() for key, _ in conditions}
        names = _names_for(calls, current)
        federated = kind in (CallerKind.WEB_IDENTITY, CallerKind.SAML)
        for kept, extra in _carried_alternatives(calls, current, ours, federated=federated):
            carried.update(k for _, k, _ in kept)
            groups[(tuple(sorted(actions | extra)), conditions, kept)].update(names)
    statements = []
    name = "Federated" if kind in (CallerKind.WEB_IDENTITY, CallerKind.SAML) else str(kind)
    for (actions, conditions, kept), callers in sorted(groups.items()):
        listed = sorted(callers)
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": {name: listed[0] if len(listed) == 1 else listed},
            "Action": actions[0] if len(actions) == 1 else list(actions),
        }
        block: dict[str, dict[str, Any]] = {}
        for ours_key, values in conditions:
            block.setdefault("StringEquals", {})[ours_key] = (
                values[0] if len(values) == 1 else list(values)
            )
        for operator, kept_key, values in kept:
            block.setdefault(operator, {})[kept_key] = (
                values[0] if len(values) == 1 else list(values)
            )
        if block:
            statement["Condition"] = block
        statements.append(statement)
    return statements


def _names_for(calls: Sequence[Assumption], current: Mapping[str, Any] | None) -> list[str]:
    """Return what a statement names for one caller: the caller itself; for another account's
    caller known only by its ID, the users and roles of that account today's policy trusts
    (one of them is the caller), else the account."""
    caller = calls[0]
    if caller.resolved or current is None or caller.account is None:
        return [caller.caller]
    named: set[str] = set()
    for statement in statements_of(current):
        if statement.get("Effect") != "Allow" or "NotPrincipal" in statement:
            continue
        for kind, value in _entries(statement):
            if kind == "*" or value == "*":
                return [caller.caller]
            if kind != "AWS":
                continue
            if value in {caller.account, caller.caller}:
                return [caller.caller]  # today's policy trusts the whole account
            if account_of(value) == caller.account and ":iam::" in value:
                named.add(value)
    return sorted(named) or [caller.caller]


def _carried_alternatives(
    calls: Sequence[Assumption],
    current: Mapping[str, Any] | None,
    ours: set[str],
    *,
    federated: bool,
) -> list[tuple[tuple[tuple[str, str, tuple[str, ...]], ...], frozenset[str]]]:
    """Return, per statement of ``current`` (today's policy) that lets one of ``calls`` in, its
    conditions on keys not in ``ours`` and, for a web identity or SAML session, the
    ``sts:TagSession`` / ``sts:SetSourceIdentity`` it allows (their tags and source identity come
    in the token or assertion, which the record does not show). One alternative with no
    condition when none lets them in, or one does without a condition."""
    if current is None:
        return [((), frozenset())]
    found: dict[tuple[tuple[str, str, tuple[str, ...]], ...], set[str]] = {}
    for statement in statements_of(current):
        if statement.get("Effect") != "Allow" or "NotPrincipal" in statement:
            continue
        single = {"Version": POLICY_VERSION, "Statement": [statement]}
        if not any(_lets_in(single, a) for a in calls):
            continue
        kept = tuple(sorted(c for c in _flat_conditions(statement) if c[1].lower() not in ours))
        extra = set()
        if federated:
            extra = {
                action
                for action in (TAG_SESSION, SET_SOURCE_IDENTITY)
                if any(match_action(str(p), action) for p in as_list(statement.get("Action")))
            }
        found.setdefault(kept, set()).update(extra)
    if not found:
        return [((), frozenset())]
    if () in found:
        # Today one statement lets them in without a condition: the others add nothing.
        return [((), frozenset(found[()]))]
    return [(kept, frozenset(extra)) for kept, extra in sorted(found.items())]


def _pins_subject(provider: str) -> bool:
    """Return whether a proposal pins the provider's subject: an IAM OIDC provider's subject
    names a workload (a repository and ref, a Kubernetes service account); the built-in
    providers' (Cognito, Google, Facebook, Amazon) an end user of the application, whom a trust
    policy does not list (IAM User Guide, "Available keys for AWS web identity federation";
    Cognito Developer Guide, "Role trust and permissions": the identity pool's ``aud``)."""
    return ":oidc-provider/" in provider


def _web_conditions(
    provider: str, calls: Sequence[Assumption], notes: list[str]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Return the audience and subject conditions of a web identity provider's calls: the
    values seen, when every call showed them."""
    aud_key, sub_key = web_identity_keys(provider)
    found: list[tuple[str, tuple[str, ...]]] = []
    wanted = [(aud_key, [a.audience for a in calls], "audience")]
    if _pins_subject(provider):
        wanted.append((sub_key, [a.subject for a in calls], "subject"))
    else:
        notes.append(
            f"{provider}: its subjects are the application's end users, not pinned; the "
            f"audience ({aud_key}) confines it"
        )
    for key, values, what in wanted:
        known = sorted({v for v in values if v is not None})
        if len(known) < len(set(values)) or not known:
            notes.append(f"{provider}: a call's {what} is not in its record: no {key} condition")
        else:
            found.append((key, tuple(known)))
    return tuple(found)


def _principal_values(statement: Mapping[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if not isinstance(principal, Mapping):
        return []
    return [str(v) for values in principal.values() for v in as_list(values)]


def _flat_conditions(statement: Mapping[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return []
    found = []
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            continue
        for key, values in block.items():
            found.append((str(operator), str(key), tuple(str(v) for v in as_list(values))))
    return found


# --- the diff against today's trust policy --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrustedEntry:
    """One principal today's trust policy names, and who of the observed callers it let in."""

    statement: int
    sid: str | None
    kind: str  # AWS, Service, Federated, or * for everyone
    value: str
    conditions: tuple[str, ...]
    used_by: tuple[str, ...]
    note: str | None = None  # what makes it wider than its use

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as JSON-ready values."""
        return {
            "statement": self.statement,
            "sid": self.sid,
            "kind": self.kind,
            "value": self.value,
            "conditions": list(self.conditions),
            "used_by": list(self.used_by),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class TrustDiff:
    """Today's trust policy against who assumed the role."""

    role: str
    unused: tuple[TrustedEntry, ...] = ()  # trusted, never used
    wider: tuple[TrustedEntry, ...] = ()  # used, but it trusts more than its users
    untrusted: tuple[TrustRefusal, ...] = ()  # used, though today's policy does not allow it
    attempts: tuple[Assumption, ...] = ()  # refused attempts
    missing: bool = False  # the details hold no trust policy for the role

    def to_dict(self) -> dict[str, Any]:
        """Return the diff as JSON-ready values."""
        return {
            "role": self.role,
            "trusted_unused": [e.to_dict() for e in self.unused],
            "trusted_wider_than_used": [e.to_dict() for e in self.wider],
            "used_not_trusted": [r.to_dict() for r in self.untrusted],
            "refused_attempts": [a.to_dict() for a in self.attempts],
            "trust_policy_missing": self.missing,
        }

    @property
    def empty(self) -> bool:
        """Return whether the diff has nothing to say."""
        return not (self.unused or self.wider or self.untrusted or self.attempts or self.missing)


def trust_diff(
    role: str, current: Mapping[str, Any] | None, assumptions: Sequence[Assumption]
) -> TrustDiff:
    """Return how today's trust policy of ``role`` differs from its observed assumptions:
    principals trusted and never used, trusted more widely than their use (a whole account, a
    ``*``, an OIDC subject pattern), observed assumptions today's policy does not allow (a bug,
    or a change the details do not show), and refused attempts."""
    mine = [a for a in assumptions if a.role == role]
    allowed = [a for a in mine if not a.refused]
    attempts = tuple(a for a in mine if a.refused)
    if current is None:
        return TrustDiff(role, attempts=attempts, missing=True)
    unused: list[TrustedEntry] = []
    wider: list[TrustedEntry] = []
    for index, statement in enumerate(statements_of(current)):
        if statement.get("Effect") != "Allow" or "NotPrincipal" in statement:
            continue
        for kind, value in _entries(statement):
            single = {**statement, "Principal": "*" if kind == "*" else {kind: value}}
            document = {"Version": POLICY_VERSION, "Statement": [single]}
            users = sorted(
                {
                    a.caller if a.kind is not CallerKind.WEB_IDENTITY else f"{a.subject}"
                    for a in allowed
                    if _lets_in(document, a)
                }
                | {
                    # known by its ID only: it may be the user or role this entry names
                    f"a caller of {a.account} known by its ID {a.unique_id}"
                    for a in allowed
                    if not a.resolved
                    and kind == "AWS"
                    and account_of(value) == a.account
                    and ":iam::" in value
                    and not value.endswith(":root")
                }
            )
            entry = TrustedEntry(
                index,
                statement.get("Sid"),
                kind,
                value,
                tuple(_describe(c) for c in _flat_conditions(statement)),
                tuple(users),
            )
            if not users:
                unused.append(entry)
                continue
            note = _wider(kind, value, statement, users, allowed)
            if note is not None:
                wider.append(replace(entry, note=note))
    # Today's policy did allow these calls: where it hinges on what the records cannot tell,
    # that is not a difference. A caller known by its account alone is allowed as any user or
    # role of that account the policy names (check_trust).
    untrusted = check_trust(current, allowed, carried=None)
    return TrustDiff(role, tuple(unused), tuple(wider), tuple(untrusted), attempts)


def _entries(statement: Mapping[str, Any]) -> list[tuple[str, str]]:
    principal = statement.get("Principal")
    if principal == "*":
        return [("*", "*")]
    if not isinstance(principal, Mapping):
        return []
    return [(str(kind), str(v)) for kind, values in principal.items() for v in as_list(values)]


def _lets_in(document: Mapping[str, Any], assumption: Assumption) -> bool:
    """Return whether ``document`` could let ``assumption``'s caller in (allowed, or allowed
    depending on keys the record does not carry)."""
    request = requests_of(assumption, unobservable(document, assumption))[0]
    decision = evaluate_trust(request, document, mode=Mode.THREE_VALUED).decision
    return decision in (Decision.ALLOW, Decision.UNKNOWN)


def _wider(
    kind: str,
    value: str,
    statement: Mapping[str, Any],
    users: Sequence[str],
    allowed: Sequence[Assumption],
) -> str | None:
    """Return what makes a used entry trust more than its users, or None."""
    if kind == "*" or value == "*":
        return f"trusts every principal (with its conditions); used by {', '.join(users)}"
    if kind == "AWS" and (re.fullmatch(r"\d{12}", value) or value.endswith(":root")):
        account = value if value.isdigit() else value.split(":")[4]
        named = [u for u in users if not u.endswith(":root")]
        if named:
            return (
                f"trusts every principal of account {account} that its IAM policies allow; "
                f"used only by {', '.join(named)}"
            )
        return None
    if kind == "Federated" and _oidc(value):
        _, sub_key = web_identity_keys(value)
        subjects = sorted(
            {a.subject for a in allowed if a.caller == value and a.subject is not None}
        )
        conditions = [c for c in _flat_conditions(statement) if c[1].lower() == sub_key.lower()]
        if not conditions:
            return (
                f"no {sub_key} condition: any subject of {provider_host(value)} that passes "
                f"the other conditions may assume it; seen: {', '.join(subjects) or 'none'}"
            )
        patterns = [v for _, _, values in conditions for v in values if "*" in v or "?" in v]
        if patterns:
            return (
                f"{sub_key} allows {', '.join(patterns)}; the subjects seen: "
                f"{', '.join(subjects) or 'none'}"
            )
    return None


def _describe(condition: tuple[str, str, tuple[str, ...]]) -> str:
    operator, key, values = condition
    shown = ", ".join("(given)" if key.lower() == EXTERNAL_ID.lower() else v for v in values)
    return f"{operator} {key} {shown}"


# --- dangerous shapes, whatever the usage ---------------------------------------------------------


def trust_findings(
    role: str, document: Mapping[str, Any] | None, known_accounts: Iterable[str]
) -> list[Finding]:
    """Return the findings on ``role``'s trust policy: ``TRUST_ANYONE`` (high), everyone trusted
    without a condition that confines who; ``TRUST_OIDC_NO_SUBJECT`` (high for GitHub, medium
    else) and ``TRUST_OIDC_NO_AUDIENCE`` (medium; high for Cognito, where the audience is the
    identity pool), an OIDC provider trusted without them; ``TRUST_THIRD_PARTY_NO_EXTERNAL_ID``
    (medium), an account outside ``known_accounts`` (the lake's and the details') trusted without
    ``sts:ExternalId``."""
    if document is None or managed_by_aws(role):
        return []
    mine = set(known_accounts) | {account_of(role) or ""}
    found: list[Finding] = []
    for index, statement in enumerate(statements_of(document)):
        if statement.get("Effect") != "Allow" or "NotPrincipal" in statement:
            continue
        conditions = _flat_conditions(statement)
        keys = {key.lower() for _, key, _ in conditions}
        confined = any(_confines(*condition) for condition in conditions)
        where = {"role": role, "statement": index, "sid": statement.get("Sid")}
        for kind, value in _entries(statement):
            if value == "*" and not confined:
                found.append(
                    Finding(
                        "TRUST_ANYONE",
                        HIGH,
                        (role,),
                        "the trust policy lets any principal of any account assume the role: "
                        "no condition confines who (aws:PrincipalOrgID, aws:PrincipalArn, …)",
                        (
                            {
                                **where,
                                "principal": "*",
                                "conditions": [_describe(c) for c in conditions],
                            },
                        ),
                    )
                )
            elif kind == "Federated" and _oidc(value):
                aud_key, sub_key = web_identity_keys(value)
                host = provider_host(value)
                github = host == GITHUB or host.startswith(GITHUB + "/")  # Enterprise: /<slug>
                on_sub = [c for c in conditions if c[1].lower() == sub_key.lower()]
                if not any(_confines_subject(c, github) for c in on_sub):
                    said = (
                        f"a {sub_key} condition that confines nothing ("
                        + "; ".join(_describe(c) for c in on_sub)
                        + ")"
                        if on_sub
                        else f"no {sub_key} condition"
                    )
                    found.append(
                        Finding(
                            "TRUST_OIDC_NO_SUBJECT",
                            HIGH if github else MEDIUM,
                            (role,),
                            f"the trust policy trusts {host} with {said}: any identity {host} "
                            "issues a token to may assume the role"
                            + (" (any repository on GitHub)" if github else ""),
                            ({**where, "provider": value},),
                        )
                    )
                if aud_key.lower() not in keys:
                    cognito = host == "cognito-identity.amazonaws.com"
                    found.append(
                        Finding(
                            "TRUST_OIDC_NO_AUDIENCE",
                            HIGH if cognito else MEDIUM,
                            (role,),
                            f"the trust policy trusts {host} without a {aud_key} condition"
                            + (": any identity pool of any account" if cognito else ""),
                            ({**where, "provider": value},),
                        )
                    )
            elif kind == "AWS" and value != "*":
                account = value if re.fullmatch(r"\d{12}", value) else account_of(value)
                if account and account not in mine and EXTERNAL_ID.lower() not in keys:
                    found.append(
                        Finding(
                            "TRUST_THIRD_PARTY_NO_EXTERNAL_ID",
                            MEDIUM,
                            (role,),
                            f"the trust policy trusts account {account}, outside the accounts "
                            "this lake and these details cover, without an sts:ExternalId "
                            "condition (the confused deputy)",
                            ({**where, "principal": value},),
                        )
                    )
    return found


def _positive(operator: str) -> bool:
    """Return whether a condition operator confines when its key is absent: not a negated one,
    not ``…IfExists`` ("applies to all condition operators except ...IfExists and Null check":
    IAM User Guide, "Condition operators") and not ``ForAllValues:`` (true when the request has
    no value of the key)."""
    return not (
        _NEGATED.match(operator)
        or operator.endswith("IfExists")
        or operator.startswith("ForAllValues:")
    )


def _confines(operator: str, key: str, values: tuple[str, ...]) -> bool:
    """Return whether a condition confines a ``Principal: "*"`` to some callers: a positive
    operator on a confining key (``CONFINING_KEYS``) whose every value fixes its organization,
    account or principal: ``aws:PrincipalOrgPaths`` as AWS documents it (``o-…/r-…/ou-…/*``),
    an ARN pattern whose account is given, an ``aws:userid`` pattern whose unique ID is."""
    name = key.lower()
    if name not in CONFINING_KEYS or not _positive(operator) or not values:
        return False

    def fixed(text: str) -> bool:
        return bool(text) and "*" not in text and "?" not in text

    for value in values:
        if name in ("aws:principalorgpaths", "aws:sourceorgpaths"):
            ok = fixed(value.split("/", 1)[0])
        elif name in ("aws:principalarn", "aws:sourcearn"):
            parts = value.split(":")
            ok = len(parts) > 5 and (
                bool(re.fullmatch(r"\d{12}", parts[4])) or (not parts[4] and fixed(value))
            )
        elif name == "aws:userid":
            ok = fixed(value.split(":", 1)[0])
        else:
            ok = fixed(value)
        if not ok:
            return False
    return True


def _confines_subject(condition: tuple[str, str, tuple[str, ...]], github: bool) -> bool:
    """Return whether a condition on an OIDC subject confines it: a positive operator, and every
    value fixes something: on GitHub, the owner (``repo:<owner>/…``)."""
    operator, _, values = condition
    if not _positive(operator) or not values:
        return False
    if github:
        return all(re.match(r"repo:[^*?/:]+/", v) for v in values)
    return all(v and not v.startswith(("*", "?")) for v in values)


def _oidc(value: str) -> bool:
    return ":oidc-provider/" in value or value in {
        "cognito-identity.amazonaws.com",
        "accounts.google.com",
        "graph.facebook.com",
        "www.amazon.com",
    }


# --- one role, and every role ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoleTrust:
    """One role: who assumed it, the proposal, and how today's policy differs."""

    role: str
    assumptions: tuple[Assumption, ...]
    proposal: TrustProposal
    current: Mapping[str, Any] | None = None
    diff: TrustDiff | None = None
    findings: tuple[Finding, ...] = ()

    @property
    def slug(self) -> str:
        """Return a file-system-safe name for the role: its proposal folder's
        (``Proposal.slug``: account, path and name)."""
        return Proposal(self.role, "Role", None).slug

    def to_dict(self) -> dict[str, Any]:
        """Return the role's trust as JSON-ready values."""
        return {
            "role": self.role,
            "assumptions": [a.to_dict() for a in self.assumptions],
            "proposal": self.proposal.to_dict(),
            "current": self.current,
            "diff": None if self.diff is None else self.diff.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True, slots=True)
class TrustReport:
    """Every role assumed in the window (and, with details, every role they hold)."""

    roles: tuple[RoleTrust, ...] = ()
    window: Window | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready values."""
        return {
            "window": None if self.window is None else self.window.to_dict(),
            "roles": [r.to_dict() for r in self.roles],
            "notes": list(self.notes),
        }

    def role(self, arn: str) -> RoleTrust | None:
        """Return the trust of the role ``arn``, or None."""
        return next((r for r in self.roles if r.role == arn), None)

    def rows(self) -> list[dict[str, Any]]:
        """Return a row per (role, caller): the table ``trailmin trust`` prints."""
        return [
            {
                "role": a.role,
                "action": a.action,
                "kind": str(a.kind),
                "caller": a.caller,
                "detail": _detail(a),
                "calls": a.calls,
                "refused": a.error_code or "",
                "last_seen": a.last_seen,
            }
            for r in self.roles
            for a in r.assumptions
        ]

    def to_markdown(self, *, level: int = 1, window: bool = True) -> str:
        """Return the report as Markdown: per role, its callers, the proposal, the diff;
        ``level`` is its title's (a section of another report: 2), ``window`` whether to say
        the window under it."""
        lines = ["#" * level + " Who may assume each role", ""]
        if self.window is not None and window:
            lines += [md.text(self.window.sentence()), ""]
        if not self.roles:
            lines.append("No role was assumed in the window.")
        for item in self.roles:
            lines += _role_markdown(item, level + 1)
        lines.extend(f"\n> {md.text(note)}" for note in self.notes)
        return "\n".join(lines) + "\n"


def _detail(a: Assumption) -> str:
    parts = []
    if a.subject is not None:
        parts.append(f"sub {a.subject}")
    if a.audience is not None:
        parts.append(f"aud {a.audience}")
    if a.external_id is not None:
        parts.append("external id given")
    if a.source_identity is not None:
        parts.append(f"source identity {a.source_identity}")
    if a.tagged:
        parts.append("tags")
    if a.unique_id:
        parts.append(f"known by ID {a.unique_id}")
    return "; ".join(parts)


def _role_markdown(item: RoleTrust, level: int = 2) -> list[str]:
    lines = ["#" * level + f" {md.code(item.role)}", ""]
    for a in item.assumptions:
        detail = _detail(a)
        refused = f", refused ({a.error_code})" if a.refused else ""
        lines.append(
            f"- {md.code(a.caller)} ({a.kind}) {a.action}: {a.calls:,} call(s){refused}"
            + (f"; {md.text(detail)}" if detail else "")
        )
    proposal = item.proposal
    lines.append("")
    if proposal.document is None:
        lines.append(f"No trust policy proposed: {md.text(proposal.skipped or '')}.")
    else:
        lines += ["Proposed trust policy:", "", "```json", _dump(proposal.document).rstrip(), "```"]
        if proposal.refusals:
            lines.append(
                "**The replay refuses** "
                + ", ".join(f"{md.code(r.caller)} ({r.action})" for r in proposal.refusals)
            )
        lines.extend(f"- {md.text(note)}" for note in proposal.notes)
    diff = item.diff
    if diff is not None and not diff.empty:
        lines += ["", "Against today's trust policy:"]
        if diff.missing:
            lines.append("- the details hold no trust policy for it")
        for entry in diff.unused:
            lines.append(f"- trusted, never used: {entry.kind} {md.code(entry.value)}")
        for entry in diff.wider:
            lines.append(
                f"- wider than its use: {entry.kind} {md.code(entry.value)}: "
                + md.text(entry.note or "")
            )
        for refusal in diff.untrusted:
            lines.append(
                f"- used but not trusted: {md.code(refusal.caller)} ({refusal.action}, "
                f"{refusal.calls:,} call(s)): a bug, or a path the details do not show"
            )
        for attempt in diff.attempts:
            lines.append(
                f"- refused attempt: {md.code(attempt.caller)} ({attempt.error_code}, "
                f"{attempt.calls:,} call(s))"
            )
    for finding in item.findings:
        lines.append(f"- **{finding.severity}** `{finding.code}`: {md.text(finding.message)}")
    lines.append("")
    return lines


def trust_report(
    assumptions: Sequence[Assumption],
    trust_policies: Mapping[str, Mapping[str, Any] | None] | None = None,
    *,
    known_accounts: Iterable[str] = (),
    window: Window | None = None,
    notes: Sequence[str] = (),
    source_account: bool = False,
) -> TrustReport:
    """Return the trust of every role in ``assumptions`` and, when ``trust_policies`` (today's,
    by role ARN, from the details) are given, of every role they hold: never-assumed roles get
    their diff and findings too."""
    by_role: dict[str, list[Assumption]] = defaultdict(list)
    for a in assumptions:
        by_role[a.role].append(a)
    policies = dict(trust_policies or {})
    accounts = set(known_accounts)
    found = []
    for role in sorted(set(by_role) | set(policies)):
        mine = by_role.get(role, [])
        current = policies.get(role)
        proposal = propose_trust(role, mine, current, source_account=source_account)
        diff = trust_diff(role, current, mine) if role in policies else None
        if diff is not None and managed_by_aws(role):
            diff = None
        findings = tuple(trust_findings(role, current, accounts))
        found.append(RoleTrust(role, tuple(mine), proposal, current, diff, findings))
    return TrustReport(tuple(found), window, tuple(notes))


# --- files ----------------------------------------------------------------------------------------


def render_trust(report: TrustReport, output: str) -> dict[str, str]:
    """Return the files of the trust proposals in ``output`` format (json, terraform,
    cloudformation), by path relative to the proposals folder: ``trust/index.json`` and, per
    role with a proposal, ``trust/<role>/trust-policy.json`` (or ``main.tf``,
    ``template.yaml``)."""
    files = {"trust/index.json": _dump(report.to_dict())}
    for item in report.roles:
        document = item.proposal.document
        if document is None:
            continue
        folder = f"trust/{item.slug}"
        if output == "json":
            files[f"{folder}/trust-policy.json"] = _dump(document)
        elif output == "terraform":
            files[f"{folder}/main.tf"] = _terraform(item.role, document)
        else:
            files[f"{folder}/template.yaml"] = _cloudformation(item.role, document)
    return files


def _terraform(role: str, document: Mapping[str, Any]) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", roles.role_name(role)).lower()
    # HCL reads ${ and %{ as templates: a policy variable in a condition stays literal.
    text = json.dumps(document, indent=2, sort_keys=True).replace("${", "$${").replace("%{", "%%{")
    return (
        f"# The trust policy proposed for {role}.\n"
        f'# Set it on the role: resource "aws_iam_role" "{name}" {{ assume_role_policy = '
        f"local.{name}_assume_role_policy }}\n"
        f"locals {{\n  {name}_assume_role_policy = jsonencode({_indent(text, 2)})\n}}\n"
    )


def _cloudformation(role: str, document: Mapping[str, Any]) -> str:
    import yaml

    body = yaml.safe_dump(
        {"AssumeRolePolicyDocument": json.loads(json.dumps(document))},
        sort_keys=True,
        default_flow_style=False,
    )
    return (
        f"# The trust policy proposed for {role}: the AssumeRolePolicyDocument of the role's\n"
        "# AWS::IAM::Role Properties.\n" + body
    )


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return text.replace("\n", "\n" + pad)


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"


# --- small helpers --------------------------------------------------------------------------------


def _account(arn: str) -> str:
    return account_of(arn) or ""


def _unique_id(principal_id: str | None) -> str | None:
    if not principal_id:
        return None
    head = principal_id.split(":", 1)[0]
    return head if re.fullmatch(r"A[A-Z0-9]{3}[A-Z0-9]{8,}", head) else None


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
