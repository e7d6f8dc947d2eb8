"""Who a CloudTrail record's ``userIdentity`` says acted: the principal holding the permissions
the call used, its kind, and the session or person apart from it.

Pure: a decoded ``userIdentity`` in, a ``Principal`` out. The rules follow the CloudTrail user
guide ("CloudTrail userIdentity element") and DESIGN section 2: an assumed-role session is its
role's; a federated user is the IAM user that called GetFederationToken; an AWS service or another
account is kept apart from the principals a policy is written for.

Centralized root access (IAM user guide, "Track privileged tasks in AWS CloudTrail"): the
``sts:AssumeRoot`` call is the caller's (an ``AssumedRole`` or ``IAMUser`` of the management or
delegated administrator account, whose ``sessionContext`` may say ``assumedRoot: "true"``: still
the caller's call), and the calls of the session it opens are ``Root`` of the member account,
whose permissions (cut down by the task policy) they use, with a temporary key. The session's
records do not name who opened it: ``trailmin.query.audit.root_calls_sql`` pairs them with the
AssumeRoot call.
"""

from __future__ import annotations

from dataclasses import dataclass

from trailmin.aws import roles
from trailmin.aws.partitions import partition_of_region
from trailmin.ingestion.decode import UserIdentity

# principal_type values: what kind of identity holds the permissions used by the call.
PRINCIPAL_TYPES = (
    "IAMUser",
    "Role",
    "IdentityCenterRole",
    "ServiceLinkedRole",
    "Root",
    "FederatedUser",
    "AWSService",
    "AWSAccount",
    "SAMLUser",
    "WebIdentityUser",
    "Unknown",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who holds the permissions a call used, and how it appeared in the record."""

    arn: str | None
    type: str
    account_id: str | None
    session_name: str | None


UNKNOWN = Principal(None, "Unknown", None, None)


def normalize_identity(identity: UserIdentity | None, region: str | None = None) -> Principal:
    """Return the principal holding the permissions for a record's ``userIdentity``.

    An assumed-role session is attributed to its role (with its path, from the session issuer)
    and keeps the session name apart; Identity Center and service-linked roles are told apart
    from other roles by their reserved paths and names (``trailmin.aws.roles``). ``region``, the
    record's, gives the partition of an ARN the record leaves out.
    """
    if identity is None:
        return UNKNOWN
    kind = identity.type
    arn = identity.arn
    account = identity.accountId
    context = identity.sessionContext
    issuer = context.sessionIssuer if context is not None else None
    if kind == "IAMUser":
        if arn is None and identity.userName and account:
            arn = f"arn:{partition_of_region(region)}:iam::{account}:user/{identity.userName}"
        return Principal(arn, "IAMUser", account, None)
    if kind == "AssumedRole":
        session = arn.rsplit("/", 1)[1] if arn and arn.count("/") >= 2 else None
        role_arn = issuer.arn if issuer is not None and issuer.type == "Role" else None
        if role_arn is None and arn and ":assumed-role/" in arn:
            # No issuer in the record (old or trimmed events): the role's path cannot be known.
            head, _, rest = arn.partition(":assumed-role/")
            role_arn = head.replace(":sts:", ":iam:", 1) + ":role/" + rest.split("/", 1)[0]
        return Principal(role_arn, roles.role_type(role_arn), account, session)
    if kind == "Root":
        if arn is None and account:
            arn = f"arn:{partition_of_region(region)}:iam::{account}:root"
        return Principal(arn, "Root", account, None)
    if kind == "FederatedUser":
        session = arn.rsplit("/", 1)[1] if arn and "/" in arn else None
        holder = issuer.arn if issuer is not None and issuer.arn else arn
        return Principal(holder, "FederatedUser", account, session)
    if kind == "AWSAccount":
        holder = f"arn:{_arn_partition(arn, region)}:iam::{account}:root" if account else arn
        return Principal(holder, "AWSAccount", account, None)
    if kind == "AWSService" or (kind is None and identity.invokedBy):
        return Principal(identity.invokedBy, "AWSService", account, None)
    if kind == "SAMLUser":
        return Principal(arn, "SAMLUser", account, identity.userName)
    if kind == "WebIdentityUser":
        return Principal(arn, "WebIdentityUser", account, identity.userName)
    return Principal(arn, "Unknown", account, identity.userName)


def mfa_authenticated(identity: UserIdentity | None) -> bool | None:
    """Return whether the session signed in with MFA (``sessionContext.attributes``), None
    when the record does not say."""
    if identity is None or identity.sessionContext is None:
        return None
    attributes = identity.sessionContext.attributes
    if attributes is None or attributes.mfaAuthenticated is None:
        return None
    value = attributes.mfaAuthenticated
    return value if isinstance(value, bool) else value.lower() == "true"


def _arn_partition(arn: str | None, region: str | None) -> str:
    if arn and arn.startswith("arn:"):
        return arn.split(":", 2)[1]
    return partition_of_region(region)
