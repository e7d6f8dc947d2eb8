"""Scoping across the catalog: resolved ARNs of accepted types or "*" unscoped, never "${...}"."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from tests.conftest import templated_actions
from trailmin.aws import catalog
from trailmin.mapping.inferred import error_rules, session_rules, tag_rules
from trailmin.mapping.permissions import Call, Permission, event_permissions, permissions_column
from trailmin.mapping.resources import (
    _VARIABLE,
    UNSCOPED,
    Context,
    _fill,
    _plan,
    alternative_actions,
    extractor_kind,
    request_named_scopes,
    scope,
)

ACCT = "111122223333"
REGION = "us-east-1"


def ctx(params=None, logged=()):
    return Context("aws", REGION, ACCT, params or {}, tuple(logged))


def _camel(variable):
    return variable[:1].lower() + variable[1:]


# --- catalog-wide ---------------------------------------------------------------------------------


def test_every_template_variable_is_one_the_mapping_reads():
    """Service Authorization Reference, resource types: every ${...} of an ARN template is a
    letters-and-digits name (${Ipv4PoolEc2Id}), which the variable pattern reads whole."""
    for action in templated_actions():
        for rt in action.resource_types:
            text = rt.arn_template or ""
            assert "${" not in _VARIABLE.sub("", text), (action.full_name, text)


def test_every_variable_is_filled_by_an_extractor_or_leaves_its_template_unfillable():
    """A variable nothing fills makes its template unfillable, whatever else the request holds:
    the next ${Ipv4PoolEc2Id} is found here, not by a user."""
    for action in templated_actions():
        plan = _plan(action.full_name)
        assert plan is not None
        for template in plan.templates:
            kinds = {v: extractor_kind(action.service, v) for v, _ in template.variables}
            # Every variable given by its lower-camel-case parameter, with an id's shape.
            params = {_camel(v): f"x{n}" for n, v in enumerate(kinds)}
            filled = _fill(template, ctx(params))
            if "none" in kinds.values():
                assert filled is None, (action.full_name, template.text)
            if filled is not None:
                assert not any("${" in arn for arn in filled[0]), (action.full_name, filled)


# Synthetic requests: nothing, every variable by its naming rule, values shaped like ARNs and
# paths (which the naming rule refuses), and the catalog's own names as keys.
def _contexts(action):
    variables = sorted(
        {v for rt in action.resource_types for v in _VARIABLE.findall(rt.arn_template or "")}
    )
    named = [v for v in variables if v not in {"Partition", "Region", "Account"}]
    yield ctx()
    yield ctx({_camel(v): f"id-{n}" for n, v in enumerate(named)})
    yield ctx({_camel(v): f"a/b:{n}" for n, v in enumerate(named)})
    yield ctx({v: f"upper-{n}" for n, v in enumerate(named)})
    yield ctx({_camel(v): f"half-{n}" for n, v in enumerate(named) if n % 2 == 0})


def _names_optional(action):
    named = request_named_scopes()
    return action.service in named or action.full_name.lower() in named


def test_scope_returns_only_arns_of_accepted_types_or_star_unscoped():
    """For every catalog action and many synthetic requests, a resource is "*" (derivation
    "unscoped: ...") or an ARN matching a template of a type the action accepts, a required one
    (or a part of it, a DynamoDB index) when the action requires any, unless request_named.csv
    says the optional ones the request names are authorized too; never one with "${"."""
    for action in templated_actions():
        required = [rt.arn_template for rt in action.resource_types if rt.required]
        every = [rt.arn_template for rt in action.resource_types]
        accepted = every if _names_optional(action) else (required or every)
        regexes = [re.compile("^" + _loose(t) + "$") for t in accepted if t]
        for context in _contexts(action):
            scoped = scope(action.full_name, context)
            for arn in scoped.resources:
                assert "${" not in arn, (action.full_name, arn)
                if arn == "*":
                    assert scoped.derivation.startswith(UNSCOPED), (action.full_name, scoped)
                    continue
                assert any(r.match(arn) or _part_of(arn, required) for r in regexes), (
                    action.full_name,
                    arn,
                )


def _loose(template):
    """Return a regex matching the template with any value (``.+``) for each variable."""
    pieces = _VARIABLE.split(template)
    return "".join(re.escape(p) if i % 2 == 0 else ".+" for i, p in enumerate(pieces))


def _part_of(arn, required):
    """Return whether ``arn`` is a part of a required resource (an index of its table)."""
    return any(t and re.match("^" + _loose(t) + "[/:]", arn) for t in required)


def test_tables_name_actions_and_types_the_catalog_has():
    """Service Authorization Reference: every action and resource type the scoping tables name."""
    for name in alternative_actions():
        action = catalog.action(name)
        assert action is not None, name
        assert len([rt for rt in action.resource_types if rt.required]) > 1, name
    for _, _, action_name, kind in tag_rules():
        action = catalog.action(action_name)
        assert action is not None, action_name
        if kind:
            assert kind in {rt.name for rt in action.resource_types}, (action_name, kind)
    for _, _, _, action_name in error_rules():
        assert catalog.action(action_name) is not None, action_name
    for _, _, action_name in session_rules():
        action = catalog.action(action_name)
        assert action is not None, action_name
        assert "role" in {rt.name for rt in action.resource_types}, action_name


# --- the rules, one table each --------------------------------------------------------------------

ARN = f"arn:aws:ec2:{REGION}:{ACCT}"

SCOPE_CASES = [
    # A required type the record does not give: "*", saying so; never the optional pool.
    (
        "ec2:CreateVpc",
        ctx({"cidrBlock": "10.0.0.0/16", "ipv6Pool": "ipv6pool-ec2-1", "ipv6PoolEc2Id": "p-1"}),
        ("*",),
        "unscoped: the required vpc could not be derived from the record",
    ),
    # EC2 API reference, "Granting required permissions for Amazon EC2 resources": the request's
    # parameters decide the resources authorized: the route table and the subnet it names.
    (
        "ec2:AssociateRouteTable",
        ctx({"routeTableId": "rtb-1", "subnetId": "subnet-1"}),
        (f"{ARN}:route-table/rtb-1", f"{ARN}:subnet/subnet-1"),
        "exact",
    ),
    (
        "ec2:DeleteRouteTable",
        ctx({"routeTableId": "rtb-1"}),
        (f"{ARN}:route-table/rtb-1",),
        "exact",
    ),
    ("ec2:DescribeVpcAttribute", ctx({"vpcId": "vpc-1"}), (f"{ARN}:vpc/vpc-1",), "exact"),
    # AWS's own refusals name instance/i-… for these.
    ("ec2:GetPasswordData", ctx({"instanceId": "i-1"}), (f"{ARN}:instance/i-1",), "exact"),
    (
        "ec2:DescribeInstanceAttribute",
        ctx({"instanceId": "i-1", "attribute": "userData"}),
        (f"{ARN}:instance/i-1",),
        "exact",
    ),
    # The naming rule refuses values shaped like paths or ARNs.
    (
        "ec2:GetPasswordData",
        ctx({"instanceId": "a/b"}),
        ("*",),
        "unscoped: the required instance could not be derived from the record",
    ),
    (
        "ec2:AuthorizeSecurityGroupIngress",
        ctx({"groupId": "sg-1"}),
        (f"{ARN}:security-group/sg-1",),
        "exact",
    ),
    # Several required types, all authorized (EC2 RunInstances): one missing, "*".
    (
        "ec2:RunInstances",
        ctx({"instancesSet": {"items": [{"imageId": "ami-1"}]}}),
        ("*",),
        "unscoped: ec2:RunInstances is authorized against each of its required resources "
        "(image, instance, network-interface, security-group, subnet) and the image could not "
        "be derived from the record",
    ),
    # Glue: catalog, database and table, each authorized.
    (
        "glue:GetTable",
        ctx({"databaseName": "db", "name": "t"}),
        (
            f"arn:aws:glue:{REGION}:{ACCT}:catalog",
            f"arn:aws:glue:{REGION}:{ACCT}:database/db",
            f"arn:aws:glue:{REGION}:{ACCT}:table/db/t",
        ),
        "exact",
    ),
    # DynamoDB developer guide: a Query or Scan of an index is authorized on table/T/index/I,
    # also when CloudTrail logged the table's ARN.
    (
        "dynamodb:Query",
        ctx(
            {"tableName": "t", "indexName": "by-date"},
            logged=[f"arn:aws:dynamodb:{REGION}:{ACCT}:table/t"],
        ),
        (f"arn:aws:dynamodb:{REGION}:{ACCT}:table/t/index/by-date",),
        "exact",
    ),
    (
        "dynamodb:Scan",
        ctx({"tableName": "t", "indexName": "i"}),
        (f"arn:aws:dynamodb:{REGION}:{ACCT}:table/t/index/i",),
        "exact",
    ),
    (
        "dynamodb:Query",
        ctx({"tableName": "t"}, logged=[f"arn:aws:dynamodb:{REGION}:{ACCT}:table/t"]),
        (f"arn:aws:dynamodb:{REGION}:{ACCT}:table/t",),
        "exact",
    ),
    # Bedrock: alternatives; the all-access template has no variable and never wins by itself.
    (
        "bedrock:InvokeModel",
        ctx({}),
        ("*",),
        "unscoped: none of the required resources (application-inference-profile, async-invoke, "
        "bedrock-marketplace-model-endpoint, custom-model-deployment, default-prompt-router, "
        "foundation-model, imported-model, inference-profile, project, prompt-router, "
        "provisioned-model, system-tool) could be derived from the record",
    ),
    # IAM API reference: an instance profile by InstanceProfileName (root path or any path).
    (
        "iam:GetInstanceProfile",
        ctx({"instanceProfileName": "web"}),
        (
            f"arn:aws:iam::{ACCT}:instance-profile/*/web",
            f"arn:aws:iam::{ACCT}:instance-profile/web",
        ),
        "pattern: part of the ARN is not in the record (an IAM name's path)",
    ),
    # IAM API reference PutRolePolicy: an inline policy is authorized on its role, not a policy.
    (
        "iam:PutRolePolicy",
        ctx({"roleName": "app", "policyName": "inline", "path": "/"}),
        (f"arn:aws:iam::{ACCT}:role/app",),
        "exact",
    ),
    # CloudTrail API reference: a trail by name or by ARN.
    (
        "cloudtrail:StopLogging",
        ctx({"name": "main"}),
        (f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/main",),
        "exact",
    ),
    (
        "cloudtrail:DeleteTrail",
        ctx({"name": f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/main"}),
        (f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/main",),
        "exact",
    ),
    (
        "cloudtrail:GetEventSelectors",
        ctx({"trailName": "main"}),
        (f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/main",),
        "exact",
    ),
    # CloudTrail API reference ListTags: ResourceIdList, a list of ARNs.
    (
        "cloudtrail:ListTags",
        ctx({"resourceIdList": [f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/t"]}),
        (f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/t",),
        "exact",
    ),
    # SageMaker API reference BatchPutMetrics: the trial component the request names.
    (
        "sagemaker:BatchPutMetrics",
        ctx({"trialComponentName": "job-1-aws-training-job"}),
        (f"arn:aws:sagemaker:{REGION}:{ACCT}:experiment-trial-component/job-1-aws-training-job",),
        "exact",
    ),
]


@pytest.mark.parametrize(("action", "context", "resources", "derivation"), SCOPE_CASES)
def test_scope(action, context, resources, derivation):
    """Service Authorization Reference (resource types per action) and the API references."""
    scoped = scope(action, context)
    assert (scoped.resources, scoped.derivation) == (resources, derivation)


def _pairs(source, name, params, *, error_code=None, logged=()):
    found = event_permissions(source, name, None, ctx(params, logged), error_code=error_code)
    return sorted((p.action, p.resource, p.inferred) for p in found)


MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
FOUNDATION = f"arn:aws:bedrock:{REGION}::foundation-model/{MODEL}"
PROFILE = f"arn:aws:bedrock:{REGION}:{ACCT}:inference-profile/us.{MODEL}"

EVENT_CASES = [
    # Bedrock API reference: Converse needs bedrock:InvokeModel, ConverseStream
    # bedrock:InvokeModelWithResponseStream, on the model named by modelId.
    ("Converse", {"modelId": MODEL}, [("bedrock:InvokeModel", FOUNDATION, False)]),
    (
        "ConverseStream",
        {"modelId": MODEL},
        [("bedrock:InvokeModelWithResponseStream", FOUNDATION, False)],
    ),
    ("InvokeModel", {"modelId": FOUNDATION}, [("bedrock:InvokeModel", FOUNDATION, False)]),
    # Bedrock user guide, cross-Region inference: the profile and the model in every Region.
    (
        "InvokeModel",
        {"modelId": f"us.{MODEL}"},
        [
            ("bedrock:InvokeModel", f"arn:aws:bedrock:*::foundation-model/{MODEL}", False),
            ("bedrock:InvokeModel", PROFILE, False),
        ],
    ),
    (
        "InvokeModel",
        {"modelId": PROFILE},
        [
            ("bedrock:InvokeModel", f"arn:aws:bedrock:*::foundation-model/{MODEL}", False),
            ("bedrock:InvokeModel", PROFILE, False),
        ],
    ),
]


@pytest.mark.parametrize(("name", "params", "expected"), EVENT_CASES)
def test_bedrock_model_invocations(name, params, expected):
    """Bedrock API reference (InvokeModel, Converse, ConverseStream) and user guide."""
    assert _pairs("bedrock.amazonaws.com", name, params) == expected


SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCT}:secret"

SECRETS_CASES = [
    (
        {"secretIdList": ["db", f"{SECRET}:api-AbCdEf"]},
        [
            ("secretsmanager:BatchGetSecretValue", "*", False),
            ("secretsmanager:GetSecretValue", f"{SECRET}:api-AbCdEf", False),
            ("secretsmanager:GetSecretValue", f"{SECRET}:db-??????", False),
        ],
    ),
    (
        {"filters": [{"key": "name", "values": ["prod"]}]},
        [
            ("secretsmanager:BatchGetSecretValue", "*", False),
            ("secretsmanager:GetSecretValue", f"{SECRET}:*", False),
            ("secretsmanager:ListSecrets", "*", False),
        ],
    ),
]


@pytest.mark.parametrize(("params", "expected"), SECRETS_CASES)
def test_batch_get_secret_value(params, expected):
    """Secrets Manager API reference BatchGetSecretValue: GetSecretValue on each secret, and
    ListSecrets with filters."""
    assert _pairs("secretsmanager.amazonaws.com", "BatchGetSecretValue", params) == expected


TAG_CASES = [
    (
        "ec2.amazonaws.com",
        "RunInstances",
        {
            "instancesSet": {"items": [{"imageId": "ami-1"}]},
            "tagSpecificationSet": {
                "items": [{"resourceType": "instance"}, {"resourceType": "volume"}]
            },
        },
        [
            ("ec2:CreateTags", f"{ARN}:instance/*", True),
            ("ec2:CreateTags", f"{ARN}:volume/*", True),
        ],
    ),
    (
        "ec2.amazonaws.com",
        "CreateVpc",
        {"cidrBlock": "10.0.0.0/16", "tagSpecificationSet": {"items": [{"resourceType": "vpc"}]}},
        [("ec2:CreateTags", f"{ARN}:vpc/*", True)],
    ),
    (
        "ec2.amazonaws.com",
        "CreateVolume",
        {"size": "1", "tagSpecificationSet": {"items": [{"resourceType": "volume"}]}},
        [("ec2:CreateTags", f"{ARN}:volume/*", True)],
    ),
    (
        "ec2.amazonaws.com",
        "CreateSecurityGroup",
        {
            "groupName": "web",
            "vpcId": "vpc-1",
            "tagSpecificationSet": {"items": [{"resourceType": "security-group"}]},
        },
        [("ec2:CreateTags", f"{ARN}:security-group/*", True)],
    ),
    (
        "ec2.amazonaws.com",
        "CreateSnapshot",
        {"volumeId": "vol-1", "tagSpecificationSet": {"items": [{"resourceType": "snapshot"}]}},
        [("ec2:CreateTags", f"arn:aws:ec2:{REGION}::snapshot/*", True)],
    ),
    (
        "ecs.amazonaws.com",
        "CreateCluster",
        {"clusterName": "c", "tags": [{"key": "team", "value": "a"}]},
        [("ecs:TagResource", f"arn:aws:ecs:{REGION}:{ACCT}:cluster/*", True)],
    ),
    (
        "kms.amazonaws.com",
        "CreateKey",
        {"tags": [{"tagKey": "team", "tagValue": "a"}]},
        [("kms:TagResource", f"arn:aws:kms:{REGION}:{ACCT}:key/*", True)],
    ),
]


@pytest.mark.parametrize(("source", "name", "params", "expected"), TAG_CASES)
def test_tags_given_on_creation_need_the_tag_action(source, name, params, expected):
    """EC2 user guide "Grant permission to tag resources during creation"; ECS developer guide
    "Grant permission to tag resources on creation"; KMS developer guide (CreateKey tags)."""
    found = [p for p in _pairs(source, name, params) if p[2]]
    assert found == expected


def test_a_create_call_without_tags_needs_no_tag_action():
    """EC2 user guide: ec2:CreateTags is needed only when the create call specifies tags."""
    found = _pairs("ec2.amazonaws.com", "CreateVpc", {"cidrBlock": "10.0.0.0/16"})
    assert found == [("ec2:CreateVpc", "*", False)]


def test_an_unknown_created_type_is_unscoped():
    """EC2 user guide: the type comes from the tag specification; unknown, the tag is "*"."""
    found = event_permissions(
        "ec2.amazonaws.com",
        "CreateVpc",
        None,
        ctx({"tagSpecificationSet": {"items": [{"resourceType": "no-such-type"}]}}),
    )
    tags = [p for p in found if p.inferred]
    assert [(p.action, p.resource) for p in tags] == [("ec2:CreateTags", "*")]
    assert tags[0].derivation.startswith(UNSCOPED)


NO_SUCH_KEY_CASES = [
    ("GetObject", "NoSuchKey", [("s3:GetObject", False), ("s3:ListBucket", True)]),
    ("HeadObject", "NoSuchKey", [("s3:GetObject", False), ("s3:ListBucket", True)]),
    ("GetObject", "AccessDenied", [("s3:GetObject", False)]),
    ("GetObject", None, [("s3:GetObject", False)]),
]


@pytest.mark.parametrize(("name", "code", "expected"), NO_SUCH_KEY_CASES)
def test_no_such_key_shows_list_bucket(name, code, expected):
    """S3 API reference GetObject/HeadObject permissions: 404 NoSuchKey only with s3:ListBucket."""
    found = event_permissions(
        "s3.amazonaws.com",
        name,
        None,
        ctx({"bucketName": "b", "key": "k"}),
        error_code=code,
    )
    assert [(p.action, p.inferred) for p in found] == expected
    listed = [p for p in found if p.action == "s3:ListBucket"]
    for p in listed:
        assert p.resource == "arn:aws:s3:::b"
        assert "inferred: error NoSuchKey" in p.derivation


def test_the_permissions_column_infers_from_error_codes_when_given():
    """S3 API reference GetObject: the lake's column shows s3:ListBucket for a NoSuchKey."""
    calls = [Call(None, "s3.amazonaws.com", "GetObject", None, None, REGION, ACCT)]
    params = ['{"bucketName":"b","key":"k"}']
    column = permissions_column(calls, [0], params, [None], lambda _: (), error_codes=["NoSuchKey"])
    assert isinstance(column, pa.ListArray)
    rows = column.to_pylist()[0]
    assert [(r["action"], r["resource"], r["inferred"]) for r in rows] == [
        ("s3:GetObject", "arn:aws:s3:::b/k", False),
        ("s3:ListBucket", "arn:aws:s3:::b", True),
    ]
    plain = permissions_column(calls, [0], params, [None], lambda _: ())
    assert [r["action"] for r in plain.to_pylist()[0]] == ["s3:GetObject"]


