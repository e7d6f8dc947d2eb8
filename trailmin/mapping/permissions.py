"""Event → permissions: the (action, resource) pairs one CloudTrail call needed, and why.

Pure. Combines the action mapping (``actions.py``), the resources of each action
(``resources.py``) and the permissions CloudTrail does not log as calls (``inferred.py``).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import numpy as np
import pyarrow as pa

from trailmin.aws import catalog
from trailmin.aws.partitions import partition_of_region
from trailmin.mapping.actions import (
    VERSION_SUFFIX,
    data_file,
    data_files,
    map_event,
    service_prefix,
)
from trailmin.mapping.inferred import has_inferred, infer, infer_from_error, infers_from_errors
from trailmin.mapping.requests import REFINE_MARKERS, Refiner, caller_events, refiner_for
from trailmin.mapping.resources import Context, Scope, names_parts, scope, scope_of


class Permission(NamedTuple):
    """One (action, resource) pair a call needed, how it was derived, and whether inferred."""

    action: str
    resource: str
    derivation: str
    inferred: bool = False


class Call(NamedTuple):
    """What a CloudTrail record shares with every other record of the same call: the service,
    operation, region, accounts, client and outcome, named as the lake's columns.

    Ingest makes one for each distinct call of a batch; the mapping reads the service, name,
    type, region and ``account`` of it. Every field defaults to None, so a caller that has only
    some of them (a remap of stored rows, a test) names those.
    """

    event_version: str | None = None
    event_source: str | None = None
    event_name: str | None = None
    event_type: str | None = None
    event_category: str | None = None
    aws_region: str | None = None
    recipient_account_id: str | None = None
    user_agent: str | None = None
    source_ip: str | None = None
    vpc_endpoint_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    read_only: bool | None = None
    management_event: bool | None = None
    caller_account_id: str | None = None  # userIdentity.accountId

    @property
    def account(self) -> str | None:
        """The account whose resources the call names without an account (``instance/i-…``):
        the trail's, else the caller's.

        CloudTrail user guide, record contents: ``recipientAccountId`` is absent from older event
        versions, while ``userIdentity.accountId`` names the account that owns the credentials.
        """
        return self.recipient_account_id or self.caller_account_id


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


@dataclass(frozen=True, slots=True)
class _CallPlan:
    """What mapping a kind of event needs, worked out once per kind."""

    status: str
    actions: tuple[str, ...]
    service: str
    event_name: str
    base_name: str  # without an API version suffix, as the inferred table names calls
    special: bool  # a call whose actions apply to different resources (CopyObject, ReEncrypt)
    infers: bool
    error_infers: bool  # an error code can show another permission (NoSuchKey: s3:ListBucket)
    names_parts: bool  # the request can name a part of a logged resource (a table's index)
    refiner: Refiner | None  # actions that depend on the request (versions, transactions)
    refine_marker: bytes | None  # the refiner matters only when the raw request holds this
    uses_caller: bool  # the call can act on its caller (iam:GetUser without a UserName)

    def needs_params(self, raw: bytes) -> bool:
        """Return whether this record's permissions depend on its request parameters."""
        if self.infers or self.names_parts:
            return True
        if self.refiner is None:
            return False
        return self.refine_marker is None or self.refine_marker in raw


@functools.cache
def _call_plan(event_source: str, event_name: str, event_type: str | None) -> _CallPlan:
    mapped = map_event(event_source, event_name, event_type)
    service = service_prefix(event_source)
    base = _base_name(event_name)
    return _CallPlan(
        status=mapped.status,
        actions=mapped.actions,
        service=service,
        event_name=event_name,
        base_name=base,
        special=(service, event_name) in _SPECIAL,
        infers=has_inferred(service, base),
        error_infers=infers_from_errors(service, base),
        names_parts=any(names_parts(a) for a in mapped.actions),
        refiner=refiner_for(service, base),
        refine_marker=REFINE_MARKERS.get((service, base)),
        uses_caller=(service, base) in caller_events(),
    )


