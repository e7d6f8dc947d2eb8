"""What each principal holds today, from ``iam:GetAccountAuthorizationDetails``.

Pure: ``parse_authorization_details`` takes that call's output (pages merged, as
``aws iam get-account-authorization-details`` prints it, or as ``trailmin.iam.fetch`` fetches it)
and returns, per user and role, the identity policies that apply (its own inline and attached
managed policies and, for a user, those of its groups) and its permissions boundary; and, for the
checklist (``trailmin.iam.audit``), each group with its members and each managed policy with its
attachment counts and creation date. Policy documents may come as objects or URL-encoded JSON
text (the raw API's form); both are read.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from trailmin.errors import UsageError


@dataclass(frozen=True, slots=True)
class HeldPolicy:
    """One policy a principal holds, and where it comes from."""

    name: str  # the policy's name, or ARN for a managed policy
    kind: str  # "inline", "managed", "aws-managed", "group-inline", "group-managed", …
    document: Mapping[str, Any] | None  # None when the details lack it
    via: str | None = None  # the group it comes through

    @property
    def aws_managed(self) -> bool:
        """Return whether AWS owns the policy (arn:…:iam::aws:policy/…)."""
        return ":iam::aws:policy/" in self.name


@dataclass(frozen=True, slots=True)
class Holdings:
    """The identity policies and the permissions boundary of one user or role."""

    arn: str
    kind: str  # "user" or "role"
    name: str
    path: str
    policies: tuple[HeldPolicy, ...]
    boundary: HeldPolicy | None = None
    groups: tuple[str, ...] = ()
    unique_id: str = ""  # AIDA… or AROA…: the principal ID in CloudTrail records, path or not
    last_used: datetime | None = None  # a role's RoleLastUsed.LastUsedDate
    trust: Mapping[str, Any] | None = None  # a role's trust policy (AssumeRolePolicyDocument)
    created: datetime | None = None  # CreateDate

    def documents(self) -> list[Mapping[str, Any]]:
        """Return the identity policy documents (those the details hold)."""
        return [p.document for p in self.policies if p.document is not None]

    @property
    def missing(self) -> tuple[str, ...]:
        """Return the policies whose documents the details did not include."""
        found = [p.name for p in self.policies if p.document is None]
        if self.boundary is not None and self.boundary.document is None:
            found.append(self.boundary.name)
        return tuple(found)


@dataclass(frozen=True, slots=True)
class Group:
    """One group of ``GroupDetailList``: its policies, and its members (the users whose
    ``GroupList`` names it: the group's own entry does not list them)."""

    name: str
    arn: str
    policies: tuple[HeldPolicy, ...]
    members: tuple[str, ...] = ()  # user ARNs
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    """One managed policy of ``Policies``: where it is used, as IAM counts it."""

    arn: str
    name: str
    attachments: int | None  # AttachmentCount: users, groups and roles it is attached to
    boundary_uses: int | None  # PermissionsBoundaryUsageCount
    attachable: bool  # IsAttachable
    created: datetime | None = None

    @property
    def aws_managed(self) -> bool:
        """Return whether AWS owns the policy (arn:…:iam::aws:policy/…)."""
        return ":iam::aws:policy/" in self.arn


@dataclass(frozen=True, slots=True)
class AuthorizationDetails:
    """Every user's and role's holdings, by ARN; the groups by name and the managed policies by
    ARN; and ``listed``, which of the four lists the details hold (a group is empty only when
    the users were listed)."""

    principals: Mapping[str, Holdings] = field(default_factory=dict)
    managed: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # ARN -> document
    groups: Mapping[str, Group] = field(default_factory=dict)
    policies: Mapping[str, ManagedPolicy] = field(default_factory=dict)
    listed: frozenset[str] = frozenset()

    def holdings(self, arn: str) -> Holdings | None:
        """Return what the user or role ``arn`` holds, or None when the details lack it."""
        return self.principals.get(arn)


def document_of(value: Any) -> Mapping[str, Any] | None:
    """Return a policy document given as an object or as (URL-encoded) JSON text."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        text = urllib.parse.unquote(value) if value.lstrip().startswith("%") else value
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            try:
                parsed = json.loads(urllib.parse.unquote(value))
            except json.JSONDecodeError:
                return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


def parse_authorization_details(data: Any, source: str = "the details") -> AuthorizationDetails:
    """Return the holdings in ``GetAccountAuthorizationDetails`` output."""
    if not isinstance(data, Mapping) or not any(
        key in data for key in ("UserDetailList", "RoleDetailList", "GroupDetailList", "Policies")
    ):
        raise UsageError(
            f"{source} is not GetAccountAuthorizationDetails output; create it with "
            "`aws iam get-account-authorization-details > auth.json`"
        )
    managed: dict[str, Mapping[str, Any]] = {}
    policies: dict[str, ManagedPolicy] = {}
    for policy in _list(data.get("Policies")):
        arn = policy.get("Arn")
        default = policy.get("DefaultVersionId")
        if isinstance(arn, str) and arn:
            policies[arn] = ManagedPolicy(
                arn=arn,
                name=str(policy.get("PolicyName") or arn.rsplit("/", 1)[-1]),
                attachments=_count(policy.get("AttachmentCount")),
                boundary_uses=_count(policy.get("PermissionsBoundaryUsageCount")),
                attachable=policy.get("IsAttachable") is not False,
                created=iam_time(policy.get("CreateDate")),
            )
        for version in _list(policy.get("PolicyVersionList")):
            if version.get("IsDefaultVersion") or version.get("VersionId") == default:
                document = document_of(version.get("Document"))
                if arn and document is not None:
                    managed[arn] = document
    groups: dict[str, list[HeldPolicy]] = {}
    group_entries: dict[str, Mapping[str, Any]] = {}
    for group in _list(data.get("GroupDetailList")):
        name = group.get("GroupName", "")
        held = [
            HeldPolicy(
                p.get("PolicyName", ""), "group-inline", document_of(p.get("PolicyDocument")), name
            )
            for p in _list(group.get("GroupPolicyList"))
        ]
        held += [
            _managed(p.get("PolicyArn", ""), managed, "group-managed", name)
            for p in _list(group.get("AttachedManagedPolicies"))
        ]
        groups[name] = held
        group_entries[name] = group
    principals: dict[str, Holdings] = {}
    for user in _list(data.get("UserDetailList")):
        held = [
            HeldPolicy(p.get("PolicyName", ""), "inline", document_of(p.get("PolicyDocument")))
            for p in _list(user.get("UserPolicyList"))
        ]
        held += [
            _managed(p.get("PolicyArn", ""), managed, "managed")
            for p in _list(user.get("AttachedManagedPolicies"))
        ]
        listed = user.get("GroupList")
        member_of = (
            tuple(g for g in listed if isinstance(g, str)) if isinstance(listed, list) else ()
        )
        for group_name in member_of:
            held += groups.get(group_name, [])
        principals[user["Arn"]] = Holdings(
            arn=user["Arn"],
            kind="user",
            name=user.get("UserName", ""),
            path=user.get("Path", "/"),
            policies=tuple(held),
            boundary=_boundary(user, managed),
            groups=member_of,
            unique_id=str(user.get("UserId", "")),
            created=iam_time(user.get("CreateDate")),
        )
    for role in _list(data.get("RoleDetailList")):
        held = [
            HeldPolicy(p.get("PolicyName", ""), "inline", document_of(p.get("PolicyDocument")))
            for p in _list(role.get("RolePolicyList"))
        ]
        held += [
            _managed(p.get("PolicyArn", ""), managed, "managed")
            for p in _list(role.get("AttachedManagedPolicies"))
        ]
        principals[role["Arn"]] = Holdings(
            arn=role["Arn"],
            kind="role",
            name=role.get("RoleName", ""),
            path=role.get("Path", "/"),
            policies=tuple(held),
            boundary=_boundary(role, managed),
            unique_id=str(role.get("RoleId", "")),
            last_used=iam_time((role.get("RoleLastUsed") or {}).get("LastUsedDate")),
            trust=document_of(role.get("AssumeRolePolicyDocument")),
            created=iam_time(role.get("CreateDate")),
        )
    members: dict[str, list[str]] = {name: [] for name in groups}
    for holding in principals.values():
        for group_name in holding.groups:
            members.setdefault(group_name, []).append(holding.arn)
    return AuthorizationDetails(
        principals,
        managed,
        groups={
            name: Group(
                name=name,
                arn=str(entry.get("Arn", "")),
                policies=tuple(groups[name]),
                members=tuple(sorted(members[name])),
                created=iam_time(entry.get("CreateDate")),
            )
            for name, entry in group_entries.items()
        },
        policies=policies,
        listed=frozenset(
            key
            for key in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
            if isinstance(data.get(key), list)
        ),
    )


def iam_time(value: Any) -> datetime | None:
    """Return an IAM date (a datetime from boto3, ISO 8601 text from the CLI or a credential
    report) in UTC, or None for anything else (``N/A``, ``no_information``, …)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def merge_pages(pages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return the pages of ``GetAccountAuthorizationDetails`` as one document."""
    merged: dict[str, Any] = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
    }
    for page in pages:
        for key, items in merged.items():
            items.extend(page.get(key, []))
    return merged


def _managed(
    arn: str, managed: Mapping[str, Mapping[str, Any]], kind: str, via: str | None = None
) -> HeldPolicy:
    if ":iam::aws:policy/" in arn:
        kind = kind.replace("managed", "aws-managed")
    return HeldPolicy(arn, kind, managed.get(arn), via)


def _boundary(
    entity: Mapping[str, Any], managed: Mapping[str, Mapping[str, Any]]
) -> HeldPolicy | None:
    boundary = entity.get("PermissionsBoundary")
    if not isinstance(boundary, Mapping) or not boundary.get("PermissionsBoundaryArn"):
        return None
    return _managed(str(boundary["PermissionsBoundaryArn"]), managed, "boundary")


def _count(value: Any) -> int | None:
    """Return a count of the details (``AttachmentCount``…), or None when it is not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _list(value: Any) -> list[Any]:
    """Return the objects of a list in the details (anything else is left out)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
