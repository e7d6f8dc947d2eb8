"""Events → (action, resource) pairs, end to end, across the services users run most."""

from __future__ import annotations

import pytest

from trailmin.mapping.permissions import event_permissions
from trailmin.mapping.resources import Context

A = "111122223333"
R = "us-east-1"
ROLE = f"arn:aws:iam::{A}:role/service/app-backend"
KEY = f"arn:aws:kms:{R}:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY2 = f"arn:aws:kms:{R}:{A}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
QUEUE_URL = f"https://sqs.{R}.amazonaws.com/{A}/jobs"
TOPIC = f"arn:aws:sns:{R}:{A}:alerts"
SECRET = f"arn:aws:secretsmanager:{R}:{A}:secret:prod/db-AbCdEf"


def arn(service: str, rest: str, region: str = R, account: str = A) -> str:
    return f"arn:aws:{service}:{region}:{account}:{rest}"


def iam(rest: str) -> str:
    return f"arn:aws:iam::{A}:{rest}"


# (eventSource, eventName, requestParameters, logged resources[], expected pairs); an expected
# pair is (action, resource) or (action, resource, "inferred").
CASES: list[tuple[str, str, dict, list[str], set[tuple[str, ...]]]] = [
    # --- S3: buckets and objects
    ("s3", "ListObjects", {"bucketName": "logs"}, [], {("s3:ListBucket", "arn:aws:s3:::logs")}),
    (
        "s3",
        "ListObjectsV2",
        {"bucketName": "logs", "prefix": "a/"},
        [],
        {("s3:ListBucket", "arn:aws:s3:::logs")},
    ),
    (
        "s3",
        "GetObject",
        {"bucketName": "data", "key": "x/y.csv"},
        [],
        {("s3:GetObject", "arn:aws:s3:::data/x/y.csv")},
    ),
    (
        "s3",
        "GetObject",
        {},
        ["arn:aws:s3:::data/k", "arn:aws:s3:::data"],
        {("s3:GetObject", "arn:aws:s3:::data/k")},
    ),
    (
        "s3",
        "PutObject",
        {"bucketName": "data", "key": "k"},
        [],
        {("s3:PutObject", "arn:aws:s3:::data/k")},
    ),
    (
        "s3",
        "DeleteObject",
        {"bucketName": "data", "key": "k"},
        [],
        {("s3:DeleteObject", "arn:aws:s3:::data/k")},
    ),
    (
        "s3",
        "HeadObject",
        {"bucketName": "data", "key": "k"},
        [],
        {("s3:GetObject", "arn:aws:s3:::data/k")},
    ),
    ("s3", "HeadBucket", {"bucketName": "data"}, [], {("s3:ListBucket", "arn:aws:s3:::data")}),
    # DeleteObjects as CloudTrail logs it: the bucket, never the keys.
    (
        "s3",
        "DeleteObjects",
        {"bucketName": "data", "Host": "data.s3.amazonaws.com", "delete": ""},
        ["arn:aws:s3:::data"],
        {("s3:DeleteObject", "arn:aws:s3:::data/*")},
    ),
    # A record that kept the request's keys: scoped key by key, a named version by its action.
    (
        "s3",
        "DeleteObjects",
        {
            "bucketName": "data",
            "delete": {"Object": [{"Key": "a/1"}, {"Key": "a/2", "VersionId": "v7"}]},
        },
        ["arn:aws:s3:::data"],
        {
            ("s3:DeleteObject", "arn:aws:s3:::data/a/1"),
            ("s3:DeleteObjectVersion", "arn:aws:s3:::data/a/2"),
        },
    ),
    ("s3", "DeleteObjects", {"delete": ""}, [], {("s3:DeleteObject", "*")}),
    (
        "s3",
        "CopyObject",
        {"bucketName": "dst", "key": "k2", "x-amz-copy-source": "src/k1"},
        ["arn:aws:s3:::dst/k2", "arn:aws:s3:::src/k1"],
        {("s3:GetObject", "arn:aws:s3:::src/k1"), ("s3:PutObject", "arn:aws:s3:::dst/k2")},
    ),
    ("s3", "ListBuckets", {}, [], {("s3:ListAllMyBuckets", "*")}),
    (
        "s3",
        "GetBucketPolicy",
        {"bucketName": "data"},
        [],
        {("s3:GetBucketPolicy", "arn:aws:s3:::data")},
    ),
    (
        "s3",
        "PutBucketPolicy",
        {"bucketName": "data"},
        [],
        {("s3:PutBucketPolicy", "arn:aws:s3:::data")},
    ),
    (
        "s3",
        "GetBucketEncryption",
        {"bucketName": "data"},
        [],
        {("s3:GetEncryptionConfiguration", "arn:aws:s3:::data")},
    ),
    (
        "s3",
        "DeleteBucketCors",
        {"bucketName": "data"},
        [],
        {("s3:PutBucketCORS", "arn:aws:s3:::data")},
    ),
    (
        "s3",
        "PutBucketReplication",
        {"bucketName": "data", "ReplicationConfiguration": {"Role": ROLE}},
        [],
        {
            ("s3:PutReplicationConfiguration", "arn:aws:s3:::data"),
            ("iam:PassRole", ROLE, "inferred"),
        },
    ),
    (
        "s3",
        "CreateMultipartUpload",
        {"bucketName": "data", "key": "big"},
        [],
        {("s3:PutObject", "arn:aws:s3:::data/big")},
    ),
    ("s3", "GetBucketAcl", {"bucketName": "data"}, [], {("s3:GetBucketAcl", "arn:aws:s3:::data")}),
    # --- EC2
    ("ec2", "DescribeInstances", {}, [], {("ec2:DescribeInstances", "*")}),
    (
        "ec2",
        "TerminateInstances",
        {"instancesSet": {"items": [{"instanceId": "i-0a1"}]}},
        [],
        {("ec2:TerminateInstances", arn("ec2", "instance/i-0a1"))},
    ),
    (
        "ec2",
        "StopInstances",
        {"instancesSet": {"items": [{"instanceId": "i-1"}, {"instanceId": "i-2"}]}},
        [],
        {
            ("ec2:StopInstances", arn("ec2", "instance/i-1")),
            ("ec2:StopInstances", arn("ec2", "instance/i-2")),
        },
    ),
    (
        "ec2",
        "StartInstances",
        {"instancesSet": {"items": [{"instanceId": "i-1"}]}},
        [],
        {("ec2:StartInstances", arn("ec2", "instance/i-1"))},
    ),
    (
        "ec2",
        "RunInstances",
        {"iamInstanceProfile": {"arn": iam("instance-profile/web")}, "instanceType": "t3.micro"},
        [],
        {("ec2:RunInstances", "*"), ("iam:PassRole", "*", "inferred")},
    ),
    ("ec2", "DescribeSecurityGroups", {}, [], {("ec2:DescribeSecurityGroups", "*")}),
    # --- IAM
    (
        "iam",
        "GetUser",
        {"userName": "alice"},
        [],
        {("iam:GetUser", iam("user/alice")), ("iam:GetUser", iam("user/*/alice"))},
    ),
    (
        "iam",
        "CreateUser",
        {"userName": "bob", "path": "/eng/"},
        [],
        {("iam:CreateUser", iam("user/eng/bob"))},
    ),
    (
        "iam",
        "GetRole",
        {"roleName": "ci-deploy"},
        [],
        {("iam:GetRole", iam("role/ci-deploy")), ("iam:GetRole", iam("role/*/ci-deploy"))},
    ),
    (
        "iam",
        "AttachRolePolicy",
        {"roleName": "app", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        [],
        {("iam:AttachRolePolicy", iam("role/app")), ("iam:AttachRolePolicy", iam("role/*/app"))},
    ),
    (
        "iam",
        "CreatePolicyVersion",
        {"policyArn": iam("policy/team/deploy")},
        [],
        {("iam:CreatePolicyVersion", iam("policy/team/deploy"))},
    ),
    (
        "iam",
        "AddUserToGroup",
        {"groupName": "admins", "userName": "bob"},
        [],
        {
            ("iam:AddUserToGroup", iam("group/admins")),
            ("iam:AddUserToGroup", iam("group/*/admins")),
        },
    ),
    ("iam", "ListRoles", {}, [], {("iam:ListRoles", "*")}),
    # --- STS
    (
        "sts",
        "AssumeRole",
        {"roleArn": ROLE, "roleSessionName": "s"},
        [ROLE],
        {("sts:AssumeRole", ROLE)},
    ),
    (
        "sts",
        "AssumeRole",
        {"roleArn": "arn:aws:iam::444455556666:role/audit"},
        [],
        {("sts:AssumeRole", "arn:aws:iam::444455556666:role/audit")},
    ),
    ("sts", "GetCallerIdentity", {}, [], set()),
    # --- KMS
    ("kms", "Decrypt", {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, [KEY], {("kms:Decrypt", KEY)}),
    (
        "kms",
        "GenerateDataKey",
        {"keyId": KEY, "keySpec": "AES_256"},
        [],
        {("kms:GenerateDataKey", KEY)},
    ),
    ("kms", "Encrypt", {"keyId": "alias/app"}, [], {("kms:Encrypt", "*")}),
    (
        "kms",
        "ReEncrypt",
        {"sourceKeyId": KEY, "destinationKeyId": KEY2},
        [KEY, KEY2],
        {("kms:ReEncryptFrom", KEY), ("kms:ReEncryptTo", KEY2)},
    ),
    ("kms", "ListKeys", {}, [], {("kms:ListKeys", "*")}),
    # --- Lambda
    (
        "lambda",
        "Invoke",
        {"functionName": "resize"},
        [],
        {("lambda:InvokeFunction", arn("lambda", "function:resize"))},
    ),
    (
        "lambda",
        "GetFunction20150331v2",
        {"functionName": "resize"},
        [],
        {("lambda:GetFunction", arn("lambda", "function:resize"))},
    ),
    (
        "lambda",
        "CreateFunction20150331",
        {"functionName": "f", "role": ROLE},
        [],
        {
            ("lambda:CreateFunction", arn("lambda", "function:f")),
            ("iam:PassRole", ROLE, "inferred"),
        },
    ),
    (
        "lambda",
        "UpdateFunctionCode20150331v2",
        {"functionName": "f"},
        [],
        {("lambda:UpdateFunctionCode", arn("lambda", "function:f"))},
    ),
    ("lambda", "ListFunctions20150331", {}, [], {("lambda:ListFunctions", "*")}),
    # --- DynamoDB
    (
        "dynamodb",
        "GetItem",
        {"tableName": "orders"},
        [],
        {("dynamodb:GetItem", arn("dynamodb", "table/orders"))},
    ),
    (
        "dynamodb",
        "PutItem",
        {},
        [arn("dynamodb", "table/orders")],
        {("dynamodb:PutItem", arn("dynamodb", "table/orders"))},
    ),
    (
        "dynamodb",
        "Query",
        {"tableName": "orders", "indexName": "byDate"},
        [],
        {("dynamodb:Query", arn("dynamodb", "table/orders/index/byDate"))},
    ),
    (
        "dynamodb",
        "DescribeTable",
        {"tableName": "orders"},
        [],
        {("dynamodb:DescribeTable", arn("dynamodb", "table/orders"))},
    ),
    ("dynamodb", "ListTables", {}, [], {("dynamodb:ListTables", "*")}),
    # --- SQS
    ("sqs", "SendMessage", {"queueUrl": QUEUE_URL}, [], {("sqs:SendMessage", arn("sqs", "jobs"))}),
    (
        "sqs",
        "ReceiveMessage",
        {"queueUrl": QUEUE_URL},
        [],
        {("sqs:ReceiveMessage", arn("sqs", "jobs"))},
    ),
    ("sqs", "CreateQueue", {"queueName": "jobs"}, [], {("sqs:CreateQueue", arn("sqs", "jobs"))}),
    ("sqs", "ListQueues", {}, [], {("sqs:ListQueues", "*")}),
    # --- SNS
    ("sns", "Publish", {"topicArn": TOPIC, "message": "hi"}, [], {("sns:Publish", TOPIC)}),
    (
        "sns",
        "Subscribe",
        {"topicArn": TOPIC, "protocol": "sqs", "endpoint": arn("sqs", "jobs")},
        [],
        {("sns:Subscribe", TOPIC)},
    ),
    ("sns", "CreateTopic", {"name": "alerts"}, [], {("sns:CreateTopic", TOPIC)}),
    # --- CloudWatch Logs
    (
        "logs",
        "CreateLogGroup",
        {"logGroupName": "/app/web"},
        [],
        {
            ("logs:CreateLogGroup", arn("logs", "log-group:/app/web")),
            ("logs:CreateLogGroup", arn("logs", "log-group:/app/web:*")),
        },
    ),
    (
        "logs",
        "PutLogEvents",
        {"logGroupName": "/app/web", "logStreamName": "i-1/web"},
        [],
        {("logs:PutLogEvents", arn("logs", "log-group:/app/web:log-stream:i-1/web"))},
    ),
    (
        "logs",
        "CreateLogStream",
        {"logGroupName": "/app/web", "logStreamName": "s1"},
        [],
        {("logs:CreateLogStream", arn("logs", "log-group:/app/web:log-stream:s1"))},
    ),
    # --- CloudWatch
    (
        "monitoring",
        "PutMetricAlarm",
        {"alarmName": "high-cpu"},
        [],
        {("cloudwatch:PutMetricAlarm", arn("cloudwatch", "alarm:high-cpu"))},
    ),
    ("monitoring", "GetMetricData", {}, [], {("cloudwatch:GetMetricData", "*")}),
    # --- Secrets Manager
    (
        "secretsmanager",
        "GetSecretValue",
        {"secretId": "prod/db"},
        [],
        {("secretsmanager:GetSecretValue", arn("secretsmanager", "secret:prod/db-??????"))},
    ),
    (
        "secretsmanager",
        "GetSecretValue",
        {"secretId": SECRET},
        [],
        {("secretsmanager:GetSecretValue", SECRET)},
    ),
    (
        "secretsmanager",
        "CreateSecret",
        {"name": "prod/api"},
        [],
        {("secretsmanager:CreateSecret", arn("secretsmanager", "secret:prod/api-??????"))},
    ),
    ("secretsmanager", "ListSecrets", {}, [], {("secretsmanager:ListSecrets", "*")}),
    # --- SSM Parameter Store
    (
        "ssm",
        "GetParameter",
        {"name": "/app/db", "withDecryption": True},
        [],
        {("ssm:GetParameter", arn("ssm", "parameter/app/db"))},
    ),
    (
        "ssm",
        "GetParameters",
        {"names": ["/a/one", "/a/two"]},
        [],
        {
            ("ssm:GetParameters", arn("ssm", "parameter/a/one")),
            ("ssm:GetParameters", arn("ssm", "parameter/a/two")),
        },
    ),
    (
        "ssm",
        "PutParameter",
        {"name": "/app/x", "type": "String"},
        [],
        {("ssm:PutParameter", arn("ssm", "parameter/app/x"))},
    ),
    ("ssm", "DescribeParameters", {}, [], {("ssm:DescribeParameters", "*")}),
    # --- ECR
    ("ecr", "GetAuthorizationToken", {}, [], {("ecr:GetAuthorizationToken", "*")}),
    (
        "ecr",
        "BatchGetImage",
        {"repositoryName": "web"},
        [],
        {("ecr:BatchGetImage", arn("ecr", "repository/web"))},
    ),
    (
        "ecr",
        "PutImage",
        {"repositoryName": "web"},
        [],
        {("ecr:PutImage", arn("ecr", "repository/web"))},
    ),
    # --- ECS
    (
        "ecs",
        "RunTask",
        {"taskDefinition": "web:3", "cluster": "prod"},
        [],
        {("ecs:RunTask", arn("ecs", "task-definition/web:3"))},
    ),
    (
        "ecs",
        "RunTask",
        {"taskDefinition": "web"},
        [],
        {("ecs:RunTask", arn("ecs", "task-definition/web:*"))},
    ),
    (
        "ecs",
        "RegisterTaskDefinition",
        {"family": "web", "taskRoleArn": ROLE},
        [],
        # The catalog scopes it to the task definition; the new revision's number is not known.
        {
            ("ecs:RegisterTaskDefinition", arn("ecs", "task-definition/web:*")),
            ("iam:PassRole", ROLE, "inferred"),
        },
    ),
    # --- CloudFormation
    (
        "cloudformation",
        "CreateStack",
        {"stackName": "web", "roleARN": ROLE},
        [],
        {
            ("cloudformation:CreateStack", arn("cloudformation", "stack/web/*")),
            ("iam:PassRole", ROLE, "inferred"),
        },
    ),
    (
        "cloudformation",
        "DescribeStacks",
        {"stackName": "web"},
        [],
        {("cloudformation:DescribeStacks", arn("cloudformation", "stack/web/*"))},
    ),
    # --- RDS
    (
        "rds",
        "DescribeDBInstances",
        {"dBInstanceIdentifier": "orders-db"},
        [],
        {("rds:DescribeDBInstances", arn("rds", "db:orders-db"))},
    ),
    (
        "rds",
        "DeleteDBInstance",
        {"dBInstanceIdentifier": "orders-db"},
        [],
        {("rds:DeleteDBInstance", arn("rds", "db:orders-db"))},
    ),
    # --- Glue: authorized against the catalog, the database and the table
    (
        "glue",
        "GetTable",
        {"databaseName": "sales", "name": "orders"},
        [],
        {
            ("glue:GetTable", arn("glue", "catalog")),
            ("glue:GetTable", arn("glue", "database/sales")),
            ("glue:GetTable", arn("glue", "table/sales/orders")),
        },
    ),
    (
        "glue",
        "GetColumnStatisticsForTable",
        {"databaseName": "sales", "tableName": "orders"},
        [],
        {
            ("glue:GetTable", arn("glue", "catalog")),
            ("glue:GetTable", arn("glue", "database/sales")),
            ("glue:GetTable", arn("glue", "table/sales/orders")),
        },
    ),
    # --- Athena
    (
        "athena",
        "StartQueryExecution",
        {"workGroup": "primary"},
        [],
        {("athena:StartQueryExecution", arn("athena", "workgroup/primary"))},
    ),
    (
        "athena",
        "GetQueryExecution",
        {"queryExecutionId": "q-1"},
        [],
        {("athena:GetQueryExecution", "*")},
    ),
    # --- EventBridge
    (
        "events",
        "PutRule",
        {"name": "nightly", "eventBusName": "orders"},
        [],
        {("events:PutRule", arn("events", "rule/orders/nightly"))},
    ),
    (
        "events",
        "PutRule",
        {"name": "nightly"},
        [],
        {("events:PutRule", arn("events", "rule/nightly"))},
    ),
    (
        "events",
        "PutTargets",
        {"rule": "nightly", "targets": [{"id": "1", "roleArn": ROLE}]},
        [],
        {("events:PutTargets", arn("events", "rule/nightly")), ("iam:PassRole", ROLE, "inferred")},
    ),
    # --- actions chosen by the request
    (
        "s3",
        "GetObject",
        {"bucketName": "data", "key": "k", "versionId": "3HL4kqtJl"},
        ["arn:aws:s3:::data/k", "arn:aws:s3:::data"],
        {("s3:GetObjectVersion", "arn:aws:s3:::data/k")},
    ),
    (
        "s3",
        "DeleteObject",
        {"bucketName": "data", "key": "k", "versionId": "v1"},
        [],
        {("s3:DeleteObjectVersion", "arn:aws:s3:::data/k")},
    ),
    (
        "s3",
        "HeadObject",
        {"bucketName": "data", "key": "k", "VersionId": "v1"},
        [],
        {("s3:GetObjectVersion", "arn:aws:s3:::data/k")},
    ),
    (
        "dynamodb",
        "TransactWriteItems",
        {
            "transactItems": [
                {"put": {"tableName": "orders"}},
                {"update": {"tableName": "stock"}},
                {"conditionCheck": {"tableName": "orders"}},
            ]
        },
        [],
        {
            ("dynamodb:PutItem", arn("dynamodb", "table/orders")),
            ("dynamodb:UpdateItem", arn("dynamodb", "table/stock")),
            ("dynamodb:ConditionCheckItem", arn("dynamodb", "table/orders")),
        },
    ),
    (
        "dynamodb",
        "TransactGetItems",
        {"TransactItems": [{"Get": {"TableName": "orders"}}]},
        [],
        {("dynamodb:GetItem", arn("dynamodb", "table/orders"))},
    ),
    (
        "dynamodb",
        "ExecuteStatement",
        {"statement": 'SELECT * FROM "orders" WHERE id = ?'},
        [],
        {("dynamodb:PartiQLSelect", arn("dynamodb", "table/orders"))},
    ),
    (
        "dynamodb",
        "BatchExecuteStatement",
        {
            "statements": [
                {"statement": "INSERT INTO orders VALUE {'id': ?}"},
                {"statement": 'UPDATE "stock" SET n = 1 WHERE id = ?'},
                {"statement": "DELETE FROM orders WHERE id = ?"},
            ]
        },
        [],
        {
            ("dynamodb:PartiQLInsert", arn("dynamodb", "table/orders")),
            ("dynamodb:PartiQLUpdate", arn("dynamodb", "table/stock")),
            ("dynamodb:PartiQLDelete", arn("dynamodb", "table/orders")),
        },
    ),
    # A transaction whose items the record does not carry: nothing is granted on a guess.
    ("dynamodb", "TransactWriteItems", {}, [], set()),
    # --- not permissions to grant
    ("kms", "RotateKey", {}, [], set()),
    ("signin", "ConsoleLogin", {}, [], set()),
]


@pytest.mark.parametrize(
    ("service", "name", "params", "logged", "expected"),
    CASES,
    ids=[f"{s}:{n}:{i}" for i, (s, n, *_) in enumerate(CASES)],
)
def test_event_permissions(service, name, params, logged, expected):
    kind = {"RotateKey": "AwsServiceEvent", "ConsoleLogin": "AwsConsoleSignIn"}.get(name)
    context = Context(partition="aws", region=R, account=A, params=params, logged=tuple(logged))
    found = event_permissions(f"{service}.amazonaws.com", name, kind, context)
    got = {
        (p.action, p.resource, "inferred") if p.inferred else (p.action, p.resource) for p in found
    }
    assert got == expected
    for permission in found:
        assert permission.derivation


def test_at_least_80_events_across_20_services():
    services = {service for service, *_ in CASES}
    assert len(CASES) >= 80
    assert {
        "s3",
        "ec2",
        "iam",
        "sts",
        "kms",
        "lambda",
        "dynamodb",
        "sqs",
        "sns",
        "logs",
        "monitoring",
        "secretsmanager",
        "ssm",
        "ecr",
        "ecs",
        "cloudformation",
        "rds",
        "glue",
        "athena",
        "events",
    } <= services


def test_an_unscoped_resource_says_so():
    context = Context(partition="aws", region=R, account=A, params={"keyId": "alias/app"})
    (permission,) = event_permissions("kms.amazonaws.com", "Encrypt", None, context)
    assert permission.resource == "*"
    assert "unscoped" in permission.derivation


def test_unlogged_keys_of_a_multi_object_delete_are_a_pattern_that_says_why():
    params = {"bucketName": "data", "delete": ""}
    context = Context(partition="aws", region=R, account=A, params=params)
    (permission,) = event_permissions("s3.amazonaws.com", "DeleteObjects", None, context)
    assert permission.resource == "arn:aws:s3:::data/*"
    assert permission.derivation.startswith("renamed; pattern:")
    assert "multi-object delete" in permission.derivation


def test_a_plural_event_name_is_not_a_version_suffix():
    # DeleteObjects once passed for DeleteObject + "s" and took DeleteObject's request rules.
    params = {"bucketName": "data", "delete": {"Object": {"Key": "k", "VersionId": "v1"}}}
    context = Context(partition="aws", region=R, account=A, params=params)
    found = event_permissions("s3.amazonaws.com", "DeleteObjects", None, context)
    assert [(p.action, p.resource) for p in found] == [
        ("s3:DeleteObjectVersion", "arn:aws:s3:::data/k")
    ]
