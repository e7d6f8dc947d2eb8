"""Decoding and normalization of CloudTrail records (pure functions, table-driven)."""

from __future__ import annotations

import gzip
import json
from typing import Any

import msgspec
import pytest

from trailmin.aws.partitions import partition_of_region
from trailmin.ingestion.columns import records_to_table
from trailmin.ingestion.decode import MAX_RECORD_BYTES, BadSource, UserIdentity, decode_records
from trailmin.ingestion.principals import normalize_identity
from trailmin.lake.schema import EVENT_SCHEMA

_IDENTITY = msgspec.json.Decoder(UserIdentity)


def record(**overrides: Any) -> dict[str, Any]:
    """Return a small valid record with ``overrides`` applied (None deletes a key)."""
    base: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333",
            "accessKeyId": "AKIAEXAMPLE",
            "userName": "alice",
        },
        "eventTime": "2026-10-05T12:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.1",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"Host": "s3.amazonaws.com"},
        "responseElements": None,
        "eventID": "00000000-0000-0000-0000-000000000001",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management",
    }
    for key, value in overrides.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def delivery(*records: dict[str, Any]) -> bytes:
    return json.dumps({"Records": list(records)}).encode()


def rows(data: bytes) -> list[dict[str, Any]]:
    decoded = decode_records(data)
    table, _ = records_to_table(decoded.records, source="test")
    return table.to_pylist()


# --- shapes ---------------------------------------------------------------------------------------


def test_delivery_file_gzipped_and_plain_decode_the_same():
    """A gzipped delivery file decodes to the same rows as the plain one."""
    data = delivery(record(), record(eventID="id-2", eventName="GetObject"))
    assert rows(gzip.compress(data)) == rows(data)
    assert [r["event_name"] for r in rows(data)] == ["ListBuckets", "GetObject"]


def test_json_lines_with_forwarder_keys():
    """One record a line, with the extra keys Logstash adds and eventTime moved to @timestamp."""
    first = record()
    second = record(eventID="id-2", eventTime=None)
    second["@timestamp"] = "2026-10-05T13:00:00.000Z"
    second["@version"] = "1"
    data = (json.dumps(first) + "\n\n" + json.dumps(second) + "\n").encode()
    decoded = decode_records(data)
    assert decoded.shape == "json-lines"
    table, _ = records_to_table(decoded.records, source="x")
    times = [t.isoformat() for t in table.column("event_time").to_pylist()]
    assert times == ["2026-10-05T12:00:00+00:00", "2026-10-05T13:00:00+00:00"]


@pytest.mark.parametrize(
    ("wrap", "label"),
    [
        (lambda r: {"detail-type": "AWS API Call via CloudTrail", "detail": r}, "eventbridge"),
        (lambda r: {"message": json.dumps(r), "timestamp": 1}, "cloudwatch-export"),
        (lambda r: {"logEvents": [{"id": "1", "message": json.dumps(r)}]}, "cwl-subscription"),
        (lambda r: {"Records": [r]}, "delivery-per-line"),
    ],
)
def test_json_lines_inside_forwarder_wrappers(wrap, label):
    """Records wrapped by a forwarder are found inside their wrapper."""
    lines = [json.dumps(wrap(record(eventID=f"{label}-{i}"))) for i in range(3)]
    assert [r["event_id"] for r in rows("\n".join(lines).encode())] == [
        f"{label}-{i}" for i in range(3)
    ]


def test_lookup_events_output():
    """`aws cloudtrail lookup-events` output: the record is the CloudTrailEvent string."""
    data = json.dumps(
        {
            "Events": [
                {
                    "EventId": "id-1",
                    "EventName": "ListBuckets",
                    "CloudTrailEvent": json.dumps(record(eventID="id-1")),
                },
                {
                    "EventId": "id-2",
                    "EventName": "GetObject",
                    "CloudTrailEvent": json.dumps(record(eventID="id-2", eventName="GetObject")),
                },
            ],
            "NextToken": "abc",
        }
    ).encode()
    decoded = decode_records(data)
    assert decoded.shape == "lookup-events"
    assert [r.eventName for r in decoded.records] == ["ListBuckets", "GetObject"]


