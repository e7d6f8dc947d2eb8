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

import csv
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from itertools import product
from typing import Any, NamedTuple
from urllib.parse import urlparse

from trailmin.aws import catalog
from trailmin.aws.arns import TEMPLATE_VARIABLE, escape
from trailmin.mapping.actions import data_file


class Scope(StrEnum):
    """How a permission's resource was derived: the code a derivation text states."""

    EXACT = "exact"  # the ARN as the record gives it
    PATTERN = "pattern"  # a part of the ARN is not in the record: a pattern in its place
    UNSCOPED = "unscoped"  # the action has resource types but none could be derived: "*"
    NO_RESOURCE_TYPE = "no resource type"  # the action takes "*" only


EXACT, PATTERN, UNSCOPED, NO_RESOURCE_TYPE = tuple(Scope)


def scope_of(derivation: str) -> Scope | None:
    """Return the scope a derivation text states, or None when it states none.

    A derivation reads ``[<mapping status>; ]<scope>[: <why>]`` ("direct; exact",
    "several; unscoped: the bucket is not in the record"); the why is free text, never read.
    """
    head = derivation.split(": ", 1)[0].rsplit("; ", 1)[-1]
    return Scope(head) if head in Scope._value2member_map_ else None


ANY = "*"

# Template variables hold letters and digits (${Ipv4PoolEc2Id}, ${HubV2Id}): every ${...} of the
# catalog's ARN templates has this shape (tests/test_mapping_resources.py checks it).
_VARIABLE = TEMPLATE_VARIABLE
# A resource's ARN is in several parts at most this many times before trailmin stops scoping.
MAX_RESOURCES = 50


class Context(NamedTuple):
    """What an event says about where it happened and what it named."""

    partition: str
    region: str
    account: str
    params: dict[str, Any] = {}  # noqa: RUF012 - never mutated; a NamedTuple is built per event
    logged: tuple[str, ...] = ()  # ARNs from the record's resources[]
    caller: str = ""  # the ARN of the identity that made the call (userIdentity.arn), if any


@dataclass(frozen=True, slots=True)
class Scoped:
    """The resources one action needed, and how they were derived."""

    action: str
    resources: tuple[str, ...]
    derivation: str  # "exact", "pattern: …" or "unscoped: …" (or "no resource type")

    @property
    def unscoped(self) -> bool:
        """Return whether the action had resource types but none could be derived."""
        return scope_of(self.derivation) is Scope.UNSCOPED


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
    """Lambda API reference: ``FunctionName`` is a name, a partial ARN (123456789012:function:
    name) or an ARN, each maybe with a version or alias appended; or ``Qualifier`` gives it.

    Lambda developer guide, versioning, aliases and resource policies: a permission applies only
    to the ARN it names, and a qualified call is authorized on the qualified ARN
    (``function:name:17``, ``function:name:live``): the unqualified one would not cover it.
    """
    value = ctx.params.get("functionName")
    if not isinstance(value, str) or not value:
        return []
    parts = value.split(":")
    if value.startswith("arn:") and len(parts) >= 7:
        name, rest = parts[6], parts[7:]
    elif len(parts) >= 3 and parts[1] == "function":
        name, rest = parts[2], parts[3:]
    else:
        name, rest = parts[0], parts[1:]
    qualifier = rest[0] if rest else ctx.params.get("qualifier")
    if isinstance(qualifier, str) and qualifier and not _NOT_AN_ID.search(qualifier):
        return [(f"{name}:{qualifier}", False)]
    return [(name, False)]


def _queue_name(ctx: Context) -> list[Value]:
    url = ctx.params.get("queueUrl")
    if isinstance(url, str) and url:
        path = urlparse(url).path.strip("/").split("/")
        if len(path) == 2:
            return [(path[1], False)]
    name = ctx.params.get("queueName")
    return [(name, False)] if isinstance(name, str) and name else []


def _with_path(parameter: str) -> Extractor:
    """An IAM name with the path the request gives, else the root path or any path."""

    def extract(ctx: Context) -> list[Value]:
        name = ctx.params.get(parameter)
        if not isinstance(name, str) or not name:
            return []
        path = ctx.params.get("path")
        if isinstance(path, str) and path.startswith("/") and path.endswith("/"):
            return [(path.lstrip("/") + name, False)]
        return [(name, False), (f"*/{escape(name)}", True)]

    return extract


