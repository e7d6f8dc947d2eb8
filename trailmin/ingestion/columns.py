"""Decoded CloudTrail records into the lake's Arrow columns (``trailmin.lake.schema``).

Pure: records in, a table out. The hot path of ingest: values that repeat from record to record
(the identity; the call's service, name, region, agent, error) are interned in one pass and
converted once per distinct value; only the per-record values are converted per record. The
permissions column comes from ``trailmin.mapping``, the principal columns from ``principals``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trailmin.ingestion.decode import (
    Record,
    Resource,
    SkippedRecord,
    UserIdentity,
    find_bad_values,
    find_invalid_utf8,
)
from trailmin.ingestion.principals import UNKNOWN, mfa_authenticated, normalize_identity
from trailmin.lake.schema import (
    DICTIONARY_COLUMNS,
    EVENT_SCHEMA,
    PERMISSION_LIST,
    RESOURCE_TYPE,
    TABLE_SCHEMA,
)
from trailmin.mapping.permissions import Call, permissions_column


@dataclass(frozen=True, slots=True)
class Part:
    """The records of one source, to be converted together with others."""

    records: list[Record]
    source: str
    default_account: str | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows converted from several sources, and which source each row came from."""

    table: pa.Table
    part: np.ndarray  # the index in ``parts`` of each row's source
    skipped: list[tuple[int, SkippedRecord]]  # (part index, record) left out


def records_to_table(
    records: list[Record], *, source: str, default_account: str | None = None
) -> tuple[pa.Table, list[SkippedRecord]]:
    """Return the records of one source as a table (see ``parts_to_table``) and those left out."""
    batch = parts_to_table([Part(records, source, default_account)])
    return batch.table, [skipped for _, skipped in batch.skipped]


def parts_to_table(
    parts: list[Part], *, map_permissions: bool = True, latest: datetime | None = None
) -> Batch:
    """Return the records of several sources as one table with ``TABLE_SCHEMA``'s columns.

    Repetitive columns come dictionary-encoded, as ``FILE_SCHEMA`` has them. The two columns
    after ``EVENT_SCHEMA``'s are the lake's partition keys: the account whose trail delivered
    the record (``recipientAccountId``, else the caller's account, else the
    part's ``default_account``) and the UTC day of ``eventTime``. Records whose time cannot be
    read, or that fall before CloudTrail existed or after ``latest`` (the ingest's clock), are
    left out and returned with the reason.

    Hot path, and the reason sources are converted many at a time: CloudTrail writes thousands of
    small files, and each Arrow call has a fixed cost. Values that repeat from record to record
    (the identity; the call's service, name, region, agent, error) are interned and converted
    once per distinct value; only the per-call values are converted per record.
    """
    records = [r for part in parts for r in part.records]
    counts = np.fromiter((len(part.records) for part in parts), dtype=np.int64, count=len(parts))
    part_of = np.repeat(np.arange(len(parts), dtype=np.int32), counts)
    pass_ = _Pass(records)
    times, bad = _event_times(pass_.times, latest)
    bad_values = find_bad_values(
        pass_.calls,
        pass_.identities,
        call_index=pass_.call_index,
        identity_index=pass_.identity_index,
        event_ids=pass_.event_ids,
        resources=pass_.resources,
    )
    not_utf8 = find_invalid_utf8(pass_.request_parameters, pass_.additional_event_data)
    bad = sorted({**dict(bad_values), **dict(not_utf8), **dict(bad)}.items())
    skipped: list[tuple[int, SkippedRecord]] = []
    if bad:
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        for index, reason in bad:
            owner = int(part_of[index])
            local = index - int(starts[owner])
            skipped.append((owner, SkippedRecord(local, f"record {local}: {reason}")))
        keep = np.ones(len(records), dtype=bool)
        keep[[index for index, _ in bad]] = False
        records = [r for r, kept in zip(records, keep, strict=True) if kept]
        part_of = part_of[keep]
        pass_ = _Pass(records)
        times, _ = _event_times(pass_.times, latest)

    columns: dict[str, pa.Array] = {}
    # Dictionary arrays over the distinct values: nothing is copied per record here.
    identity_index = pa.array(pass_.identity_index, pa.int32())
    for name, values in _identity_columns(pass_.identities, pass_.regions).items():
        columns[name] = _spread(name, identity_index, values)
    call_index = pa.array(pass_.call_index, pa.int32())
    for name, values in _call_columns(pass_.calls).items():
        columns[name] = _spread(name, call_index, values)
    event_ids = pass_.event_ids
    if None in event_ids:
        event_ids = [_event_id(r) for r in records]
    columns["event_id"] = pa.array(event_ids, pa.string())
    columns["event_time"] = times
    columns["tls_version"] = pa.array(pass_.tls_versions, pa.string())
    if columns["event_source"].null_count:
        # Insight events name the call they are about in insightDetails, not at the top.
        for name, attribute in (("event_source", "eventSource"), ("event_name", "eventName")):
            columns[name] = pc.coalesce(
                columns[name].cast(pa.string()),
                pa.array(
                    [getattr(r.insightDetails, attribute, None) for r in records], pa.string()
                ),
            ).dictionary_encode()
    columns["request_parameters"] = _raw_column(pass_.request_parameters)
    columns["additional_event_data"] = _raw_column(pass_.additional_event_data)
    columns["resources"] = _resources_column(pass_.resources)
    if map_permissions:
        columns["permissions"] = permissions_column(
            pass_.calls,
            pass_.call_index,
            pass_.request_parameters,
            pass_.resources,
            _logged_arns,
            error_codes=[call.error_code for call in pass_.calls],
            callers=_caller_arns(pass_),
        )
    else:
        columns["permissions"] = pa.nulls(len(records), PERMISSION_LIST)
    part_index = pa.array(part_of, pa.int32())
    columns["source"] = pa.DictionaryArray.from_arrays(
        part_index, pa.array([part.source for part in parts], pa.string())
    )
    arrays = [columns[name] for name in EVENT_SCHEMA.names]
    # The partition: the trail's account, else the caller's, else the one the file is named for;
    # only an account id ever becomes a folder name ("ANONYMOUS_PRINCIPAL" or "../x" never does).
    account = pc.coalesce(
        _account_id(columns["recipient_account_id"].cast(pa.string())),
        _account_id(columns["principal_account_id"].cast(pa.string())),
        _account_id(pa.array([p.default_account for p in parts], pa.string()).take(part_index)),
        pa.scalar("unknown", pa.string()),
    )
    table = pa.Table.from_arrays(
        [*arrays, account, times.cast(pa.date32())], names=TABLE_SCHEMA.names
    )
    return Batch(table=table, part=part_of, skipped=skipped)