def test_single_record_and_array():
    assert [r["event_id"] for r in rows(json.dumps(record()).encode())] == [
        "00000000-0000-0000-0000-000000000001"
    ]
    data = json.dumps([record(eventID="a"), record(eventID="b")]).encode()
    assert [r["event_id"] for r in rows(data)] == ["a", "b"]


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"  \n", "empty file"),
        (gzip.compress(delivery(record()))[:-12], "truncated gzip"),
        (b"\x1f\x8b\x08\x00garbage-not-deflate", "gzip"),
        (b'{"Records": [{"eventVersion": "1.08",', "invalid JSON"),
        (b'{"name": "a package.json", "version": "1.0.0"}', "not CloudTrail"),
        (b'{"Records": 5}', "not CloudTrail"),
    ],
)
def test_bad_files_are_refused_with_a_reason(data, reason):
    with pytest.raises(BadSource) as caught:
        decode_records(data)
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (record(eventTime=None, eventID="bad"), "missing eventTime"),
        (record(eventSource=None, eventID="bad"), "missing eventSource"),
        (record(eventTime=12345, eventID="bad"), "Expected `str | null`, got `int`"),
        (record(userIdentity="alice", eventID="bad"), "$.userIdentity"),
        (record(resources={"ARN": "x"}, eventID="bad"), "$.resources"),
        (record(eventTime="yesterday", eventID="bad"), "not an ISO 8601 time"),
        (
            record(requestParameters={"blob": "x" * (MAX_RECORD_BYTES + 10)}, eventID="bad"),
            "record too large",
        ),
    ],
)
def test_bad_records_are_skipped_and_the_good_kept(bad, reason):
    """One bad record among good ones: the good ones land, the bad one is named with why."""
    data = delivery(record(eventID="good-1"), bad, record(eventID="good-2"))
    decoded = decode_records(data)
    table, unreadable = records_to_table(decoded.records, source="x")
    skipped = [*decoded.skipped, *unreadable]
    assert table.column("event_id").to_pylist() == ["good-1", "good-2"]
    assert len(skipped) == 1
    assert skipped[0].index == 1
    assert reason in skipped[0].reason


def test_lenient_types_from_forwarders():
    """Booleans written as strings by a forwarder are read, not refused."""
    data = delivery(record(readOnly="true", managementEvent="false"))
    (row,) = rows(data)
    assert row["read_only"] is True
    assert row["management_event"] is False


def test_json_lines_with_some_bad_lines():
    lines = [json.dumps(record(eventID="a")), "{not json", json.dumps({"hello": 1})]
    decoded = decode_records("\n".join(lines).encode())
    assert [r.eventID for r in decoded.records] == ["a"]
    assert [(s.index, s.reason.split(":")[0]) for s in decoded.skipped] == [
        (2, "line 2"),
        (3, "line 3"),
    ]


# --- columns --------------------------------------------------------------------------------------