def _secret_id(ctx: Context) -> list[Value]:
    if UNLOGGED_SECRETS in ctx.params:
        return [("*", True)]  # BatchGetSecretValue with filters: which secrets is not logged
    value = ctx.params.get("secretId") or ctx.params.get("name")
    if not isinstance(value, str) or not value:
        return []
    if value.startswith("arn:"):
        return [(value.split(":secret:", 1)[-1], False)]
    # A name: Secrets Manager appends a dash and six random characters to it in the ARN.
    return [(f"{escape(value)}-??????", True)]


def _parameter_name(ctx: Context) -> list[Value]:
    names = ctx.params.get("names")
    values = names if isinstance(names, list) else [ctx.params.get("name")]
    found: list[Value] = []
    for value in values:
        if not isinstance(value, str) or not value:
            continue
        name = value.split(":parameter", 1)[-1] if value.startswith("arn:") else value
        found.append((name.lstrip("/"), False))
    return found


def _key_id(ctx: Context) -> list[Value]:
    value = ctx.params.get("keyId")
    if not isinstance(value, str) or not value or "alias/" in value:
        return []  # an alias does not say which key it points to
    return [(value.rsplit("key/", 1)[-1], False)]


def _instance_ids(ctx: Context) -> list[Value]:
    """EC2 API reference: InstanceId.N (``instancesSet.items``) or one ``instanceId``
    (GetPasswordData, DescribeInstanceAttribute, ModifyInstanceAttribute, …)."""
    items = _lookup(ctx.params, "instancesSet.items")
    if not isinstance(items, list):
        return _camel("InstanceId")(ctx)
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


def _task_definition(ctx: Context, part: int) -> list[Value]:
    """Return the family (0) or revision (1) of ``taskDefinition``: family[:revision] or ARN."""
    value = ctx.params.get("taskDefinition") or ctx.params.get("family")
    if not isinstance(value, str) or not value:
        return []
    family, _, revision = _last_segment(value, "/").partition(":")
    if part == 0:
        return [(family, False)]
    # Without a revision the latest is used, and which one that is the record does not say.
    return [(revision, False)] if revision else [("*", True)]


def _ecs_cluster(ctx: Context) -> list[Value]:
    """ECS API reference: ``cluster`` (``clusterName`` in CreateCluster), a name or an ARN; when a
    logged request names none, "If you do not specify a cluster, the default cluster is
    assumed" (DescribeServices, DescribeTasks, UpdateService, RunTask, ListTasks, …)."""
    value = ctx.params.get("cluster") or ctx.params.get("clusterName")
    if isinstance(value, str) and value:
        return [(_last_segment(value, "/"), False)]
    # A record without request parameters says nothing, not "the default cluster".
    return [("default", False)] if ctx.params else []


def _ecs_members(*names: str) -> Extractor:
    """ECS API reference: ``services``/``service`` and ``tasks``/``task`` name services and tasks
    by name or id, or by ARN (``…:service/CLUSTER/NAME``, ``…:task/CLUSTER/ID``)."""

    def extract(ctx: Context) -> list[Value]:
        for name in names:
            value = ctx.params.get(name)
            items = value if isinstance(value, list) else [value]
            found = [(_last_segment(i, "/"), False) for i in items if isinstance(i, str) and i]
            if found:
                return found
        return []

    return extract


def _rds_name(*names: str) -> Extractor:
    """RDS API reference: identifiers of DB instances, clusters, snapshots and groups are
    "stored as a lowercase string", so the ARN holds the lower-case name; a value may be an ARN."""
    return _param(*names, transform=lambda v: _last_segment(v, ":").lower())


def _object_key(ctx: Context) -> list[Value]:
    key = ctx.params.get("key")
    if isinstance(key, str) and key:
        return [(key, False)]
    if UNLOGGED_KEYS in ctx.params:
        return [("*", True)]  # a multi-object delete, whose keys CloudTrail does not log
    return []