def test_permission_is_still_the_named_tuple():
    """The permissions column's values: action, resource, derivation, inferred."""
    assert Permission._fields == ("action", "resource", "derivation", "inferred")


MAPPED_CASES = [
    ("metering-marketplace.amazonaws.com", "MeterUsage", ("aws-marketplace:MeterUsage",)),
    ("metering-marketplace.amazonaws.com", "BatchMeterUsage", ("aws-marketplace:BatchMeterUsage",)),
    ("metrics-sagemaker.amazonaws.com", "BatchPutMetrics", ("sagemaker:BatchPutMetrics",)),
    ("bedrock.amazonaws.com", "Converse", ("bedrock:InvokeModel",)),
    ("bedrock.amazonaws.com", "ConverseStream", ("bedrock:InvokeModelWithResponseStream",)),
]


@pytest.mark.parametrize(("source", "name", "actions"), MAPPED_CASES)
def test_events_once_unmapped_map_to_their_actions(source, name, actions):
    """AWS Marketplace seller guide (metering with CloudTrail), EventBridge events reference
    (metrics-sagemaker), Bedrock API reference (Converse, ConverseStream)."""
    from trailmin.mapping import map_event

    assert map_event(source, name).actions == actions


# --- resources the request names, of optional types, and extractors -------------------------------