def test_columns_follow_the_schema_and_keep_raw_values():
    data = delivery(
        record(
            errorCode="AccessDenied",
            errorMessage="User: x is not authorized",
            resources=[
                {"ARN": "arn:aws:s3:::b/k", "type": "AWS::S3::Object"},
                {"accountId": "111122223333", "ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket"},
                {"type": "AWS::S3::Object", "ARNPrefix": "arn:aws:s3:::b/logs/"},
            ],
            tlsDetails={"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"},
            vpcEndpointId="vpce-1234",
            additionalEventData={"bytesTransferredIn": 0},
        )
    )
    decoded = decode_records(data)
    table, _ = records_to_table(decoded.records, source="s3://b/k.json.gz")
    assert table.schema.names == [*EVENT_SCHEMA.names, "account", "date"]
    (row,) = table.to_pylist()
    assert row["error_code"] == "AccessDenied"
    assert json.loads(row["request_parameters"]) == {"Host": "s3.amazonaws.com"}
    assert json.loads(row["additional_event_data"]) == {"bytesTransferredIn": 0}
    assert row["resources"] == [
        {
            "arn": "arn:aws:s3:::b/k",
            "arn_prefix": None,
            "type": "AWS::S3::Object",
            "account_id": None,
        },
        {
            "arn": "arn:aws:s3:::b",
            "arn_prefix": None,
            "type": "AWS::S3::Bucket",
            "account_id": "111122223333",
        },
        {
            "arn": None,
            "arn_prefix": "arn:aws:s3:::b/logs/",
            "type": "AWS::S3::Object",
            "account_id": None,
        },
    ]
    assert row["tls_version"] == "TLSv1.3"
    assert row["vpc_endpoint_id"] == "vpce-1234"
    assert row["source"] == "s3://b/k.json.gz"
    assert row["account"] == "111122223333"
    assert row["date"].isoformat() == "2026-10-05"
    # ListBuckets needs s3:ListAllMyBuckets, which takes no resource (mapping fills this column).
    assert row["permissions"] == [
        {
            "action": "s3:ListAllMyBuckets",
            "resource": "*",
            "derivation": "renamed; no resource type",
            "inferred": False,
        }
    ]


def test_null_request_parameters_are_null_not_text():
    (row,) = rows(delivery(record(requestParameters=None)))
    assert row["request_parameters"] is None
    raw = record()
    raw["requestParameters"] = None
    (row,) = rows(json.dumps({"Records": [raw]}).encode())
    assert row["request_parameters"] is None


def test_partition_account_falls_back_to_the_caller_then_the_file():
    caller_only = record(recipientAccountId=None)
    (row,) = rows(delivery(caller_only))
    assert row["account"] == "111122223333"
    nobody = record(recipientAccountId=None, userIdentity=None)
    decoded = decode_records(delivery(nobody))
    table, _ = records_to_table(decoded.records, source="x", default_account="999988887777")
    assert table.column("account").to_pylist() == ["999988887777"]


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [
        (None, "arn:aws:ec2:us-east-2:111122223333:instance/i-0abc"),
        ("444455556666", "arn:aws:ec2:us-east-2:444455556666:instance/i-0abc"),
    ],
)
def test_mapped_arns_take_the_callers_account_when_the_trails_is_absent(recipient, expected):
    """CloudTrail user guide, record contents: older event versions have no recipientAccountId;
    userIdentity.accountId names the account that owns the credentials."""
    call = record(
        recipientAccountId=recipient,
        eventSource="ec2.amazonaws.com",
        eventName="GetPasswordData",
        awsRegion="us-east-2",
        requestParameters={"instanceId": "i-0abc"},
    )
    (row,) = rows(delivery(call))
    assert [p["resource"] for p in row["permissions"]] == [expected]


def test_event_id_is_derived_when_missing_and_stable():
    first = rows(delivery(record(eventID=None)))[0]["event_id"]
    again = rows(delivery(record(eventID=None)))[0]["event_id"]
    other = rows(delivery(record(eventID=None, eventName="GetObject")))[0]["event_id"]
    assert first.startswith("trailmin-")
    assert first == again
    assert first != other


# --- principals -----------------------------------------------------------------------------------

ROLE_SESSION = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLE:build-42",
    "arn": "arn:aws:sts::111122223333:assumed-role/app-backend/build-42",
    "accountId": "111122223333",
    "accessKeyId": "ASIAEXAMPLE",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:role/service/app-backend",
            "accountId": "111122223333",
            "userName": "app-backend",
        },
        "attributes": {"creationDate": "2026-10-05T11:00:00Z", "mfaAuthenticated": "false"},
    },
}