# Set in a request's parameters by a refiner when the call acted on objects it did not name.
UNLOGGED_KEYS = "(object keys not logged)"
# Set by a refiner when the call acted on secrets a filter chose (BatchGetSecretValue).
UNLOGGED_SECRETS = "(secrets chosen by a filter)"


def _trail_name(ctx: Context) -> list[Value]:
    """CloudTrail API reference: a trail is named by ``name`` or ``trailName``, a name or an ARN."""
    value = ctx.params.get("name") or ctx.params.get("trailName")
    if not isinstance(value, str) or not value:
        return []
    return [(value.split(":trail/", 1)[-1], False)]


def _camel(variable: str) -> Extractor:
    """The request parameter named as the variable in lower camel case (``routeTableId`` for
    ``${RouteTableId}``), used only when its value has the shape of an id or a name.

    EC2 and most JSON-protocol services name a request member after the resource it identifies
    (EC2 API reference: RouteTableId, VpcId, InstanceId; CloudTrail logs them in lower camel
    case). A value holding ``/`` or ``:`` is a path or an ARN, not the variable's value.
    """
    name = variable[:1].lower() + variable[1:]

    def extract(ctx: Context) -> list[Value]:
        value = ctx.params.get(name)
        if isinstance(value, str) and value and not _NOT_AN_ID.search(value):
            return [(value, False)]
        return []

    return extract


_NOT_AN_ID = re.compile(r"[/:\s*?]")
# Variables the naming rule must not fill: too generic (a request's "name" or "id" may be another
# resource's), or a name whose ARN is not always in the caller's account (Systems Manager user
# guide, shared SSM documents: AWS-owned documents such as AWS-RunShellScript have ARNs with no
# account, arn:aws:ssm:REGION::document/NAME, which the catalog's template would not give).
_NOT_BY_NAMING = frozenset(
    {"Id", "Name", "ResourceId", "ResourceName", "Arn", "Identifier", "DocumentName"}
)


# (service, variable) first, then (None, variable).
EXTRACTORS: dict[tuple[str | None, str], Extractor] = {
    ("s3", "BucketName"): _param("bucketName"),
    ("s3", "ObjectName"): _object_key,
    ("dynamodb", "TableName"): _param(
        "tableName", transform=lambda v: v.split(":table/", 1)[-1].split("/", 1)[0]
    ),
    ("dynamodb", "IndexName"): _param("indexName"),
    ("lambda", "FunctionName"): _function_name,
    ("sqs", "QueueName"): _queue_name,
    ("sns", "TopicName"): _param(
        "topicArn", "targetArn", "name", transform=lambda v: v.split(":")[-1]
    ),
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
    ("rds", "DbInstanceName"): _rds_name("dBInstanceIdentifier"),
    ("rds", "DbClusterInstanceName"): _rds_name("dBClusterIdentifier"),
    ("rds", "SnapshotName"): _rds_name("dBSnapshotIdentifier"),
    ("rds", "ClusterSnapshotName"): _rds_name("dBClusterSnapshotIdentifier"),
    ("rds", "SubnetGroupName"): _rds_name("dBSubnetGroupName"),
    ("rds", "ParameterGroupName"): _rds_name("dBParameterGroupName"),
    ("rds", "ClusterParameterGroupName"): _rds_name("dBClusterParameterGroupName"),
    ("rds", "OptionGroupName"): _rds_name("optionGroupName"),
    ("rds", "SecurityGroupName"): _rds_name("dBSecurityGroupName"),
    ("glue", "DatabaseName"): _param("databaseName"),
    ("glue", "TableName"): _param("tableName", "name"),
    ("athena", "WorkGroupName"): _param("workGroup"),
    ("events", "EventBusName"): _param("eventBusName", transform=lambda v: _last_segment(v, "/")),
    ("events", "RuleName"): _param("name", "rule"),
    ("cloudwatch", "AlarmName"): _param("alarmName"),
    ("ecs", "ClusterName"): _ecs_cluster,
    ("ecs", "ServiceName"): _ecs_members("services", "service", "serviceName"),
    ("ecs", "TaskId"): _ecs_members("tasks", "task"),
    ("ecs", "TaskDefinitionFamilyName"): lambda ctx: _task_definition(ctx, 0),
    ("ecs", "TaskDefinitionRevisionNumber"): lambda ctx: _task_definition(ctx, 1),
    # EC2 API reference: security-group calls name the group by GroupId (AuthorizeSecurity-
    # GroupIngress, DeleteSecurityGroup, RevokeSecurityGroupEgress, …).
    ("ec2", "SecurityGroupId"): _param("groupId"),
    # IAM API reference: InstanceProfileName (GetInstanceProfile, AddRoleToInstanceProfile, …).
    ("iam", "InstanceProfileNameWithPath"): _with_path("instanceProfileName"),
    ("cloudtrail", "TrailName"): _trail_name,
}


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
        "InstanceProfileNameWithPath",
    }
)
# Variables whose values may hold ":" as well: a Bedrock model id (anthropic.claude-v2:1).
# A Lambda function named with its version or alias (function:name:17, Lambda developer guide).
_COLONED = frozenset({"bedrock:ResourceId", "lambda:FunctionName"})
# A region is "*" in an ARN a refiner wrote for a resource in any region (the foundation model
# behind a cross-region inference profile).
_PARTS = {"Partition": "aws[a-z-]*", "Region": "(?:[a-z0-9-]*|\\*)", "Account": "[0-9]*"}


