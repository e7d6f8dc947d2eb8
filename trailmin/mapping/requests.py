"""Calls whose actions depend on the request: object versions, DynamoDB transactions and PartiQL,
Bedrock model invocations, Secrets Manager batch reads.

Pure. Each refiner takes the actions the event name maps to and the request parameters, and
returns the (action, context) pairs the call needed, each context naming the resources that
action applied to. CloudTrail writes request members in lower camel case; forwarders and older
records sometimes keep the API's upper camel case, so both are read.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Callable
from typing import Any

from trailmin.aws import catalog
from trailmin.mapping.actions import data_file
from trailmin.mapping.resources import _VARIABLE, UNLOGGED_KEYS, UNLOGGED_SECRETS, Context

Refined = list[tuple[str, Context]]
Refiner = Callable[[tuple[str, ...], Context], Refined]

# S3 object actions that have a "Version" twin the call needs when it names a versionId.
_VERSIONED = {
    "s3:GetObject": "s3:GetObjectVersion",
    "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
}


def _member(item: dict[str, Any], name: str) -> Any:
    return item.get(name) if name in item else item.get(name[:1].upper() + name[1:])


def _object_version(actions: tuple[str, ...], ctx: Context) -> Refined:
    """S3 API reference: a request naming a versionId needs the action's Version variant."""
    versioned = bool(_member(ctx.params, "versionId"))
    return [(_VERSIONED.get(a, a) if versioned else a, ctx) for a in actions]


def _delete_objects(actions: tuple[str, ...], ctx: Context) -> Refined:
    """S3 API reference (DeleteObjects): each key is deleted as DeleteObject, or as
    DeleteObjectVersion when it names a version.

    CloudTrail does not log the keys of a multi-object delete (the S3 user guide's comparison of
    logging options): then the call is scoped to the bucket's objects, ``BUCKET/*``, the
    narrowest pattern sure to match the keys it deleted, and no version action is granted on a
    guess. A request that does list its keys (some forwarders keep them) is scoped key by key.
    """
    bucket = ctx.params.get("bucketName")
    if not isinstance(bucket, str) or not bucket:
        return [(a, ctx._replace(params={})) for a in actions]
    request = _member(ctx.params, "delete")
    listed = _member(request, "object") if isinstance(request, dict) else None
    if isinstance(listed, dict):
        listed = [listed]  # one <Object> element, as an XML-to-JSON conversion writes it
    found: Refined = []
    for item in listed if isinstance(listed, list) else ():
        key = _member(item, "key") if isinstance(item, dict) else None
        if not isinstance(key, str) or not key:
            continue
        versioned = bool(_member(item, "versionId"))
        params = {"bucketName": bucket, "key": key}
        found.extend(
            (_VERSIONED.get(a, a) if versioned else a, ctx._replace(params=params, logged=()))
            for a in actions
        )
    if found:
        return found
    params = {"bucketName": bucket, UNLOGGED_KEYS: "*"}
    return [(a, ctx._replace(params=params, logged=())) for a in actions]


# TransactWriteItems: each item is one of these, needing this action on its table.
_TRANSACT = {
    "put": "dynamodb:PutItem",
    "update": "dynamodb:UpdateItem",
    "delete": "dynamodb:DeleteItem",
    "conditionCheck": "dynamodb:ConditionCheckItem",
}


def _transact_write(_actions: tuple[str, ...], ctx: Context) -> Refined:
    """DynamoDB developer guide: each item of a transaction is authorized as its own action."""
    items = _member(ctx.params, "transactItems")
    found: Refined = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        for member, action in _TRANSACT.items():
            body = _member(item, member)
            if isinstance(body, dict):
                table = _member(body, "tableName")
                params = {"tableName": table} if isinstance(table, str) else {}
                found.append((action, ctx._replace(params=params, logged=())))
    return found


def _transact_get(_actions: tuple[str, ...], ctx: Context) -> Refined:
    """DynamoDB developer guide: TransactGetItems is authorized as GetItem on each table."""
    items = _member(ctx.params, "transactItems")
    found: Refined = []
    for item in items if isinstance(items, list) else ():
        body = _member(item, "get") if isinstance(item, dict) else None
        if isinstance(body, dict):
            table = _member(body, "tableName")
            params = {"tableName": table} if isinstance(table, str) else {}
            found.append(("dynamodb:GetItem", ctx._replace(params=params, logged=())))
    return found


