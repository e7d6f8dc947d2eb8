"""CloudTrail bytes into typed records, and the records left out with why.

Pure: functions take bytes and values and return values. The shapes accepted are

- a delivery file, ``{"Records": [...]}``, as CloudTrail writes to S3 (gzipped or not);
- JSON lines, one record a line, bare or inside the wrappers log forwarders add
  (EventBridge ``detail``, CloudWatch Logs ``message`` / ``logEvents``, extra keys beside it);
- the output of ``aws cloudtrail lookup-events`` (records inside the ``CloudTrailEvent`` string);
- a single record, or a JSON array of records.

The fast path decodes a whole delivery file straight into typed structs with msgspec; any file that
does not fit it (a bad record, another shape) falls back to slower paths that keep every good record
and say why each bad one was skipped. Values CloudTrail cannot have written (an account id that is
not one, a region or service no policy may name, a field past any real length, bytes that are not
UTF-8) are found afterwards, a batch at a time (``find_bad_values``, ``find_invalid_utf8``).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from trailmin.mapping.permissions import Call

# A record whose request and response parameters alone exceed this is skipped: CloudTrail caps a
# delivered event at 256 KB, so anything this large did not come from CloudTrail as is.
MAX_RECORD_BYTES = 1024 * 1024
# The most text one source may hold, as stored or once gunzipped. CloudTrail caps an event at
# 256 KB and delivers a file every few minutes per account and region, so a real delivery file
# is far smaller; anything larger is refused before it is read, rather than filling memory.
MAX_TEXT_BYTES = 512 * 1024 * 1024


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


class UserIdentity(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    """A record's ``userIdentity``: who made the call (``principals`` reads it)."""

    type: str | None = None
    principalId: str | None = None
    arn: str | None = None
    accountId: str | None = None
    accessKeyId: str | None = None
    userName: str | None = None
    invokedBy: str | None = None
    sessionContext: _SessionContext | None = None


class Resource(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    """One of a record's ``resources``, as CloudTrail logged it."""

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
    userIdentity: UserIdentity | None = None
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
    resources: list[Resource] | None = None
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


# --- values CloudTrail cannot have written --------------------------------------------------------


_ACCOUNT_ID = re.compile(r"^\d{12}$")

# What AWS writes in the fields that name things: an account id names the lake's folders; a
# service, an action and a region go into policies. A record whose values are not of these forms
# did not come from CloudTrail as written, and is skipped rather than trusted.
_NAMED_FIELDS = (
    ("recipient_account_id", "recipientAccountId", _ACCOUNT_ID, "an AWS account id (12 digits)"),
    (
        "event_source",
        "eventSource",
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$"),
        "a service host name",
    ),
    (
        "event_name",
        "eventName",
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"),
        "an API operation name",
    ),
    (
        "aws_region",
        "awsRegion",
        re.compile(r"^[a-z0-9]{1,16}(?:-[a-z0-9]{1,16}){0,4}$"),
        "a region code",
    ),
)
# Every other text field: CloudTrail caps a whole event at 256 KB, so no single value is near this.
MAX_FIELD_CHARS = 16 * 1024
_FREE_TEXT_FIELDS = (
    ("event_version", "eventVersion"),
    ("event_type", "eventType"),
    ("event_category", "eventCategory"),
    ("user_agent", "userAgent"),
    ("source_ip", "sourceIPAddress"),
    ("vpc_endpoint_id", "vpcEndpointId"),
    ("error_code", "errorCode"),
    ("error_message", "errorMessage"),
    ("caller_account_id", "userIdentity.accountId"),
)


def find_bad_values(
    calls: Sequence[Call],
    identities: Sequence[UserIdentity | None],
    *,
    call_index: Sequence[int],
    identity_index: Sequence[int],
    event_ids: Sequence[str | None],
    resources: Sequence[list[Resource] | None],
) -> list[tuple[int, str]]:
    """Return the records (by index) holding a value CloudTrail cannot have written, and why.

    ``calls`` and ``identities`` are a batch's distinct ones, ``call_index`` and
    ``identity_index`` each record's number in them; ``event_ids`` and ``resources`` are each
    record's. Checked once per distinct call and identity (records share them), then spread to
    records.
    """
    bad_calls = _bad_calls(calls)
    bad_identities = {
        number: why
        for number, identity in enumerate(identities)
        if identity is not None and (why := _bad_identity(identity))
    }
    found: dict[int, str] = {}
    if bad_calls or bad_identities:
        for index, (call, identity) in enumerate(zip(call_index, identity_index, strict=True)):
            why = bad_calls.get(call) or bad_identities.get(identity)
            if why:
                found[index] = why
    # Per record, a cheap test first: the longest value of the batch.
    if max(map(len, filter(None, event_ids)), default=0) > MAX_FIELD_CHARS:
        for index, event_id in enumerate(event_ids):
            if _length(event_id) > MAX_FIELD_CHARS:
                found.setdefault(index, _too_long("eventID", event_id))
    listed = [(i, r) for i, logged in enumerate(resources) if logged for r in logged]
    if listed and max(_resource_length(r) for _, r in listed) > MAX_FIELD_CHARS:
        for index, resource in listed:
            for name in ("ARN", "ARNPrefix", "type", "accountId"):
                value = getattr(resource, name)
                if _length(value) > MAX_FIELD_CHARS:
                    found.setdefault(index, _too_long(f"resources[].{name}", value))
    return sorted(found.items())


def _resource_length(resource: Resource) -> int:
    return (
        len(resource.ARN or "")
        + len(resource.ARNPrefix or "")
        + len(resource.type or "")
        + (len(resource.accountId or ""))
    )


def _bad_calls(calls: Sequence[Call]) -> dict[int, str]:
    """Return why each call (by number) holding a value CloudTrail cannot have written is bad:
    its first such field, in the order of ``_NAMED_FIELDS`` then ``_FREE_TEXT_FIELDS``.

    Checked a field at a time over the field's distinct values: calls share most of them.
    """
    if not calls:
        return {}
    columns = dict(zip(Call._fields, zip(*calls, strict=True), strict=True))
    found: list[tuple[tuple[Any, ...], dict[Any, str]]] = []
    for column, name, form, what in _NAMED_FIELDS:
        values = columns[column]
        bad = {
            value: f"{name} {_quoted(value)} is not {what}"
            for value in set(values)
            if value is not None and not form.match(value)
        }
        if bad:
            found.append((values, bad))
    for column, name in _FREE_TEXT_FIELDS:
        values = columns[column]
        if max(map(len, filter(None, values)), default=0) > MAX_FIELD_CHARS:
            bad = {
                value: _too_long(name, value)
                for value in set(values)
                if _length(value) > MAX_FIELD_CHARS
            }
            found.append((values, bad))
    reasons: dict[int, str] = {}
    for values, bad in found:  # in the fields' order: a call keeps its first reason
        for number, value in enumerate(values):
            if value in bad:
                reasons.setdefault(number, bad[value])
    return reasons


def _bad_identity(identity: UserIdentity) -> str | None:
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


def find_invalid_utf8(
    request_parameters: Sequence[msgspec.Raw], additional_event_data: Sequence[msgspec.Raw]
) -> list[tuple[int, str]]:
    """Return the records (by index) whose raw parameters hold bytes that are not UTF-8 (the
    typed decode passes raw values over whole), and why."""
    found: list[tuple[int, str]] = []
    for name, raws in (
        ("requestParameters", request_parameters),
        ("additionalEventData", additional_event_data),
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