@functools.cache
def _template_regex(template: str) -> re.Pattern[str]:
    service = template.split(":", 3)[2] if template.count(":") >= 3 else ""
    pieces = _VARIABLE.split(template)
    out = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            # The catalog's own wildcards (``endpoint:*``) stand for any id there.
            out.append(re.escape(piece).replace("\\*", ".*").replace("\\?", "."))
        elif piece in _PARTS:
            out.append(_PARTS[piece])
        elif f"{service}:{piece}" in _COLONED:
            out.append("[^/]+")
        else:
            out.append("[^:]+" if piece in _SLASHED else "[^:/]+")
    return re.compile("^" + "".join(out) + "$")


@dataclass(frozen=True, slots=True)
class _Template:
    """A resource type's ARN template, ready to match and to fill."""

    type_name: str
    text: str
    regex: re.Pattern[str]
    variables: tuple[tuple[str, Extractor | None], ...]  # None: partition, region or account
    named: int  # how many variables come from the request
    log_group: bool
    # The catalog writes part of the ARN as a wildcard (dms ``endpoint:*``): a filled template is
    # a pattern, whose values are escaped and whose wildcards stay.
    wildcard: bool


# How an action's templates are chosen among: one of them, or every one at once.
ONE = "one"
ALL = "all"


@dataclass(frozen=True, slots=True)
class _Plan:
    """What ``scope`` needs of an action, worked out once per action."""

    name: str
    resource_types: str
    no_resource: bool
    mode: str  # ONE or ALL
    templates: tuple[_Template, ...]
    required: str  # the names of the required types ("" when none is)
    # Optional types authorized too when the request names one (request_named.csv): EC2's
    # subnet beside the route table of AssociateRouteTable.
    named_optional: tuple[_Template, ...] = ()


@functools.cache
def _choices() -> dict[str, str]:
    """Return the actions whose several required types are alternatives, with the provenance."""
    rows = csv.DictReader(data_file("resource_choices.csv").splitlines())
    return {row["action"].lower(): row["provenance"] for row in rows}


@functools.cache
def _request_named() -> dict[str, str]:
    """Return the services and actions whose optional resource types are authorized whenever
    the request names one, with the provenance."""
    rows = csv.DictReader(data_file("request_named.csv").splitlines())
    return {row["scope"].lower(): row["provenance"] for row in rows}


def request_named_scopes() -> list[str]:
    """Return the services and actions ``request_named.csv`` names, for checking."""
    return sorted(_request_named())


def _names_optional(action: catalog.Action) -> bool:
    named = _request_named()
    return action.service in named or action.full_name.lower() in named


def alternative_actions() -> list[str]:
    """Return the actions ``resource_choices.csv`` names, for checking against the catalog."""
    return sorted(_choices())


