"""The mapping report: totals, rows, and denials that contradict the mapping."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import trailmin
from trailmin.mapping.report import build_report, named_action


@pytest.mark.parametrize(
    ("message", "action"),
    [
        (
            "User: arn:aws:iam::123837392027:user/bert-jan is not authorized to perform: "
            "sts:AssumeRole on resource: arn:aws:iam::123837392027:role/x",
            "sts:AssumeRole",
        ),
        (
            "User: arn:aws:sts::111122223333:assumed-role/ci/x is not authorized to perform: "
            "iam:PassRole on resource: arn:aws:iam::111122223333:role/app because no "
            "identity-based policy allows the iam:PassRole action",
            "iam:PassRole",
        ),
        (
            "because no identity-based policy allows the s3:ListBucket action",
            "s3:ListBucket",
        ),
        ("You are not authorized to perform this operation. Encoded authorization failure", None),
        ("Access Denied", None),
        (None, None),
    ],
)
def test_the_action_a_denial_names(message, action):
    assert named_action(message) == action


def test_report_rows_totals_and_a_disagreeing_denial():
    kinds = [
        ("s3.amazonaws.com", "ListObjects", "AwsApiCall", 10),
        ("lambda.amazonaws.com", "CreateFunction20150331", "AwsApiCall", 2),
        ("sts.amazonaws.com", "GetCallerIdentity", "AwsApiCall", 5),
        ("kms.amazonaws.com", "RotateKey", "AwsServiceEvent", 1),
        ("s3.amazonaws.com", "MadeUpCall", "AwsApiCall", 3),
    ]
    denials = [
        (
            "lambda.amazonaws.com",
            "CreateFunction20150331",
            "AccessDeniedException",
            "User: x is not authorized to perform: iam:PassRole on resource: y",
            "evt-1",
        ),
        (  # agrees with the mapping: no finding
            "s3.amazonaws.com",
            "ListObjects",
            "AccessDenied",
            "because no identity-based policy allows the s3:ListBucket action",
            "evt-2",
        ),
        (  # not an authorization failure: ignored
            "s3.amazonaws.com",
            "ListObjects",
            "NoSuchBucket",
            "to perform: s3:Nothing",
            "evt-3",
        ),
    ]
    report = build_report(kinds, denials)
    assert [(r.event_name, r.status, r.actions) for r in report.rows] == [
        ("MadeUpCall", "unmapped", ()),
        ("ListObjects", "renamed", ("s3:ListBucket",)),
        ("GetCallerIdentity", "no-permission", ()),
        ("CreateFunction20150331", "renamed", ("lambda:CreateFunction",)),
        ("RotateKey", "service-event", ()),
    ]
    assert report.totals == {
        "events": 21,
        "by_status": {
            "no-permission": 5,
            "renamed": 12,
            "service-event": 1,
            "unmapped": 3,
        },
        "needing_permission": 15,
        "mapped": 12,
        "mapped_share": 0.8,
        "kinds_unmapped": 1,
        "resources_scoped": 0,
        "resources_unscoped": 0,
        "scoped_share": None,
    }
    (finding,) = report.findings
    assert finding.code == "MAPPING_DISAGREES_WITH_DENIAL"
    assert finding.evidence == ("evt-1",)
    assert "iam:PassRole" in finding.message
    frame = report.to_frame()
    assert list(frame["events"]) == [3, 10, 5, 2, 1]


def test_mapping_report_over_the_sample_and_real_logs(tmp_path, real_logs):
    from tests.conftest import SAMPLE_LOGS

    lake = tmp_path / "lake"
    trailmin.ingest([real_logs, SAMPLE_LOGS], lake=lake, workers=1)
    report = trailmin.mapping_report(lake)
    totals = report.totals
    assert totals["events"] == 3047 + 1422  # the real logs (the 3 of a comma-less file too)
    assert totals["mapped_share"] >= 0.99
    unmapped = {(r.event_source, r.event_name) for r in report.rows if r.status == "unmapped"}
    assert unmapped == {("s3.amazonaws.com", "GetStorageLensDashboardDataInternal")}
    # The sample's CI role was refused iam:PassRole while creating a function: PassRole is
    # needed beside lambda:CreateFunction, and the report says the mapping does not show it yet.
    assert [(f.event_name, f.code) for f in report.findings] == [
        ("CreateFunction20150331", "MAPPING_DISAGREES_WITH_DENIAL")
    ]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "trailmin",
            "mapping-report",
            "--lake",
            str(lake),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(run.stdout)
    assert data["totals"] == totals
    assert len(data["rows"]) == len(report.rows)
