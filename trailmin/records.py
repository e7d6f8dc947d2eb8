"""CloudTrail records: decoding bytes into typed structs and normalizing them into lake columns.

Pure: functions take bytes and values and return values. The shapes accepted are

- a delivery file, ``{"Records": [...]}``, as CloudTrail writes to S3 (gzipped or not);
- JSON lines, one record a line, bare or inside the wrappers log forwarders add
  (EventBridge ``detail``, CloudWatch Logs ``message`` / ``logEvents``, extra keys beside it);
- the output of ``aws cloudtrail lookup-events`` (records inside the ``CloudTrailEvent`` string);
- a single record, or a JSON array of records.

The fast path decodes a whole delivery file straight into typed structs with msgspec; any file that
does not fit it (a bad record, another shape) falls back to slower paths that keep every good record
and say why each bad one was skipped.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trailmin.mapping.permissions import PERMISSION_STRUCT, permissions_column
from trailmin.partitions import partition_of_region

# A record whose request and response parameters alone exceed this is skipped: CloudTrail caps a
# delivered event at 256 KB, so anything this large did not come from CloudTrail as is.
MAX_RECORD_BYTES = 1024 * 1024
# The most text one source may hold, as stored or once gunzipped. CloudTrail caps an event at
# 256 KB and delivers a file every few minutes per account and region, so a real delivery file
# is far smaller; anything larger is refused before it is read, rather than filling memory.
MAX_TEXT_BYTES = 512 * 1024 * 1024

SCHEMA_VERSION = 2

# ``arn_prefix``: CloudTrail names the objects a ListObjects call reached by prefix (ARNPrefix).
RESOURCE_TYPE = pa.struct(
    [
        ("arn", pa.string()),
        ("arn_prefix", pa.string()),
        ("type", pa.string()),
        ("account_id", pa.string()),
    ]
)
# What a call needed, filled by trailmin.mapping at ingest (defined there).
PERMISSION_TYPE = PERMISSION_STRUCT

# The columns of the events lake (DESIGN section 2). The Hive partition keys ``account`` and
# ``date`` live in the directory names, not in the files.
EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("event_version", pa.string()),
        ("event_source", pa.string()),
        ("event_name", pa.string()),
        ("event_type", pa.string()),
        ("event_category", pa.string()),
        ("aws_region", pa.string()),
        ("recipient_account_id", pa.string()),
        ("principal_arn", pa.string()),
        ("principal_type", pa.string()),
        ("principal_account_id", pa.string()),
        ("identity_type", pa.string()),
        ("identity_arn", pa.string()),
        ("principal_id", pa.string()),
        ("session_name", pa.string()),
        ("user_name", pa.string()),
        ("access_key_id", pa.string()),
        ("mfa_authenticated", pa.bool_()),
        ("invoked_by", pa.string()),
        ("user_agent", pa.string()),
        ("source_ip", pa.string()),
        ("vpc_endpoint_id", pa.string()),
        ("tls_version", pa.string()),
        ("error_code", pa.string()),
        ("error_message", pa.string()),
        ("read_only", pa.bool_()),
        ("management_event", pa.bool_()),
        ("request_parameters", pa.string()),
        ("additional_event_data", pa.string()),
        ("resources", pa.list_(RESOURCE_TYPE)),
        ("permissions", pa.list_(PERMISSION_TYPE)),
        ("source", pa.string()),
    ]
)

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


# --- typed structs: only the fields trailmin keeps -------------------------------------------


class _SessionIssuer(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    type: str | None = None
    arn: str | None = None
    userName: str | None = None
    accountId: str | None = None


class _SessionAttributes(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    mfaAuthenticated: str | bool | None = None


class _SessionContext(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    sessionIssuer: _SessionIssuer | None = None
    attributes: _SessionAttributes | None = None


class _UserIdentity(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    type: str | None = None
    principalId: str | None = None
    arn: str | None = None
    accountId: str | None = None
    accessKeyId: str | None = None
    userName: str | None = None
    invokedBy: str | None = None
    sessionContext: _SessionContext | None = None


class _Resource(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    ARN: str | None = None
    ARNPrefix: str | None = None
    type: str | None = None
    accountId: str | None = None


class _TlsDetails(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    tlsVersion: str | None = None


class _InsightDetails(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    eventSource: str | None = None
    eventName: str | None = None


_NULL = msgspec.Raw(b"null")


class Record(msgspec.Struct, gc=False):
    """One CloudTrail record, as much of it as the lake keeps."""

    eventVersion: str | None = None
    eventTime: str | None = None
    eventSource: str | None = None
    eventName: str | None = None
    eventType: str | None = None
    eventCategory: str | None = None
    eventID: str | None = None
    awsRegion: str | None = None
    recipientAccountId: str | None = None
    userIdentity: _UserIdentity | None = None
    userAgent: str | None = None
    sourceIPAddress: str | None = None
    vpcEndpointId: str | None = None
    tlsDetails: _TlsDetails | None = None
    errorCode: str | None = None
    errorMessage: str | None = None
    readOnly: bool | None = None
    managementEvent: bool | None = None
    requestParameters: msgspec.Raw = _NULL
    responseElements: msgspec.Raw = _NULL
    additionalEventData: msgspec.Raw = _NULL
    serviceEventDetails: msgspec.Raw = _NULL
    resources: list[_Resource] | None = None
    insightDetails: _InsightDetails | None = None
    requestID: str | None = None
    # Logstash's cloudtrail codec moves eventTime into @timestamp and drops it.
    timestamp: str | None = msgspec.field(default=None, name="@timestamp")


class _Delivery(msgspec.Struct, gc=False):
    Records: list[Record] | None = None


class _RawDelivery(msgspec.Struct):
    Records: list[msgspec.Raw] | None = None


_DELIVERY = msgspec.json.Decoder(_Delivery, strict=False)
_RAW_DELIVERY = msgspec.json.Decoder(_RawDelivery)
_RECORD = msgspec.json.Decoder(Record, strict=False)
_ANY = msgspec.json.Decoder()
_ENCODE = msgspec.json.encode


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    """A record left out of the lake, with where it was and why."""

    index: int
    reason: str


@dataclass(slots=True)
class Decoded:
    """The records decoded from one source, and what had to be left out."""

    records: list[Record] = field(default_factory=list)
    skipped: list[SkippedRecord] = field(default_factory=list)
    shape: str = "delivery"


class BadSource(Exception):
    """The whole source is unreadable; ``reason`` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- decoding ------------------------------------------------------------------------------------