def test_request_named_tables_name_what_the_catalog_has():
    """Service Authorization Reference: the services and actions of request_named.csv, the
    resource types of ec2_id_prefixes.csv (each one ec2:CreateTags accepts), and the IAM calls
    of caller_user.csv (each acting on a user)."""
    from trailmin.mapping.requests import caller_events, ec2_id_prefixes

    for name in request_named_scopes():
        assert catalog.service_exists(name) or catalog.action(name) is not None, name
    tags = catalog.action("ec2:CreateTags")
    assert tags is not None
    for prefix, kind in ec2_id_prefixes():
        assert prefix.endswith("-"), prefix
        assert kind in {rt.name for rt in tags.resource_types}, (prefix, kind)
    for service, name in caller_events():
        action = catalog.action(f"{service}:{name}")
        assert action is not None, name
        assert "user" in {rt.name for rt in action.resource_types}, name


RDS = f"arn:aws:rds:{REGION}:{ACCT}"
ECS = f"arn:aws:ecs:{REGION}:{ACCT}"
FN = f"arn:aws:lambda:{REGION}:{ACCT}:function"

NAMED_CASES = [
    # RDS user guide, create-and-modify examples: CreateDBInstance on the db and the og, pg and
    # subgrp the request names; RDS API reference: identifiers are stored in lower case.
    (
        "rds:CreateDBInstance",
        ctx(
            {
                "dBInstanceIdentifier": "Terraform-1",
                "dBSubnetGroupName": "grp",
                "dBParameterGroupName": "pg1",
                "optionGroupName": "og1",
                "engine": "mysql",
            }
        ),
        (f"{RDS}:db:terraform-1", f"{RDS}:og:og1", f"{RDS}:pg:pg1", f"{RDS}:subgrp:grp"),
        "exact",
    ),
    # Not named: not needed.
    ("rds:CreateDBInstance", ctx({"dBInstanceIdentifier": "d"}), (f"{RDS}:db:d",), "exact"),
    (
        "rds:CreateDBSnapshot",
        ctx({"dBInstanceIdentifier": "d", "dBSnapshotIdentifier": "exfiltration"}),
        (f"{RDS}:db:d", f"{RDS}:snapshot:exfiltration"),
        "exact",
    ),
    (
        "rds:CreateDBSubnetGroup",
        ctx({"dBSubnetGroupName": "Grp", "subnetIds": ["subnet-1"]}),
        (f"{RDS}:subgrp:grp",),
        "exact",
    ),
    # The required type not derived: "*", whatever optional one the request names.
    (
        "ec2:AssociateRouteTable",
        ctx({"subnetId": "subnet-1"}),
        ("*",),
        "unscoped: the required route-table could not be derived from the record",
    ),
    # EC2 RunInstances: the subnet named beside the required resources.
    (
        "ec2:AttachVolume",
        ctx({"volumeId": "vol-1", "instanceId": "i-1", "device": "/dev/sdf"}),
        (f"{ARN}:instance/i-1", f"{ARN}:volume/vol-1"),
        "exact",
    ),
    # Alternatives never gain an optional type (Bedrock: one model).
    (
        "bedrock:InvokeModel",
        ctx(logged=[f"arn:aws:bedrock:{REGION}::foundation-model/m"]),
        (f"arn:aws:bedrock:{REGION}::foundation-model/m",),
        "exact",
    ),
    # Step Functions API reference DescribeExecution: one execution, standard or express.
    (
        "states:DescribeExecution",
        ctx({"executionArn": f"arn:aws:states:{REGION}:{ACCT}:execution:m:e1"}),
        (f"arn:aws:states:{REGION}:{ACCT}:execution:m:e1",),
        "exact",
    ),
    (
        "states:DescribeExecution",
        ctx({"executionArn": f"arn:aws:states:{REGION}:{ACCT}:express:m:e1:x1"}),
        (f"arn:aws:states:{REGION}:{ACCT}:express:m:e1:x1",),
        "exact",
    ),
    # ECS API reference: cluster and services/tasks by name, id or ARN; no cluster, "default".
    (
        "ecs:DescribeServices",
        ctx({"cluster": f"{ECS}:cluster/web", "services": ["api", "worker"]}),
        (f"{ECS}:service/web/api", f"{ECS}:service/web/worker"),
        "exact",
    ),
    ("ecs:UpdateService", ctx({"service": "api"}), (f"{ECS}:service/default/api",), "exact"),
    (
        "ecs:DescribeTasks",
        ctx({"cluster": "web", "tasks": ["0123abcd"]}),
        (f"{ECS}:task/web/0123abcd",),
        "exact",
    ),
    (
        "ecs:DescribeTasks",
        ctx({"cluster": "web", "tasks": [f"{ECS}:task/web/0123abcd"]}),
        (f"{ECS}:task/web/0123abcd",),
        "exact",
    ),
    # A record without its request says nothing of the cluster.
    (
        "ecs:UpdateService",
        ctx({}),
        ("*",),
        "unscoped: the required service could not be derived from the record",
    ),
    # Athena API reference: the workgroup the request names.
    (
        "athena:StartQueryExecution",
        ctx({"queryString": "select 1", "workGroup": "etl"}),
        (f"arn:aws:athena:{REGION}:{ACCT}:workgroup/etl",),
        "exact",
    ),
    # Lambda developer guide: a qualified call is authorized on the qualified ARN.
    ("lambda:InvokeFunction", ctx({"functionName": "resize:17"}), (f"{FN}:resize:17",), "exact"),
    (
        "lambda:InvokeFunction",
        ctx({"functionName": "resize", "qualifier": "live"}),
        (f"{FN}:resize:live",),
        "exact",
    ),
    (
        "lambda:InvokeFunction",
        ctx(logged=[f"{FN}:resize:live"]),
        (f"{FN}:resize:live",),
        "exact",
    ),
]