def _refines(text: str, base: str) -> bool:
    """Return whether template ``text`` names a part of the resource ``base`` names: a DynamoDB
    index of its table (``table/${TableName}/index/${IndexName}``)."""
    return len(text) > len(base) and text.startswith(base) and text[len(base)] in "/:"


@functools.cache
def _plan(action_name: str) -> _Plan | None:
    """Return how ``scope`` fills the action's templates.

    Service Authorization Reference ("Actions" tables): a resource type marked required (``*``)
    must be in a statement that allows the action. When an action requires several, it is
    authorized against each (Glue: the catalog, the database and the table; EC2 RunInstances:
    image, instance, network interface, security group, subnet, volume), unless
    ``resource_choices.csv`` says they are alternatives of which the request names one
    (Bedrock InvokeModel: a foundation model, or an inference profile, or …). An optional type
    is used only when the action requires none, or when it names a part of the required
    resource (DynamoDB Query on an index: ``table/T/index/I``): never in place of a required one.

    Besides, where AWS documents that "the parameters that you specify in the request determine
    the required permissions" (EC2 API reference, "Granting required permissions for Amazon EC2
    resources"; RDS, SSM SendCommand: ``request_named.csv``), an optional type the request
    names is authorized too, beside the required ones: ``named_optional``. Alternatives
    (``resource_choices.csv``) never gain one.
    """
    action = catalog.action(action_name)
    if action is None:
        return None
    typed = [rt for rt in action.resource_types if rt.arn_template]
    required = [rt for rt in typed if rt.required]
    optional = [rt for rt in typed if not rt.required]
    mode = ONE
    if len(required) > 1:
        chosen = required
        mode = ONE if action.full_name.lower() in _choices() else ALL
    elif required:
        base = required[0].arn_template or ""
        chosen = required + [rt for rt in optional if _refines(rt.arn_template or "", base)]
    else:
        chosen = optional
    templates = tuple(_template(action.service, rt.name, rt.arn_template or "") for rt in chosen)
    named_optional: tuple[_Template, ...] = ()
    if required and (mode == ALL or len(required) == 1) and _names_optional(action):
        named_optional = tuple(
            _template(action.service, rt.name, rt.arn_template or "")
            for rt in optional
            if rt not in chosen
        )
    return _Plan(
        name=action.full_name,
        resource_types=", ".join(rt.name for rt in action.resource_types),
        no_resource=action.takes_no_resource,
        mode=mode,
        templates=templates,
        required=", ".join(rt.name for rt in required),
        named_optional=tuple(t for t in named_optional if t.named),
    )


def names_parts(action_name: str) -> bool:
    """Return whether a request can name a part of the action's resource that ``resources[]``
    does not log (a DynamoDB index of the logged table): then the parameters must be read."""
    action = catalog.action(action_name)
    if action is None:
        return False
    templates = [rt.arn_template for rt in action.resource_types if rt.arn_template]
    return any(_refines(a, b) for a in templates for b in templates)


def _template(service: str, type_name: str, text: str) -> _Template:
    variables = _VARIABLE.findall(text)
    return _Template(
        type_name=type_name,
        text=text,
        regex=_template_regex(text),
        variables=tuple((v, None if v in _PARTS else _extractor(service, v)) for v in variables),
        named=len([v for v in variables if v not in _PARTS]),
        log_group=text.endswith(":log-group:${LogGroupName}"),
        wildcard=_has_wildcard(text),
    )


def _has_wildcard(template: str) -> bool:
    fixed = _VARIABLE.sub("", template)
    return "*" in fixed or "?" in fixed


def _extractor(service: str, variable: str) -> Extractor:
    found = EXTRACTORS.get((service, variable)) or EXTRACTORS.get((None, variable))
    if found is not None:
        return found
    if variable in _NOT_BY_NAMING:
        return _nothing
    return _camel(variable)


def _nothing(_ctx: Context) -> list[Value]:
    """A variable no request parameter gives: its template cannot be filled."""
    return []


def extractor_kind(service: str, variable: str) -> str:
    """Return how a template variable is filled: "part" (partition, region, account), "named"
    (an extractor of ``EXTRACTORS``), "naming" (the lower-camel-case parameter) or "none"."""
    if variable in _PARTS:
        return "part"
    if (service, variable) in EXTRACTORS or (None, variable) in EXTRACTORS:
        return "named"
    return "none" if variable in _NOT_BY_NAMING else "naming"


