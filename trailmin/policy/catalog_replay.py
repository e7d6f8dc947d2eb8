"""Replay recorded calls on the resources the catalog says each action is authorized against.

Pure, and independent of the mapping that made a proposal (``trailmin/mapping/resources.py``):
the replay check in ``generation`` replays the lake's own permissions, so a mapping that names the
wrong resource type (``ipv6pool-ec2/${Ipv6PoolEc2Id}`` for ``ec2:CreateVpc``, which AWS authorizes
on a ``vpc``) passes it. This check builds, from the record alone (its region and account, the
ARNs in ``resources[]`` and in the request, and request members named as the catalog's template
variables: ``${RouteTableId}`` is ``routeTableId``), the ARNs of the resource types the catalog
lists for the action, and asks the evaluator whether the policies allow the action on each:

- for each *required* type of which the record names resources, one of them must be allowed
  (a record may hold several of one type: a copy's source and destination); a resource nested in
  it that the request names (a DynamoDB table's index) stands in its place;
- an action that requires no type must be allowed on one of the resources the record names of
  its optional types, which the Service Authorization Reference makes alternatives ("you can
  choose to use one of the optional resource types");
- when the record gives no ARN of any type the action takes, the policies must grant the action
  on ``*`` or on a resource of a type the action takes (a required one when it has one): a grant
  on another type can never match, whatever the call named.

It does not know which of several alternatives a call used when the record names none of them,
and it reads no response: it can miss a wrong ARN of the right type, never a wrong type.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trailmin.aws import catalog
from trailmin.aws.arns import TEMPLATE_VARIABLE, template_forms
from trailmin.aws.partitions import partition_of_region
from trailmin.mapping.permissions import decode_request  # the raw request's decoder only
from trailmin.policy.evaluate import (
    OPTIMISTIC,
    Decision,
    Layers,
    Request,
    evaluate,
    match_action,
    pattern_matches,
    statements_of,
)

_VARIABLE = TEMPLATE_VARIABLE
_PARTS = frozenset({"Partition", "Region", "Account"})
# Request members that hold a variable under another name than its lower camel case.
# S3 API reference: the object's key is "key". SQS: a queue is named by its URL.
_ALIASES = {"ObjectName": ("key",)}
# Variables whose values may hold "/" (paths, keys, hierarchical names). A value of another
# variable holding "/" or ":" is not a name of it.
_SLASHED = frozenset(
    {"ObjectName", "LogGroupName", "LogStreamName", "ParameterNameWithoutLeadingSlash"}
)
# Names whose full value the record does not hold: an IAM name's path, a secret's random suffix.
# Only a whole ARN fills them.
_ONLY_WHOLE = frozenset(
    {
        "RoleNameWithPath",
        "UserNameWithPath",
        "GroupNameWithPath",
        "PolicyNameWithPath",
        "InstanceProfileNameWithPath",
        "SecretId",
    }
)
_DEPTH = 3  # how deep into the request members are looked for
# Optional types that, when the request names one, are what the call is authorized against in
# place of the required type they are nested in: (service, type). DynamoDB developer guide,
# "Using IAM policies for DynamoDB" (a Query or Scan of an index is allowed by the index's ARN).
_NESTED = frozenset({("dynamodb", "index")})
# Resources AWS owns, whose ARNs name no account, by (service, type) and name prefixes: SSM API
# reference, CreateDocument ("aws", "amazon" and "amzn" are reserved prefixes; AWS-owned
# documents are arn:aws:ssm:region::document/AWS-RunShellScript).
_AWS_OWNED = {("ssm", "document"): ("aws", "amazon", "amzn")}


@dataclass(frozen=True, slots=True)
class Recorded:
    """Calls of one kind: an action a recorded call needed, with what its record said."""

    action: str
    region: str
    account: str
    params: Mapping[str, Any]
    logged: tuple[str, ...]  # ARNs of the record's resources[]
    calls: int = 1


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Calls the policies would refuse on the resources the catalog names for them."""

    action: str
    resource: str  # the ARN refused, or the resource types the grants miss
    reason: str
    calls: int

    def to_dict(self) -> dict[str, Any]:
        """Return the mismatch as JSON-ready values."""
        return {
            "action": self.action,
            "resource": self.resource,
            "reason": self.reason,
            "calls": self.calls,
        }