def decompress(data: bytes, *, limit: int | None = None) -> bytes:
    """Return ``data`` gunzipped when it starts with the gzip magic bytes, else as is.

    Every gzip member is read (``cat a.gz b.gz`` is a valid gzip file). Raises ``BadSource``
    when the text would exceed ``limit`` bytes: a few megabytes can expand to gigabytes, and the
    memory a file may take is bounded before it is spent, not after. ``limit`` defaults to
    ``MAX_TEXT_BYTES``.
    """
    limit = MAX_TEXT_BYTES if limit is None else limit
    if data[:2] != b"\x1f\x8b":
        if len(data) > limit:
            raise BadSource(_too_much_text(limit))
        return data
    pieces: list[bytes] = []
    size = 0
    rest = data
    try:
        while rest[:2] == b"\x1f\x8b":
            member = zlib.decompressobj(wbits=31)
            chunk = member.decompress(rest, min(_GUNZIP_CHUNK, limit - size + 1))
            while True:
                size += len(chunk)
                if size > limit:
                    raise BadSource(_too_much_text(limit))
                pieces.append(chunk)
                if member.eof or not member.unconsumed_tail:
                    break
                chunk = member.decompress(
                    member.unconsumed_tail, min(_GUNZIP_CHUNK, limit - size + 1)
                )
            if not member.eof:
                raise EOFError
            rest = member.unused_data.lstrip(b"\x00")  # some writers pad members with NULs
    except EOFError:
        raise BadSource(
            "truncated gzip: the file ends before its end-of-stream marker; "
            "fetch it again (it may have been cut in transfer or still be uploading)"
        ) from None
    except zlib.error as exc:
        raise BadSource(f"corrupt gzip ({exc}); fetch the object again") from None
    if rest:
        raise BadSource("corrupt gzip (bytes after the last member); fetch the object again")
    return b"".join(pieces)