def _account_id(values: pa.Array) -> pa.Array:
    """Return ``values`` with anything but a 12-digit account id made null."""
    valid = pc.match_substring_regex(values, r"^[0-9]{12}$")
    return pc.if_else(pc.fill_null(valid, False), values, pa.scalar(None, pa.string()))


def _caller_arns(pass_: _Pass) -> list[str | None]:
    """Return each record's ``userIdentity.arn``: the IAM user a call such as ``GetUser`` without
    a ``UserName`` acts on (IAM API reference)."""
    arns = [ui.arn if ui is not None else None for ui in pass_.identities]
    return [arns[i] for i in pass_.identity_index]


def _logged_arns(resources: list[Resource] | None) -> tuple[str, ...]:
    return tuple(r.ARN for r in resources or () if r.ARN)


class _Pass:
    """The values of a batch of records, gathered in one pass while each record is in cache.

    A session is told by its ARN and access key (its MFA and issuer go with them); an AWS
    service by its name; a failed sign-in without an ARN by its user name. A call is told by the
    fields that repeat from record to record (service, name, region, agent, address, error).
    """

    __slots__ = (
        "additional_event_data",
        "call_index",
        "calls",
        "event_ids",
        "identities",
        "identity_index",
        "regions",
        "request_parameters",
        "resources",
        "times",
        "tls_versions",
    )

    def __init__(self, records: list[Record]) -> None:
        seen: dict[tuple[Any, ...] | None, int] = {}
        identities: list[UserIdentity | None] = []
        regions: list[str | None] = []  # the partition of an ARN-less user or root comes from it
        # Each record's call as a plain tuple of ``Call``'s fields, in their order: a tuple
        # literal costs a third of a named tuple's constructor, paid for every record ingested.
        # Only the distinct calls become ``Call`` values, after the loop.
        calls: dict[tuple[Any, ...], int] = {}
        identity_index: list[int] = []
        call_index: list[int] = []
        event_ids: list[str | None] = []
        times: list[str | None] = []
        tls_versions: list[str | None] = []
        request_parameters: list[msgspec.Raw] = []
        additional_event_data: list[msgspec.Raw] = []
        resources: list[list[Resource] | None] = []
        # Bound methods, looked up once: this loop runs for every record ingested.
        add_identity, add_call = identity_index.append, call_index.append
        add_id, add_time, add_tls = event_ids.append, times.append, tls_versions.append
        add_params, add_data = request_parameters.append, additional_event_data.append
        add_resources = resources.append
        for r in records:
            ui = r.userIdentity
            # Every field the identity columns read: another account's caller has no ARN, only
            # its account and ID; a session's MFA and issuer are in its context.
            key = (
                (
                    ui.arn,
                    ui.accessKeyId,
                    ui.invokedBy,
                    ui.type,
                    ui.userName,
                    ui.principalId,
                    ui.accountId,
                    _context_key(ui.sessionContext),
                )
                if ui
                else None
            )
            found = seen.get(key)
            if found is None:
                found = seen[key] = len(identities)
                identities.append(ui)
                regions.append(r.awsRegion)
            add_identity(found)
            call = (
                r.eventVersion,
                r.eventSource,
                r.eventName,
                r.eventType,
                r.eventCategory,
                r.awsRegion,
                r.recipientAccountId,
                r.userAgent,
                r.sourceIPAddress,
                r.vpcEndpointId,
                r.errorCode,
                r.errorMessage,
                r.readOnly,
                r.managementEvent,
                ui.accountId if ui else None,
            )
            number = calls.get(call)
            if number is None:
                number = calls[call] = len(calls)
            add_call(number)
            add_id(r.eventID)
            add_time(r.eventTime or r.timestamp)
            tls = r.tlsDetails
            add_tls(tls.tlsVersion if tls is not None else None)
            add_params(r.requestParameters)
            add_data(r.additionalEventData)
            add_resources(r.resources)
        self.identities, self.regions = identities, regions
        self.calls = list(map(Call._make, calls))  # in the order of their numbers
        self.identity_index, self.call_index = identity_index, call_index
        self.event_ids, self.times, self.tls_versions = event_ids, times, tls_versions
        self.request_parameters = request_parameters
        self.additional_event_data = additional_event_data
        self.resources = resources