@pytest.mark.parametrize(("action", "context", "resources", "derivation"), NAMED_CASES)
def test_scope_of_named_resources(action, context, resources, derivation):
    """EC2 API reference "Granting required permissions"; RDS user guide (create and modify
    examples); Step Functions, ECS, Athena API references; Lambda developer guide."""
    scoped = scope(action, context)
    assert (scoped.resources, scoped.derivation) == (resources, derivation)


USER = f"arn:aws:iam::{ACCT}:user/bert-jan"

EVENT_NAMED_CASES = [
    # EC2 API reference CreateTags: each resource by its id's prefix; AMI and snapshot ARNs have
    # no account.
    (
        "ec2.amazonaws.com",
        "CreateTags",
        {
            "resourcesSet": {
                "items": [
                    {"resourceId": "ami-0aa1"},
                    {"resourceId": "i-1"},
                    {"resourceId": "snap-1"},
                ]
            },
            "tagSet": {"items": [{"key": "k", "value": "v"}]},
        },
        "",
        [
            ("ec2:CreateTags", f"{ARN}:instance/i-1", False),
            ("ec2:CreateTags", f"arn:aws:ec2:{REGION}::image/ami-0aa1", False),
            ("ec2:CreateTags", f"arn:aws:ec2:{REGION}::snapshot/snap-1", False),
        ],
    ),
    (
        "ec2.amazonaws.com",
        "DeleteTags",
        {"resourcesSet": {"items": [{"resourceId": "tgw-attach-1"}, {"resourceId": "sg-1"}]}},
        "",
        [
            ("ec2:DeleteTags", f"{ARN}:security-group/sg-1", False),
            ("ec2:DeleteTags", f"{ARN}:transit-gateway-attachment/tgw-attach-1", False),
        ],
    ),
    # An id of a prefix the table does not know: unscoped.
    (
        "ec2.amazonaws.com",
        "CreateTags",
        {"resourcesSet": {"items": [{"resourceId": "i-1"}, {"resourceId": "zz-1"}]}},
        "",
        [("ec2:CreateTags", "*", False)],
    ),
    # Systems Manager: the AWS-owned document (no account) and the instances it is sent to.
    (
        "ssm.amazonaws.com",
        "SendCommand",
        {"instanceIds": ["i-05c3", "mi-0abc"], "documentName": "AWS-RunShellScript"},
        "",
        [
            ("ssm:SendCommand", f"arn:aws:ec2:{REGION}:{ACCT}:instance/i-05c3", False),
            ("ssm:SendCommand", f"arn:aws:ssm:{REGION}:{ACCT}:managed-instance/mi-0abc", False),
            ("ssm:SendCommand", f"arn:aws:ssm:{REGION}::document/AWS-RunShellScript", False),
        ],
    ),
    (
        "ssm.amazonaws.com",
        "GetDocument",
        {"name": "my-doc"},
        "",
        [("ssm:GetDocument", f"arn:aws:ssm:{REGION}:{ACCT}:document/my-doc", False)],
    ),
    # IAM API reference GetUser: without a UserName, the caller's own user.
    ("iam.amazonaws.com", "GetUser", {}, USER, [("iam:GetUser", USER, False)]),
    (
        "iam.amazonaws.com",
        "ListAccessKeys",
        {"userName": "other"},
        USER,
        [
            ("iam:ListAccessKeys", f"arn:aws:iam::{ACCT}:user/*/other", False),
            ("iam:ListAccessKeys", f"arn:aws:iam::{ACCT}:user/other", False),
        ],
    ),
    # A role's session is no IAM user: unscoped.
    (
        "iam.amazonaws.com",
        "GetUser",
        {},
        f"arn:aws:sts::{ACCT}:assumed-role/r/s",
        [("iam:GetUser", "*", False)],
    ),
    # RDS user guide, tags on create: rds:AddTagsToResource on the resource the request names.
    (
        "rds.amazonaws.com",
        "CreateDBSnapshot",
        {
            "dBInstanceIdentifier": "d",
            "dBSnapshotIdentifier": "Exfiltration",
            "tags": [{"key": "k", "value": "v"}],
        },
        "",
        [
            ("rds:AddTagsToResource", f"{RDS}:snapshot:exfiltration", True),
            ("rds:CreateDBSnapshot", f"{RDS}:db:d", False),
            ("rds:CreateDBSnapshot", f"{RDS}:snapshot:exfiltration", False),
        ],
    ),
    (
        "rds.amazonaws.com",
        "CreateDBSubnetGroup",
        {"dBSubnetGroupName": "grp", "tags": [{"key": "k", "value": "v"}]},
        "",
        [
            ("rds:AddTagsToResource", f"{RDS}:subgrp:grp", True),
            ("rds:CreateDBSubnetGroup", f"{RDS}:subgrp:grp", False),
        ],
    ),
    (
        "rds.amazonaws.com",
        "CopyDBSnapshot",
        {
            "sourceDBSnapshotIdentifier": "a",
            "targetDBSnapshotIdentifier": "b",
            "tags": [{"key": "k", "value": "v"}],
        },
        "",
        [
            ("rds:AddTagsToResource", f"{RDS}:snapshot:b", True),
            ("rds:CopyDBSnapshot", "*", False),
        ],
    ),
    # No identifier in the request (a proxy's ARN holds a generated id): the type's pattern.
    (
        "rds.amazonaws.com",
        "CreateDBProxy",
        {"dBProxyName": "p", "tags": [{"key": "k", "value": "v"}]},
        "",
        [
            ("rds:AddTagsToResource", f"{RDS}:db-proxy:*", True),
            ("rds:CreateDBProxy", "*", False),
        ],
    ),
    # Without tags, no tag action.
    (
        "rds.amazonaws.com",
        "CreateDBSubnetGroup",
        {"dBSubnetGroupName": "grp"},
        "",
        [("rds:CreateDBSubnetGroup", f"{RDS}:subgrp:grp", False)],
    ),
]


