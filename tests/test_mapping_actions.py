"""eventSource/eventName → IAM actions: the reference exceptions, the known traps, the tables."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest

import trailmin
from tests.conftest import REAL_LOGS
from trailmin.aws import catalog
from trailmin.mapping import actions as mapping
from trailmin.mapping import map_event, service_prefix

REFERENCE = REAL_LOGS.parent / "reference"

# Every row of ../shared/reference/cloudtrail-event-exceptions.csv, one case per event name it
# lists, with the actions trailmin maps it to (request-dependent variants come with resources).
REFERENCE_CASES = [
    ("s3.amazonaws.com", "ListObjects", None, "renamed", ("s3:ListBucket",)),
    ("s3.amazonaws.com", "ListObjectsV2", None, "renamed", ("s3:ListBucket",)),
    ("s3.amazonaws.com", "HeadObject", None, "renamed", ("s3:GetObject",)),
    ("s3.amazonaws.com", "HeadBucket", None, "renamed", ("s3:ListBucket",)),
    ("s3.amazonaws.com", "ListBuckets", None, "renamed", ("s3:ListAllMyBuckets",)),
    ("s3.amazonaws.com", "ListObjectVersions", None, "renamed", ("s3:ListBucketVersions",)),
    ("s3.amazonaws.com", "DeleteObjects", None, "renamed", ("s3:DeleteObject",)),
    ("s3.amazonaws.com", "CreateMultipartUpload", None, "renamed", ("s3:PutObject",)),
    ("s3.amazonaws.com", "UploadPart", None, "renamed", ("s3:PutObject",)),
    ("s3.amazonaws.com", "CompleteMultipartUpload", None, "renamed", ("s3:PutObject",)),
    ("s3.amazonaws.com", "CopyObject", None, "several", ("s3:GetObject", "s3:PutObject")),
    (
        "s3.amazonaws.com",
        "GetBucketEncryption",
        None,
        "renamed",
        ("s3:GetEncryptionConfiguration",),
    ),
    (
        "s3.amazonaws.com",
        "PutBucketEncryption",
        None,
        "renamed",
        ("s3:PutEncryptionConfiguration",),
    ),
    (
        "s3.amazonaws.com",
        "DeleteBucketEncryption",
        None,
        "renamed",
        ("s3:PutEncryptionConfiguration",),
    ),
    ("s3.amazonaws.com", "GetBucketLifecycle", None, "renamed", ("s3:GetLifecycleConfiguration",)),
    ("s3.amazonaws.com", "PutBucketLifecycle", None, "renamed", ("s3:PutLifecycleConfiguration",)),
    (
        "s3.amazonaws.com",
        "DeleteBucketLifecycle",
        None,
        "renamed",
        ("s3:PutLifecycleConfiguration",),
    ),
    (
        "s3.amazonaws.com",
        "GetBucketReplication",
        None,
        "renamed",
        ("s3:GetReplicationConfiguration",),
    ),
    (
        "s3.amazonaws.com",
        "DeleteBucketReplication",
        None,
        "renamed",
        ("s3:PutReplicationConfiguration",),
    ),
    (
        "s3.amazonaws.com",
        "PutBucketReplication",
        None,
        "renamed",
        ("s3:PutReplicationConfiguration",),
    ),
    ("s3.amazonaws.com", "DeleteBucketCors", None, "renamed", ("s3:PutBucketCORS",)),
    (
        "s3.amazonaws.com",
        "DeleteBucketPublicAccessBlock",
        None,
        "renamed",
        ("s3:PutBucketPublicAccessBlock",),
    ),
    (
        "s3.amazonaws.com",
        "DeletePublicAccessBlock",
        None,
        "renamed",
        ("s3:PutBucketPublicAccessBlock",),
    ),
    (
        "s3.amazonaws.com",
        "ListMultipartUploads",
        None,
        "renamed",
        ("s3:ListBucketMultipartUploads",),
    ),
    ("s3.amazonaws.com", "ListParts", None, "renamed", ("s3:ListMultipartUploadParts",)),
    ("s3.amazonaws.com", "SelectObjectContent", None, "renamed", ("s3:GetObject",)),
    ("lambda.amazonaws.com", "Invoke", None, "renamed", ("lambda:InvokeFunction",)),
    ("lambda.amazonaws.com", "GetFunction20150331v2", None, "renamed", ("lambda:GetFunction",)),
    ("lambda.amazonaws.com", "ListFunctions20150331", None, "renamed", ("lambda:ListFunctions",)),
    ("lambda.amazonaws.com", "CreateFunction20150331", None, "renamed", ("lambda:CreateFunction",)),
    (
        "lambda.amazonaws.com",
        "UpdateFunctionCode20150331v2",
        None,
        "renamed",
        ("lambda:UpdateFunctionCode",),
    ),
    ("lambda.amazonaws.com", "AddPermission20150331v2", None, "renamed", ("lambda:AddPermission",)),
    (
        "cloudfront.amazonaws.com",
        "CreateDistribution2020_05_31",
        None,
        "renamed",
        ("cloudfront:CreateDistribution",),
    ),
    ("kms.amazonaws.com", "ReEncrypt", None, "several", ("kms:ReEncryptFrom", "kms:ReEncryptTo")),
    ("monitoring.amazonaws.com", "DescribeAlarms", None, "direct", ("cloudwatch:DescribeAlarms",)),
    ("monitoring.amazonaws.com", "PutMetricAlarm", None, "direct", ("cloudwatch:PutMetricAlarm",)),
    (
        "servicecatalog-appregistry.amazonaws.com",
        "ListApplications",
        None,
        "direct",
        ("servicecatalog:ListApplications",),
    ),
    ("budgets.amazonaws.com", "DescribeBudgets", None, "renamed", ("budgets:ViewBudget",)),
    ("budgets.amazonaws.com", "CreateBudget", None, "renamed", ("budgets:ModifyBudget",)),
    ("budgets.amazonaws.com", "UpdateBudget", None, "renamed", ("budgets:ModifyBudget",)),
    ("glue.amazonaws.com", "GetColumnStatisticsForTable", None, "renamed", ("glue:GetTable",)),
    ("apigateway.amazonaws.com", "CreateRestApi", None, "renamed", ("apigateway:POST",)),
    ("apigateway.amazonaws.com", "GetRestApis", None, "renamed", ("apigateway:GET",)),
    ("apigateway.amazonaws.com", "UpdateStage", None, "renamed", ("apigateway:PATCH",)),
    # The candidates; each request picks its own (tests/test_mapping_events.py).
    (
        "dynamodb.amazonaws.com",
        "ExecuteStatement",
        None,
        "several",
        (
            "dynamodb:PartiQLSelect",
            "dynamodb:PartiQLInsert",
            "dynamodb:PartiQLUpdate",
            "dynamodb:PartiQLDelete",
        ),
    ),
    (
        "dynamodb.amazonaws.com",
        "BatchExecuteStatement",
        None,
        "several",
        (
            "dynamodb:PartiQLSelect",
            "dynamodb:PartiQLInsert",
            "dynamodb:PartiQLUpdate",
            "dynamodb:PartiQLDelete",
        ),
    ),
    (
        "dynamodb.amazonaws.com",
        "TransactWriteItems",
        None,
        "several",
        (
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
        ),
    ),
    ("sts.amazonaws.com", "GetCallerIdentity", "AwsApiCall", "no-permission", ()),
    ("signin.amazonaws.com", "ConsoleLogin", "AwsConsoleSignIn", "sign-in", ()),
    ("signin.amazonaws.com", "CheckMfa", "AwsConsoleSignIn", "sign-in", ()),
    ("signin.amazonaws.com", "GetSigninToken", "AwsConsoleSignIn", "sign-in", ()),
    (
        "secretsmanager.amazonaws.com",
        "StartSecretVersionDelete",
        "AwsServiceEvent",
        "service-event",
        (),
    ),
    (
        "secretsmanager.amazonaws.com",
        "EndSecretVersionDelete",
        "AwsServiceEvent",
        "service-event",
        (),
    ),
    ("ec2.amazonaws.com", "SharedSnapshotVolumeCreated", "AwsServiceEvent", "service-event", ()),
    ("kms.amazonaws.com", "RotateKey", "AwsServiceEvent", "service-event", ()),
]


@pytest.mark.parametrize(
    ("source", "name", "kind", "status", "expected"),
    REFERENCE_CASES,
    ids=[f"{s.split('.')[0]}:{n}" for s, n, *_ in REFERENCE_CASES],
)
def test_reference_exceptions(source, name, kind, status, expected):
    mapped = map_event(source, name, kind)
    assert (mapped.status, mapped.actions) == (status, expected)
    assert mapped.provenance


def test_every_reference_row_is_covered():
    """Each event name the reference file lists has a case above."""
    covered = {(s, n) for s, n, *_ in REFERENCE_CASES}
    text = (REFERENCE / "cloudtrail-event-exceptions.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    missing = []
    for row in rows:
        names = [n.strip() for n in row["eventName"].replace("(etc.)", "").split("/")]
        missing += [
            (row["eventSource"], n) for n in names if (row["eventSource"], n) not in covered
        ]
    assert missing == []


# --- the traps named in ../shared/reference/README.md -------------------------------------------


@pytest.mark.parametrize(
    ("source", "name", "action"),
    [
        ("cloud9.amazonaws.com", "CreateEnvironmentEC2", "cloud9:CreateEnvironmentEC2"),
        ("rds.amazonaws.com", "RestoreDBClusterFromS3", "rds:RestoreDBClusterFromS3"),
        ("ec2.amazonaws.com", "CreateVpcPeeringConnection", "ec2:CreateVpcPeeringConnection"),
    ],
)
def test_a_name_ending_in_digits_is_not_stripped_when_it_is_an_action(source, name, action):
    assert map_event(source, name).actions == (action,)


def test_put_bucket_replication_is_not_a_delete():
    mapped = map_event("s3.amazonaws.com", "PutBucketReplication")
    assert mapped.actions == ("s3:PutReplicationConfiguration",)
    assert all("Delete" not in a for a in mapped.actions)


def test_lambda_invoke_and_kms_reencrypt():
    assert map_event("lambda.amazonaws.com", "Invoke").actions == ("lambda:InvokeFunction",)
    assert map_event("kms.amazonaws.com", "ReEncrypt").actions == (
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    )


@pytest.mark.parametrize(
    ("source", "name", "kind"),
    [
        ("kms.amazonaws.com", "RotateKey", "AwsServiceEvent"),
        ("signin.amazonaws.com", "ConsoleLogin", "AwsConsoleSignIn"),
        ("signin.amazonaws.com", "ConsoleLogin", None),  # old records carry no eventType
        ("sts.amazonaws.com", "GetCallerIdentity", "AwsApiCall"),
        ("autoscaling.amazonaws.com", "CompleteLifecycleAction", "AwsCloudTrailInsight"),
    ],
)
def test_events_that_are_not_permissions_to_grant(source, name, kind):
    mapped = map_event(source, name, kind)
    assert mapped.actions == ()
    assert mapped.status in {"service-event", "sign-in", "no-permission", "insight"}


def test_an_unknown_event_is_unmapped_never_guessed():
    mapped = map_event("s3.amazonaws.com", "GetStorageLensDashboardDataInternal")
    assert (mapped.status, mapped.actions) == ("unmapped", ())
    assert "s3:GetStorageLensDashboardDataInternal" in mapped.provenance


def test_a_version_suffix_is_stripped_only_to_a_catalog_action():
    assert map_event("lambda.amazonaws.com", "NoSuchThing20150331").status == "unmapped"


@pytest.mark.parametrize(
    ("host", "prefix"),
    [
        ("monitoring.amazonaws.com", "cloudwatch"),
        ("tagging.amazonaws.com", "tag"),
        ("email.amazonaws.com", "ses"),
        ("streams.dynamodb.amazonaws.com", "dynamodb"),
        ("s3.amazonaws.com", "s3"),
        ("ec2.amazonaws.com", "ec2"),
    ],
)
def test_service_prefix_of_event_sources(host, prefix):
    assert service_prefix(host) == prefix


# --- the tables -----------------------------------------------------------------------------------


def test_every_table_action_is_in_the_catalog_with_its_spelling():
    checked = mapping.table_actions()
    assert len(checked) > 100
    wrong = [
        (table, a) for table, a in checked if getattr(catalog.action(a), "full_name", None) != a
    ]
    assert wrong == []


def test_every_table_service_is_in_the_catalog():
    wrong = [(table, p) for table, p in mapping.table_services() if not catalog.service_exists(p)]
    assert wrong == []


def test_the_event_source_table_matches_the_reference():
    reference = json.loads((REFERENCE / "eventsource_prefix_exceptions.json").read_text())
    for group in ("iam-dataset", "trailscraper", "cloudtracker"):
        for host, prefix in reference[group].items():
            assert service_prefix(host) == prefix, host


def test_every_table_row_has_provenance():
    for name in ("event_sources.csv", "event_actions.csv", "sdk_renames.csv", "no_permission.csv"):
        for row in mapping._rows(name):
            assert row["provenance"].strip(), (name, row)


# --- real logs ------------------------------------------------------------------------------------


def test_real_logs_map_to_catalog_actions(tmp_path, real_logs):
    """Over every real log: 99 % or more of the calls that need a permission are mapped."""
    lake = tmp_path / "lake"
    trailmin.ingest([real_logs], lake=lake, workers=1)
    rows = (
        trailmin.connect(lake)
        .sql("SELECT event_source, event_name, event_type, count(*) FROM events GROUP BY ALL")
        .fetchall()
    )
    statuses: Counter[str] = Counter()
    unmapped: Counter[tuple[str, str]] = Counter()
    for source, name, kind, count in rows:
        mapped = map_event(source, name, kind)
        statuses[mapped.status] += count
        for action in mapped.actions:
            assert catalog.action(action) is not None, action
        if mapped.status == "unmapped":
            unmapped[(source, name)] += count
    needing = sum(statuses[s] for s in ("direct", "renamed", "several", "unmapped"))
    assert statuses["unmapped"] / needing <= 0.01
    assert unmapped == Counter({("s3.amazonaws.com", "GetStorageLensDashboardDataInternal"): 4})
