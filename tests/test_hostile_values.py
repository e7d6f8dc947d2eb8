"""A record's values never widen a policy: wildcards in request parameters stay literal."""

from __future__ import annotations

import pytest

from trailmin.evaluation import pattern_matches
from trailmin.mapping.permissions import event_permissions
from trailmin.mapping.resources import Context

A = "111122223333"


@pytest.mark.parametrize(
    ("source", "name", "params", "other"),
    [
        ("iam.amazonaws.com", "GetRole", {"roleName": "*"}, f"arn:aws:iam::{A}:role/admin"),
        (
            "iam.amazonaws.com",
            "PutRolePolicy",
            {"roleName": "a*", "policyName": "p"},
            f"arn:aws:iam::{A}:role/admin",
        ),
        (
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            {"secretId": "*"},
            f"arn:aws:secretsmanager:us-east-1:{A}:secret:prod/db-AbCdEf",
        ),
        (
            "logs.amazonaws.com",
            "FilterLogEvents",
            {"logGroupName": "*"},
            f"arn:aws:logs:us-east-1:{A}:log-group:/aws/lambda/api",
        ),
        ("s3.amazonaws.com", "DeleteObjects", {"bucketName": "*"}, "arn:aws:s3:::payroll/x.csv"),
        (
            "lambda.amazonaws.com",
            "CreateFunction20150331",
            {"functionName": "f", "role": "?dmin"},
            f"arn:aws:iam::{A}:role/admin",
        ),
    ],
)
def test_a_wildcard_in_a_request_names_itself_only(source, name, params, other):
    """IAM policy grammar: ``*`` and ``?`` from a record are written ``${*}`` and ``${?}``, in
    patterns too; no permission of the call matches a resource the record did not name."""
    ctx = Context("aws", "us-east-1", A, params, ())
    found = event_permissions(source, name, None, ctx)
    assert found
    for permission in found:
        if "pattern" in permission.derivation:
            assert not pattern_matches(permission.resource, other), permission