# Text is gunzipped this much at a time, so that a bomb is stopped at the limit, not past it.
_GUNZIP_CHUNK = 16 * 1024 * 1024


def _too_much_text(limit: int) -> str:
    return (
        f"expands past {limit:,} bytes of text; a CloudTrail delivery file is far smaller (an "
        "event is at most 256 KB), so this is not one as delivered: split it and ingest the parts"
    )


def decode_records(data: bytes) -> Decoded:
    """Return the records in ``data`` (any accepted shape, gzipped or not) and those skipped.

    Raises ``BadSource`` when nothing in the file can be read as CloudTrail.
    """
    text = decompress(data)
    stripped = text.lstrip(b" \t\r\n\xef\xbb\xbf")
    if not stripped:
        raise BadSource("empty file: it holds no CloudTrail records; delete it or re-deliver it")
    if stripped[:1] == b"{":
        try:
            delivery = _DELIVERY.decode(text)
        except msgspec.ValidationError:
            return _decode_delivery_record_by_record(text)
        except RecursionError:
            # One record nested too deep: the others are still good.
            if _RECORDS_START.match(text):
                return _decode_spans(text, shape="delivery")
            raise BadSource(_TOO_DEEP) from None
        except msgspec.DecodeError as exc:
            try:
                return _decode_json_lines(text, first_error=exc)
            except BadSource:
                # One delivery file, broken in one record (a byte that is not UTF-8, say).
                if _RECORDS_START.match(text):
                    return _decode_spans(text, shape="delivery")
                raise
        if delivery.Records is not None:
            return _checked(delivery.Records, shape="delivery", size=len(text))
    try:
        document = _ANY.decode(text)
    except RecursionError:
        if stripped[:1] == b"[":
            return _decode_spans(text, shape="array")
        raise BadSource(_TOO_DEEP) from None
    except msgspec.DecodeError as exc:
        if stripped[:1] == b"[":
            return _decode_spans(text, shape="array")
        return _decode_json_lines(text, first_error=exc)
    decoded = Decoded(shape=_shape_of(document))
    found = False
    for index, item in enumerate(_iter_unwrapped(document)):
        found = True
        _add_generic(decoded, index, item)
    if not found or (not decoded.records and not _looks_like_cloudtrail(document)):
        raise BadSource(
            "not CloudTrail: no 'Records' list, lookup-events 'Events', or record fields "
            "(eventTime, eventSource) were found; point trailmin at CloudTrail log files only"
        )
    return decoded


_TOO_DEEP = (
    "nested deeper than a JSON reader allows (about 1,000 levels); CloudTrail never writes "
    "records like this, so the file was altered on the way"
)
# A delivery file as CloudTrail writes it: ``{"Records": [`` first.
_RECORDS_START = re.compile(rb'[\s\xef\xbb\xbf]*\{\s*"Records"\s*:\s*\[')
# The tokens that nest: a JSON string (skipped whole, escapes included) or a bracket.
_NESTING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def _element_spans(text: bytes, start: int) -> Iterator[tuple[int, int]]:
    """Yield the byte spans of the objects and arrays of the JSON array opened before ``start``.

    Found by matching brackets outside strings, with no recursion: a record nested too deep for
    a JSON reader, or holding bytes that are not UTF-8, still has a span, and only it is lost.
    """
    depth = 0
    opened = start
    for token in _NESTING.finditer(text, start):
        bracket = token[0]
        if bracket in (b"{", b"["):
            if depth == 0:
                opened = token.start()
            depth += 1
        elif bracket in (b"}", b"]"):
            depth -= 1
            if depth < 0:
                return  # the end of the array
            if depth == 0:
                yield opened, token.end()


