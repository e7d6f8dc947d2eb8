"""Error codes: refused by authorization, failed after it (the permission was needed), or before."""

from __future__ import annotations

import csv

import duckdb
import pytest

from trailmin.mapping import outcomes
from trailmin.mapping.actions import data_file
from trailmin.query.sql import outcome_case

# Every error code in ../shared/real_logs, and a few more, with what it says.
CASES = [
    (None, "succeeded"),
    ("AccessDenied", "denied"),
    ("AccessDeniedException", "denied"),
    ("Client.UnauthorizedOperation", "denied"),
    ("ThrottlingException", "before"),
    ("Client.RequestLimitExceeded", "before"),
    ("ValidationException", "before"),
    ("ValidationError", "before"),  # cloudformation UpdateStack "No updates are to be performed"
    ("ExpiredTokenException", "before"),
    ("NoSuchBucketPolicy", "authorized"),
    ("NoSuchKey", "authorized"),
    ("NoSuchEntityException", "authorized"),
    ("NoSuchPublicAccessBlockConfiguration", "authorized"),
    ("Client.InvalidRouteTableID.NotFound", "authorized"),
    ("Client.InvalidPermission.NotFound", "authorized"),
    ("TrailNotFoundException", "authorized"),
    ("ResourceNotFoundException", "authorized"),
    ("ObjectLockConfigurationNotFoundError", "authorized"),
    ("ReplicationConfigurationNotFoundError", "authorized"),
    ("DBInstanceNotFoundFault", "authorized"),
    ("BucketNotEmpty", "authorized"),
    ("EntityAlreadyExistsException", "authorized"),
    ("ConditionalCheckFailedException", "authorized"),
    ("Client.VpcLimitExceeded", "authorized"),
    ("Client.VcpuLimitExceeded", "authorized"),
    # API Gateway API reference: LimitExceededException is its rate limit (a throttle); other
    # services use the same code for quotas, so the bare code says nothing either way.
    ("LimitExceededException", "before"),
    ("ServiceLimitExceededException", "authorized"),
    ("ProvisionedThroughputExceededException", "before"),  # DynamoDB: request rate too high
    ("ThrottledException", "before"),
    # S3 error responses: answered to any caller, no policy evaluated.
    ("NoSuchBucket", "before"),
    ("BucketAlreadyExists", "before"),
    ("BucketAlreadyOwnedByYou", "authorized"),
    # EC2 common client errors: DryRunOperation, the request would have succeeded.
    ("Client.DryRunOperation", "authorized"),
    ("DryRunOperation", "authorized"),
    ("InvalidDBInstanceStateFault", "authorized"),
    ("InvocationDoesNotExist", "authorized"),
    # Could be refused before or after authorization: nothing is concluded.
    ("InvalidParameterValueException", "unknown"),
    ("Client.InvalidParameterValue", "unknown"),
    ("InvalidInstanceId", "unknown"),
    ("InvalidAccessException", "unknown"),
    ("SomethingAwsWillInventTomorrow", "unknown"),
]


@pytest.mark.parametrize(("code", "expected"), CASES)
def test_outcome_of(code, expected):
    assert outcomes.outcome_of(code) == expected


def test_every_row_says_where_it_comes_from():
    rows = list(csv.DictReader(data_file("error_codes.csv").splitlines()))
    assert len({r["pattern"] for r in rows}) == len(rows)
    for row in rows:
        assert row["outcome"] in {outcomes.DENIED, outcomes.AUTHORIZED, outcomes.BEFORE}
        assert len(row["provenance"]) > 10


def test_a_refusal_is_never_taken_for_a_failure_after_authorization():
    for code in outcomes.denied_codes():
        assert outcomes.outcome_of(code) == outcomes.DENIED


def test_the_sql_classifies_as_python_does():
    numbers = {"succeeded": 0, "denied": 1, "authorized": 2, "before": 3, "unknown": 4}
    db = duckdb.connect()
    values = ", ".join("(NULL)" if c is None else f"('{c}')" for c, _ in CASES)
    rows = db.sql(
        f"SELECT e.error_code, {outcome_case()} FROM (VALUES {values}) AS e(error_code)"
    ).fetchall()
    assert rows == [(code, numbers[expected]) for code, expected in CASES]
