"""The catalog replay: recorded calls on the resources the catalog names, built from the record."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import trailmin
from trailmin.cli import app
from trailmin.policy.catalog_replay import Recorded, check, expected

ACCOUNT = "123837392027"
REGION = "us-east-1"


def _policy(*statements: tuple[str | list[str], str | list[str]]) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in statements],
    }


def _call(action: str, params: dict[str, object] | None = None, *logged: str) -> Recorded:
    return Recorded(action, REGION, ACCOUNT, params or {}, tuple(logged))


EC2 = f"arn:aws:ec2:{REGION}:{ACCOUNT}"


@pytest.mark.parametrize(
    ("call", "granted", "refused"),
    [
        # Service Authorization Reference, EC2: CreateVpc requires a vpc; an ipv6pool-ec2 grant
        # (the optional type of a pool the call may name) can never match the VPC it creates.
        (_call("ec2:CreateVpc"), f"{EC2}:ipv6pool-ec2/${{$}}{{Ipv6PoolEc2Id}}", True),
        (_call("ec2:CreateVpc"), f"{EC2}:ipv6pool-ec2/*", True),
        (_call("ec2:CreateVpc"), f"{EC2}:vpc/*", False),
        (_call("ec2:CreateVpc"), "*", False),
        # AssociateRouteTable requires the route-table, which the record names (routeTableId).
        (
            _call("ec2:AssociateRouteTable", {"routeTableId": "rtb-1", "subnetId": "subnet-2"}),
            f"{EC2}:ipv4pool-ec2/*",
            True,
        ),
        (
            _call("ec2:AssociateRouteTable", {"routeTableId": "rtb-1", "subnetId": "subnet-2"}),
            f"{EC2}:route-table/rtb-1",
            False,
        ),
        (
            _call("ec2:AssociateRouteTable", {"routeTableId": "rtb-1"}),
            f"{EC2}:route-table/rtb-9",
            True,
        ),
        # EC2 nests ids in item lists: TerminateInstances' instancesSet.items[].instanceId.
        (
            _call("ec2:TerminateInstances", {"instancesSet": {"items": [{"instanceId": "i-1"}]}}),
            f"{EC2}:instance/i-1",
            False,
        ),
        (
            _call("ec2:TerminateInstances", {"instancesSet": {"items": [{"instanceId": "i-1"}]}}),
            f"{EC2}:volume/*",
            True,
        ),
        # DynamoDB developer guide: a Query of an index is authorized on the index's ARN.
        (
            _call("dynamodb:Query", {"tableName": "orders", "indexName": "by-customer"}),
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders",
            True,
        ),
        (
            _call("dynamodb:Query", {"tableName": "orders", "indexName": "by-customer"}),
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/index/*",
            False,
        ),
        (
            _call("dynamodb:Query", {"tableName": "orders"}),
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders",
            False,
        ),
        # S3 object actions take only optional types: the object the record logs must be allowed.
        (
            _call("s3:GetObject", {"bucketName": "b", "key": "k"}, "arn:aws:s3:::b/k"),
            "arn:aws:s3:::b/other",
            True,
        ),
        (
            _call("s3:GetObject", {"bucketName": "b", "key": "k"}, "arn:aws:s3:::b/k"),
            "arn:aws:s3:::b/*",
            False,
        ),
        # The catalog writes DMS's endpoint as "endpoint:*": AWS authorizes the call against a
        # real endpoint, so a grant of the literal "endpoint:*" (${*}) allows none of them.
        (_call("dms:DescribeSchemas"), f"arn:aws:dms:{REGION}:{ACCOUNT}:endpoint:${{*}}", True),
        (_call("dms:DescribeSchemas"), f"arn:aws:dms:{REGION}:{ACCOUNT}:endpoint:*", False),
        # Without resources[], the bucket and key give the object.
        (_call("s3:GetObject", {"bucketName": "b", "key": "k"}), "arn:aws:s3:::b/k", False),
        (_call("s3:GetObject", {"bucketName": "b", "key": "k"}), "arn:aws:s3:::c/k", True),
        # A copy logs its source and destination: the read needs one of them, not both.
        (
            _call("s3:GetObject", {}, "arn:aws:s3:::b/src", "arn:aws:s3:::b/dst"),
            "arn:aws:s3:::b/src",
            False,
        ),
        # SQS developer guide: a queue URL holds the queue's account, which may be another's.
        (
            _call(
                "sqs:SendMessage",
                {"queueUrl": "https://sqs.us-east-1.amazonaws.com/999988887777/q"},
            ),
            f"arn:aws:sqs:{REGION}:{ACCOUNT}:q",
            True,
        ),
        (
            _call(
                "sqs:SendMessage",
                {"queueUrl": "https://sqs.us-east-1.amazonaws.com/999988887777/q"},
            ),
            f"arn:aws:sqs:{REGION}:999988887777:q",
            False,
        ),
        # Only DynamoDB's index stands in for its table: Connect's contact flow is not the
        # instance it belongs to (both are named; the required instance must be allowed).
        (
            _call(
                "connect:PauseContact",
                {"instanceId": "i-1", "contactId": "c-1", "contactFlowId": "cf-1"},
            ),
            f"arn:aws:connect:{REGION}:{ACCOUNT}:instance/i-1*",
            False,
        ),
        # An object grant does not conform to a bucket's type.
        (_call("s3:ListBucket"), "arn:aws:s3:::acme/*", True),
        (_call("s3:ListBucket"), "arn:aws:s3:::acme", False),
        # SSM API reference: AWS-owned documents have no account in their ARN.
        (
            _call("ssm:SendCommand", {"documentName": "AWS-RunPatchBaseline"}),
            f"arn:aws:ssm:{REGION}::document/AWS-RunPatchBaseline",
            False,
        ),
        (
            _call("ssm:SendCommand", {"documentName": "AWS-RunPatchBaseline"}),
            f"arn:aws:ssm:{REGION}::document/AWS-RunShellScript",
            True,
        ),
        # Lambda developer guide: a qualified ARN (a version, an alias) is the function's too.
        (
            _call(
                "lambda:InvokeFunction",
                {"functionName": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:api:live"},
            ),
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:api:live",
            False,
        ),
        (
            _call(
                "lambda:InvokeFunction",
                {"functionName": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:api:live"},
            ),
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:api",
            True,
        ),
        # Actions with no resource type are granted on "*" and never refused here.
        (_call("ec2:DescribeInstances", {"instanceId": "i-1"}), "*", False),
        # An IAM name's path is not in the record: only a whole ARN fills it.
        (_call("iam:GetRole", {"roleName": "deploy"}), f"arn:aws:iam::{ACCOUNT}:role/*", False),
        (
            _call("iam:GetRole", {"roleName": "deploy"}),
            f"arn:aws:iam::{ACCOUNT}:user/deploy",
            True,
        ),
    ],
)
def test_a_call_is_replayed_on_the_resources_the_catalog_names(call, granted, refused):
    """The catalog's resource types, filled from the record, decide; the mapping plays no part."""
    found = check([_policy((call.action, granted))], [call])
    assert bool(found) is refused, found