def _decode_spans(text: bytes, *, shape: str) -> Decoded:
    """Decode the records of a delivery file (or a JSON array) one span at a time, keeping every
    good record when some cannot be read at all (not UTF-8, nested too deep, not JSON)."""
    opening = _RECORDS_START.match(text) if shape == "delivery" else None
    start = opening.end() if opening else text.index(b"[") + 1
    decoded = Decoded(shape=shape)
    previous = start
    for index, (begin, end) in enumerate(_element_spans(text, start)):
        chunk = text[begin:end]
        where = f"record {index}"
        between = text[previous:begin].strip()
        if between != (b"," if index else b""):
            decoded.skipped.append(
                SkippedRecord(
                    index,
                    f"before {where} (byte {previous:,}): expected "
                    f"{'a comma' if index else 'the first record'}, found {between[:40]!r}; "
                    "the file is not valid JSON there (the records on either side were read)",
                )
            )
        previous = end
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            decoded.skipped.append(
                SkippedRecord(
                    index,
                    f"{where}: byte {chunk[exc.start]:#04x} at offset {begin + exc.start:,} is "
                    "not UTF-8, which CloudTrail always writes; the record is not as delivered",
                )
            )
            continue
        try:
            record = _RECORD.decode(chunk)
        except RecursionError:
            decoded.skipped.append(SkippedRecord(index, f"{where}: {_TOO_DEEP}"))
            continue
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            decoded.skipped.append(SkippedRecord(index, f"{where}: {exc}"))
            continue
        _add_checked(decoded, index, record, label=where)
    if not decoded.records:
        first = decoded.skipped[0].reason if decoded.skipped else "no record could be found"
        raise BadSource(
            f"invalid JSON: {first}; no record of the file could be read. Repair or re-export "
            "it, then ingest again"
        )
    return decoded


def _decode_delivery_record_by_record(text: bytes) -> Decoded:
    """Decode a delivery file whose typed decode failed, keeping every record that is good."""
    try:
        raw = _RAW_DELIVERY.decode(text)
    except msgspec.ValidationError as exc:
        raise BadSource(f"not CloudTrail: {exc}; expected {{'Records': [...]}}") from None
    except (msgspec.DecodeError, RecursionError):
        return _decode_spans(text, shape="delivery")
    decoded = Decoded(shape="delivery")
    for index, item in enumerate(raw.Records or ()):
        try:
            record = _RECORD.decode(item)
        except msgspec.ValidationError as exc:
            decoded.skipped.append(SkippedRecord(index, f"record {index}: {exc}"))
            continue
        _add_checked(decoded, index, record)
    return decoded


def _decode_json_lines(text: bytes, *, first_error: msgspec.DecodeError) -> Decoded:
    """Decode one JSON document a line; a file where no line parses is reported as invalid JSON."""
    decoded = Decoded(shape="json-lines")
    parsed_lines = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = _RECORD.decode(line)
        except msgspec.ValidationError:
            record = None
        except msgspec.DecodeError as exc:
            decoded.skipped.append(SkippedRecord(number, f"line {number}: invalid JSON ({exc})"))
            continue
        except RecursionError:
            decoded.skipped.append(SkippedRecord(number, f"line {number}: {_TOO_DEEP}"))
            continue
        parsed_lines += 1
        if record is not None and _is_record(record):
            _add_checked(decoded, number, record)
            continue
        try:
            item = _ANY.decode(line)
        except msgspec.DecodeError as exc:  # pragma: no cover - the typed decode parsed it
            decoded.skipped.append(SkippedRecord(number, f"line {number}: invalid JSON ({exc})"))
            continue
        except RecursionError:
            decoded.skipped.append(SkippedRecord(number, f"line {number}: {_TOO_DEEP}"))
            continue
        before = len(decoded.records) + len(decoded.skipped)
        for inner in _iter_unwrapped(item):
            _add_generic(decoded, number, inner, label=f"line {number}")
        if len(decoded.records) + len(decoded.skipped) == before:
            decoded.skipped.append(SkippedRecord(number, f"line {number}: not a CloudTrail record"))
    if parsed_lines == 0 or not decoded.records:
        raise BadSource(
            f"invalid JSON: {first_error}; the file is neither a CloudTrail delivery file nor "
            "JSON lines. Repair or re-export it, then ingest again"
        )
    return decoded


def _shape_of(document: Any) -> str:
    if isinstance(document, dict) and isinstance(document.get("Events"), list):
        return "lookup-events"
    if isinstance(document, list):
        return "array"
    return "record"