def _fill(template: _Template, ctx: Context) -> tuple[list[str], bool] | None:
    """Return the ARNs the template gives for this event and whether any is a pattern."""
    choices: list[list[Value]] = []
    for variable, extractor in template.variables:
        if extractor is None:
            part = (
                ctx.partition
                if variable == "Partition"
                else ctx.region
                if variable == "Region"
                else ctx.account
            )
            choices.append([(part, False)])
            continue
        values = extractor(ctx)
        if not values:
            return None
        choices.append(values)
    arns: list[str] = []
    # A pattern is written as a policy writes it: the values the record gave are escaped, so
    # that a name holding "*" stays that name (an exact ARN is escaped when it is emitted).
    patterned = (
        template.log_group or template.wildcard or any(p for values in choices for _, p in values)
    )
    for combination in product(*choices):
        arn = template.text
        for (variable, _), (value, is_pattern) in zip(template.variables, combination, strict=True):
            if "${" in value and not is_pattern:
                return None  # never an ARN with a variable left in it
            arn = arn.replace(
                "${" + variable + "}", value if is_pattern or not patterned else escape(value), 1
            )
        if _VARIABLE.search(arn.replace("${$}", "").replace("${*}", "").replace("${?}", "")):
            return None  # never an ARN with a variable left in it
        arns.append(arn)
        if template.log_group:
            # CloudWatch Logs authorizes many log-group actions against "log-group:NAME:*".
            arns.append(arn + ":*")
        if len(arns) > MAX_RESOURCES:
            return None
    return arns, patterned


def scope(action_name: str, ctx: Context) -> Scoped:
    """Return the resources ``action_name`` needed in the event described by ``ctx``."""
    plan = _plan(action_name)
    if plan is None:
        return Scoped(action_name, (ANY,), f"{UNSCOPED}: {action_name} is not in the catalog")
    if plan.no_resource:
        return Scoped(plan.name, (ANY,), NO_RESOURCE_TYPE)
    scoped = _scope_plan(plan, ctx)
    if not plan.named_optional or scoped.unscoped:
        return scoped
    return _with_named_optional(plan, ctx, scoped)


def _with_named_optional(plan: _Plan, ctx: Context, scoped: Scoped) -> Scoped:
    """Return ``scoped`` with the optional resources the request names (a subnet beside the
    route table): each is authorized too (``request_named.csv``)."""
    arns = set(scoped.resources)
    reasons: list[str] = []
    candidates = (*ctx.logged, *_parameter_arns(ctx.params))
    for template in plan.named_optional:
        logged = [arn for arn in candidates if template.regex.match(arn)]
        if logged:
            arns.update(logged)
            continue
        filled = _fill(template, ctx)
        if filled is None:
            continue  # not named by this request: not needed
        arns.update(filled[0])
        if filled[1]:
            reasons.append(_pattern_reason(template.text))
    if len(arns) == len(scoped.resources):
        return scoped
    derivation = scoped.derivation
    if reasons and not derivation.startswith(PATTERN):
        derivation = f"{PATTERN}: part of the ARN is not in the record ({', '.join(reasons)})"
    return Scoped(plan.name, tuple(sorted(arns)), derivation)


