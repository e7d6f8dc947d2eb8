"""Which resources each action of an event touched: the catalog's ARN templates, filled in.

Pure. For an action, each resource type it accepts has an ARN template such as
``arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}``. Its variables are filled,
in order of trust, from

1. the record's ``resources[]`` (ARNs CloudTrail itself logged), matched against the template;
2. the request parameters (camelCase: ``bucketName``, ``tableName``, ``queueUrl``, …), by the
   extractors below, with the event's partition, region and account.

Where part of an ARN cannot be known from the record (an IAM role's path, a secret's random
suffix) the narrowest pattern that still matches the real resource is used, and the derivation
says so. When nothing reliable can be derived the resource is ``*`` and the derivation starts with
``unscoped``: never a guessed ARN that could deny a real call.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import product
from typing import Any
from urllib.parse import urlparse

from trailmin import catalog

EXACT = "exact"
PATTERN = "pattern"
UNSCOPED = "unscoped"
ANY = "*"

_VARIABLE = re.compile(r"\$\{([A-Za-z]+)\}")
# A resource's ARN is in several parts at most this many times before trailmin stops scoping.
MAX_RESOURCES = 50


@dataclass(frozen=True, slots=True)
class Context:
    """What an event says about where it happened and what it named."""

    partition: str
    region: str
    account: str
    params: dict[str, Any] = field(default_factory=dict)
    logged: tuple[str, ...] = ()  # ARNs from the record's resources[]


@dataclass(frozen=True, slots=True)
class Scoped:
    """The resources one action needed, and how they were derived."""

    action: str
    resources: tuple[str, ...]
    derivation: str  # "exact", "pattern: …" or "unscoped: …" (or "no resource type")

    @property
    def unscoped(self) -> bool:
        """Return whether the action had resource types but none could be derived."""
        return self.derivation.startswith(UNSCOPED)


# --- extractors: a template variable → the values a request gives it -----------------------------

Value = tuple[str, bool]  # (text, is a pattern rather than an exact name)
Extractor = Callable[[Context], list[Value]]


def _param(*names: str, transform: Callable[[str], str] | None = None) -> Extractor:
    def extract(ctx: Context) -> list[Value]:
        for name in names:
            value = _lookup(ctx.params, name)
            if isinstance(value, str) and value:
                return [((transform or _same)(value), False)]
        return []

    return extract


def _same(value: str) -> str:
    return value


def _lookup(params: dict[str, Any], path: str) -> Any:
    current: Any = params
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _last_segment(value: str, separator: str) -> str:
    return value.rsplit(separator, 1)[-1] if value.startswith("arn:") else value


def _function_name(ctx: Context) -> list[Value]:
    value = ctx.params.get("functionName")
    if not isinstance(value, str) or not value:
        return []
    # A name, a partial ARN (123456789012:function:name) or a full ARN, maybe with a qualifier.
    parts = value.split(":")
    if value.startswith("arn:") and len(parts) >= 7:
        return [(parts[6], False)]
    if len(parts) >= 3 and parts[1] == "function":
        return [(parts[2], False)]
    return [(parts[0], False)]


def _queue_name(ctx: Context) -> list[Value]:
    url = ctx.params.get("queueUrl")
    if isinstance(url, str) and url:
        path = urlparse(url).path.strip("/").split("/")
        if len(path) == 2:
            return [(path[1], False)]
    name = ctx.params.get("queueName")
    return [(name, False)] if isinstance(name, str) and name else []


def _with_path(parameter: str) -> Extractor:
    """An IAM name whose path the request does not give: the root path, or any path."""

    def extract(ctx: Context) -> list[Value]:
        name = ctx.params.get(parameter)
        if not isinstance(name, str) or not name:
            return []
        return [(name, False), (f"*/{name}", True)]

    return extract


def _secret_id(ctx: Context) -> list[Value]:
    value = ctx.params.get("secretId")
    if not isinstance(value, str) or not value:
        return []
    if value.startswith("arn:"):
        return [(value.split(":secret:", 1)[-1], False)]
    # A name: Secrets Manager appends a dash and six random characters to it in the ARN.
    return [(f"{value}-??????", True)]


def _parameter_name(ctx: Context) -> list[Value]:
    value = ctx.params.get("name")
    if not isinstance(value, str) or not value:
        return []
    if value.startswith("arn:"):
        value = value.split(":parameter", 1)[-1]
    return [(value.lstrip("/"), False)]


def _key_id(ctx: Context) -> list[Value]:
    value = ctx.params.get("keyId")
    if not isinstance(value, str) or not value or "alias/" in value:
        return []  # an alias does not say which key it points to
    return [(value.rsplit("key/", 1)[-1], False)]


def _instance_ids(ctx: Context) -> list[Value]:
    items = _lookup(ctx.params, "instancesSet.items")
    if not isinstance(items, list):
        return []
    return [(i["instanceId"], False) for i in items if isinstance(i, dict) and i.get("instanceId")]


def _stack_name(ctx: Context) -> list[Value]:
    value = ctx.params.get("stackName")
    if not isinstance(value, str) or not value:
        return []
    if value.startswith("arn:"):
        return [(value.split(":stack/", 1)[-1].split("/", 1)[0], False)]
    return [(value, False)]


def _stack_id(ctx: Context) -> list[Value]:
    value = ctx.params.get("stackName")
    if isinstance(value, str) and value.startswith("arn:") and value.count("/") >= 2:
        return [(value.rsplit("/", 1)[-1], False)]
    return [("*", True)]  # a stack's id is not in a request that names it


def _object_key(ctx: Context) -> list[Value]:
    key = ctx.params.get("key")
    return [(key, False)] if isinstance(key, str) and key else []


# (service, variable) first, then (None, variable).
EXTRACTORS: dict[tuple[str | None, str], Extractor] = {
    ("s3", "BucketName"): _param("bucketName"),
    ("s3", "ObjectName"): _object_key,
    ("dynamodb", "TableName"): _param("tableName", transform=lambda v: _last_segment(v, "/")),
    ("lambda", "FunctionName"): _function_name,
    ("sqs", "QueueName"): _queue_name,
    ("sns", "TopicName"): _param("topicArn", "targetArn", transform=lambda v: v.split(":")[-1]),
    ("logs", "LogGroupName"): _param("logGroupName"),
    ("logs", "LogStreamName"): _param("logStreamName"),
    ("secretsmanager", "SecretId"): _secret_id,
    ("kms", "KeyId"): _key_id,
    ("iam", "RoleNameWithPath"): _with_path("roleName"),
    ("iam", "UserNameWithPath"): _with_path("userName"),
    ("iam", "GroupNameWithPath"): _with_path("groupName"),
    ("iam", "PolicyNameWithPath"): _param(
        "policyArn", transform=lambda v: v.split(":policy/", 1)[-1]
    ),
    ("ssm", "ParameterNameWithoutLeadingSlash"): _parameter_name,
    ("ecr", "RepositoryName"): _param("repositoryName"),
    ("cloudformation", "StackName"): _stack_name,
    ("cloudformation", "Id"): _stack_id,
    ("ec2", "InstanceId"): _instance_ids,
    ("rds", "DbInstanceName"): _param("dBInstanceIdentifier"),
    ("glue", "DatabaseName"): _param("databaseName"),
    ("glue", "TableName"): _param("tableName", "name"),
    ("athena", "WorkGroupName"): _param("workGroup"),
    ("events", "EventBusName"): _param("eventBusName", transform=lambda v: _last_segment(v, "/")),
    ("cloudwatch", "AlarmName"): _param("alarmName"),
    ("ecs", "ClusterName"): _param("cluster", transform=lambda v: _last_segment(v, "/")),
}


def _extract(service: str, variable: str, ctx: Context) -> list[Value]:
    if variable == "Partition":
        return [(ctx.partition, False)]
    if variable == "Region":
        return [(ctx.region, False)]
    if variable == "Account":
        return [(ctx.account, False)]
    extractor = EXTRACTORS.get((service, variable)) or EXTRACTORS.get((None, variable))
    return extractor(ctx) if extractor is not None else []


# --- templates ------------------------------------------------------------------------------------


# Variables whose values may hold "/" (paths, keys, hierarchical names); others hold neither
# "/" nor ":", so that a bucket's template does not match an object's ARN.
_SLASHED = frozenset(
    {
        "ObjectName",
        "RoleNameWithPath",
        "UserNameWithPath",
        "GroupNameWithPath",
        "PolicyNameWithPath",
        "ParameterNameWithoutLeadingSlash",
        "SecretId",
        "LogGroupName",
        "LogStreamName",
    }
)
_PARTS = {"Partition": "aws[a-z-]*", "Region": "[a-z0-9-]*", "Account": "[0-9]*"}


@functools.cache
def _template_regex(template: str) -> re.Pattern[str]:
    pieces = _VARIABLE.split(template)
    out = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            out.append(re.escape(piece))
        else:
            out.append(_PARTS.get(piece) or ("[^:]+" if piece in _SLASHED else "[^:/]+"))
    return re.compile("^" + "".join(out) + "$")


def _fill(service: str, template: str, ctx: Context) -> tuple[list[str], bool] | None:
    """Return the ARNs the template gives for this event and whether any is a pattern."""
    variables = _VARIABLE.findall(template)
    choices: list[list[Value]] = []
    for variable in variables:
        values = _extract(service, variable, ctx)
        if not values:
            return None
        choices.append(values)
    arns: list[str] = []
    patterned = False
    for combination in product(*choices):
        arn = template
        for variable, (value, is_pattern) in zip(variables, combination, strict=True):
            arn = arn.replace("${" + variable + "}", value, 1)
            patterned = patterned or is_pattern
        arns.append(arn)
        if len(arns) > MAX_RESOURCES:
            return None
    return arns, patterned


def scope(action_name: str, ctx: Context) -> Scoped:
    """Return the resources ``action_name`` needed in the event described by ``ctx``."""
    action = catalog.action(action_name)
    if action is None:
        return Scoped(action_name, (ANY,), f"{UNSCOPED}: {action_name} is not in the catalog")
    if action.takes_no_resource:
        return Scoped(action.full_name, (ANY,), "no resource type")
    templates = [rt.arn_template for rt in action.resource_types if rt.arn_template]
    # 1. What CloudTrail logged in resources[] and a template of the action accepts.
    logged = [
        arn
        for arn in ctx.logged
        if any(_template_regex(template).match(arn) for template in templates)
    ]
    if logged:
        return Scoped(action.full_name, tuple(sorted(set(logged))), EXACT)
    # 2. The request's parameters, one resource type after the other.
    for template in templates:
        filled = _fill(action.service, template, ctx)
        if filled is None:
            continue
        arns, patterned = filled
        derivation = EXACT
        if patterned:
            derivation = (
                f"{PATTERN}: part of the ARN is not in the record ({_pattern_reason(template)})"
            )
        return Scoped(action.full_name, tuple(sorted(set(arns))), derivation)
    return Scoped(
        action.full_name,
        (ANY,),
        f"{UNSCOPED}: no resource of {', '.join(rt.name for rt in action.resource_types)} "
        "could be derived from the record",
    )


def _pattern_reason(template: str) -> str:
    if "RoleNameWithPath" in template or "UserNameWithPath" in template:
        return "an IAM name's path"
    if "SecretId" in template:
        return "a secret's random suffix"
    if "${Id}" in template:
        return "a stack's id"
    return "a part the request does not name"


def logged_arns(resources: Iterable[dict[str, Any]] | None) -> tuple[str, ...]:
    """Return the ARNs of a record's ``resources[]`` (lake column values)."""
    return tuple(r["arn"] for r in resources or () if r.get("arn"))