def _looks_like_cloudtrail(document: Any) -> bool:
    if isinstance(document, dict):
        return any(k in document for k in ("Records", "Events", "eventVersion", "eventSource"))
    return False


def _iter_unwrapped(item: Any, depth: int = 0) -> Iterator[Any]:
    """Yield the record dicts inside ``item``, looking through the wrappers forwarders add."""
    if depth > 4:
        return
    if isinstance(item, list):
        for inner in item:
            yield from _iter_unwrapped(inner, depth + 1)
        return
    if isinstance(item, str):
        if item.lstrip().startswith("{"):
            try:
                yield from _iter_unwrapped(_ANY.decode(item.encode()), depth + 1)
            except (msgspec.DecodeError, RecursionError):
                return
        return
    if not isinstance(item, dict):
        return
    if "eventVersion" in item or "eventSource" in item or "eventID" in item:
        yield item
    elif isinstance(item.get("Records"), list):
        yield from _iter_unwrapped(item["Records"], depth + 1)
    elif isinstance(item.get("Events"), list):  # aws cloudtrail lookup-events
        yield from _iter_unwrapped(item["Events"], depth + 1)
    elif "CloudTrailEvent" in item:
        yield from _iter_unwrapped(item["CloudTrailEvent"], depth + 1)
    elif isinstance(item.get("detail"), dict):  # EventBridge "AWS API Call via CloudTrail"
        yield from _iter_unwrapped(item["detail"], depth + 1)
    elif isinstance(item.get("logEvents"), list):  # CloudWatch Logs subscription payload
        yield from _iter_unwrapped(item["logEvents"], depth + 1)
    elif "message" in item:  # CloudWatch Logs export, Splunk, Datadog and most forwarders
        yield from _iter_unwrapped(item["message"], depth + 1)


def _add_generic(decoded: Decoded, index: int, item: Any, *, label: str | None = None) -> None:
    where = label or f"record {index}"
    try:
        record = _RECORD.decode(_ENCODE(item))
    except msgspec.ValidationError as exc:
        decoded.skipped.append(SkippedRecord(index, f"{where}: {exc}"))
        return
    except RecursionError:
        decoded.skipped.append(SkippedRecord(index, f"{where}: {_TOO_DEEP}"))
        return
    _add_checked(decoded, index, record, label=where)


def _is_record(record: Record) -> bool:
    return (
        record.eventSource is not None
        or record.eventVersion is not None
        or record.eventID is not None
        or record.insightDetails is not None
    )


def _checked(records: list[Record], *, shape: str, size: int) -> Decoded:
    """Return ``records`` less those without the fields every lake row needs."""
    decoded = Decoded(records=records, shape=shape)
    # The common case, checked a field at a time (this is the hot path): nothing is missing,
    # and a file smaller than the record limit cannot hold a record over it.
    fine = (
        None not in [r.eventTime or r.timestamp for r in records]
        and None not in [r.eventSource for r in records]
        and (
            size <= MAX_RECORD_BYTES
            or max(map(_parameter_bytes, records), default=0) <= MAX_RECORD_BYTES
        )
    )
    if fine:
        return decoded
    decoded.records = []
    for index, record in enumerate(records):
        _add_checked(decoded, index, record)
    return decoded


def _add_checked(decoded: Decoded, index: int, record: Record, *, label: str | None = None) -> None:
    problem = _problem(record)
    if problem is None:
        decoded.records.append(record)
    else:
        decoded.skipped.append(SkippedRecord(index, f"{label or f'record {index}'}: {problem}"))


def _parameter_bytes(record: Record) -> int:
    return (
        len(record.requestParameters)
        + len(record.responseElements)
        + len(record.additionalEventData)
        + len(record.serviceEventDetails)
    )


def _problem(record: Record) -> str | None:
    """Return why ``record`` cannot be a lake row, or None when it can."""
    if not record.eventTime and not record.timestamp:
        return "missing eventTime" if record.eventTime is None else "empty eventTime"
    if record.eventSource is None and (
        record.insightDetails is None or record.insightDetails.eventSource is None
    ):
        return "missing eventSource"
    size = _parameter_bytes(record)
    if size > MAX_RECORD_BYTES:
        return (
            f"record too large ({size:,} bytes of parameters, limit {MAX_RECORD_BYTES:,}); "
            "CloudTrail never delivers events this size, so the file was altered on the way"
        )
    return None