_VERB = re.compile(r"^\s*(select|insert|update|delete|exists)\b", re.IGNORECASE)
# The word before the table: UPDATE <table>, INSERT INTO <table>, SELECT/DELETE ... FROM <table>.
_TABLE = {
    verb: re.compile(rf"\b{word}\s+\"?([A-Za-z0-9_.-]+)", re.IGNORECASE)
    for verb, word in (
        ("select", "from"),
        ("exists", "from"),
        ("delete", "from"),
        ("insert", "into"),
        ("update", "update"),
    )
}
_PARTIQL_ACTIONS = {
    "select": "dynamodb:PartiQLSelect",
    "exists": "dynamodb:PartiQLSelect",
    "insert": "dynamodb:PartiQLInsert",
    "update": "dynamodb:PartiQLUpdate",
    "delete": "dynamodb:PartiQLDelete",
}


def _statements(params: dict[str, Any]) -> list[str]:
    statement = _member(params, "statement")
    if isinstance(statement, str):
        return [statement]
    found: list[str] = []
    for group in ("statements", "transactStatements"):
        items = _member(params, group)
        for item in items if isinstance(items, list) else ():
            text = _member(item, "statement") if isinstance(item, dict) else None
            if isinstance(text, str):
                found.append(text)
    return found


def _partiql(_actions: tuple[str, ...], ctx: Context) -> Refined:
    """DynamoDB developer guide (PartiQL IAM policies): the statement's verb names the action."""
    found: Refined = []
    for statement in _statements(ctx.params):
        verb = _VERB.match(statement)
        if verb is None:
            continue
        name = verb.group(1).lower()
        table_match = _TABLE[name].search(statement)
        if table_match is None:
            continue
        table = table_match.group(1).split(".", 1)[0]
        action = _PARTIQL_ACTIONS[name]
        found.append((action, ctx._replace(params={"tableName": table}, logged=())))
    return found


# Bedrock user guide, geographic and global cross-Region inference: a system-defined inference
# profile's id is the model's id behind a geography (us.anthropic.claude-3-haiku-20240307-v1:0).
_GEOGRAPHIES = frozenset({"us", "eu", "apac", "us-gov", "global", "jp", "au", "ca"})


def _model_arns(model: str, ctx: Context) -> tuple[str, ...]:
    """Return the ARNs a Bedrock ``modelId`` (an id or an ARN) is authorized against.

    Bedrock user guide, prerequisites for inference profiles ("IAM policy requirements for
    geographic cross-Region inference"): invoking through an inference profile needs the
    permission on the profile and on the foundation model in every destination Region, which
    the record does not name: ``foundation-model/ID`` in any Region (``*``).
    """
    if model.startswith("arn:"):
        profile = model.split(":inference-profile/", 1)
        if len(profile) == 2 and profile[1].split(".", 1)[0] in _GEOGRAPHIES:
            base = profile[1].split(".", 1)[1]
            return (model, f"arn:{ctx.partition}:bedrock:*::foundation-model/{base}")
        return (model,)
    geography, _, rest = model.partition(".")
    if geography in _GEOGRAPHIES and rest.count(".") >= 1:
        return (
            f"arn:{ctx.partition}:bedrock:{ctx.region}:{ctx.account}:inference-profile/{model}",
            f"arn:{ctx.partition}:bedrock:*::foundation-model/{rest}",
        )
    return (f"arn:{ctx.partition}:bedrock:{ctx.region}::foundation-model/{model}",)


def _invoke_model(actions: tuple[str, ...], ctx: Context) -> Refined:
    """Bedrock API reference (InvokeModel, Converse): ``modelId`` names a foundation model, an
    inference profile or another model resource, by id or ARN."""
    model = _member(ctx.params, "modelId")
    if not isinstance(model, str) or not model:
        return [(a, ctx._replace(params={})) for a in actions]
    return [(a, ctx._replace(params={}, logged=_model_arns(model, ctx))) for a in actions]


