"""Access Advisor (service last accessed) as a second usage signal in the diff."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

import trailmin
from tests.conftest import make_record, role_session, write_delivery
from trailmin.errors import UsageError
from trailmin.iam.access_advisor import LastAccess, read_access_advisor, window_bounds
from trailmin.iam.details import parse_authorization_details
from trailmin.iam.diff import diff, diff_report
from trailmin.policy.generate import Used
from trailmin.query.sql import Window

A = "111122223333"
ROLE = f"arn:aws:iam::{A}:role/service/app"
OTHER = f"arn:aws:iam::{A}:role/other"
START = datetime(2026, 9, 1, tzinfo=UTC)
END = datetime(2026, 10, 1, tzinfo=UTC)  # exclusive
ACTIONS = [
    "sns:CreateTopic",
    "sns:ListTopics",
    "sqs:CreateQueue",
    "ec2:DescribeRegions",
    "s3:ListAllMyBuckets",
    "s3:PutBucketTagging",
    "s3:GetBucketTagging",
]


def iso(moment: datetime) -> str:
    return moment.isoformat()


def auth(arn: str = ROLE) -> dict:
    path, name = arn.split(":role", 1)[1].rsplit("/", 1)
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ACTIONS, "Resource": "*"}],
    }
    return {
        "RoleDetailList": [
            {
                "Arn": arn,
                "RoleName": name,
                "Path": path + "/",
                "RoleId": "AROAEXAMPLEAPP",
                "RolePolicyList": [{"PolicyName": "app", "PolicyDocument": document}],
            }
        ]
    }


def holdings():
    found = parse_authorization_details(auth()).holdings(ROLE)
    assert found is not None
    return found


def used(action: str, when: datetime = START + timedelta(days=3)) -> Used:
    return Used(ROLE, "Role", action, "*", 1, 1, 0, when, when)


def service(namespace: str, when: datetime | None, region: str = "ap-south-1", **extra) -> dict:
    """Return a ServicesLastAccessed entry as `aws iam get-service-last-accessed-details` prints
    it: a service with no attempt has no LastAuthenticated, entity or region."""
    entry = {"ServiceName": f"Amazon {namespace.upper()}", "ServiceNamespace": namespace}
    if when is not None:
        entry |= {
            "LastAuthenticated": iso(when),
            "LastAuthenticatedEntity": ROLE,
            "LastAuthenticatedRegion": region,
            "TotalAuthenticatedEntities": 1,
        }
    else:
        entry["TotalAuthenticatedEntities"] = 0
    return entry | extra


def output(*services: dict, job_type: str = "SERVICE_LEVEL", created: datetime = END) -> dict:
    return {
        "JobStatus": "COMPLETED",
        "JobType": job_type,
        "JobCreationDate": iso(created),
        "JobCompletionDate": iso(created + timedelta(seconds=4)),
        "ServicesLastAccessed": list(services),
        "IsTruncated": False,
    }


def report_of(data: dict):
    return read_access_advisor(io.BytesIO(json.dumps(data).encode()), source="aa.json")


def diff_with(*services: dict, rows=(), **options):
    reports = report_of({ROLE: output(*services, **options)})
    return diff(
        holdings(),
        list(rows),
        None,
        access_advisor=reports[ROLE],
        window=(START, END),
        regions_seen=frozenset({"us-east-1", "eu-west-1"}),
    )


def unused_services(result) -> dict[str, tuple[str, ...]]:
    return {u.service: u.unused for u in result.unused}


# --- the rule: kept when Access Advisor saw an attempt at or after the window's start ----------


@pytest.mark.parametrize(
    ("last", "kept", "after"),
    [
        (None, False, None),  # no attempt in the tracking period
        (START - timedelta(seconds=1), False, None),  # older than the window: not counted
        (START, True, False),  # the start is inclusive
        (START + timedelta(days=10), True, False),
        (END - timedelta(microseconds=1), True, False),
        (END, True, True),  # the end is exclusive: after the window
        (END + timedelta(days=2), True, True),  # used since the lake's newest event
    ],
)
def test_a_service_unused_in_the_trail_is_kept_when_access_advisor_saw_it(last, kept, after):
    result = diff_with(service("sns", last), rows=[used("s3:ListAllMyBuckets")])
    if kept:
        (found,) = result.kept
        assert (found.service, found.actions, found.after_window) == (
            "sns",
            ("sns:CreateTopic", "sns:ListTopics"),
            after,
        )
        assert "sns" not in unused_services(result)
    else:
        assert result.kept == ()
        assert unused_services(result)["sns"] == ("sns:CreateTopic", "sns:ListTopics")


def test_the_reason_says_the_date_region_and_entity_access_advisor_reports():
    seen = START + timedelta(days=10, hours=14, minutes=3)
    result = diff_with(service("sns", seen), rows=[used("s3:ListAllMyBuckets")])
    (kept,) = result.kept
    assert kept.reason() == (
        "Access Advisor reports an attempt of it on 2026-09-11 14:03 UTC in ap-south-1 by "
        f"{ROLE}; the lake holds no event from ap-south-1"
    )
    assert kept.to_dict() == {
        "service": "sns",
        "actions": ["sns:CreateTopic", "sns:ListTopics"],
        "tracked_action": None,
        "access_advisor": {
            "last_authenticated": "2026-09-11T14:03:00+00:00",
            "region": "ap-south-1",
            "entity": ROLE,
        },
        "after_window": False,
        "region_in_lake": False,
        "reason": kept.reason(),
    }
    in_lake = diff_with(service("sns", seen, region="us-east-1")).kept[0]
    assert in_lake.region_in_lake is True
    assert "the lake holds events from us-east-1 but not this call" in in_lake.reason()
    later = diff_with(service("sns", END + timedelta(hours=5))).kept[0]
    assert "05:00 UTC in ap-south-1 by" in later.reason()
    assert ", after the window (which ends 2026-09-30 23:59 UTC); the lake holds no" in (
        later.reason()
    )


def test_unused_in_both_is_proposed_for_removal_with_what_access_advisor_says():
    old = START - timedelta(days=30)
    result = diff_with(
        service("sns", None),
        service("sqs", old),
        rows=[used("s3:ListAllMyBuckets")],
    )
    assert result.kept == ()
    by_service = {u.service: u for u in result.unused}
    assert set(by_service) == {"sns", "sqs", "ec2", "s3"}
    assert by_service["sns"].advisor == LastAccess(None)  # listed, no attempt
    assert by_service["sqs"].advisor == LastAccess(old, "ap-south-1", ROLE)
    assert by_service["ec2"].advisor is None  # the report does not list it
    as_dict = {u["service"]: u for u in result.to_dict()["unused"]}
    assert as_dict["sqs"]["access_advisor"] == {
        "last_authenticated": old.isoformat(),
        "region": "ap-south-1",
        "entity": ROLE,
    }
    assert as_dict["ec2"]["access_advisor"] is None
    assert result.to_dict()["kept_by_access_advisor"] == []


def test_a_service_used_in_the_trail_that_access_advisor_never_saw_makes_no_claim():
    """Its data lags by hours and lists only what the identity policies allow: no finding."""
    rows = [used("s3:ListAllMyBuckets"), used("sns:ListTopics")]
    without = diff(holdings(), rows, None, window=(START, END))
    result = diff_with(service("sns", None), service("s3", None), rows=rows)
    assert result.used_and_granted == without.used_and_granted
    assert result.kept == ()
    assert result.notes == ()
    assert unused_services(result) == unused_services(without)


def test_a_partly_used_service_keeps_only_the_tracked_actions_access_advisor_saw():
    seen = START + timedelta(days=2)
    tracked = [
        {
            "ActionName": "PutBucketTagging",
            "LastAccessedEntity": ROLE,
            "LastAccessedRegion": "us-east-1",
            "LastAccessedTime": iso(seen),
        },
        {"ActionName": "GetBucketTagging"},  # tracked, never attempted
    ]
    s3 = service("s3", seen, region="us-east-1", TrackedActionsLastAccessed=tracked)
    result = diff_with(s3, rows=[used("s3:ListAllMyBuckets")], job_type="ACTION_LEVEL")
    (kept,) = result.kept
    assert (kept.service, kept.actions, kept.tracked_action) == (
        "s3",
        ("s3:PutBucketTagging",),
        "s3:PutBucketTagging",
    )
    assert unused_services(result)["s3"] == ("s3:GetBucketTagging",)
    # Service level only: the service was used (the trail says so); which action, it cannot say.
    plain = diff_with(service("s3", seen, region="us-east-1"), rows=[used("s3:ListAllMyBuckets")])
    assert plain.kept == ()
    assert unused_services(plain)["s3"] == ("s3:PutBucketTagging", "s3:GetBucketTagging")


def test_a_report_made_before_the_window_or_truncated_says_so():
    early = diff_with(service("sns", START - timedelta(days=1)), created=START - timedelta(days=1))
    assert early.kept == ()
    assert early.notes == (
        "Access Advisor's report was made on 2026-08-31 00:00 UTC, before the window starts: it "
        "cannot show use in the window",
    )
    truncated = output(service("sns", None)) | {"IsTruncated": True, "Marker": "m"}
    result = diff(holdings(), [], None, access_advisor=report_of({ROLE: truncated})[ROLE])
    assert result.notes == ("Access Advisor's report is not compared: the window has no event",)
    bounded = diff(
        holdings(), [], None, access_advisor=report_of({ROLE: truncated})[ROLE], window=(START, END)
    )
    assert "truncated (IsTruncated)" in bounded.notes[0]


def test_pages_under_one_arn_are_one_report_and_a_path_may_be_left_out():
    page = output(service("sns", START))
    second = output(service("sqs", START)) | {"IsTruncated": False}
    page["IsTruncated"] = True
    # The entity without the role's path is the same role.
    second["ServicesLastAccessed"][0]["LastAuthenticatedEntity"] = f"arn:aws:iam::{A}:role/app"
    (report,) = report_of({ROLE: [page, second]}).values()
    assert sorted(report.services) == ["sns", "sqs"]
    assert report.truncated is False


def window(start, end, first, last) -> Window:
    return Window(
        start=start,
        end=end,
        days=None,
        default=False,
        events=1,
        principals=1,
        events_outside=0,
        principals_outside=0,
        first_event=first,
        last_event=last,
    )


def test_the_window_bounds_are_the_diffs():
    first, last = START + timedelta(hours=1), END - timedelta(hours=1)
    assert window_bounds(window(START, END, first, last)) == (START, END)
    assert window_bounds(window(None, None, first, last)) == (
        first,
        last + timedelta(microseconds=1),
    )
    assert window_bounds(window(None, None, None, None)) is None
    assert window_bounds(None) is None


def test_reports_of_principals_the_details_lack_are_listed():
    details = parse_authorization_details(auth())
    reports = report_of({ROLE: output(service("sns", START)), OTHER: output()})
    covered = window(START, END, START, END)
    report = diff_report(details, [], [], event_sources=[], window=covered, access_advisor=reports)
    assert report.advisor_not_in_details == [OTHER]
    assert [k.service for k in report.diffs[0].kept] == ["sns"]
    assert "## Access Advisor reports of principals the details lack" in report.to_markdown()


# --- bad input is refused, naming the file and the fix --------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (output(), "aa.json is one get-service-last-accessed-details output, which does not name"),
        ([], "aa.json is not an Access Advisor file"),
        ({}, "aa.json is not an Access Advisor file"),
        ({"app": output()}, "aa.json: 'app' is not the ARN of an IAM user or role"),
        ({f"arn:aws:iam::{A}:group/devs": output()}, "reports of groups and policies"),
        ({ROLE: {"JobStatus": "COMPLETED"}}, "no ServicesLastAccessed list"),
        ({ROLE: output() | {"JobStatus": "IN_PROGRESS"}}, "JobStatus is 'IN_PROGRESS', not"),
        (
            {ROLE: output() | {"JobStatus": "FAILED", "Error": {"Code": "x", "Message": "boom"}}},
            "the job FAILED (x: boom)",
        ),
        ({ROLE: output({"ServiceName": "S3"})}, "has no ServiceNamespace"),
        ({ROLE: output(service("s3", None, LastAuthenticated="yesterday"))}, "not an ISO 8601"),
        (
            {OTHER: output(service("s3", START))},
            f"aa.json, {OTHER}: the report is of {ROLE} (LastAuthenticatedEntity of s3)",
        ),
    ],
)
def test_a_bad_file_is_refused_with_its_name_and_the_fix(data, message):
    with pytest.raises(UsageError) as refused:
        report_of(data)
    assert message in str(refused.value)


def test_a_file_that_is_not_json_is_refused(tmp_path):
    broken = tmp_path / "aa.json"
    broken.write_text("{not json")
    with (
        broken.open("rb") as fp,
        pytest.raises(UsageError, match=r"aa.json is not JSON \(.* at line 1\); generate each"),
    ):
        read_access_advisor(fp, source=str(broken))


# --- end to end: the library and the CLI on a small lake -----------------------------------------


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """A role that lists its buckets in us-east-1 on 2026-10-05, and nothing else."""
    where = tmp_path_factory.mktemp("aa")
    session = role_session(ROLE, "AROAEXAMPLEAPP")
    records = [make_record(n, userIdentity=session) for n in range(3)]
    write_delivery(where / "trail" / "t.json.gz", records)
    trailmin.ingest([where / "trail"], lake=where / "lake", workers=1)
    (where / "auth.json").write_text(json.dumps(auth()))
    seen = datetime(2026, 9, 20, 8, 30, tzinfo=UTC)
    advisor = {
        ROLE: output(
            service("sns", seen),  # within the default window, a region the lake lacks
            service("sqs", datetime(2026, 5, 1, tzinfo=UTC)),  # before the window
            service("ec2", datetime(2026, 10, 6, 1, 0, tzinfo=UTC)),  # after the newest event
            service("s3", None),
            created=datetime(2026, 10, 6, 9, 0, tzinfo=UTC),
        )
    }
    (where / "aa.json").write_text(json.dumps(advisor))
    return where


def test_the_library_keeps_what_access_advisor_saw(lake):
    details = trailmin.authorization_details(auth_file=lake / "auth.json")
    report = trailmin.diff(lake / "lake", details, access_advisor=lake / "aa.json").to_dict()
    (app,) = report["principals"]
    assert [(k["service"], k["after_window"]) for k in app["kept_by_access_advisor"]] == [
        ("ec2", True),
        ("sns", False),
    ]
    assert [u["service"] for u in app["unused"]] == ["sqs", "s3"]
    assert app["access_advisor"]["job_created"] == "2026-10-06T09:00:00+00:00"
    # Given the usage already (as the scheduled job does), the report is compared all the same.
    usage = trailmin.usage(lake / "lake")
    from trailmin.policy.generate import used_from_frame

    again = trailmin.diff(
        lake / "lake",
        details,
        used=used_from_frame(usage),
        access_advisor=lake / "aa.json",
    ).to_dict()
    assert again["principals"][0]["kept_by_access_advisor"] == app["kept_by_access_advisor"]


def run(lake, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "trailmin",
            "diff",
            "--lake",
            str(lake / "lake"),
            "--auth-file",
            str(lake / "auth.json"),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_diff_command_takes_access_advisor(lake):
    as_json = run(lake, "--access-advisor", str(lake / "aa.json"), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    (app,) = json.loads(as_json.stdout)["principals"]
    (sns,) = [k for k in app["kept_by_access_advisor"] if k["service"] == "sns"]
    assert sns["reason"] == (
        "Access Advisor reports an attempt of it on 2026-09-20 08:30 UTC in ap-south-1 by "
        f"{ROLE}; the lake holds no event from ap-south-1"
    )
    markdown = run(lake, "--access-advisor", str(lake / "aa.json"))
    assert markdown.returncode == 0, markdown.stderr
    text = markdown.stdout
    made = "Compared with Access Advisor's report made 2026-10-06 09:00 UTC (service level)."
    assert made in text
    assert "### Unused in the trail, but Access Advisor saw them used" in text
    assert "- **sns** (2 actions: sns:CreateTopic, sns:ListTopics): Access Advisor reports" in text
    assert "- **sqs**: 1 actions, Write 1; Access Advisor: last attempt 2026-05-01, before" in text
    assert "- **s3**: 2 of 3 actions unused: Tagging: PutBucketTagging; Read: Get" in text
    assert "no attempt in its tracking period" not in text  # s3 is partly used: nothing to say
    # Without it, sns and ec2 are unused.
    plain = json.loads(run(lake, "--format", "json").stdout)["principals"][0]
    assert {u["service"] for u in plain["unused"]} == {"sns", "sqs", "ec2", "s3"}
    assert plain["kept_by_access_advisor"] == []


def test_the_diff_command_refuses_a_bad_file_with_its_name(lake, tmp_path):
    bad = tmp_path / "single.json"
    bad.write_text(json.dumps(output(service("sns", None))))
    refused = run(lake, "--access-advisor", str(bad))
    assert refused.returncode == 2
    said = " ".join(refused.stderr.split())
    assert f"{bad} is one get-service-last-accessed-details output" in said
    assert "Traceback" not in refused.stderr
    missing = run(lake, "--access-advisor", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    assert "nope.json: No such file or directory; check the path" in missing.stderr