# --- normalization -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Principal:
    """Who holds the permissions a call used, and how it appeared in the record."""

    arn: str | None
    type: str
    account_id: str | None
    session_name: str | None


def _arn_partition(arn: str | None, region: str | None) -> str:
    if arn and arn.startswith("arn:"):
        return arn.split(":", 2)[1]
    return partition_of_region(region)


def normalize_identity(identity: Any, region: str | None = None) -> Principal:
    """Return the principal holding the permissions for a record's ``userIdentity``.

    An assumed-role session is attributed to its role (with its path, from the session issuer)
    and keeps the session name apart; Identity Center and service-linked roles are told apart
    from other roles by their reserved paths and names.
    """
    if identity is None:
        return Principal(None, "Unknown", None, None)
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
        return Principal(role_arn, _role_type(role_arn), account, session)
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


def _role_type(role_arn: str | None) -> str:
    if role_arn is None:
        return "Role"
    path_and_name = role_arn.split(":role/", 1)[-1]
    if path_and_name.startswith("aws-service-role/"):
        return "ServiceLinkedRole"
    if path_and_name.rsplit("/", 1)[-1].startswith("AWSReservedSSO_"):
        return "IdentityCenterRole"
    return "Role"


def _raw_text(raw: msgspec.Raw) -> str | None:
    data = bytes(raw)
    if data == b"null":
        return None
    return data.decode("utf-8", "replace")


def _mfa(identity: _UserIdentity | None) -> bool | None:
    if identity is None or identity.sessionContext is None:
        return None
    attributes = identity.sessionContext.attributes
    if attributes is None or attributes.mfaAuthenticated is None:
        return None
    value = attributes.mfaAuthenticated
    return value if isinstance(value, bool) else value.lower() == "true"


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
    bad = sorted({**dict(_bad_values(pass_)), **dict(_not_utf8(pass_)), **dict(bad)}.items())
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
    for name, values in _call_columns(list(pass_.calls)).items():
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
            [_with_account(call) for call in pass_.calls],
            pass_.call_index,
            pass_.request_parameters,
            pass_.resources,
            _logged_arns,
            error_codes=[call[10] for call in pass_.calls],
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


_ACCOUNT_ID = re.compile(r"^\d{12}$")


def _account_id(values: pa.Array) -> pa.Array:
    """Return ``values`` with anything but a 12-digit account id made null."""
    valid = pc.match_substring_regex(values, r"^[0-9]{12}$")
    return pc.if_else(pc.fill_null(valid, False), values, pa.scalar(None, pa.string()))