def _batch_get_secret_value(_actions: tuple[str, ...], ctx: Context) -> Refined:
    """Secrets Manager API reference (BatchGetSecretValue): secretsmanager:BatchGetSecretValue,
    and secretsmanager:GetSecretValue for each secret; with filters, secretsmanager:ListSecrets.

    A filter's secrets are not in the record: GetSecretValue is then scoped to the account's
    secrets in the Region (``secret:*``), the narrowest pattern sure to match them.
    """
    bare = ctx._replace(params={}, logged=())
    found: Refined = [("secretsmanager:BatchGetSecretValue", bare)]
    listed = _member(ctx.params, "secretIdList")
    for secret in listed if isinstance(listed, list) else ():
        if isinstance(secret, str) and secret:
            params = {"secretId": secret}
            found.append(("secretsmanager:GetSecretValue", ctx._replace(params=params, logged=())))
    if _member(ctx.params, "filters"):
        found.append(("secretsmanager:ListSecrets", bare))
        params = {UNLOGGED_SECRETS: "*"}
        found.append(("secretsmanager:GetSecretValue", ctx._replace(params=params, logged=())))
    return found


@functools.cache
def _ec2_prefixes() -> tuple[tuple[str, str], ...]:
    """Return (id prefix, EC2 resource type) from ``ec2_id_prefixes.csv``, longest prefix first
    (``tgw-attach-`` before ``tgw-``)."""
    rows = csv.DictReader(data_file("ec2_id_prefixes.csv").splitlines())
    pairs = [(row["prefix"], row["resource_type"]) for row in rows]
    return tuple(sorted(pairs, key=lambda pair: -len(pair[0])))


def ec2_id_prefixes() -> list[tuple[str, str]]:
    """Return the (id prefix, resource type) rows of ``ec2_id_prefixes.csv``, for checking."""
    return sorted(_ec2_prefixes())


def _ec2_arn(resource_id: str, ctx: Context) -> str | None:
    """Return the ARN of the EC2 resource an id names, from its prefix (``vol-`` a volume), or
    None for a prefix the table does not know."""
    for prefix, kind in _ec2_prefixes():
        if resource_id.startswith(prefix) and len(resource_id) > len(prefix):
            found = catalog.resource_type("ec2", kind)
            template = found.arn_template if found is not None else None
            parts = {"Partition": ctx.partition, "Region": ctx.region, "Account": ctx.account}
            named = [v for v in _VARIABLE.findall(template or "") if v not in parts]
            if template is None or len(named) != 1:
                return None  # not an ARN the id alone fills
            parts[named[0]] = resource_id
            return _fill_parts(template, parts)
    return None


def _fill_parts(template: str, parts: dict[str, str]) -> str:
    """Return ``template`` with each ``${Variable}`` replaced by its value in ``parts``."""
    return _VARIABLE.sub(lambda m: parts[m.group(1)], template)


def _ec2_tags(actions: tuple[str, ...], ctx: Context) -> Refined:
    """EC2 API reference CreateTags/DeleteTags: ``ResourceId.N`` (``resourcesSet.items[]``)
    names each resource by id, and each is authorized: its ARN comes from the id's prefix
    (``ec2_id_prefixes.csv``). An id of an unknown prefix leaves the call unscoped."""
    items = _member(ctx.params, "resourcesSet")
    listed = _member(items, "items") if isinstance(items, dict) else None
    arns: list[str] = []
    for item in listed if isinstance(listed, list) else ():
        resource_id = _member(item, "resourceId") if isinstance(item, dict) else None
        arn = _ec2_arn(resource_id, ctx) if isinstance(resource_id, str) else None
        if arn is None:
            return [(a, ctx._replace(params={}, logged=())) for a in actions]
        arns.append(arn)
    return [(a, ctx._replace(params={}, logged=tuple(arns))) for a in actions]


# Systems Manager API reference CreateDocument: names beginning with these are reserved for
# documents AWS owns (AWS-RunShellScript), whose ARNs have no account:
# arn:aws:ssm:REGION::document/AWS-RunShellScript (Systems Manager user guide, sample policies).
_AWS_DOCUMENT = re.compile(r"^(aws|amazon|amzn)", re.IGNORECASE)


def _document_arn(name: str, ctx: Context) -> str:
    if name.startswith("arn:"):
        return name  # a document shared from another account, named by its ARN
    account = "" if _AWS_DOCUMENT.match(name) else ctx.account
    return f"arn:{ctx.partition}:ssm:{ctx.region}:{account}:document/{name}"