def _scope_plan(plan: _Plan, ctx: Context) -> Scoped:
    if plan.mode == ALL:
        # The action is authorized against each of these (Glue: catalog, database and table):
        # every one must be derived.
        return _scope_all(plan, ctx)
    templates = plan.templates
    # 1. What CloudTrail logged in resources[], then ARNs the request gives whole (roleArn,
    # topicArn, a function or table named by ARN), where a template of the action accepts them.
    for candidates in (ctx.logged, _parameter_arns(ctx.params)):
        if not candidates:
            continue
        matched = sorted({arn for arn in candidates if any(t.regex.match(arn) for t in templates)})
        if matched:
            # A part of the logged resource named beside it (an index beside its table) is
            # what was authorized.
            parts = _filled_parts(plan, ctx, matched)
            if parts is not None:
                return parts
            derivation: str = EXACT
            if any("*" in arn for arn in matched):
                derivation = f"{PATTERN}: part of the ARN is not in the record (its region)"
            return Scoped(plan.name, tuple(matched), derivation)
    # 2. Templates filled from the request's parameters: the one that uses the most of them
    # (an index named beside its table is the index). A template with no variable of its own
    # (Bedrock's marketplace/model-endpoint/all-access) is chosen only when it is the only one:
    # it would otherwise "fill" for every request.
    best: tuple[int, list[str], bool, str] | None = None
    for template in templates:
        if template.named == 0 and len(templates) > 1:
            continue
        filled = _fill(template, ctx)
        if filled is None:
            continue
        if best is None or template.named > best[0]:
            best = (template.named, filled[0], filled[1], template.text)
    if best is not None:
        _, arns, patterned, text = best
        derivation = EXACT
        if patterned:
            derivation = (
                f"{PATTERN}: part of the ARN is not in the record ({_pattern_reason(text)})"
            )
        return Scoped(plan.name, tuple(sorted(set(arns))), derivation)
    if plan.required:
        what = (
            f"the required {plan.required} could not"
            if "," not in plan.required
            else f"none of the required resources ({plan.required}) could"
        )
        return Scoped(plan.name, (ANY,), f"{UNSCOPED}: {what} be derived from the record")
    return Scoped(
        plan.name,
        (ANY,),
        f"{UNSCOPED}: no resource of {plan.resource_types} could be derived from the record",
    )


def _filled_parts(plan: _Plan, ctx: Context, matched: list[str]) -> Scoped | None:
    """Return the parts of the matched resources the request names, or None when it names none."""
    for template in plan.templates:
        if template.named == 0:
            continue
        filled = _fill(template, ctx)
        if filled is None:
            continue
        arns, patterned = filled
        if all(any(_refines(arn, parent) for parent in matched) for arn in arns):
            derivation: str = EXACT
            if patterned:
                reason = _pattern_reason(template.text)
                derivation = f"{PATTERN}: part of the ARN is not in the record ({reason})"
            return Scoped(plan.name, tuple(sorted(set(arns))), derivation)
    return None


def _parameter_arns(params: dict[str, Any]) -> list[str]:
    """Return the whole ARNs among the request's top-level parameters and lists of them
    (``resourceIdList``, ``resourceArns``)."""
    found: list[str] = []
    for value in params.values():
        if isinstance(value, str) and value.startswith("arn:"):
            found.append(value)
        elif isinstance(value, list):
            found.extend(v for v in value if isinstance(v, str) and v.startswith("arn:"))
    return found


def _scope_all(plan: _Plan, ctx: Context) -> Scoped:
    arns: set[str] = set()
    patterned: list[str] = []
    for template in plan.templates:
        logged = [arn for arn in ctx.logged if template.regex.match(arn)]
        if logged:
            arns.update(logged)
            continue
        filled = _fill(template, ctx)
        if filled is None:
            return Scoped(
                plan.name,
                (ANY,),
                f"{UNSCOPED}: {plan.name} is authorized against each of its required resources "
                f"({plan.required}) and the {template.type_name} could not be derived from the "
                "record",
            )
        arns.update(filled[0])
        if filled[1]:
            patterned.append(_pattern_reason(template.text))
    derivation: str = EXACT
    if patterned:
        derivation = f"{PATTERN}: part of the ARN is not in the record ({', '.join(patterned)})"
    return Scoped(plan.name, tuple(sorted(arns)), derivation)


def _pattern_reason(template: str) -> str:
    if _has_wildcard(template):
        return "the catalog names this resource type with a wildcard"
    if template.endswith(":log-group:${LogGroupName}"):
        return "a log group is authorized with and without a trailing :*"
    if "NameWithPath" in template:
        return "an IAM name's path"
    if "SecretId" in template:
        return "a secret's random suffix, or the secrets a filter chose"
    if "${Id}" in template:
        return "a stack's id"
    if "${ObjectName}" in template:
        return "the keys of a multi-object delete, which CloudTrail does not log"
    return "a part the request does not name"