def _spread(name: str, indices: pa.Array, values: pa.Array) -> pa.Array:
    """Return ``values[indices]``: a dictionary array for a dictionary column, else plain."""
    if name not in DICTIONARY_COLUMNS:
        return values.take(indices)
    if values.null_count:
        # Parquet writes a dictionary column only when no dictionary entry is null.
        null_at = pa.array(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False)))
        indices = pc.if_else(
            pc.is_in(indices, value_set=null_at.cast(pa.int32())),
            pa.scalar(None, pa.int32()),
            indices,
        )
        values = values.fill_null(_FILLER[values.type.id])
    return pa.DictionaryArray.from_arrays(indices, values)


_FILLER: dict[int, Any] = {pa.string().id: ""}


_TIMESTAMP = pa.timestamp("us", tz="UTC")
# CloudTrail was launched on 13 November 2013 (AWS What's New, "Announcing AWS CloudTrail"): no
# record of it is older. A record from after the ingest's clock is forged or broken, and one
# would move every "last N days" window past all the real events.
EARLIEST_EVENT = datetime(2013, 11, 13, tzinfo=UTC)


def _event_times(
    times: list[str | None], latest: datetime | None = None
) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Return the records' times as a UTC timestamp array, and those that cannot be read or
    fall outside what CloudTrail can have written (before it existed, after ``latest``)."""
    texts = pa.array(times, pa.string())
    try:
        parsed = texts.cast(_TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        bad: list[tuple[int, str]] = []
        for index, text in enumerate(texts.to_pylist()):
            try:
                pa.array([text], pa.string()).cast(_TIMESTAMP)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                bad.append((index, f"eventTime {text!r} is not an ISO 8601 time with a zone"))
        return texts, bad
    outside = pc.less(parsed, pa.scalar(EARLIEST_EVENT, _TIMESTAMP))
    if latest is not None:
        outside = pc.or_(outside, pc.greater(parsed, pa.scalar(latest, _TIMESTAMP)))
    if not pc.any(outside).as_py():
        return parsed, []
    found = []
    for row in np.flatnonzero(outside.to_numpy(zero_copy_only=False)):
        text = times[row]
        if parsed[row].as_py() < EARLIEST_EVENT:
            found.append(
                (int(row), f"eventTime {text!r} is before CloudTrail existed (2013-11-13)")
            )
        else:
            found.append(
                (
                    int(row),
                    f"eventTime {text!r} is after the time of this ingest "
                    f"({latest:%Y-%m-%d %H:%M}Z, a day of clock skew allowed): not a record "
                    "CloudTrail wrote",
                )
            )
    return parsed, found


def _context_key(context: Any) -> tuple[Any, ...] | None:
    """Return what of a session context the identity columns read: its issuer and its MFA."""
    if context is None:
        return None
    issuer, attributes = context.sessionIssuer, context.attributes
    return (
        None if issuer is None else (issuer.arn, issuer.type),
        None if attributes is None else attributes.mfaAuthenticated,
    )


def _identity_columns(
    identities: list[UserIdentity | None], regions: list[str | None]
) -> dict[str, pa.Array]:
    """Return the identity columns of each distinct identity."""
    principals = [
        normalize_identity(i, region) if i is not None else UNKNOWN
        for i, region in zip(identities, regions, strict=True)
    ]
    string = pa.string()
    return {
        "principal_arn": pa.array([p.arn for p in principals], string),
        "principal_type": pa.array([p.type for p in principals], string),
        "principal_account_id": pa.array([p.account_id for p in principals], string),
        "identity_type": pa.array([i.type if i else None for i in identities], string),
        "identity_arn": pa.array([i.arn if i else None for i in identities], string),
        "principal_id": pa.array([i.principalId if i else None for i in identities], string),
        "session_name": pa.array([p.session_name for p in principals], string),
        "user_name": pa.array([i.userName if i else None for i in identities], string),
        "access_key_id": pa.array(
            [(i.accessKeyId or None) if i else None for i in identities], string
        ),
        "mfa_authenticated": pa.array([mfa_authenticated(i) for i in identities], pa.bool_()),
        "invoked_by": pa.array([i.invokedBy if i else None for i in identities], string),
    }


# The fields of ``Call`` that are lake columns (all but the caller's account), by their names.
_CALL_COLUMNS = tuple(name for name in Call._fields if name in EVENT_SCHEMA.names)


def _call_columns(calls: list[Call]) -> dict[str, pa.Array]:
    """Return the call columns of each distinct call."""
    fields = zip(*calls, strict=True) if calls else [()] * len(Call._fields)
    values = dict(zip(Call._fields, fields, strict=True))  # a field's value in each call
    return {name: pa.array(values[name], EVENT_SCHEMA.field(name).type) for name in _CALL_COLUMNS}


def _raw_column(raws: list[msgspec.Raw]) -> pa.Array:
    """Return raw JSON values as a string array, JSON ``null`` and absent values as nulls."""
    n = len(raws)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, raws), dtype=np.int64, count=n), out=offsets[1:])
    data = b"".join(raws)
    texts = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    texts.validate(full=True)
    texts = texts.cast(pa.string())
    return pc.if_else(pc.equal(texts, "null"), pa.scalar(None, pa.string()), texts)


_RESOURCE_FIELDS = [RESOURCE_TYPE.field(i) for i in range(RESOURCE_TYPE.num_fields)]


def _resources_column(lists: list[list[Resource] | None]) -> pa.Array:
    """Return each record's ``resources`` as a list-of-struct array (null when absent)."""
    n = len(lists)
    if not any(lists):
        return pa.nulls(n, pa.list_(RESOURCE_TYPE))
    flat = [item for items in lists if items for item in items]
    values = pa.StructArray.from_arrays(
        [
            pa.array([x.ARN for x in flat], pa.string()),
            pa.array([x.ARNPrefix for x in flat], pa.string()),
            pa.array([x.type for x in flat], pa.string()),
            pa.array([x.accountId for x in flat], pa.string()),
        ],
        fields=_RESOURCE_FIELDS,
    )
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum([len(items) if items else 0 for items in lists], out=offsets[1:])
    mask = pa.array([not items for items in lists], pa.bool_())
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=mask)


def _event_id(record: Record) -> str:
    if record.eventID:
        return record.eventID
    # Some exports drop eventID; a digest of what identifies the call keeps re-runs idempotent.
    identity = record.userIdentity
    key = "|".join(
        str(part)
        for part in (
            record.eventTime or record.timestamp,
            record.eventSource,
            record.eventName,
            record.requestID,
            identity.arn if identity is not None else None,
            record.sourceIPAddress,
            _raw_text(record.requestParameters),
        )
    )
    return "trailmin-" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def _raw_text(raw: msgspec.Raw) -> str | None:
    data = bytes(raw)
    if data == b"null":
        return None
    return data.decode("utf-8", "replace")
