"""Resources: ARN templates filled from resources[] and request parameters; inferred PassRole."""

from __future__ import annotations

import pytest

from trailmin.aws import catalog
from trailmin.mapping import map_event
from trailmin.mapping.inferred import infer, rule_events
from trailmin.mapping.resources import Context, scope

ACCT = "111122223333"


def ctx(params=None, logged=(), region="us-east-1", partition="aws"):
    return Context(
        partition=partition, region=region, account=ACCT, params=params or {}, logged=tuple(logged)
    )


CASES = [
    # S3: bucket and object, from parameters and from what CloudTrail logged.
    ("s3:ListBucket", ctx({"bucketName": "logs"}), ("arn:aws:s3:::logs",), "exact"),
    (
        "s3:GetObject",
        ctx({"bucketName": "logs", "key": "a/b.txt"}),
        ("arn:aws:s3:::logs/a/b.txt",),
        "exact",
    ),
    (
        "s3:GetObject",
        ctx({}, logged=["arn:aws:s3:::logs/k", "arn:aws:s3:::logs"]),
        ("arn:aws:s3:::logs/k",),
        "exact",
    ),
    (
        "s3:ListBucket",
        ctx({}, logged=["arn:aws:s3:::logs/k", "arn:aws:s3:::logs"]),
        ("arn:aws:s3:::logs",),
        "exact",
    ),
    (
        "s3:PutObject",
        ctx({"bucketName": "cn-bucket", "key": "x"}, partition="aws-cn", region="cn-north-1"),
        ("arn:aws-cn:s3:::cn-bucket/x",),
        "exact",
    ),
    ("s3:ListAllMyBuckets", ctx({}), ("*",), "no resource type"),
    # EC2
    (
        "ec2:TerminateInstances",
        ctx({"instancesSet": {"items": [{"instanceId": "i-2"}, {"instanceId": "i-1"}]}}),
        (
            "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
            "arn:aws:ec2:us-east-1:111122223333:instance/i-2",
        ),
        "exact",
    ),
    ("ec2:DescribeInstances", ctx({}), ("*",), "no resource type"),
    # IAM: the path of a role named by name is unknown: root path, or any path.
    (
        "iam:GetRole",
        ctx({"roleName": "app"}),
        ("arn:aws:iam::111122223333:role/*/app", "arn:aws:iam::111122223333:role/app"),
        "pattern",
    ),
    (
        "iam:GetUser",
        ctx({"userName": "alice"}),
        ("arn:aws:iam::111122223333:user/*/alice", "arn:aws:iam::111122223333:user/alice"),
        "pattern",
    ),
    (
        "iam:CreatePolicyVersion",
        ctx({"policyArn": "arn:aws:iam::111122223333:policy/team/deploy"}),
        ("arn:aws:iam::111122223333:policy/team/deploy",),
        "exact",
    ),
    # STS: the role is logged in resources[].
    (
        "sts:AssumeRole",
        ctx(
            {"roleArn": "arn:aws:iam::111122223333:role/service/app"},
            logged=["arn:aws:iam::111122223333:role/service/app"],
        ),
        ("arn:aws:iam::111122223333:role/service/app",),
        "exact",
    ),
    # KMS: the key in resources[]; an alias alone says nothing of the key.
    (
        "kms:Decrypt",
        ctx({}, logged=["arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef"]),
        ("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef",),
        "exact",
    ),
    (
        "kms:Encrypt",
        ctx({"keyId": "1234abcd-12ab"}),
        ("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab",),
        "exact",
    ),
    ("kms:Encrypt", ctx({"keyId": "alias/app"}), ("*",), "unscoped"),
    # Lambda: a name, a partial ARN or a full ARN; with a qualifier, the qualified ARN (Lambda
    # developer guide: a permission applies only to the ARN it names).
    (
        "lambda:InvokeFunction",
        ctx({"functionName": "resize"}),
        ("arn:aws:lambda:us-east-1:111122223333:function:resize",),
        "exact",
    ),
    (
        "lambda:InvokeFunction",
        ctx({"functionName": "arn:aws:lambda:us-east-1:111122223333:function:resize:prod"}),
        ("arn:aws:lambda:us-east-1:111122223333:function:resize:prod",),
        "exact",
    ),
    (
        "lambda:GetFunction",
        ctx({"functionName": "111122223333:function:resize"}),
        ("arn:aws:lambda:us-east-1:111122223333:function:resize",),
        "exact",
    ),
    # DynamoDB
    (
        "dynamodb:GetItem",
        ctx({"tableName": "orders"}),
        ("arn:aws:dynamodb:us-east-1:111122223333:table/orders",),
        "exact",
    ),
    (
        "dynamodb:Query",
        ctx({"tableName": "arn:aws:dynamodb:us-east-1:111122223333:table/orders"}),
        ("arn:aws:dynamodb:us-east-1:111122223333:table/orders",),
        "exact",
    ),
    # SQS: the queue URL gives the name.
    (
        "sqs:SendMessage",
        ctx({"queueUrl": "https://sqs.us-east-1.amazonaws.com/111122223333/jobs"}),
        ("arn:aws:sqs:us-east-1:111122223333:jobs",),
        "exact",
    ),
    # SNS
    (
        "sns:Publish",
        ctx({"topicArn": "arn:aws:sns:us-east-1:111122223333:alerts"}),
        ("arn:aws:sns:us-east-1:111122223333:alerts",),
        "exact",
    ),
    # CloudWatch Logs
    (
        "logs:PutLogEvents",
        ctx({"logGroupName": "/aws/lambda/resize", "logStreamName": "2026/10/05/[$LATEST]abc"}),
        (
            "arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/resize:log-stream:"
            "2026/10/05/[$LATEST]abc",
        ),
        "exact",
    ),
    # CloudWatch
    (
        "cloudwatch:PutMetricAlarm",
        ctx({"alarmName": "high-cpu"}),
        ("arn:aws:cloudwatch:us-east-1:111122223333:alarm:high-cpu",),
        "exact",
    ),
    ("cloudwatch:PutMetricData", ctx({"namespace": "App"}), ("*",), "unscoped"),
    # Secrets Manager: a name lacks the random suffix of the ARN.
    (
        "secretsmanager:GetSecretValue",
        ctx({"secretId": "prod/db"}),
        ("arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-??????",),
        "pattern",
    ),
    (
        "secretsmanager:GetSecretValue",
        ctx({"secretId": "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf"}),
        ("arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf",),
        "exact",
    ),
    # SSM Parameter Store
    (
        "ssm:GetParameter",
        ctx({"name": "/app/db/password"}),
        ("arn:aws:ssm:us-east-1:111122223333:parameter/app/db/password",),
        "exact",
    ),
    # ECR
    (
        "ecr:BatchGetImage",
        ctx({"repositoryName": "web"}),
        ("arn:aws:ecr:us-east-1:111122223333:repository/web",),
        "exact",
    ),
    # CloudFormation: a stack named by name: its id is unknown.
    (
        "cloudformation:UpdateStack",
        ctx({"stackName": "web"}),
        ("arn:aws:cloudformation:us-east-1:111122223333:stack/web/*",),
        "pattern",
    ),
    # RDS
    (
        "rds:DeleteDBInstance",
        ctx({"dBInstanceIdentifier": "orders-db"}),
        ("arn:aws:rds:us-east-1:111122223333:db:orders-db",),
        "exact",
    ),
    # Athena
    (
        "athena:StartQueryExecution",
        ctx({"workGroup": "primary"}),
        ("arn:aws:athena:us-east-1:111122223333:workgroup/primary",),
        "exact",
    ),
    # EventBridge
    (
        "events:PutEvents",
        ctx({"eventBusName": "orders"}),
        ("arn:aws:events:us-east-1:111122223333:event-bus/orders",),
        "exact",
    ),
    # Nothing reliable: never a guess.
    ("dynamodb:GetItem", ctx({}), ("*",), "unscoped"),
    ("lambda:InvokeFunction", ctx({"other": "x"}), ("*",), "unscoped"),
]