@pytest.mark.parametrize(("source", "name", "params", "caller", "expected"), EVENT_NAMED_CASES)
def test_event_permissions_of_named_resources(source, name, params, caller, expected):
    """EC2 API reference CreateTags and user guide "Resource IDs"; Systems Manager user guide
    (Run Command policies) and API reference CreateDocument (AWS-reserved names); IAM API
    reference GetUser/ListAccessKeys; RDS user guide "Grant permission to tag RDS resources
    during creation"."""
    context = Context("aws", REGION, ACCT, params, (), caller)
    found = event_permissions(source, name, None, context)
    assert sorted((p.action, p.resource, p.inferred) for p in found) == expected


def test_the_permissions_column_reads_the_caller():
    """IAM API reference GetUser: the lake's column scopes a GetUser without UserName to the
    caller of each record, and two callers' records are not confused."""
    calls = [Call(None, "iam.amazonaws.com", "GetUser", None, None, REGION, ACCT)]
    other = f"arn:aws:iam::{ACCT}:user/ops/benjamin"
    column = permissions_column(
        calls, [0, 0], [b"null", b"null"], [None, None], lambda _: (), callers=[USER, other]
    )
    rows = column.to_pylist()
    assert [[(r["action"], r["resource"]) for r in row] for row in rows] == [
        [("iam:GetUser", USER)],
        [("iam:GetUser", other)],
    ]