_SPECIAL = frozenset({("s3", "CopyObject"), ("s3", "UploadPartCopy"), ("kms", "ReEncrypt")})


def event_permissions(
    event_source: str,
    event_name: str,
    event_type: str | None,
    ctx: Context,
    *,
    error_code: str | None = None,
) -> tuple[Permission, ...]:
    """Return the permissions an event needed, sorted; empty when it needs none or is unmapped.

    ``error_code`` is the record's: some show a permission besides the call's own.
    """
    return _permissions(_call_plan(event_source, event_name, event_type), ctx, error_code)


def _permissions(
    plan: _CallPlan, ctx: Context, error_code: str | None = None
) -> tuple[Permission, ...]:
    if not plan.actions:
        return ()
    found: list[Permission] = []
    if plan.refiner is not None:
        pairs = plan.refiner(plan.actions, ctx)
    else:
        pairs = [(action, ctx) for action in plan.actions]
    for action, refined in pairs:
        context = (
            _contexts(plan.service, plan.event_name, action, refined) if plan.special else refined
        )
        scoped = scope(action, context)
        derivation = f"{plan.status}; {scoped.derivation}"
        found.extend(Permission(scoped.action, arn, derivation) for arn in scoped.resources)
    if plan.infers:
        for extra in infer(plan.service, plan.base_name, ctx):
            found.extend(
                Permission(extra.action, arn, extra.derivation, inferred=True)
                for arn in extra.resources
            )
    if plan.error_infers and error_code:
        for extra in infer_from_error(plan.service, plan.base_name, error_code, ctx):
            found.extend(
                Permission(extra.action, arn, extra.derivation, inferred=True)
                for arn in extra.resources
            )
    if len(found) == 1:
        return (found[0],)
    return tuple(sorted(set(found)))


def _base_name(event_name: str) -> str:
    """Return the operation's name without an API version suffix (CreateFunction20150331).

    Only a version suffix is taken off: DeleteObjects is not DeleteObject.
    """
    match = VERSION_SUFFIX.match(event_name)
    return match.group("name") if match else event_name


# --- many events at once: the lake's permissions column -----------------------------------------

_DECODE = msgspec.json.Decoder()


NULLS = (b"null", "null")


def decode_request(raw: Any) -> dict[str, Any]:
    """Return request parameters (raw JSON: msgspec.Raw, bytes or str) as a dict; ``{}`` for
    none, ``null`` or JSON that is not an object."""
    if raw is None or (len(raw) == 4 and (raw if isinstance(raw, str) else bytes(raw)) in NULLS):
        return {}
    try:
        value = _DECODE.decode(raw)
    except (msgspec.DecodeError, RecursionError):  # not JSON, or nested past any real request
        return {}
    return value if isinstance(value, dict) else {}


@functools.cache
def _fixed(
    event_source: str, event_name: str, event_type: str | None
) -> tuple[Permission, ...] | None:
    """Return the permissions of a kind of event when they do not depend on the record, else None.

    They do not when no action takes a resource and no role can be passed: then every event of
    the kind needed the same ``(action, "*")`` pairs.
    """
    mapped = map_event(event_source, event_name, event_type)
    service = service_prefix(event_source)
    if mapped.actions and any(not _takes_no_resource(a) for a in mapped.actions):
        return None
    base = _base_name(event_name)
    if has_inferred(service, base) or refiner_for(service, base) is not None:
        return None
    if infers_from_errors(service, base):
        return None
    return event_permissions(event_source, event_name, event_type, Context("aws", "", "", {}, ()))


def _takes_no_resource(action: str) -> bool:
    found = catalog.action(action)
    return found is not None and found.takes_no_resource


def _raw_bytes(raw: Any) -> bytes:
    """Return raw request parameters (msgspec.Raw, bytes, str or None) as bytes, for a key."""
    if raw is None:
        return b""
    if isinstance(raw, str):
        return raw.encode()
    return bytes(raw)