@pytest.mark.parametrize(("action", "context", "resources", "derivation"), CASES)
def test_resources(action, context, resources, derivation):
    scoped = scope(action, context)
    assert scoped.resources == resources
    assert scoped.derivation.split(":")[0] == derivation
    assert scoped.unscoped == (derivation == "unscoped")


def test_an_action_outside_the_catalog_is_unscoped():
    scoped = scope("s3:NoSuchAction", ctx({"bucketName": "b"}))
    assert scoped.resources == ("*",)
    assert scoped.unscoped


# --- inferred permissions: iam:PassRole -----------------------------------------------------------


ROLE = "arn:aws:iam::111122223333:role/service/app-backend"

PASS_ROLE_CASES = [
    (
        "lambda",
        "CreateFunction",
        {"functionName": "f", "role": ROLE},
        (ROLE,),
        "exact",
        "lambda.amazonaws.com",
    ),
    (
        "lambda",
        "UpdateFunctionConfiguration",
        {"functionName": "f", "role": ROLE},
        (ROLE,),
        "exact",
        "lambda.amazonaws.com",
    ),
    (
        "ecs",
        "RegisterTaskDefinition",
        {
            "family": "web",
            "taskRoleArn": ROLE,
            "executionRoleArn": "arn:aws:iam::111122223333:role/ecs-exec",
        },
        (ROLE, "arn:aws:iam::111122223333:role/ecs-exec"),
        "exact",
        "ecs-tasks.amazonaws.com",
    ),
    (
        "cloudformation",
        "CreateStack",
        {"stackName": "s", "roleARN": ROLE},
        (ROLE,),
        "exact",
        "cloudformation.amazonaws.com",
    ),
    (
        "glue",
        "CreateJob",
        {"name": "etl", "role": "GlueJobRole"},
        (
            "arn:aws:iam::111122223333:role/*/GlueJobRole",
            "arn:aws:iam::111122223333:role/GlueJobRole",
        ),
        "pattern",
        "glue.amazonaws.com",
    ),
    (
        "states",
        "CreateStateMachine",
        {"name": "m", "roleArn": ROLE},
        (ROLE,),
        "exact",
        "states.amazonaws.com",
    ),
    (
        "events",
        "PutTargets",
        {"rule": "r", "targets": [{"id": "1", "roleArn": ROLE}, {"id": "2"}]},
        (ROLE,),
        "exact",
        "events.amazonaws.com",
    ),
    (
        "ec2",
        "RunInstances",
        {"iamInstanceProfile": {"arn": "arn:aws:iam::111122223333:instance-profile/web"}},
        ("*",),
        "unscoped",
        "ec2.amazonaws.com",
    ),
    (
        "s3",
        "PutBucketReplication",
        {"bucketName": "b", "ReplicationConfiguration": {"Role": ROLE}},
        (ROLE,),
        "exact",
        "s3.amazonaws.com",
    ),
]