def test_what_a_record_gives_the_check():
    """The groups of ARNs built from a record, and the types a grant must be of otherwise."""
    groups, kinds = expected(_call("ec2:AssociateRouteTable", {"routeTableId": "rtb-1"}))
    assert groups == [[f"{EC2}:route-table/rtb-1"]]
    assert kinds == ()
    groups, kinds = expected(_call("ec2:CreateVpc", {"cidrBlock": "10.0.0.0/16"}))
    assert groups == []
    assert [k.name for k in kinds] == ["vpc"]


def test_mismatches_are_counted_and_name_their_reason():
    """Calls of one kind add up; the reason names the types the action is authorized against."""
    call = Recorded("ec2:CreateVpc", REGION, ACCOUNT, {}, (), calls=10)
    (found,) = check([_policy(("ec2:CreateVpc", f"{EC2}:ipv6pool-ec2/*"))], [call, call])
    assert found.calls == 20
    assert found.resource == f"{EC2}:ipv6pool-ec2/*"
    assert "(vpc)" in found.reason


# --- the invictus-ir case of issue 13 ------------------------------------------------------------

BERT_JAN = f"arn:aws:iam::{ACCOUNT}:user/bert-jan"


@pytest.fixture(scope="module")
def invictus(real_logs, tmp_path_factory):
    lake = tmp_path_factory.mktemp("invictus") / "lake"
    trailmin.ingest([real_logs / "invictus-ir"], lake=lake, workers=1)
    return lake


def test_verify_refuses_the_unfilled_templates_a_mapping_error_granted(invictus, tmp_path):
    """What trailmin generated for bert-jan before issue 13: AWS refuses these calls, and verify
    says so although the lake's own permissions named exactly these resources."""
    old = _policy(
        (
            ["ec2:AllocateAddress", "ec2:AssociateRouteTable", "ec2:DisassociateRouteTable"],
            f"{EC2}:ipv4pool-ec2/${{$}}{{Ipv4PoolEc2Id}}",
        ),
        ("ec2:CreateTags", f"{EC2}:coip-pool/${{$}}{{Ipv4PoolCoipId}}"),
        ("ec2:CreateVpc", f"{EC2}:ipv6pool-ec2/${{$}}{{Ipv6PoolEc2Id}}"),
    )
    verdict = trailmin.verify([old], lake=invictus, principal=BERT_JAN)
    refused = {m.action for m in verdict.mismatches}
    assert {
        "ec2:AllocateAddress",
        "ec2:AssociateRouteTable",
        "ec2:CreateTags",
        "ec2:CreateVpc",
        "ec2:DisassociateRouteTable",
    } <= refused
    assert not verdict.passed
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    result = CliRunner().invoke(
        app, ["verify", str(path), "--lake", str(invictus), "--principal", BERT_JAN]
    )
    assert result.exit_code == 1
    assert "Refused on the catalog's resources: ec2:CreateVpc on" in result.output
    assert "all allowed" not in result.output


def test_no_proposal_of_the_real_logs_names_an_unfilled_template(invictus, tmp_path):
    """Every generated resource is a filled ARN, `*`, or a pattern: never a `${Variable}`, in
    any format; and what is proposed passes the catalog replay."""
    proposals = trailmin.generate(invictus)
    proposed = [p for p in proposals if p.policies]
    assert proposed
    for output in ("json", "terraform", "cloudformation"):
        for path in trailmin.write_proposals(proposals, tmp_path / output, output):
            text = path.read_text()
            assert "{Ipv" not in text, path
            assert "${$}{" not in text, path
    for proposal in proposed:
        assert proposal.catalog_failures == ()