def _logged_permissions(
    plan: _CallPlan,
    region: str | None,
    account: str | None,
    logged: tuple[str, ...],
    error_code: str | None = None,
) -> tuple[Permission, ...] | None:
    """Return the permissions when what CloudTrail logged settles them, else None.

    It often does (S3 objects, KMS keys), and then the request parameters need not be decoded.
    """
    context = Context(partition_of_region(region), region or "", account or "", {}, logged)
    found = _permissions(plan, context, error_code)
    return None if any(scope_of(p.derivation) is Scope.UNSCOPED for p in found) else found


def _record_permissions(
    plan: _CallPlan,
    region: str | None,
    account: str | None,
    params: Any,
    logged: tuple[str, ...],
    error_code: str | None = None,
    caller: str = "",
) -> tuple[Permission, ...]:
    if logged and not plan.needs_params(_raw_bytes(params)):
        found = _logged_permissions(plan, region, account, logged, error_code)
        if found is not None:
            return found
    partition = partition_of_region(region)
    context = Context(
        partition, region or "", account or "", decode_request(params), logged, caller
    )
    return _permissions(plan, context, error_code)


@functools.cache
def mapping_version() -> str:
    """Return a name for the mapping in force: the catalog's version and a digest of the
    tables and modules that decide the permissions column (not those read only afterwards,
    such as the error-code and data-event tables)."""
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(set(data_files()) - AFTER_MAPPING_TABLES):
        digest.update(name.encode())
        digest.update(data_file(name).encode())
    for module in sorted(Path(__file__).parent.glob("*.py")):
        if module.name in AFTER_MAPPING_MODULES:
            continue
        digest.update(module.name.encode())
        digest.update(module.read_bytes())
    return f"{catalog.catalog_version()}; tables {digest.hexdigest()}"


# Read after the permissions column is filled: a change to them does not make a lake stale.
AFTER_MAPPING_TABLES = frozenset({"error_codes.csv", "data_events.csv", "root_tasks.csv"})
AFTER_MAPPING_MODULES = frozenset({"outcomes.py", "report.py", "__init__.py"})


