"""IAM roles whose path or name AWS reserves, and what kind of role an ARN names.

Pure: a role's ARN in (``arn:<partition>:iam::<account>:role/<path/>name``), a value out. What
AWS's documentation says of each kind:

- **Service-linked role** (IAM User Guide, "Using service-linked roles"): "a unique type of IAM
  role that is linked directly to an AWS service. Service-linked roles are predefined by the
  service"; the service defines its trust and permissions policies, and "only the service that
  depends on the service-linked role can modify or delete the role" (IAM API reference,
  UnmodifiableEntityException). IAM creates it under the path ``/aws-service-role/<service
  principal>/`` (IAM API reference, CreateServiceLinkedRole), named ``AWSServiceRoleFor…``.
- **IAM Identity Center role** (IAM Identity Center User Guide, "Referencing permission sets in
  resource policies"): "When you assign a permission set to an AWS account, IAM Identity Center
  creates a role with a name that begins with AWSReservedSSO_", in full
  ``AWSReservedSSO_<permission-set-name>_<unique-suffix>`` (16 hex digits) under the path
  ``/aws-reserved/sso.amazonaws.com/[<region>/]``. Identity Center manages the role; the
  permission set is what a person changes.
- **AWS-reserved role**: any role under ``/aws-reserved/``, the path AWS creates its own roles
  in (Identity Center's above among them). IAM refuses to change one ("Cannot perform the
  operation on the protected role … this role is only modifiable by AWS", AWS Knowledge Center,
  "identity-center-aws-reserved-sso").

A role is told by its name alone where its path may be unknown: an assumed-role ARN in a
CloudTrail record without a session issuer gives the role's name, not its path.
"""

from __future__ import annotations

import re

SERVICE_LINKED_PATH = "/aws-service-role/"
RESERVED_PATH = "/aws-reserved/"
IDENTITY_CENTER_PATH = "/aws-reserved/sso.amazonaws.com/"
IDENTITY_CENTER_PREFIX = "AWSReservedSSO_"
_PERMISSION_SET_ROLE = re.compile(r"AWSReservedSSO_(?P<set>.+)_[0-9a-f]{16}")


def role_path(arn: str) -> str:
    """Return a role ARN's path: ``"/"``, or ``"/a/b/"`` for ``role/a/b/name``."""
    head, _, _ = _path_and_name(arn).rpartition("/")
    return f"/{head}/" if head else "/"


def role_name(arn: str) -> str:
    """Return a role ARN's name, the part after its path."""
    return _path_and_name(arn).rpartition("/")[2]


def is_service_linked(arn: str) -> bool:
    """Return whether ``arn`` names a service-linked role (path ``/aws-service-role/…``)."""
    return role_path(arn).startswith(SERVICE_LINKED_PATH)


def is_aws_reserved(arn: str) -> bool:
    """Return whether ``arn`` names a role under ``/aws-reserved/`` (Identity Center's included)."""
    return role_path(arn).startswith(RESERVED_PATH)


def is_identity_center(arn: str) -> bool:
    """Return whether ``arn`` names an IAM Identity Center role: one named ``AWSReservedSSO_…``.

    Told by the name, which a CloudTrail assumed-role ARN keeps even when its path is unknown.
    """
    return role_name(arn).startswith(IDENTITY_CENTER_PREFIX)


def is_aws_managed(arn: str) -> bool:
    """Return whether only AWS changes the role ``arn`` names: a service-linked role, or an
    AWS-reserved one that is not Identity Center's (whose permission set a person edits)."""
    return is_service_linked(arn) or (is_aws_reserved(arn) and not is_identity_center(arn))


def permission_set(arn: str) -> str | None:
    """Return the name of the permission set whose role ``arn`` names, or None when it names
    no role of that form (``/aws-reserved/sso.amazonaws.com/…/AWSReservedSSO_<set>_<suffix>``).
    """
    if not role_path(arn).startswith(IDENTITY_CENTER_PATH):
        return None
    match = _PERMISSION_SET_ROLE.fullmatch(role_name(arn))
    return match.group("set") if match else None


def role_type(arn: str | None) -> str:
    """Return the ``principal_type`` of a role: ``"ServiceLinkedRole"``,
    ``"IdentityCenterRole"``, or ``"Role"`` (also when the ARN is unknown)."""
    if arn is None:
        return "Role"
    if is_service_linked(arn):
        return "ServiceLinkedRole"
    if is_identity_center(arn):
        return "IdentityCenterRole"
    return "Role"


def _path_and_name(arn: str) -> str:
    """Return what follows ``:role/`` in ``arn`` (all of it when there is none)."""
    return arn.split(":role/", 1)[-1]
