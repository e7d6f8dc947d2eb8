"""Current policies, their expansion, and the diff against usage."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from datetime import UTC, datetime

import boto3
import pytest

import trailmin
from tests.conftest import (
    ROOT,
    SAMPLE_LOGS,
    act_in_account,
    fake_aws_env,
    make_record,
    reset_moto,
    role_session,
    write_delivery,
)
from trailmin.errors import UsageError
from trailmin.iam.details import parse_authorization_details
from trailmin.iam.diff import access_level, diff, recorded_as
from trailmin.policy.evaluate import PESSIMISTIC
from trailmin.policy.expand import arn_globs_intersect, expand
from trailmin.policy.generate import Used

AUTH = ROOT / "examples" / "sample-auth.json"
A = "111122223333"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    lake = tmp_path_factory.mktemp("diff") / "lake"
    trailmin.ingest([SAMPLE_LOGS], lake=lake, workers=1)
    return lake


@pytest.fixture(scope="module")
def report(sample):
    details = trailmin.authorization_details(auth_file=AUTH)
    return trailmin.diff(sample, details).to_dict()


def by_principal(report, name):
    (found,) = [p for p in report["principals"] if p["principal"].endswith(name)]
    return found


# --- end to end on sample_logs, with an auth file over-privileged in known ways -----------------


def test_the_planted_over_privileges_of_the_app_role_are_found(report):
    app = by_principal(report, ":role/service/app-backend")
    # legacy-admin-bits grants iam:* and the role never calls IAM: the whole service is unused.
    assert [(u["service"], u["whole_service"]) for u in app["unused"]] == [
        ("iam", True),
        ("dynamodb", False),  # DeleteTable, granted beside the three item actions it uses
    ]
    iam = app["unused"][0]["unused"]
    assert iam[0]["access_level"] == "Permissions management"  # the riskiest first
    assert [a["action"] for a in app["unused"][1]["unused"]] == ["dynamodb:DeleteTable"]
    # kms on key/* but used on two keys. s3:PutObject on bucket/* is used on more than 20
    # objects over the two weeks: not "a few", so not listed.
    assert {t["action"] for t in app["too_broad"]} == {"kms:Decrypt", "kms:GenerateDataKey"}
    decrypt = next(t for t in app["too_broad"] if t["action"] == "kms:Decrypt")
    assert decrypt["granted"] == [f"arn:aws:kms:*:{A}:key/*"]
    assert decrypt["narrower"] == [
        f"arn:aws:kms:eu-west-1:{A}:key/62d11e88-7eb0-466d-9877-f8c6eff26b50",
        f"arn:aws:kms:us-east-1:{A}:key/38b4e652-e44d-47f2-b70d-9e260e271365",
    ]
    assert app["used_not_granted"] == []
    # Nine actions called, and s3:ListBucket, which a GetObject answered NoSuchKey shows it holds.
    assert len(app["used_and_granted"]) == 10
    assert {"action": "s3:ListBucket", "calls": 1} in app["used_and_granted"]


def test_a_boundary_takes_away_what_it_does_not_allow(report):
    ci = by_principal(report, ":role/ci-deploy")
    # The identity policy grants iam:PassRole, the boundary does not: not granted, not unused.
    assert ci["granted_actions"] == 5
    assert ci["unused"] == []
    assert ci["boundary"] == f"arn:aws:iam::{A}:policy/ci-boundary"
    # lambda:GetFunction is used but granted by nothing: always shown.
    assert {(n["action"], n["reason"]) for n in ci["used_not_granted"]} == {
        ("lambda:GetFunction", "no identity policy grants the action")
    }
    assert {r["action"] for r in ci["refused"]} == {"iam:PassRole", "lambda:CreateFunction"}


def test_an_aws_managed_policy_and_a_group_policy_count(report):
    batch = by_principal(report, ":user/legacy-batch")
    assert [(u["service"], u["whole_service"]) for u in batch["unused"]] == [
        ("s3-object-lambda", True),
        ("s3", False),
    ]
    assert {t["action"] for t in batch["too_broad"]} == {
        "s3:GetObject",
        "s3:ListBucket",
        "ssm:GetParameter",
    }
    bob = by_principal(report, ":user/bob")
    assert bob["policies"] == ["devs-read (group-inline, via group devs)"]
    assert bob["unused"] == []
    assert bob["refused"] == [{"action": "iam:ListUsers", "resource": "*", "denied": 2}]
    # Someone tried legacy-batch's key on the last day: what they were refused is listed.
    assert {r["action"] for r in batch["refused"]} == {
        "iam:GetAccountAuthorizationDetails",
        "iam:ListAttachedUserPolicies",
        "iam:ListRoles",
        "iam:ListUsers",
        "lambda:ListFunctions",
        "organizations:DescribeOrganization",
        "secretsmanager:ListSecrets",
    }


def test_a_user_key_with_a_service_wide_grant(report):
    export = by_principal(report, ":user/export-job")
    # s3:* on the exports bucket, used for PutObject on one new object a night: the proposal's
    # pattern, learned from the 14 keys, is the narrower grant.
    (put,) = [t for t in export["too_broad"] if t["action"] == "s3:PutObject"]
    assert put["granted"] == [f"arn:aws:s3:::acme-exports-{A}/*"]
    assert len(put["used_on"]) == 14
    assert all(
        n.startswith(f"arn:aws:s3:::acme-exports-{A}/orders/2026-10-") for n in put["used_on"]
    )
    assert put["narrower"] == [f"arn:aws:s3:::acme-exports-{A}/orders/*"]
    assert next(u["service"] for u in export["unused"]) == "s3"


def test_a_role_that_did_nothing_has_everything_unused(report):
    etl = by_principal(report, ":role/old-etl")
    assert etl["used_and_granted"] == []
    assert [(u["service"], u["whole_service"]) for u in etl["unused"]] == [("s3", True)]


def test_principals_with_calls_but_no_details_are_listed(report):
    assert f"arn:aws:iam::{A}:user/alice" in report["not_in_details"]


def test_diff_command_prints_markdown_and_json(sample):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "trailmin", "diff", "--lake", str(sample), *args],
            capture_output=True,
            text=True,
            check=False,
        )

    markdown = run("--auth-file", str(AUTH), "--principal", "*:role/service/*")
    assert markdown.returncode == 0, markdown.stderr
    assert "## arn:aws:iam::111122223333:role/service/app-backend" in markdown.stdout
    assert "- **iam**: 190 actions" in markdown.stdout or "- **iam**:" in markdown.stdout
    assert "ci-deploy" not in markdown.stdout
    as_json = run("--auth-file", str(AUTH), "--format", "json")
    assert as_json.returncode == 0
    assert len(json.loads(as_json.stdout)["principals"]) == 8  # with vendor-audit, reports-2024
    neither = run()
    assert neither.returncode == 2
    assert "--auth-file FILE or --from-aws" in neither.stderr


def test_the_report_as_a_dataframe(sample):
    details = trailmin.authorization_details(auth_file=AUTH)
    frame = trailmin.diff(sample, details, principals=["*:role/ci-deploy"]).to_frame()
    assert set(frame["section"]) >= {"used", "too-broad", "not-granted", "refused"}
    assert set(frame["principal"]) == {f"arn:aws:iam::{A}:role/ci-deploy"}


# --- moto: the same diff from IAM and from a saved file ------------------------------------------

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def build_iam(iam) -> None:
    """Roles and users with managed, inline and group policies, a boundary, a Deny, a NotAction."""

    def managed(name, document):
        return iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"][
            "Arn"
        ]

    data = managed(
        "app-data",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:Query",
                        "dynamodb:DeleteTable",
                    ],
                    "Resource": f"arn:aws:dynamodb:*:{A}:table/orders",
                },
                {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"},
            ],
        },
    )
    boundary = managed(
        "app-boundary",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
        },
    )
    iam.create_role(
        RoleName="app-backend",
        Path="/service/",
        AssumeRolePolicyDocument=TRUST,
        PermissionsBoundary=boundary,
    )
    iam.attach_role_policy(RoleName="app-backend", PolicyArn=data)
    iam.put_role_policy(
        RoleName="app-backend",
        PolicyName="passing",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}],
            }
        ),
    )
    iam.create_group(GroupName="devs")
    iam.put_group_policy(
        GroupName="devs",
        PolicyName="devs-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["ec2:Describe*", "s3:ListAllMyBuckets"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    iam.create_user(UserName="bob")
    iam.add_user_to_group(GroupName="devs", UserName="bob")
    iam.put_user_policy(
        UserName="bob",
        PolicyName="own",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ce:GetCostAndUsage", "Resource": "*"}],
            }
        ),
    )


def test_from_aws_and_from_a_file_give_the_same_diff(sample, moto_server, tmp_path, monkeypatch):
    fake_aws_env(monkeypatch, tmp_path)
    reset_moto(moto_server)
    act_in_account(moto_server, A, monkeypatch)
    iam = boto3.session.Session().client("iam", endpoint_url=moto_server, region_name="us-east-1")
    build_iam(iam)
    fetched = trailmin.authorization_details(from_aws=True, endpoint_url=moto_server)
    # The same call saved as `aws iam get-account-authorization-details` writes it.
    pages = list(iam.get_paginator("get_account_authorization_details").paginate())
    saved = tmp_path / "auth.json"
    saved.write_text(
        json.dumps({k: v for k, v in pages[0].items() if k != "ResponseMetadata"}, default=str)
    )
    from_file = trailmin.authorization_details(auth_file=saved)
    from_aws = trailmin.diff(sample, fetched).to_dict()
    assert from_aws == trailmin.diff(sample, from_file).to_dict()
    app = by_principal(from_aws, ":role/service/app-backend")
    assert app["boundary"].endswith(":policy/app-boundary")
    # The boundary's NotAction iam:* takes iam:PassRole away; the Deny takes one kms action.
    granted = {u["action"] for u in app["used_and_granted"]}
    assert {"dynamodb:GetItem", "kms:Decrypt", "kms:GenerateDataKey"} <= granted
    unused = {a["action"] for u in app["unused"] for a in u["unused"]}
    assert "kms:ScheduleKeyDeletion" not in unused
    assert "kms:CreateKey" in unused
    assert not any(a.startswith("iam:") for a in unused)
    bob = by_principal(from_aws, ":user/bob")
    assert sorted(bob["policies"]) == ["devs-read (group-inline, via group devs)", "own (inline)"]
    # The CLI reads IAM the same way.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "trailmin",
            "diff",
            "--lake",
            str(sample),
            "--from-aws",
            "--endpoint-url",
            moto_server,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == from_aws


# --- the parts -----------------------------------------------------------------------------------


def test_url_encoded_documents_are_read():
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
    }
    details = parse_authorization_details(
        {
            "RoleDetailList": [
                {
                    "Arn": f"arn:aws:iam::{A}:role/r",
                    "RoleName": "r",
                    "Path": "/",
                    "RolePolicyList": [
                        {
                            "PolicyName": "p",
                            "PolicyDocument": urllib.parse.quote(json.dumps(document)),
                        }
                    ],
                    "AttachedManagedPolicies": [{"PolicyArn": "arn:aws:iam::aws:policy/Missing"}],
                }
            ]
        }
    )
    holdings = details.holdings(f"arn:aws:iam::{A}:role/r")
    assert holdings is not None
    assert holdings.documents() == [document]
    assert holdings.missing == ("arn:aws:iam::aws:policy/Missing",)


def test_a_file_that_is_not_authorization_details_is_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{}")
    with pytest.raises(UsageError, match="get-account-authorization-details"):
        trailmin.authorization_details(auth_file=path)


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_expansion_matches_the_catalog_and_sees_vacuous_grants():
    grants = expand(
        [
            (
                "p",
                policy(
                    {
                        "Effect": "Allow",
                        "Action": ["s3:Get*", "ec2:DescribeInstances"],
                        "Resource": "arn:aws:s3:::bucket",
                    }
                ),
            )
        ]
    )
    assert "s3:GetBucketPolicy" in grants  # a bucket action on a bucket ARN
    assert "s3:GetObject" not in grants  # an object action on a bucket ARN grants nothing
    assert "ec2:DescribeInstances" not in grants  # no resource type: only "*" grants it
    assert grants["s3:GetBucketPolicy"].resources == ("arn:aws:s3:::bucket",)


def test_expansion_not_action_deny_and_conditions():
    document = policy(
        {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::locked/*"},
        {
            "Effect": "Allow",
            "Action": "iam:GetRole",
            "Resource": "*",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        },
        {
            "Effect": "Deny",
            "Action": "ec2:TerminateInstances",
            "Resource": "*",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
        },
    )
    optimistic = expand([("p", document)])
    assert "iam:CreateUser" not in optimistic
    assert "s3:DeleteBucket" not in optimistic
    assert "s3:PutObject" in optimistic  # a Deny on some resources leaves the upper bound
    assert "iam:GetRole" in optimistic
    assert optimistic["iam:GetRole"].conditional
    assert "ec2:TerminateInstances" in optimistic
    pessimistic = expand([("p", document)], mode=PESSIMISTIC)
    assert "iam:GetRole" not in pessimistic
    assert "ec2:TerminateInstances" not in pessimistic


@pytest.mark.parametrize(
    ("pattern", "template", "expected"),
    [
        ("arn:aws:s3:::bucket", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", False),
        ("arn:aws:s3:::bucket/*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),
        ("arn:aws:s3:::*", "arn:${Partition}:s3:::${BucketName}", True),
        ("arn:aws:sqs:*:*:q", "arn:${Partition}:sqs:${Region}:${Account}:${QueueName}", True),
        ("arn:aws:sqs:*:*:q", "arn:${Partition}:sns:${Region}:${Account}:${TopicName}", False),
        (
            "arn:aws:iam::*:role/a?c",
            "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}",
            True,
        ),
        (
            "arn:aws:iam::*:role/x",
            "arn:${Partition}:iam::${Account}:user/${UserNameWithPath}",
            False,
        ),
    ],
)
def test_arn_globs_intersect(pattern, template, expected):
    assert arn_globs_intersect(pattern, template) is expected


def test_unused_data_event_actions_are_unknown_without_data_events():
    details = parse_authorization_details(
        {
            "RoleDetailList": [
                {
                    "Arn": f"arn:aws:iam::{A}:role/r",
                    "RoleName": "r",
                    "RolePolicyList": [
                        {
                            "PolicyName": "p",
                            "PolicyDocument": policy(
                                {
                                    "Effect": "Allow",
                                    "Action": ["s3:GetObject", "s3:PutBucketPolicy", "kms:Decrypt"],
                                    "Resource": "*",
                                }
                            ),
                        }
                    ],
                }
            ]
        }
    )
    holdings = details.holdings(f"arn:aws:iam::{A}:role/r")
    assert holdings is not None
    blind = diff(holdings, [], None)
    assert set(blind.unknown) == {"s3:GetObject", "kms:Decrypt"}
    assert [a for u in blind.unused for a in u.unused] == ["s3:PutBucketPolicy"]
    seeing = diff(
        holdings,
        [],
        None,
        data_event_services=frozenset({"s3"}),
        services_seen=frozenset({"kms", "s3"}),
    )
    assert seeing.unknown == ()
    assert recorded_as("s3:GetObjectVersion") == "data"
    assert recorded_as("s3:PutBucketPolicy") is None


def test_unused_actions_come_riskiest_first():
    details = parse_authorization_details(
        {
            "RoleDetailList": [
                {
                    "Arn": f"arn:aws:iam::{A}:role/r",
                    "RoleName": "r",
                    "RolePolicyList": [
                        {
                            "PolicyName": "p",
                            "PolicyDocument": policy(
                                {
                                    "Effect": "Allow",
                                    "Action": [
                                        "sqs:ListQueues",
                                        "sqs:DeleteMessage",
                                        "sqs:TagQueue",
                                        "sqs:SetQueueAttributes",
                                        "sqs:GetQueueUrl",
                                    ],
                                    "Resource": "*",
                                }
                            ),
                        }
                    ],
                }
            ]
        }
    )
    holdings = details.holdings(f"arn:aws:iam::{A}:role/r")
    assert holdings is not None
    t = datetime(2026, 1, 1, tzinfo=UTC)
    used = [
        Used(
            f"arn:aws:iam::{A}:role/r",
            "Role",
            "sqs:GetQueueUrl",
            f"arn:aws:sqs:us-east-1:{A}:q",
            1,
            1,
            0,
            t,
            t,
        )
    ]
    (service,) = diff(holdings, used, None, data_event_services=frozenset({"sqs"})).unused
    assert not service.whole
    assert [access_level(a) for a in service.unused] == [
        "Permissions management",
        "Write",
        "Tagging",
        "Read",
    ]
    assert service.unused == (
        "sqs:SetQueueAttributes",
        "sqs:DeleteMessage",
        "sqs:TagQueue",
        "sqs:ListQueues",
    )


def test_scps_take_away_what_a_level_does_not_allow(sample, tmp_path):
    scps = tmp_path / "scps.json"
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    no_iam = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
    }
    scps.write_text(json.dumps({A: [[everything], [no_iam]]}))
    details = trailmin.authorization_details(auth_file=AUTH)
    report = trailmin.diff(
        sample, details, principals=["*:role/service/*"], scps=trailmin.read_scps(scps)
    ).to_dict()
    app = by_principal(report, ":role/service/app-backend")
    # iam:* from legacy-admin-bits is refused by the OU's SCP: no longer granted, so not unused.
    assert [u["service"] for u in app["unused"]] == ["dynamodb"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"not-an-account": []}))
    with pytest.raises(UsageError, match="not an SCP file"):
        trailmin.read_scps(bad)


# --- roles AWS manages ---------------------------------------------------------------------------

SLR_PATH = "/aws-service-role/autoscaling.amazonaws.com/"
SLR = f"arn:aws:iam::{A}:role{SLR_PATH}AWSServiceRoleForAutoScaling"
WORKERS = f"arn:aws:iam::{A}:role/service/workers"


def role_detail(arn: str, role_id: str, **policies):
    """Return a RoleDetailList entry as `aws iam get-account-authorization-details` writes it."""
    path, name = arn.split(":role", 1)[1].rsplit("/", 1)
    return {
        "Path": path + "/",
        "RoleName": name,
        "RoleId": role_id,
        "Arn": arn,
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
        **policies,
    }


def test_a_service_linked_role_gets_no_diff_section(tmp_path):
    """A service-linked role that called EC2 has no section in the diff: AWS owns its policy,
    so what it holds and did not use is no one's to remove. A workload role beside it has one."""
    ec2 = {"eventSource": "ec2.amazonaws.com", "requestParameters": {}}
    # As CloudTrail logs Auto Scaling launching an instance with its service-linked role.
    launching = role_session(SLR, "AROAEXAMPLEASG", invokedBy="autoscaling.amazonaws.com")
    records = [
        make_record(1, **ec2, eventName="RunInstances", userIdentity=launching, readOnly=False),
        make_record(2, **ec2, eventName="DescribeInstances", userIdentity=launching),
        make_record(
            3,
            **ec2,
            eventName="DescribeInstances",
            userIdentity=role_session(WORKERS, "AROAEXAMPLEWORK"),
        ),
    ]
    write_delivery(tmp_path / "trail" / "t.json.gz", records)
    lake = tmp_path / "lake"
    trailmin.ingest([tmp_path / "trail"], lake=lake, workers=1)
    describe = {"Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"}
    asg_policy = f"arn:aws:iam::aws:policy{SLR_PATH}AutoScalingServiceRolePolicy"
    auth = {
        "UserDetailList": [],
        "GroupDetailList": [],
        "RoleDetailList": [
            role_detail(
                SLR,
                "AROAEXAMPLEASG",
                AttachedManagedPolicies=[
                    {"PolicyName": "AutoScalingServiceRolePolicy", "PolicyArn": asg_policy}
                ],
            ),
            role_detail(
                WORKERS,
                "AROAEXAMPLEWORK",
                RolePolicyList=[{"PolicyName": "describe", "PolicyDocument": policy(describe)}],
            ),
        ],
        "Policies": [
            {
                "PolicyName": "AutoScalingServiceRolePolicy",
                "Arn": asg_policy,
                "Path": SLR_PATH,
                "DefaultVersionId": "v1",
                "IsAttachable": True,
                "PolicyVersionList": [
                    {
                        "VersionId": "v1",
                        "IsDefaultVersion": True,
                        "Document": policy(
                            describe,
                            {
                                "Effect": "Allow",
                                "Action": ["ec2:RunInstances", "ec2:TerminateInstances"],
                                "Resource": "*",
                            },
                        ),
                    }
                ],
            }
        ],
    }
    saved = tmp_path / "auth.json"
    saved.write_text(json.dumps(auth))
    details = trailmin.authorization_details(auth_file=saved)
    assert SLR in details.principals
    used = trailmin.usage(lake, days="all")
    called = used[used["principal"] == SLR]
    assert sorted(called["action"]) == ["ec2:DescribeInstances", "ec2:RunInstances"]
    assert set(called["principal_type"]) == {"ServiceLinkedRole"}

    report = trailmin.diff(lake, details, days="all").to_dict()
    assert [p["principal"] for p in report["principals"]] == [WORKERS]
    # It is in the details: not listed as a caller the details lack either.
    assert report["not_in_details"] == []


def test_the_samples_access_advisor_keeps_what_another_region_used(sample):
    """examples/sample-access-advisor.json: Access Advisor saw old-etl use S3 in us-west-2,
    a region the sample's trail does not cover; the diff keeps S3 and says why, and Glue,
    never attempted, makes no claim."""
    details = trailmin.authorization_details(auth_file=AUTH)
    found = trailmin.diff(
        sample, details, access_advisor=ROOT / "examples" / "sample-access-advisor.json"
    ).to_dict()
    old = by_principal(found, "old-etl")
    assert [k["service"] for k in old["kept_by_access_advisor"]] == ["s3"]
    assert "s3" not in {u["service"] for u in old["unused"] if u["whole_service"]}
    (kept,) = old["kept_by_access_advisor"]
    assert kept["access_advisor"]["region"] == "us-west-2"