def permissions_column(
    calls: list[Call],
    call_index: list[int],
    params: list[Any],
    resources: list[Any],
    arns_of: Callable[[Any], tuple[str, ...]],
    *,
    error_codes: list[str | None] | None = None,
    callers: list[str | None] | None = None,
) -> pa.Array:
    """Return the permissions of a batch of records as a list-of-struct array, the struct's
    fields ``Permission``'s (the lake's ``permissions`` column, ``trailmin.lake.schema``).

    ``calls`` are the batch's distinct calls and ``call_index`` each record's number in them;
    ``error_codes``, when given, each call's error code (a ``NoSuchKey`` shows
    ``s3:ListBucket``: ``data/error_inferred.csv``); ``params`` and ``resources`` are each
    record's raw request parameters and logged resources, whose ARNs ``arns_of`` returns. Kinds
    of event whose permissions do not depend on the record are worked out once; the others once
    a record. ``callers``, when given, are each record's
    ``userIdentity.arn``: a call that can act on its caller (``iam:GetUser`` without a
    ``UserName``: ``data/caller_user.csv``) acted on that IAM user.
    """
    events = [(c.event_source or "", c.event_name or "", c.event_type) for c in calls]
    places = [(c.aws_region, c.account) for c in calls]
    fixed = [_fixed(*event) for event in events]
    plans = [_call_plan(*event) for event in events]
    # What a record's permissions depend on: its kind of call (source, name, type, region,
    # account, and the error code where it can show a permission besides the call's own), what
    # CloudTrail logged, and, when that does not settle it, its parameters. Records that agree
    # on these share a result: a role reading one table all day maps once.
    given = error_codes if error_codes is not None else [None] * len(calls)
    errors = [code if plan.error_infers else None for code, plan in zip(given, plans, strict=True)]
    kinds: dict[tuple[Any, ...], int] = {}
    kind_of = [
        kinds.setdefault((*event, *place, error), len(kinds))
        for event, place, error in zip(events, places, errors, strict=True)
    ]
    by_logged: dict[tuple[int, tuple[str, ...]], tuple[Permission, ...] | None] = {}
    by_params: dict[tuple[int, tuple[str, ...], bytes, str], tuple[Permission, ...]] = {}
    seen: dict[tuple[Permission, ...], int] = {}
    distinct: list[tuple[Permission, ...]] = []
    by_call: dict[int, int] = {}
    index: list[int] = []
    for record, call in enumerate(call_index):
        known = by_call.get(call)
        if known is not None:
            index.append(known)
            continue
        permissions = fixed[call]
        if permissions is None:
            region, account = places[call]
            plan = plans[call]
            kind = kind_of[call]
            logged = arns_of(resources[record])
            raw = params[record]
            text = _raw_bytes(raw)
            if logged and not plan.needs_params(text):
                if (kind, logged) in by_logged:
                    permissions = by_logged[kind, logged]
                else:
                    permissions = _logged_permissions(plan, region, account, logged, errors[call])
                    by_logged[kind, logged] = permissions
            if permissions is None:
                caller = (callers[record] or "") if callers and plan.uses_caller else ""
                permissions = by_params.get((kind, logged, text, caller))
                if permissions is None:
                    permissions = _record_permissions(
                        plan, region, account, raw, logged, errors[call], caller
                    )
                    by_params[kind, logged, text, caller] = permissions
        number = seen.get(permissions)
        if number is None:
            number = seen[permissions] = len(distinct)
            distinct.append(permissions)
        if fixed[call] is not None:
            by_call[call] = number
        index.append(number)
    flat = [p for permissions in distinct for p in permissions]
    values = pa.StructArray.from_arrays(
        [
            pa.array([p.action for p in flat], pa.string()),
            pa.array([p.resource for p in flat], pa.string()),
            pa.array([p.derivation for p in flat], pa.string()),
            pa.array([p.inferred for p in flat], pa.bool_()),
        ],
        names=list(Permission._fields),
    )
    offsets = np.zeros(len(distinct) + 1, dtype=np.int32)
    np.cumsum([len(p) for p in distinct], out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    return lists.take(pa.array(index, pa.int32()))


# The columns a remap keys calls on, as ingest keys them (ingestion/columns.py): the trail's
# account, else the caller's; the error code, which can show a permission besides the call's own
# (NoSuchKey: s3:ListBucket).
_CALL_COLUMNS = (
    "event_source",
    "event_name",
    "event_type",
    "aws_region",
    "recipient_account_id",
    "principal_account_id",
    "error_code",
)


def refill_permissions(table: pa.Table) -> pa.Table:
    """Return ``table`` (the lake's rows) with its ``permissions`` filled again from its other
    columns by the mapping in force (what ``trailmin.remap`` writes back)."""
    calls: dict[Call, int] = {}
    index = [
        calls.setdefault(
            Call(
                event_source=source,
                event_name=name,
                event_type=kind,
                aws_region=region,
                recipient_account_id=account,
                caller_account_id=caller,
                error_code=error,
            ),
            len(calls),
        )
        for source, name, kind, region, account, caller, error in zip(
            *(table[c].to_pylist() for c in _CALL_COLUMNS), strict=True
        )
    ]
    permissions = permissions_column(
        list(calls),
        index,
        table["request_parameters"].to_pylist(),
        table["resources"].to_pylist(),
        stored_arns,
        error_codes=[call.error_code for call in calls],
        callers=table["identity_arn"].to_pylist(),
    )
    position = table.schema.get_field_index("permissions")
    return table.set_column(position, "permissions", permissions)


def stored_arns(resources: list[dict[str, Any]] | None) -> tuple[str, ...]:
    """Return the ARNs of a stored row's ``resources`` (the lake's list of structs)."""
    return tuple(r["arn"] for r in resources or () if r.get("arn"))