@pytest.mark.parametrize(
    ("identity", "region", "expected"),
    [
        (
            record()["userIdentity"],
            "us-east-1",
            ("arn:aws:iam::111122223333:user/alice", "IAMUser", None),
        ),
        (
            {
                "type": "IAMUser",
                "principalId": "AIDA",
                "accountId": "111122223333",
                "userName": "bob",
            },
            "cn-north-1",
            ("arn:aws-cn:iam::111122223333:user/bob", "IAMUser", None),
        ),
        (
            ROLE_SESSION,
            "us-east-1",
            ("arn:aws:iam::111122223333:role/service/app-backend", "Role", "build-42"),
        ),
        (
            {**ROLE_SESSION, "sessionContext": None},
            "us-east-1",
            ("arn:aws:iam::111122223333:role/app-backend", "Role", "build-42"),
        ),
        (
            {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::111122223333:assumed-role/"
                "AWSReservedSSO_AdministratorAccess_0123456789abcdef/jane@example.com",
                "accountId": "111122223333",
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "arn": "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/"
                        "eu-west-1/AWSReservedSSO_AdministratorAccess_0123456789abcdef",
                    }
                },
            },
            "eu-west-1",
            (
                "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
                "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
                "IdentityCenterRole",
                "jane@example.com",
            ),
        ),
        (
            {
                "type": "Root",
                "principalId": "111122223333",
                "arn": "arn:aws:iam::111122223333:root",
                "accountId": "111122223333",
            },
            "us-east-1",
            ("arn:aws:iam::111122223333:root", "Root", None),
        ),
        (
            # GetFederationToken: the IAM user who asked holds the permissions.
            {
                "type": "FederatedUser",
                "principalId": "111122223333:partner",
                "arn": "arn:aws:sts::111122223333:federated-user/partner",
                "accountId": "111122223333",
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "IAMUser",
                        "arn": "arn:aws:iam::111122223333:user/broker",
                        "userName": "broker",
                    }
                },
            },
            "us-east-1",
            ("arn:aws:iam::111122223333:user/broker", "FederatedUser", "partner"),
        ),
        (
            {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"},
            "us-east-1",
            ("lambda.amazonaws.com", "AWSService", None),
        ),
        (
            {"accountId": "111122223333", "invokedBy": "AWS Internal"},
            "us-east-1",
            ("AWS Internal", "AWSService", None),
        ),
        (
            {"type": "AWSAccount", "principalId": "AIDAOTHER", "accountId": "444455556666"},
            "us-gov-west-1",
            ("arn:aws-us-gov:iam::444455556666:root", "AWSAccount", None),
        ),
        (
            {
                "type": "SAMLUser",
                "principalId": "SAMLUser/jane",
                "userName": "jane",
                "identityProvider": "bdGOnTesti4+ErVzLZeTq6W2oS0=",
            },
            "us-east-1",
            (None, "SAMLUser", "jane"),
        ),
        (
            {
                "type": "WebIdentityUser",
                "principalId": "accounts.google.com:app:123",
                "userName": "123",
                "identityProvider": "accounts.google.com",
            },
            "us-east-1",
            (None, "WebIdentityUser", "123"),
        ),
    ],
)
def test_principal_normalization(identity, region, expected):
    principal = normalize_identity(_IDENTITY.decode(json.dumps(identity)), region)
    assert (principal.arn, principal.type, principal.session_name) == expected


def test_service_linked_role_is_told_apart():
    identity = {
        **ROLE_SESSION,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": "arn:aws:iam::111122223333:role/aws-service-role/"
                "rds.amazonaws.com/AWSServiceRoleForRDS",
            }
        },
    }
    principal = normalize_identity(_IDENTITY.decode(json.dumps(identity)), "us-east-1")
    assert principal.type == "ServiceLinkedRole"


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-east-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        (None, "aws"),
    ],
)
def test_partition_of_region(region, partition):
    assert partition_of_region(region) == partition


def test_mfa_and_session_columns():
    (row,) = rows(delivery(record(userIdentity=ROLE_SESSION)))
    assert row["principal_arn"] == "arn:aws:iam::111122223333:role/service/app-backend"
    assert row["identity_arn"] == "arn:aws:sts::111122223333:assumed-role/app-backend/build-42"
    assert row["session_name"] == "build-42"
    assert row["mfa_authenticated"] is False
    assert row["access_key_id"] == "ASIAEXAMPLE"
    assert row["principal_type"] == "Role"
    assert row["identity_type"] == "AssumedRole"