@pytest.mark.parametrize(
    ("service", "name", "params", "resources", "derivation", "passed_to"), PASS_ROLE_CASES
)
def test_pass_role_is_inferred(service, name, params, resources, derivation, passed_to):
    found = infer(service, name, ctx(params))
    got = tuple(sorted(r for i in found for r in i.resources))
    assert got == tuple(sorted(resources))
    assert {i.action for i in found} == {"iam:PassRole"}
    assert {i.derivation.split(":")[0].split(";")[0] for i in found} == {derivation}
    assert all(i.derivation.count("inferred") == 1 for i in found)
    assert {i.passed_to for i in found} == {passed_to}


def test_no_role_passed_means_nothing_inferred():
    assert infer("lambda", "CreateFunction", ctx({"functionName": "f"})) == []
    assert infer("lambda", "Invoke", ctx({"functionName": "f", "role": ROLE})) == []


def test_every_inferred_rule_is_for_a_mapped_call():
    """Each rule names a call the mapping knows, so its PassRole goes with a real action."""
    for service, name in rule_events():
        host = f"{service}.amazonaws.com"
        mapped = map_event(host, name)
        assert mapped.actions, (service, name)
        assert all(catalog.action(a) for a in mapped.actions)
    assert catalog.action("iam:PassRole") is not None