# What AWS writes in the fields that name things: an account id names the lake's folders; a
# service, an action and a region go into policies. A record whose values are not of these forms
# did not come from CloudTrail as written, and is skipped rather than trusted.
_NAMED_FIELDS = (
    (6, "recipientAccountId", _ACCOUNT_ID, "an AWS account id (12 digits)"),
    (1, "eventSource", re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$"), "a service host name"),
    (2, "eventName", re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"), "an API operation name"),
    (5, "awsRegion", re.compile(r"^[a-z0-9]{1,16}(?:-[a-z0-9]{1,16}){0,4}$"), "a region code"),
)
# Every other text field: CloudTrail caps a whole event at 256 KB, so no single value is near this.
MAX_FIELD_CHARS = 16 * 1024
_FREE_TEXT_FIELDS = (
    (0, "eventVersion"),
    (3, "eventType"),
    (4, "eventCategory"),
    (7, "userAgent"),
    (8, "sourceIPAddress"),
    (9, "vpcEndpointId"),
    (10, "errorCode"),
    (11, "errorMessage"),
    (14, "userIdentity.accountId"),
)


def _bad_values(pass_: _Pass) -> list[tuple[int, str]]:
    """Return the records (by index) holding a value CloudTrail cannot have written, and why.

    Checked once per distinct call and identity (records share them), then spread to records.
    """
    bad_calls = {number: why for call, number in pass_.calls.items() if (why := _bad_call(call))}
    bad_identities = {
        number: why
        for number, identity in enumerate(pass_.identities)
        if identity is not None and (why := _bad_identity(identity))
    }
    found: dict[int, str] = {}
    if bad_calls or bad_identities:
        for index, (call, identity) in enumerate(
            zip(pass_.call_index, pass_.identity_index, strict=True)
        ):
            why = bad_calls.get(call) or bad_identities.get(identity)
            if why:
                found[index] = why
    # Per record, a cheap test first: the longest value of the batch.
    if max(map(len, filter(None, pass_.event_ids)), default=0) > MAX_FIELD_CHARS:
        for index, event_id in enumerate(pass_.event_ids):
            if _length(event_id) > MAX_FIELD_CHARS:
                found.setdefault(index, _too_long("eventID", event_id))
    listed = [(i, r) for i, resources in enumerate(pass_.resources) if resources for r in resources]
    if listed and max(_resource_length(r) for _, r in listed) > MAX_FIELD_CHARS:
        for index, resource in listed:
            for name in ("ARN", "ARNPrefix", "type", "accountId"):
                value = getattr(resource, name)
                if _length(value) > MAX_FIELD_CHARS:
                    found.setdefault(index, _too_long(f"resources[].{name}", value))
    return sorted(found.items())


def _resource_length(resource: _Resource) -> int:
    return (
        len(resource.ARN or "")
        + len(resource.ARNPrefix or "")
        + len(resource.type or "")
        + (len(resource.accountId or ""))
    )


def _bad_call(call: tuple[Any, ...]) -> str | None:
    for position, name, form, what in _NAMED_FIELDS:
        value = call[position]
        if value is not None and not form.match(value):
            return f"{name} {_quoted(value)} is not {what}"
    for position, name in _FREE_TEXT_FIELDS:
        if _length(call[position]) > MAX_FIELD_CHARS:
            return _too_long(name, call[position])
    return None


def _bad_identity(identity: _UserIdentity) -> str | None:
    issuer = identity.sessionContext.sessionIssuer if identity.sessionContext else None
    values = {
        "type": identity.type,
        "principalId": identity.principalId,
        "arn": identity.arn,
        "accountId": identity.accountId,
        "accessKeyId": identity.accessKeyId,
        "userName": identity.userName,
        "invokedBy": identity.invokedBy,
        "sessionContext.sessionIssuer.arn": issuer.arn if issuer else None,
        "sessionContext.sessionIssuer.userName": issuer.userName if issuer else None,
    }
    for name, value in values.items():
        if _length(value) > MAX_FIELD_CHARS:
            return _too_long(f"userIdentity.{name}", value)
    return None


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def _quoted(value: str) -> str:
    return repr(value[:80]) + ("…" if len(value) > 80 else "")


def _too_long(name: str, value: Any) -> str:
    return (
        f"{name} is {_length(value):,} characters long (limit {MAX_FIELD_CHARS:,}); CloudTrail "
        "caps a whole event at 256 KB, so the record was altered on the way"
    )


def _not_utf8(pass_: _Pass) -> list[tuple[int, str]]:
    """Return the records whose raw parameters hold bytes that are not UTF-8 (the typed decode
    passes raw values over whole), and why."""
    found: list[tuple[int, str]] = []
    for name, raws in (
        ("requestParameters", pass_.request_parameters),
        ("additionalEventData", pass_.additional_event_data),
    ):
        if _valid_utf8(b"".join(raws)):
            continue
        found += [
            (index, f"{name} holds bytes that are not UTF-8, which CloudTrail always writes")
            for index, raw in enumerate(raws)
            if not _valid_utf8(bytes(raw))
        ]
    return found


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _with_account(call: tuple[Any, ...]) -> tuple[Any, ...]:
    """Return a call key whose account is the trail's, else the caller's.

    CloudTrail user guide, record contents: ``recipientAccountId`` is absent from older event
    versions, while ``userIdentity.accountId`` names the account that owns the credentials: the
    one whose resources a call names without an account (``instance/i-…``).
    """
    if call[6] or not call[-1]:
        return call
    return (*call[:6], call[-1], *call[7:])


def _caller_arns(pass_: _Pass) -> list[str | None]:
    """Return each record's ``userIdentity.arn``: the IAM user a call such as ``GetUser`` without
    a ``UserName`` acts on (IAM API reference)."""
    arns = [ui.arn if ui is not None else None for ui in pass_.identities]
    return [arns[i] for i in pass_.identity_index]


def _logged_arns(resources: list[_Resource] | None) -> tuple[str, ...]:
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
        seen: dict[tuple[str | None, ...] | None, int] = {}
        identities: list[_UserIdentity | None] = []
        regions: list[str | None] = []  # the partition of an ARN-less user or root comes from it
        calls: dict[tuple[Any, ...], int] = {}
        identity_index: list[int] = []
        call_index: list[int] = []
        event_ids: list[str | None] = []
        times: list[str | None] = []
        tls_versions: list[str | None] = []
        request_parameters: list[msgspec.Raw] = []
        additional_event_data: list[msgspec.Raw] = []
        resources: list[list[_Resource] | None] = []
        # Bound methods, looked up once: this loop runs for every record ingested.
        add_identity, add_call = identity_index.append, call_index.append
        add_id, add_time, add_tls = event_ids.append, times.append, tls_versions.append
        add_params, add_data = request_parameters.append, additional_event_data.append
        add_resources = resources.append
        for r in records:
            ui = r.userIdentity
            key = (ui.arn, ui.accessKeyId, ui.invokedBy, ui.type, ui.userName) if ui else None
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
                ui.accountId if ui else None,  # the caller's: the mapping's account without one
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
        self.identities, self.regions, self.calls = identities, regions, calls
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


PERMISSION_LIST = EVENT_SCHEMA.field("permissions").type
# Columns whose values repeat from record to record: held and written dictionary-encoded.
DICTIONARY_COLUMNS = frozenset(
    {
        "event_version",
        "event_source",
        "event_name",
        "event_type",
        "event_category",
        "aws_region",
        "recipient_account_id",
        "principal_arn",
        "principal_type",
        "principal_account_id",
        "identity_type",
        "identity_arn",
        "principal_id",
        "session_name",
        "user_name",
        "access_key_id",
        "invoked_by",
        "user_agent",
        "source_ip",
        "vpc_endpoint_id",
        "error_code",
        "error_message",
        "source",
    }
)
# The Arrow schema of the lake's files: EVENT_SCHEMA with the repetitive columns as dictionaries.
# Parquet stores them as plain (dictionary-encoded) strings and booleans; DuckDB and Athena read
# them as such, pyarrow reads them back as dictionaries (pandas categoricals).
FILE_SCHEMA = pa.schema(
    [
        pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if f.name in DICTIONARY_COLUMNS else f
        for f in EVENT_SCHEMA
    ]
)
TABLE_SCHEMA = EVENT_SCHEMA.append(pa.field("account", pa.string())).append(
    pa.field("date", pa.date32())
)
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


def _identity_columns(
    identities: list[_UserIdentity | None], regions: list[str | None]
) -> dict[str, pa.Array]:
    """Return the identity columns of each distinct identity."""
    principals = [
        normalize_identity(i, region) if i is not None else Principal(None, "Unknown", None, None)
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
        "mfa_authenticated": pa.array([_mfa(i) for i in identities], pa.bool_()),
        "invoked_by": pa.array([i.invokedBy if i else None for i in identities], string),
    }


# The fields of the call key built in ``parts_to_table``, in its order.
_CALL_COLUMNS = (
    "event_version",
    "event_source",
    "event_name",
    "event_type",
    "event_category",
    "aws_region",
    "recipient_account_id",
    "user_agent",
    "source_ip",
    "vpc_endpoint_id",
    "error_code",
    "error_message",
    "read_only",
    "management_event",
)


def _call_columns(calls: list[tuple[Any, ...]]) -> dict[str, pa.Array]:
    """Return the call columns of each distinct call key."""
    return {
        name: pa.array([c[position] for c in calls], EVENT_SCHEMA.field(name).type)
        for position, name in enumerate(_CALL_COLUMNS)
    }


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


def _resources_column(lists: list[list[_Resource] | None]) -> pa.Array:
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