def test_a_template_with_the_catalogs_own_wildcard_is_a_pattern_a_policy_keeps():
    """Service Authorization Reference: some resource types are written with a wildcard in their
    ARN (DMS ``endpoint:*``, Amplify Backend ``/backend/*``): the resource AWS authorizes is any
    such id, so the mapping gives a pattern (values escaped, the catalog's wildcard kept), never
    an "exact" ARN that generation would escape into a grant of the literal ``*``."""
    found = 0
    for action in templated_actions():
        wild = [
            rt.arn_template
            for rt in action.resource_types
            if rt.arn_template and re.search(r"[*?]", _VARIABLE.sub("", rt.arn_template))
        ]
        if not wild:
            continue
        for context in _contexts(action):
            scoped = scope(action.full_name, context)
            for arn in scoped.resources:
                if arn == "*" or not any(re.match("^" + _loose_wild(t) + "$", arn) for t in wild):
                    continue
                found += 1
                assert scoped.derivation.startswith("pattern"), (action.full_name, scoped)
    assert found > 200  # 220 actions of the pinned catalog have such a type


def _loose_wild(template):
    """Return a regex of the template's filled ARNs: any value for a variable, the catalog's own
    wildcards as the characters they are."""
    pieces = _VARIABLE.split(template)
    return "".join(re.escape(p) if i % 2 == 0 else ".+" for i, p in enumerate(pieces))