def recorded_from_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Recorded]]:
    """Return, per principal, the calls of ``rows`` (``trailmin.query.verify.recorded_calls_sql``:
    principal, action, region, account, raw request, logged ARNs, calls) as ``Recorded``."""
    found: dict[str, list[Recorded]] = {}
    for row in rows:
        found.setdefault(row["principal"], []).append(
            Recorded(
                action=row["action"],
                region=row["region"] or "",
                account=row["account"] or "",
                params=decode_request(row["params"]),
                logged=tuple(a for a in row["logged"] or () if a),
                calls=row["calls"],
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class _Type:
    name: str
    template: str
    required: bool
    regex: re.Pattern[str]  # matches an ARN of this type
    grant_regex: re.Pattern[str]  # matches a policy resource that can name one


@dataclass(frozen=True, slots=True)
class _Types:
    action: str
    required: tuple[_Type, ...]
    optional: tuple[_Type, ...]


def _regex(template: str, *, grant: bool) -> re.Pattern[str]:
    pieces = _VARIABLE.split(template)
    out = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            # The catalog's own wildcards (dms ``endpoint:*``) stand for any id there.
            out.append(re.escape(piece).replace("\\*", ".*").replace("\\?", "."))
        elif grant:
            # A policy may write any part as a wildcard, a variable or an escape (${*}); a
            # name that holds no "/" matches no "/" (a bucket's type is not an object's).
            out.append(".*" if piece in _SLASHED | _ONLY_WHOLE else "[^:/]*")
        elif piece == "Partition":
            out.append("aws[a-z-]*")
        elif piece == "Region":
            out.append("[a-z0-9-]*")
        elif piece == "Account":
            out.append("[0-9]*")
        else:
            out.append(".+" if piece in _SLASHED | _ONLY_WHOLE else "[^:/]+")
    return re.compile("^" + "".join(out) + "$")


def _forms_regex(template: str, *, grant: bool) -> re.Pattern[str]:
    """Return a regex matching an ARN (or a grant) of any form of the template's type."""
    forms = [_regex(form, grant=grant).pattern for form in template_forms(template)]
    return re.compile("|".join(f"(?:{form})" for form in forms))


@functools.cache
def _types(action_name: str) -> _Types | None:
    action = catalog.action(action_name)
    if action is None or action.takes_no_resource:
        return None
    found = [
        _Type(
            rt.name,
            rt.arn_template,
            rt.required,
            _forms_regex(rt.arn_template, grant=False),
            _forms_regex(rt.arn_template, grant=True),
        )
        for rt in action.resource_types
        if rt.arn_template
    ]
    return _Types(
        action.full_name,
        tuple(t for t in found if t.required),
        tuple(t for t in found if not t.required),
    )


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


Members = dict[str, list[str]]  # a request's string values by member name, at any depth


def members_of(params: Any) -> Members:
    """Return the request's string values by member name, down to ``_DEPTH`` levels (EC2 nests
    them in ``…Set.items[]``); a list of strings counts as its strings."""
    found: Members = {}

    def walk(value: Any, depth: int) -> None:
        if depth > _DEPTH:
            return
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str):
                    if item:
                        found.setdefault(key, []).append(item)
                elif isinstance(item, list) and item and isinstance(item[0], str):
                    found.setdefault(key, []).extend(v for v in item if isinstance(v, str) and v)
                else:
                    walk(item, depth + 1)
        elif isinstance(value, list):
            for item in value:
                walk(item, depth + 1)

    walk(params, 0)
    return found


def _values(variable: str, members: Members) -> list[str]:
    """Return the values the request gives ``variable``, by its name or its alias."""
    if variable in _ONLY_WHOLE:
        return []
    values: list[str] = []
    for name in {_lower_camel(variable), variable, *_ALIASES.get(variable, ())}:
        values.extend(members.get(name, ()))
    if variable == "QueueName":
        values += [u.rstrip("/").rsplit("/", 1)[-1] for u in members.get("queueUrl", ())]
    if variable in _SLASHED:
        return [v for v in values if not v.startswith("arn:")]
    return [v for v in values if ":" not in v and "/" not in v]


def _filled(kind: _Type, call: Recorded, members: Members, limit: int = 20) -> list[str]:
    """Return the ARNs of ``kind`` that the request's members give, every variable filled."""
    variables = _VARIABLE.findall(kind.template)
    arns = [_one_of_them(kind.template)]
    for variable in variables:
        if variable == "Partition":
            values = [partition_of_region(call.region)]
        elif variable == "Region":
            values = [call.region]
        elif variable == "Account":
            values = [call.account]
        else:
            values = sorted(set(_values(variable, members)))
        if not values or not all(values):
            return []
        arns = [a.replace("${" + variable + "}", v, 1) for a in arns for v in values]
        if len(arns) > limit:
            return []
    return [a for a in arns if kind.regex.match(a)]


def _one_of_them(template: str) -> str:
    """Return ``template`` with the catalog's own wildcards (dms ``endpoint:*``) made one id: AWS
    authorizes the call against a real resource, which a policy must match, not against ``*``."""
    pieces = _VARIABLE.split(template)
    return "".join(
        piece.replace("*", "id0").replace("?", "i") if index % 2 == 0 else "${" + piece + "}"
        for index, piece in enumerate(pieces)
    )


def _whole_arns(call: Recorded, members: Members) -> list[str]:
    """Return the ARNs the record gives whole: its resources[], ARNs in the request's members
    (``roleArn``, a ``functionName`` given as an ARN), and queues named by URL (whose path holds
    the queue's account). Each counts only where it matches a template of the action."""
    found = list(call.logged)
    for values in members.values():
        found.extend(v for v in values if v.startswith("arn:") and v not in found)
    for url in members.get("queueUrl", ()):
        match = _QUEUE_URL.match(url)
        if match is not None:
            region = match.group("region") or match.group("legacy") or call.region
            found.append(
                f"arn:{partition_of_region(region)}:sqs:{region}:{match.group('account')}:"
                f"{match.group('name')}"
            )
    return found


# SQS developer guide, queue URLs: https://sqs.<region>.amazonaws.com/<account>/<name> (also the
# legacy <region>.queue.amazonaws.com host).
_QUEUE_URL = re.compile(
    r"^https?://(?:sqs\.(?P<region>[a-z0-9-]+)\.|(?P<legacy>[a-z0-9-]+)\.queue\.)?[^/]*"
    r"/(?P<account>\d{12})/(?P<name>[^/]+)/?$"
)


def expected(call: Recorded) -> tuple[list[list[str]], tuple[_Type, ...]]:
    """Return the groups of ARNs the call must be allowed on (one of each group: the record may
    hold a call's several resources of one type, a copy's source and destination), and the types
    a grant must be of when the record names no resource of any type the action takes."""
    types = _types(call.action)
    if types is None:
        return [], ()
    members = members_of(call.params)
    whole = _whole_arns(call, members)
    groups: list[list[str]] = []
    for kind in types.required:
        arns = [a for a in whole if kind.regex.match(a)] or _filled(kind, call, members)
        if arns:
            # A call naming a resource nested in this one (a DynamoDB table's index) is
            # authorized against the nested one: DynamoDB developer guide, "Using IAM policy
            # conditions for fine-grained access control" and the index ARNs of Query and Scan.
            nested = [
                a
                for child in types.optional
                if (call.action.split(":", 1)[0], child.name) in _NESTED
                and child.template.startswith(kind.template + "/")
                for a in _filled(child, call, members)
            ]
            groups.append(sorted(set(_owned_too(call, kind, nested or arns))))
    if not types.required:
        # Optional types are alternatives (Service Authorization Reference: "you can choose to
        # use one of the optional resource types"): one of the resources the record names.
        some = {a for kind in types.optional for a in whole if kind.regex.match(a)}
        some |= {a for kind in types.optional for a in _filled(kind, call, members)}
        if some:
            groups.append(sorted(some))
    if groups:
        return groups, ()
    return [], types.required or types.optional


def _owned_too(call: Recorded, kind: _Type, arns: list[str]) -> list[str]:
    """Return ``arns`` and, for a resource AWS owns (an SSM document named AWS-…), its ARN
    without an account, which is the one it has."""
    prefixes = _AWS_OWNED.get((call.action.split(":", 1)[0], kind.name))
    if prefixes is None:
        return arns
    owned = []
    for arn in arns:
        parts = arn.split(":", 5)
        name = parts[5].rsplit("/", 1)[-1] if len(parts) == 6 else ""
        if name.lower().startswith(prefixes):
            owned.append(":".join([*parts[:4], "", parts[5]]))
    return arns + owned


def _granted(documents: Sequence[Mapping[str, Any]], action: str) -> list[str] | None:
    """Return the resources the documents' Allow statements grant ``action`` on; None when a
    statement's resources cannot be listed (NotResource)."""
    found: list[str] = []
    for document in documents:
        for statement in statements_of(document):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if not any(isinstance(a, str) and match_action(a, action) for a in actions):
                continue
            if "NotResource" in statement:
                return None
            resources = statement.get("Resource", [])
            found.extend([resources] if isinstance(resources, str) else resources)
    return found


def _conforms(resource: str, kinds: tuple[_Type, ...]) -> bool:
    """Whether a policy resource can name a resource of one of ``kinds``. A template variable
    left in it (escaped, ``${$}{VpcId}``) names a resource whose id is that text: none is."""
    if resource == "*":
        return True
    return any(
        k.grant_regex.match(resource)
        and not any(f"${{$}}{{{v}}}" in resource for v in _VARIABLE.findall(k.template))
        for k in kinds
    )


_Grants = list[tuple[tuple[str, ...], frozenset[str], tuple[str, ...]]]


def _simple_grants(documents: Sequence[Mapping[str, Any]]) -> _Grants | None:
    """Return each statement's actions, exact resources and patterns when every statement is
    an Allow of Action on Resource (as trailmin writes them), else None (the evaluator
    decides). Exact resources are kept as the request would name them (escapes undone)."""
    found: _Grants = []
    for document in documents:
        for statement in statements_of(document):
            if set(statement) - {"Sid", "Effect", "Action", "Resource"}:
                return None
            if statement.get("Effect") != "Allow":
                return None
            actions = statement.get("Action", [])
            resources = statement.get("Resource", [])
            actions = [actions] if isinstance(actions, str) else list(actions)
            resources = [resources] if isinstance(resources, str) else list(resources)
            if any("${" in _unescape(r) for r in resources):
                return None  # a policy variable: the evaluator knows what it stands for
            exact = {_unescape(r) for r in resources if not _is_pattern(r)}
            patterns = tuple(r for r in resources if _is_pattern(r))
            found.append((tuple(actions), frozenset(exact), patterns))
    return found


def _is_pattern(resource: str) -> bool:
    stripped = resource.replace("${*}", "").replace("${?}", "").replace("${$}", "")
    return any(ch in stripped for ch in "*?$")


def _unescape(resource: str) -> str:
    return resource.replace("${*}", "*").replace("${?}", "?").replace("${$}", "$")


def _simply_allowed(grants: _Grants, action: str, arn: str) -> bool:
    for actions, exact, patterns in grants:
        if not any(match_action(a, action) for a in actions):
            continue
        if arn in exact or any(pattern_matches(p, arn) for p in patterns):
            return True
    return False


def check(
    documents: Sequence[Mapping[str, Any]], calls: Iterable[Recorded]
) -> tuple[Mismatch, ...]:
    """Return the calls that the identity policies ``documents`` would refuse on the resources
    the catalog names for them."""
    layers = Layers(identity=list(documents), caller_side_only=True)
    decided: dict[tuple[str, str], bool] = {}
    simple = _simple_grants(documents)

    def allowed(action: str, arn: str) -> bool:
        key = (action, arn)
        if key not in decided:
            if simple is not None:
                decided[key] = _simply_allowed(simple, action, arn)
            else:
                # Whether the identity policies grant the action on this resource: their
                # conditions and the other account's side of a cross-account call are the
                # replay's to judge.
                result = evaluate(Request(action, arn), layers, mode=OPTIMISTIC)
                decided[key] = result.decision is Decision.ALLOW
        return decided[key]

    merged: dict[tuple[str, str, str], int] = {}
    for call in calls:
        groups, kinds = expected(call)
        found: list[tuple[str, str]] = []
        for group in groups:
            if not any(allowed(call.action, arn) for arn in group):
                reason = (
                    "the catalog's resource, built from the record, is not allowed"
                    if len(group) == 1
                    else "none of the resources the record names is allowed"
                )
                found.append((" or ".join(group), reason))
        if kinds:
            granted = _granted(documents, call.action)
            if granted is not None and granted and not any(_conforms(r, kinds) for r in granted):
                names = ", ".join(k.name for k in kinds)
                found.append(
                    (
                        ", ".join(sorted(set(granted))),
                        f"granted only on resources that are not of a type {call.action} is "
                        f"authorized against ({names})",
                    )
                )
        for resource, reason in found:
            key = (call.action, resource, reason)
            merged[key] = merged.get(key, 0) + call.calls
    return tuple(
        Mismatch(action, resource, reason, calls)
        for (action, resource, reason), calls in sorted(merged.items())
    )
