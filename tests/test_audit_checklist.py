"""The checklist's items of issue 18: unused policies and groups, users' own policies, roles never
used, full-administrator and service-wide grants, AssumeRoot sessions, shared identities, and
the controls table; each on hand-made records and authorization details."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

import trailmin
from tests.conftest import ROOT, log_name, make_record, role_session, write_delivery
from trailmin.iam import audit as checklist
from trailmin.iam import trust
from trailmin.iam.details import parse_authorization_details
from trailmin.ingestion.decode import UserIdentity
from trailmin.ingestion.principals import normalize_identity

A = "111122223333"
NOW = datetime(2026, 10, 20, tzinfo=UTC)
_IDENTITY = msgspec.json.Decoder(UserIdentity)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def days_ago(days: int) -> str:
    return iso(NOW - timedelta(days=days))


def lake_of(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    folder = tmp_path / "logs"
    write_delivery(folder / log_name(A, "us-east-1", "20261001T0000Z", "a"), records)
    lake = tmp_path / "lake"
    trailmin.ingest([folder], lake=lake, workers=1)
    return lake


def user_identity(name: str, key: str = "AKIAEXAMPLE0000000001") -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": f"AIDA{name.upper()}",
        "arn": f"arn:aws:iam::{A}:user/{name}",
        "accountId": A,
        "accessKeyId": key,
        "userName": name,
    }


def statement(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", **fields}


def policy_entry(name: str, document: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "PolicyName": name,
        "Arn": f"arn:aws:iam::{A}:policy/{name}",
        "DefaultVersionId": "v1",
        "IsAttachable": True,
        "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": document}],
        **fields,
    }


def role_entry(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": f"AROA{name.upper().replace('-', '')}",
        "Arn": f"arn:aws:iam::{A}:role/{name}",
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
        **fields,
    }


def user_entry(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "Path": "/",
        "UserName": name,
        "UserId": f"AIDA{name.upper()}",
        "Arn": f"arn:aws:iam::{A}:user/{name}",
        "GroupList": [],
        "UserPolicyList": [],
        "AttachedManagedPolicies": [],
        **fields,
    }


def attached(name: str) -> dict[str, str]:
    return {"PolicyName": name, "PolicyArn": f"arn:aws:iam::{A}:policy/{name}"}


READ = {"Version": "2012-10-17", "Statement": [statement(Action="s3:GetObject", Resource="*")]}
ADMIN = {"Version": "2012-10-17", "Statement": [statement(Action="*", Resource="*")]}


def codes(found: list[checklist.Finding], code: str) -> list[checklist.Finding]:
    return [f for f in found if f.code == code]


# --- the details ---------------------------------------------------------------------------------


def test_the_details_hold_groups_members_and_policy_counts():
    details = parse_authorization_details(
        {
            "UserDetailList": [
                user_entry("ann", GroupList=["devs"], CreateDate="2024-01-02T03:04:05Z"),
            ],
            "GroupDetailList": [
                {"GroupName": "devs", "Arn": f"arn:aws:iam::{A}:group/devs"},
                {"GroupName": "nobody", "Arn": f"arn:aws:iam::{A}:group/nobody"},
            ],
            "RoleDetailList": [role_entry("r", CreateDate="2025-05-05T00:00:00Z")],
            "Policies": [
                policy_entry(
                    "p",
                    READ,
                    AttachmentCount=2,
                    PermissionsBoundaryUsageCount=1,
                    IsAttachable=False,
                )
            ],
        }
    )
    assert details.groups["devs"].members == (f"arn:aws:iam::{A}:user/ann",)
    assert details.groups["nobody"].members == ()
    policy = details.policies[f"arn:aws:iam::{A}:policy/p"]
    assert (policy.attachments, policy.boundary_uses, policy.attachable) == (2, 1, False)
    assert details.principals[f"arn:aws:iam::{A}:role/r"].created == datetime(
        2025, 5, 5, tzinfo=UTC
    )
    assert details.principals[f"arn:aws:iam::{A}:user/ann"].created == datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    assert details.listed == {"UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"}
    # What was there before stays: the documents by ARN, a user's groups.
    assert details.managed[f"arn:aws:iam::{A}:policy/p"] == READ
    assert details.principals[f"arn:aws:iam::{A}:user/ann"].groups == ("devs",)


# --- unused policies and empty groups ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "referenced", "unused"),
    [
        ({"AttachmentCount": 0, "CreateDate": days_ago(30)}, False, True),
        ({"CreateDate": days_ago(30)}, False, True),  # no count: the details' references decide
        ({"AttachmentCount": 1, "CreateDate": days_ago(30)}, False, False),
        ({"AttachmentCount": 0, "PermissionsBoundaryUsageCount": 1}, False, False),
        ({"AttachmentCount": 0, "CreateDate": days_ago(30)}, True, False),  # a role names it
        ({"AttachmentCount": 0, "CreateDate": days_ago(2)}, False, False),  # a new policy
        ({"AttachmentCount": 0, "IsAttachable": False}, False, False),
    ],
)
def test_a_customer_managed_policy_attached_to_nothing(fields, referenced, unused):
    roles = [role_entry("app", AttachedManagedPolicies=[attached("spare")])] if referenced else []
    details = parse_authorization_details(
        {
            "UserDetailList": [],
            "RoleDetailList": roles,
            "Policies": [
                policy_entry("spare", READ, **fields),
                {  # AWS's own policies are never this account's to delete
                    "PolicyName": "ReadOnlyAccess",
                    "Arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                    "AttachmentCount": 0,
                },
            ],
        }
    )
    found = checklist.unused_policies(details, now=NOW)
    assert [f.evidence[0]["policy"] for f in found] == (
        [f"arn:aws:iam::{A}:policy/spare"] if unused else []
    )
    if unused:
        assert found[0].message.startswith("the customer managed policy spare is attached to no")


def test_a_group_without_members():
    data = {
        "UserDetailList": [user_entry("ann", GroupList=["devs"])],
        "GroupDetailList": [
            {
                "GroupName": "devs",
                "Arn": f"arn:aws:iam::{A}:group/devs",
                "CreateDate": days_ago(100),
            },
            {
                "GroupName": "old-admins",
                "Arn": f"arn:aws:iam::{A}:group/old-admins",
                "CreateDate": days_ago(100),
                "AttachedManagedPolicies": [
                    {"PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
                ],
            },
            {"GroupName": "brand-new", "CreateDate": days_ago(1)},
        ],
    }
    (empty,) = checklist.empty_groups(parse_authorization_details(data), now=NOW)
    assert empty.code == "EMPTY_GROUP"
    assert empty.message == (
        "the group old-admins has no members (it holds AdministratorAccess); delete it, or add "
        "the users it is for"
    )
    # Details without the users (a filtered download) cannot tell a group is empty.
    groups_only = {"GroupDetailList": data["GroupDetailList"]}
    assert checklist.empty_groups(parse_authorization_details(groups_only), now=NOW) == []


# --- users' own policies (Security Hub IAM.2) ----------------------------------------------------


def test_users_with_policies_of_their_own():
    details = parse_authorization_details(
        {
            "UserDetailList": [
                user_entry(
                    "ann",
                    GroupList=["devs"],
                    UserPolicyList=[
                        {"PolicyName": "extra", "PolicyDocument": READ},
                        {"PolicyName": "more", "PolicyDocument": READ},
                    ],
                    AttachedManagedPolicies=[
                        {"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
                    ],
                ),
                user_entry("bea", GroupList=["devs"]),  # through her group only
                user_entry(  # the SMTP user SES makes: Security Hub leaves it out
                    "ses-smtp-user.20240101-120000",
                    UserPolicyList=[
                        {"PolicyName": "AmazonSesSendingAccess", "PolicyDocument": READ}
                    ],
                ),
            ],
            "GroupDetailList": [
                {
                    "GroupName": "devs",
                    "GroupPolicyList": [{"PolicyName": "devs", "PolicyDocument": READ}],
                    "AttachedManagedPolicies": [attached("team")],
                }
            ],
        }
    )
    found = {f.code: f for f in checklist.user_policies(details)}
    assert set(found) == {"USER_INLINE_POLICY", "USER_ATTACHED_POLICY"}
    inline, direct = found["USER_INLINE_POLICY"], found["USER_ATTACHED_POLICY"]
    assert inline.principals == direct.principals == (f"arn:aws:iam::{A}:user/ann",)
    assert inline.message == (
        "ann has 2 inline policies of its own (extra, more); IAM users should get their "
        "permissions only through groups: move them to a group ann is in (devs), or a new one, "
        "and delete them from the user"
    )
    assert direct.message == (
        "ann has 1 managed policy attached directly (ReadOnlyAccess); IAM users should get "
        "their permissions only through groups: attach it to a group ann is in (devs), or a new "
        "one, and detach it from the user"
    )
    assert direct.evidence == (
        {"policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"], "groups": ["devs"]},
    )
    assert [c.security_hub for c in inline.controls] == ["IAM.2"]
    assert dict(inline.controls[0].cis) == {"v1.2.0": "1.16", "v3.0.0": "1.15", "v5.0.0": "1.14"}


# --- roles never used (RoleLastUsed) against unused principals (the lake) ------------------------


def test_roles_never_used_and_unused_principals_tell_two_things(tmp_path):
    busy = f"arn:aws:iam::{A}:role/busy"
    records = [
        make_record(0, eventTime=days_ago(3), userIdentity=role_session(busy, "AROABUSY")),
        make_record(1, eventTime=days_ago(40), userIdentity=user_identity("ann")),
    ]
    lake = lake_of(tmp_path, records)
    old = {"CreateDate": days_ago(300)}
    details = parse_authorization_details(
        {
            "UserDetailList": [],
            "RoleDetailList": [
                role_entry("fresh", CreateDate=days_ago(2)),  # a new role: not judged
                role_entry("never", CreateDate=days_ago(60)),
                role_entry("ancient", CreateDate=days_ago(800)),
                role_entry(  # used once, long ago: unused in the window, not never used
                    "lapsed", RoleLastUsed={"LastUsedDate": days_ago(200)}, **old
                ),
                role_entry("busy", **old),  # the lake shows it: IAM's record lags
                role_entry("no-date"),  # no CreateDate: as before, unused
                role_entry(
                    "AWSServiceRoleForSupport",
                    Path="/aws-service-role/support.amazonaws.com/",
                    Arn=f"arn:aws:iam::{A}:role/aws-service-role/support.amazonaws.com/"
                    "AWSServiceRoleForSupport",
                    **old,
                ),
            ],
        }
    )
    result = trailmin.audit(lake, details=details, now=NOW, days=90, recent_days=1)
    never = {
        f.principals[0].rsplit("/", 1)[-1]: f for f in codes(result.findings, "ROLE_NEVER_USED")
    }
    unused = {
        f.principals[0].rsplit("/", 1)[-1] for f in codes(result.findings, "UNUSED_PRINCIPAL")
    }
    assert set(never) == {"never", "ancient"}
    assert unused == {"lapsed", "no-date"}
    assert never["never"].message.startswith(
        f"IAM has no record of the role being used since it was created {days_ago(60)} (60 days "
        "ago), and the lake shows no use since"
    )
    assert "in the 400 days IAM tracks" in never["ancient"].message
    assert never["never"].severity == "low"
    assert never["never"].controls == ()


# --- full-administrator and service-wide grants (Security Hub IAM.1 and IAM.21) ------------------


@pytest.mark.parametrize(
    ("statements", "full", "wide"),
    [
        ([statement(Action="*", Resource="*")], True, ()),
        ([statement(Action=["s3:GetObject", "*:*"], Resource=["arn:aws:s3:::b", "*"])], True, ()),
        ([statement(Action="*", Resource="arn:aws:s3:::b")], False, ()),  # not on every resource
        ([statement(Action="*", NotResource="arn:aws:s3:::b")], False, ()),  # IAM.1: Resource
        ([{"Effect": "Deny", "Action": "*", "Resource": "*"}], False, ()),
        ([statement(NotAction="iam:*", Resource="*")], False, ("NotAction iam:*",)),
        ([statement(Action="S3:*", Resource="arn:aws:s3:::b/*")], False, ("s3:*",)),
        ([statement(Action=["ec2:Describe*", "ec2:StartInstances"], Resource="*")], False, ()),
        (
            [
                statement(
                    Action="*",
                    Resource="*",
                    Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
                )
            ],
            True,
            (),
        ),
    ],
)
def test_which_statements_are_broad_grants(statements, full, wide):
    details = parse_authorization_details(
        {"Policies": [policy_entry("p", {"Version": "2012-10-17", "Statement": statements})]}
    )
    grants = {g.code: g for g in checklist.broad_grants(details)}
    assert ("FULL_ADMIN_POLICY" in grants) == full
    assert (grants["SERVICE_WIDE_GRANT"].grants if "SERVICE_WIDE_GRANT" in grants else ()) == wide


def test_broad_grants_name_their_holders_and_how_little_they_used(tmp_path):
    alice = f"arn:aws:iam::{A}:user/alice"
    etl = f"arn:aws:iam::{A}:role/etl"
    records = [
        make_record(0, eventTime=days_ago(3)),  # alice: s3:ListAllMyBuckets
        make_record(
            1,
            eventTime=days_ago(3),
            eventName="GetBucketAcl",
            requestParameters={"bucketName": "b"},
            userIdentity=role_session(etl, "AROAETL"),
        ),
    ]
    lake = lake_of(tmp_path, records)
    conditional = {
        "Version": "2012-10-17",
        "Statement": [
            statement(
                Sid="Admin",
                Action="*",
                Resource="*",
                Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
            )
        ],
    }
    boundary = {"Version": "2012-10-17", "Statement": [statement(Action="s3:*", Resource="*")]}
    details = parse_authorization_details(
        {
            "UserDetailList": [user_entry("alice", UserId="AIDAEXAMPLE", GroupList=["admins"])],
            "GroupDetailList": [
                {"GroupName": "admins", "AttachedManagedPolicies": [attached("admin")]}
            ],
            "RoleDetailList": [
                role_entry(
                    "etl",
                    RolePolicyList=[
                        {
                            "PolicyName": "etl-s3",
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [statement(Action="s3:*", Resource="*")],
                            },
                        }
                    ],
                    PermissionsBoundary={
                        "PermissionsBoundaryType": "Policy",
                        "PermissionsBoundaryArn": f"arn:aws:iam::{A}:policy/fence",
                    },
                )
            ],
            "Policies": [
                policy_entry("admin", conditional, AttachmentCount=1),
                policy_entry("fence", boundary, AttachmentCount=0, PermissionsBoundaryUsageCount=1),
            ],
        }
    )
    result = trailmin.audit(lake, details=details, now=NOW, recent_days=1)
    (admin,) = codes(result.findings, "FULL_ADMIN_POLICY")
    assert admin.severity == "high"
    assert admin.principals == (alice,)
    total = len(checklist.actions_matching("*"))
    assert admin.message == (
        'the customer managed policy admin allows every action on every resource ("Action": '
        '"*" over "Resource": "*"), under a condition (Security Hub counts it all the same); its '
        f"1 holder used 1 of its {total:,} actions in the window; grant the actions its holders "
        "use instead (trailmin generate proposes them)"
    )
    assert admin.evidence[0] == {
        "policy": f"arn:aws:iam::{A}:policy/admin",
        "statement": 0,
        "sid": "Admin",
        "condition_keys": ["aws:SourceIp"],
    }
    assert admin.evidence[1] == {
        "principal": alice,
        "via": "admins",
        "grant": "*",
        "granted": total,
        "used": 1,
        "actions": ["s3:ListAllMyBuckets"],
    }
    assert [c.security_hub for c in admin.controls] == ["IAM.1"]
    assert admin.to_dict()["controls"][0]["cis"] == {"v1.2.0": "1.22", "v1.4.0": "1.16"}
    # The role's inline s3:* is a grant too, but no control's (IAM.21: customer managed only);
    # its boundary, s3:* as well, grants nothing and is left out.
    (wide,) = codes(result.findings, "SERVICE_WIDE_GRANT")
    assert wide.principals == (etl,)
    assert wide.applies_to == "inline"
    assert wide.controls == ()
    assert (wide.evidence[1]["grant"], wide.evidence[1]["actions"]) == ("s3:*", ["s3:GetBucketAcl"])
    assert "the inline policy etl-s3 of etl allows every action of a service (s3:*)" in (
        wide.message
    )


# --- centralized root access: sts:AssumeRoot ------------------------------------------------------

MANAGEMENT = "111111111111"
MEMBER = "222222222222"
# The AssumeRoot call as the IAM user guide's "Track privileged tasks in AWS CloudTrail" shows
# it: the caller's session, with assumedRoot in its sessionContext.
CALLER = {
    "type": "AssumedRole",
    "principalId": "AROACKCEVSQ6C2EXAMPLE:JohnRole1",
    "arn": f"arn:aws:sts::{MANAGEMENT}:assumed-role/John/JohnRole1",
    "accountId": MANAGEMENT,
    "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROACKCEVSQ6C2EXAMPLE",
            "arn": f"arn:aws:iam::{MANAGEMENT}:role/John",
            "accountId": MANAGEMENT,
            "userName": "John",
        },
        "webIdFederationData": {},
        "attributes": {"creationDate": "2026-10-10T20:45:28Z", "mfaAuthenticated": "false"},
        "assumedRoot": "true",
    },
}
# A call of the session it opened, in the member account.
ROOT_SESSION = {
    "type": "Root",
    "principalId": MEMBER,
    "arn": f"arn:aws:iam::{MEMBER}:root",
    "accountId": MEMBER,
    "accessKeyId": "ASIAROOTSESSION00001",
    "sessionContext": {
        "attributes": {"creationDate": "2026-10-10T20:52:11Z", "mfaAuthenticated": "false"},
        "assumedRoot": "true",
    },
}


def test_principals_of_an_assume_root_call_and_of_its_session():
    """The call is the caller's, whatever its sessionContext says; the session's calls are the
    member account's root's."""
    caller = normalize_identity(_IDENTITY.decode(json.dumps(CALLER)), "us-west-2")
    assert (caller.arn, caller.type, caller.account_id, caller.session_name) == (
        f"arn:aws:iam::{MANAGEMENT}:role/John",
        "Role",
        MANAGEMENT,
        "JohnRole1",
    )
    session = normalize_identity(_IDENTITY.decode(json.dumps(ROOT_SESSION)), "us-west-2")
    assert (session.arn, session.type, session.account_id) == (
        f"arn:aws:iam::{MEMBER}:root",
        "Root",
        MEMBER,
    )


def test_assume_root_sessions_are_root_use_named_after_their_caller(tmp_path):
    opened = datetime(2026, 10, 10, 20, 52, 11, tzinfo=UTC)

    def at(seconds: int) -> str:
        return iso(opened + timedelta(seconds=seconds))

    records = [
        make_record(
            0,
            eventTime=at(0),
            userIdentity=CALLER,
            eventSource="sts.amazonaws.com",
            eventName="AssumeRoot",
            awsRegion="us-west-2",
            recipientAccountId=MANAGEMENT,
            requestParameters={
                "targetPrincipal": MEMBER,
                "taskPolicyArn": {"arn": "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"},
            },
        ),
        # In the session: the bucket policy it was opened for, and a look at it.
        make_record(
            1,
            eventTime=at(120),
            userIdentity=ROOT_SESSION,
            eventName="DeleteBucketPolicy",
            requestParameters={"bucketName": "locked"},
            recipientAccountId=MEMBER,
        ),
        make_record(
            2,
            eventTime=at(180),
            userIdentity=ROOT_SESSION,
            eventName="GetBucketPolicy",
            requestParameters={"bucketName": "locked"},
            recipientAccountId=MEMBER,
        ),
        # Past the session's 900 seconds, and with root's own long-term key: root itself.
        make_record(
            3,
            eventTime=at(1800),
            userIdentity={**ROOT_SESSION, "accessKeyId": "ASIAROOTCONSOLE00002"},
            eventName="ListBuckets",
            recipientAccountId=MEMBER,
        ),
        make_record(
            4,
            eventTime=at(200),
            userIdentity={**ROOT_SESSION, "accessKeyId": "AKIAROOTKEY000000003"},
            eventName="ListBuckets",
            recipientAccountId=MEMBER,
        ),
    ]
    lake = lake_of(tmp_path, records)
    result = trailmin.audit(lake, days="all", recent_days=1)
    used = {f.principals: f for f in codes(result.findings, "ROOT_ACCOUNT_USED")}
    root = f"arn:aws:iam::{MEMBER}:root"
    john = f"arn:aws:iam::{MANAGEMENT}:role/John"
    assert set(used) == {(root,), (root, john)}
    session = used[root, john]
    assert session.message == (
        "2 calls as the root user (s3:DeleteBucketPolicy, s3:GetBucketPolicy) from 192.0.2.1, "
        f"in sessions that {john} opened with sts:AssumeRoot (task policy "
        "S3UnlockBucketPolicy); check with them that each call was meant (a task policy limits "
        "what such a session may do, not why) (s3:DeleteBucketPolicy is one only if the policy "
        "it replaces denies every principal: check that it was)"
    )
    assert {e["event"] for e in session.evidence} == {
        "s3.amazonaws.com DeleteBucketPolicy",
        "s3.amazonaws.com GetBucketPolicy",
    }
    assert session.evidence[0]["assumed_by"] == [john]
    assert {e["event_id"] for e in used[(root,)].evidence} == {"evt-3", "evt-4"}
    assert "do this work with a role" in used[(root,)].message


def test_root_usage_names_the_task_policy_of_an_assume_root_session():
    rows = [
        {
            "principal_arn": f"arn:aws:iam::{MEMBER}:root",
            "event_source": "s3.amazonaws.com",
            "event_name": "ListBuckets",
            "source_ip": "192.0.2.1",
            "event_time": NOW,
            "event_id": "e",
            "assumed_by": ["arn:aws:iam::111111111111:user/ops"],
            "task_policies": ["arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"],
        }
    ]
    (found,) = checklist.root_usage(rows)
    assert found.principals == (f"arn:aws:iam::{MEMBER}:root", "arn:aws:iam::111111111111:user/ops")
    assert "(task policy IAMAuditRootUserCredentials)" in found.message


def test_the_root_calls_sql_pairs_a_session_with_an_arn_target(tmp_path):
    opened = datetime(2026, 10, 10, 20, 0, tzinfo=UTC)
    records = [
        make_record(
            0,
            eventTime=iso(opened),
            userIdentity=CALLER,
            eventSource="sts.amazonaws.com",
            eventName="AssumeRoot",
            requestParameters={
                "targetPrincipal": f"arn:aws:iam::{MEMBER}:root",
                "durationSeconds": 300,
            },
        ),
        make_record(1, eventTime=iso(opened + timedelta(seconds=100)), userIdentity=ROOT_SESSION),
        # After the 300 seconds asked for (and the minute's slack): not the session's.
        make_record(2, eventTime=iso(opened + timedelta(seconds=500)), userIdentity=ROOT_SESSION),
    ]
    lake = lake_of(tmp_path, records)
    result = trailmin.audit(lake, days="all", recent_days=1)
    by_event = {
        e["event_id"]: f.principals
        for f in codes(result.findings, "ROOT_ACCOUNT_USED")
        for e in f.evidence
    }
    john = f"arn:aws:iam::{MANAGEMENT}:role/John"
    assert by_event == {
        "evt-1": (f"arn:aws:iam::{MEMBER}:root", john),
        "evt-2": (f"arn:aws:iam::{MEMBER}:root",),
    }


# --- identities used from two places at once -----------------------------------------------------

T0 = datetime(2026, 10, 10, 12, 0, tzinfo=UTC)
ANN = f"arn:aws:iam::{A}:user/ann"
CLI = "aws-cli/2.15.0 Python/3.11.6 Darwin/23.1.0 exe/x86_64 command/s3.ls"
SCRIPT = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1 lang/python#3.12"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Version/17.1 Safari"


def session(ip: str, agent: str, first: int, last: int, key: str = "AKIAANN0000000000001"):
    return {
        "principal_arn": ANN,
        "credential": key,
        "slot": T0,
        "source_ip": ip,
        "user_agent": agent,
        "first_seen": T0 + timedelta(minutes=first),
        "last_seen": T0 + timedelta(minutes=last),
        "calls": 3,
    }


@pytest.mark.parametrize(
    ("rows", "shared"),
    [
        # One key at once from two networks and two programs: shared.
        ([session("198.51.100.7", CLI, 0, 6), session("203.0.113.9", SCRIPT, 3, 4)], True),
        # Two console sign-ins in two browsers from two networks: shared.
        (
            [
                session("198.51.100.7", FIREFOX, 0, 8, key="ASIACONSOLE000000001"),
                session("203.0.113.9", SAFARI, 2, 9, key="ASIACONSOLE000000002"),
            ],
            True,
        ),
        # The console at home and the CLI over a VPN at once: one person.
        (
            [
                session("198.51.100.7", "AWS Internal", 0, 8, key="ASIACONSOLE000000001"),
                session("203.0.113.9", CLI, 2, 5),
            ],
            False,
        ),
        # From one network to another, one after the other: a person who moved.
        ([session("198.51.100.7", CLI, 0, 2), session("203.0.113.9", SCRIPT, 5, 8)], False),
        # One program over IPv4 and another over IPv6: one laptop.
        ([session("198.51.100.7", CLI, 0, 6), session("2001:db8::7", SCRIPT, 3, 4)], False),
        # The same program from two networks: not two clients.
        ([session("198.51.100.7", CLI, 0, 6), session("203.0.113.9", CLI, 3, 4)], False),
        # Both programs from both networks: one machine behind a pool of addresses.
        (
            [
                session("198.51.100.7", CLI, 0, 6),
                session("203.0.113.9", SCRIPT, 3, 4),
                session("203.0.113.9", CLI, 1, 2),
            ],
            False,
        ),
        # Two access keys of one user: the rotation, or two machines of one person.
        (
            [
                session("198.51.100.7", CLI, 0, 6),
                session("203.0.113.9", SCRIPT, 3, 4, key="AKIAANN0000000000002"),
            ],
            False,
        ),
        # An AWS service's address is no place.
        ([session("198.51.100.7", CLI, 0, 6), session("s3.amazonaws.com", SCRIPT, 3, 4)], False),
    ],
)
def test_what_counts_as_one_identity_in_two_places(rows, shared):
    found = checklist.shared_identities(rows)
    assert [f.code for f in found] == (["POSSIBLY_SHARED_IDENTITY"] if shared else [])


def test_a_shared_access_key_in_the_lake(tmp_path):
    def call(n: int, minute: int, ip: str, agent: str, who: str = "ann", key: str = "") -> dict:
        return make_record(
            n,
            eventTime=iso(T0 + timedelta(minutes=minute)),
            userIdentity=user_identity(who, key or f"AKIA{who.upper()}000000000001"),
            sourceIPAddress=ip,
            userAgent=agent,
        )

    records = [
        call(0, 0, "198.51.100.7", CLI),
        call(1, 4, "203.0.113.9", SCRIPT),
        call(2, 7, "198.51.100.7", CLI),
        # bob: the console and the CLI at once, from two networks: himself.
        call(3, 0, "198.51.100.20", "console.amazonaws.com", who="bob", key="ASIABOBCONSOLE000001"),
        call(4, 3, "203.0.113.20", CLI, who="bob"),
        call(5, 6, "198.51.100.20", "console.amazonaws.com", who="bob", key="ASIABOBCONSOLE000001"),
    ]
    lake = lake_of(tmp_path, records)
    (found,) = codes(
        trailmin.audit(lake, days="all", recent_days=1).findings, "POSSIBLY_SHARED_IDENTITY"
    )
    assert found.severity == "medium"
    assert found.principals == (ANN,)
    assert found.message == (
        "ann's access key AKIAANN000000000001 was used at the same time from 2 networks "
        "(198.51.100.0/24, 203.0.113.0/24) with different clients, 1 time: one identity for two "
        "people or two places; give each person their own user (or IAM Identity Center) and each "
        "workload a role"
    )
    assert found.evidence[0]["user_agents"] == ["aws-cli/2.15.0", "Boto3/1.34.0"]
    assert found.evidence[0]["source_ips"] == ["198.51.100.7", "203.0.113.9"]


# --- the controls table ---------------------------------------------------------------------------

CONTROLS = ROOT / "trailmin" / "data" / "controls.csv"


def test_the_controls_table_has_a_row_for_every_code_and_a_source_for_every_control():
    rows = list(csv.DictReader(CONTROLS.read_text().splitlines()))
    # The trust policies' findings are the checklist's too (trailmin.iam.trust).
    assert {r["code"] for r in rows} == checklist.AUDIT_CODES | trust.TRUST_CODES
    for row in rows:
        cis = [row[f"cis_{v.replace('.', '_')}"] for v in checklist.CIS_VERSIONS]
        assert re.fullmatch(r"(IAM\.\d+)?", row["security_hub"]), row
        assert all(re.fullmatch(r"(\d+\.\d+)?", n) for n in cis), row
        if row["security_hub"] or any(cis):
            assert row["source"].startswith("https://"), row
        else:
            assert not row["source"], row
            assert row["note"], row


def test_every_code_the_checklist_spells_is_one_of_its_codes():
    """A code written in the checks (a string like ``"ROOT_TASK"``) is in ``AUDIT_CODES``, so a
    new check cannot come without its row in the table."""
    source = (ROOT / "trailmin" / "iam" / "audit.py").read_text()
    spelled = set(re.findall(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"', source))
    assert spelled == checklist.AUDIT_CODES


def test_every_code_and_case_of_the_table_is_emitted():
    """Every code of the table (and every case it names) comes out of a check, on inputs made
    for it here."""
    found: list[checklist.Finding] = []
    at = NOW - timedelta(days=1)

    def event(name: str, **fields: Any) -> dict[str, Any]:
        return {
            "principal_arn": f"arn:aws:iam::{A}:root",
            "principal_type": "Root",
            "event_source": "signin.amazonaws.com"
            if name == "ConsoleLogin"
            else "ec2.amazonaws.com",
            "event_name": name,
            "event_time": at,
            "source_ip": "192.0.2.1",
            "event_id": name,
            **fields,
        }

    found += checklist.root_usage(
        [
            event("DescribeRegions"),
            event("ConsoleLogin"),
            event("ConsoleLogin", error_message="Failed authentication"),
        ]
    )
    found += checklist.console_without_mfa(
        [
            event("ConsoleLogin", additional_event_data={"MFAUsed": "No"}),
            event(
                "ConsoleLogin",
                principal_arn=ANN,
                principal_type="IAMUser",
                additional_event_data={"MFAUsed": "No"},
            ),
        ]
    )
    keys = {"calls": 1, "source_ips": ["192.0.2.1"], "user_agents": [CLI], "first_seen": at}
    found += checklist.long_term_keys(
        [
            {"principal_arn": ANN, "access_key_id": "AKIA1", **keys, "last_seen": at},
            {
                "principal_arn": f"arn:aws:iam::{A}:root",
                "access_key_id": "AKIA2",
                **keys,
                "last_seen": at,
            },
        ]
    )
    header = (
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
        "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
        "access_key_1_last_used_date,access_key_1_last_used_region,"
        "access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,"
        "access_key_2_last_used_date,access_key_2_last_used_region,"
        "access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,"
        "cert_2_last_rotated"
    )

    def report_row(user: str, arn: str, rotated: str, used: str, password: str = "true") -> str:
        return (
            f"{user},{arn},2020-01-01T00:00:00+00:00,{password},N/A,N/A,N/A,false,true,"
            f"{rotated},{used},N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
        )

    report = checklist.parse_credential_report(
        "\n".join(
            [
                header,
                report_row(
                    "<root_account>", f"arn:aws:iam::{A}:root", days_ago(10), "N/A", "not_supported"
                ),
                report_row("old", f"arn:aws:iam::{A}:user/old", days_ago(200), days_ago(100)),
                report_row("idle", f"arn:aws:iam::{A}:user/idle", days_ago(80), days_ago(50)),
            ]
        )
    )
    found += checklist.passwords_without_mfa(report)
    found += checklist.access_keys(report, now=NOW, max_age_days=90, days=30)
    held = [
        {"arn": f"arn:aws:iam::{A}:user/u90", "last_used": None},
        {"arn": f"arn:aws:iam::{A}:role/r", "last_used": None},
        {"arn": f"arn:aws:iam::{A}:role/made", "last_used": None, "created": NOW - timedelta(30)},
    ]
    found += checklist.unused_principals(held, active=set(), since=NOW, now=NOW, days=90)
    found += checklist.unused_principals(
        [{"arn": f"arn:aws:iam::{A}:user/u45", "last_used": None}], active=set(), since=NOW, days=50
    )
    base = NOW - timedelta(days=5)
    firsts = [
        {
            "principal_arn": ANN,
            "kind": kind,
            "value": value,
            "first_seen": NOW,
            "baseline_events": 50,
            "baseline_active_days": 5,
        }
        for kind, value in (
            ("service", "ec2"),
            ("region", "eu-west-1"),
            ("network", "203.0.113.0/24"),
        )
    ]
    denied = [
        {
            "principal_arn": ANN,
            "recent_denied": 9,
            "baseline_denied": 0,
            "baseline_days": 5,
            "recent_days": 1,
            "recent_calls": ["iam:ListUsers"],
        }
    ]
    found += checklist.unusual_activity(firsts, denied, recent_start=base)
    found += checklist.aws_managed(
        [
            {
                "principal_arn": ANN,
                "policy_arn": "arn:aws:iam::aws:policy/X",
                "granted": 9,
                "proposed": 1,
            }
        ]
    )
    found += checklist.password_policy_findings({})
    found += checklist.password_policy_findings({"MinimumPasswordLength": 8})
    details = parse_authorization_details(
        {
            "UserDetailList": [
                user_entry(
                    "ann",
                    UserPolicyList=[{"PolicyName": "mine", "PolicyDocument": ADMIN}],
                    AttachedManagedPolicies=[attached("admin")],
                )
            ],
            "GroupDetailList": [{"GroupName": "empty"}],
            "Policies": [
                policy_entry("admin", ADMIN, AttachmentCount=1),
                policy_entry(
                    "spare",
                    {"Statement": [statement(Action="ec2:*", Resource="*")]},
                    AttachmentCount=0,
                ),
            ],
            "RoleDetailList": [
                role_entry(
                    "r",
                    RolePolicyList=[
                        {
                            "PolicyName": "s3",
                            "PolicyDocument": {
                                "Statement": [statement(Action="s3:*", Resource="*")]
                            },
                        }
                    ],
                )
            ],
        }
    )
    found += checklist.details_findings(details, now=NOW)
    found += checklist.shared_identities(
        [session("198.51.100.7", CLI, 0, 6), session("203.0.113.9", SCRIPT, 3, 4)]
    )
    role = f"arn:aws:iam::{A}:role/r"
    for principal in (
        "*",
        {"AWS": "arn:aws:iam::999988887777:root"},
        {"Federated": "cognito-identity.amazonaws.com"},
    ):
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
        found += trust.trust_findings(role, document, known_accounts=[A])
    emitted = {(f.code, f.applies_to) for f in found}
    assert {code for code, _ in emitted} == checklist.AUDIT_CODES | trust.TRUST_CODES
    cases = {
        (r["code"], r["applies_to"])
        for r in csv.DictReader(CONTROLS.read_text().splitlines())
        if r["applies_to"]
    }
    assert cases <= emitted
    # Every finding of a code the table maps to a control carries it.
    for f in found:
        if f.code == "ACCESS_KEY_OLD":
            assert [c.security_hub for c in f.controls] == ["IAM.3"]


def test_findings_carry_their_controls_in_json_and_markdown():
    finding = checklist.Finding(
        "USER_PASSWORD_WITHOUT_MFA",
        "medium",
        (ANN,),
        "ann has a console password and no MFA device",
    )
    assert finding.to_dict()["controls"] == [
        {
            "security_hub": "IAM.5",
            "cis": {"v1.2.0": "1.2", "v1.4.0": "1.10", "v3.0.0": "1.10", "v5.0.0": "1.9"},
            "source": "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-5",
        }
    ]
    text = checklist.Audit([finding]).to_markdown()
    assert "  - controls: IAM.5 (CIS v1.2.0 1.2, v1.4.0 1.10, v3.0.0 1.10, v5.0.0 1.9)" in text
    # The root case of a sign-in without MFA answers the root MFA controls, not IAM.5.
    root = checklist.Finding("CONSOLE_SIGNIN_WITHOUT_MFA", "high", (), "", applies_to="root")
    assert [c.security_hub for c in root.controls] == ["IAM.9", "IAM.6"]
    # A code the table does not know (another stage's) has none.
    assert checklist.Finding("TRUST_ANYONE", "high", (), "").to_dict()["controls"] == []