def _ssm_document(actions: tuple[str, ...], ctx: Context) -> Refined:
    """Systems Manager API reference (SendCommand ``DocumentName``, GetDocument and
    DescribeDocument ``Name``): the document, its
    ARN without an account when AWS owns it; SendCommand's ``InstanceIds`` are EC2 instances
    (``i-``) or managed nodes (``mi-``), each authorized too (``request_named.csv``)."""
    name = _member(ctx.params, "documentName") or _member(ctx.params, "name")
    arns: list[str] = []
    if isinstance(name, str) and name:
        arns.append(_document_arn(name, ctx))
    instances = _member(ctx.params, "instanceIds")
    for instance in instances if isinstance(instances, list) else ():
        if isinstance(instance, str) and instance.startswith("i-"):
            arns.append(f"arn:{ctx.partition}:ec2:{ctx.region}:{ctx.account}:instance/{instance}")
        elif isinstance(instance, str) and instance.startswith("mi-"):
            arns.append(
                f"arn:{ctx.partition}:ssm:{ctx.region}:{ctx.account}:managed-instance/{instance}"
            )
    return [(a, ctx._replace(params={}, logged=tuple(arns))) for a in actions]


# IAM user ARNs: arn:PARTITION:iam::ACCOUNT:user/PATH/NAME.
_IAM_USER = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:user/.+")


def _the_caller(actions: tuple[str, ...], ctx: Context) -> Refined:
    """IAM API reference (GetUser, ListAccessKeys, ListMFADevices, …, ``caller_user.csv``):
    without ``UserName`` the call acts on the IAM user whose access key signed it, the caller
    (``userIdentity.arn``). A caller that is no IAM user (a role's session) leaves it unscoped."""
    if _member(ctx.params, "userName"):
        return [(a, ctx) for a in actions]
    if _IAM_USER.match(ctx.caller):
        return [(a, ctx._replace(logged=(*ctx.logged, ctx.caller))) for a in actions]
    return [(a, ctx) for a in actions]


@functools.cache
def _caller_events() -> dict[tuple[str, str], str]:
    """Return the (service, eventName) of ``caller_user.csv``, with the provenance."""
    rows = csv.DictReader(data_file("caller_user.csv").splitlines())
    return {(row["service"], row["event_name"]): row["provenance"] for row in rows}


def caller_events() -> list[tuple[str, str]]:
    """Return the (service, eventName) pairs ``caller_user.csv`` names, for checking."""
    return sorted(_caller_events())


REFINERS: dict[tuple[str, str], Refiner] = {
    ("s3", "GetObject"): _object_version,
    ("s3", "HeadObject"): _object_version,
    ("s3", "DeleteObject"): _object_version,
    ("s3", "GetObjectAcl"): _object_version,
    ("s3", "PutObjectAcl"): _object_version,
    ("s3", "GetObjectTagging"): _object_version,
    ("s3", "PutObjectTagging"): _object_version,
    ("s3", "DeleteObjectTagging"): _object_version,
    ("s3", "DeleteObjects"): _delete_objects,
    ("dynamodb", "TransactWriteItems"): _transact_write,
    ("dynamodb", "TransactGetItems"): _transact_get,
    ("dynamodb", "ExecuteStatement"): _partiql,
    ("dynamodb", "BatchExecuteStatement"): _partiql,
    ("dynamodb", "ExecuteTransaction"): _partiql,
    ("bedrock", "InvokeModel"): _invoke_model,
    ("bedrock", "InvokeModelWithResponseStream"): _invoke_model,
    ("bedrock", "Converse"): _invoke_model,
    ("bedrock", "ConverseStream"): _invoke_model,
    ("secretsmanager", "BatchGetSecretValue"): _batch_get_secret_value,
    ("ec2", "CreateTags"): _ec2_tags,
    ("ec2", "DeleteTags"): _ec2_tags,
    ("ssm", "SendCommand"): _ssm_document,
    ("ssm", "GetDocument"): _ssm_document,
    ("ssm", "DescribeDocument"): _ssm_document,
}


def refiner_for(service: str, event_name: str) -> Refiner | None:
    """Return the refiner of a kind of call: ``REFINERS``'s, else the caller's own IAM user for
    the calls of ``caller_user.csv``."""
    found = REFINERS.get((service, event_name))
    if found is None and (service, event_name) in _caller_events():
        return _the_caller
    return found


# A refiner matters only when the raw request holds this (None: always): an S3 call naming no
# version is settled by what CloudTrail logged, without decoding its parameters.
REFINE_MARKERS: dict[tuple[str, str], bytes | None] = {
    key: (b"ersionId" if refiner is _object_version else None) for key, refiner in REFINERS.items()
}
