"""Event → permissions: the (action, resource) pairs one CloudTrail call needed, and why.

Pure. Combines the action mapping (``actions.py``), the resources of each action
(``resources.py``) and the permissions CloudTrail does not log as calls (``inferred.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trailmin.mapping.actions import map_event, service_prefix
from trailmin.mapping.inferred import infer
from trailmin.mapping.resources import Context, scope


@dataclass(frozen=True, slots=True)
class Permission:
    """One (action, resource) pair a call needed, how it was derived, and whether inferred."""

    action: str
    resource: str
    derivation: str
    inferred: bool = False


def _copy_source(params: dict[str, Any]) -> dict[str, Any] | None:
    """Return the bucket and key a CopyObject / UploadPartCopy read from, as parameters."""
    source = params.get("x-amz-copy-source") or params.get("copySource")
    if not isinstance(source, str) or "/" not in source:
        return None
    bucket, _, key = source.lstrip("/").partition("/")
    key = key.split("?versionId=", 1)[0]
    return {"bucketName": bucket, "key": key}


def _contexts(service: str, event_name: str, action: str, ctx: Context) -> Context:
    """Return the context one action of a multi-resource call is scoped in."""
    if service == "s3" and event_name in {"CopyObject", "UploadPartCopy"}:
        if action == "s3:GetObject":
            source = _copy_source(ctx.params)
            if source is None:
                return Context(ctx.partition, ctx.region, ctx.account, {}, ())
            arn = f"arn:{ctx.partition}:s3:::{source['bucketName']}/{source['key']}"
            return Context(ctx.partition, ctx.region, ctx.account, source, (arn,))
        destination = ctx.params
        arn = f"arn:{ctx.partition}:s3:::{destination.get('bucketName')}/{destination.get('key')}"
        return Context(ctx.partition, ctx.region, ctx.account, destination, (arn,))
    if service == "kms" and event_name == "ReEncrypt":
        parameter = "sourceKeyId" if action == "kms:ReEncryptFrom" else "destinationKeyId"
        key = ctx.params.get(parameter)
        params = {"keyId": key} if isinstance(key, str) else {}
        logged = tuple(a for a in ctx.logged if isinstance(key, str) and a.endswith(key))
        return Context(ctx.partition, ctx.region, ctx.account, params, logged)
    return ctx


def event_permissions(
    event_source: str, event_name: str, event_type: str | None, ctx: Context
) -> tuple[Permission, ...]:
    """Return the permissions an event needed, sorted; empty when it needs none or is unmapped."""
    mapped = map_event(event_source, event_name, event_type)
    if not mapped.actions:
        return ()
    service = service_prefix(event_source)
    found: set[Permission] = set()
    for action in mapped.actions:
        scoped = scope(action, _contexts(service, event_name, action, ctx))
        derivation = f"{mapped.status}; {scoped.derivation}"
        found.update(Permission(scoped.action, arn, derivation) for arn in scoped.resources)
    for extra in infer(service, _base_name(event_name, mapped.actions), ctx):
        found.update(
            Permission(extra.action, arn, extra.derivation, inferred=True)
            for arn in extra.resources
        )
    return tuple(sorted(found, key=lambda p: (p.action, p.resource, p.inferred)))


def _base_name(event_name: str, actions: tuple[str, ...]) -> str:
    """Return the operation's name without an API version suffix (CreateFunction20150331)."""
    for action in actions:
        name = action.split(":", 1)[1]
        if event_name.startswith(name) and event_name != name:
            return name
    return event_name
