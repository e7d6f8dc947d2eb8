"""Review first: which statements of a proposal a reviewer reads before the others, and why."""

from __future__ import annotations

import csv
import json

import pytest

from trailmin.aws import catalog
from trailmin.iam.audit import Finding, unusual_by_principal
from trailmin.policy.generate import Policy, Proposal, Statement, Target
from trailmin.policy.render import render
from trailmin.policy.review import (
    CATALOG_PROVENANCE,
    DEFENCE_EVASION,
    PERMISSIONS_MANAGEMENT,
    PRIVILEGE_ESCALATION,
    Review,
    ReviewItem,
    markdown,
    proposal_document,
    review,
    table,
    table_text,
)

A = "111122223333"
USER = f"arn:aws:iam::{A}:user/legacy-batch"
TRAIL = f"arn:aws:cloudtrail:us-east-1:{A}:trail/org-trail"
ROLE = f"arn:aws:iam::{A}:role/app"
BUCKET = "arn:aws:s3:::acme-data"
FUNCTION = f"arn:aws:lambda:us-east-1:{A}:function:api"


def proposal(*statements: tuple[str, tuple[str, ...], tuple[str, ...]]) -> Proposal:
    """A user's proposal of one policy holding these (sid, actions, resources) statements."""
    return Proposal(
        USER,
        "IAMUser",
        Target("user", "legacy-batch", A),
        policies=(
            Policy(
                "trailmin-legacy-batch",
                tuple(Statement(sid, actions, resources) for sid, actions, resources in statements),
            ),
        ),
    )


def summary(found: Review) -> list[tuple[str, str, str, bool]]:
    return [(i.sid, i.action, i.category, i.any_resource) for i in found.items]


# --- the table -----------------------------------------------------------------------------------


def test_every_row_is_a_catalog_action_with_a_category_and_its_sources():
    rows = list(csv.DictReader(table_text().splitlines()))
    assert rows
    for row in rows:
        action = catalog.action(row["action"])
        assert action is not None, f"{row['action']} is not in the catalog"
        assert action.full_name == row["action"], "spelled as the catalog spells it"
        assert row["category"] in {PRIVILEGE_ESCALATION, DEFENCE_EVASION}, row
        assert row["provenance"].strip(), f"{row['action']} has no provenance"
    names = [row["action"].lower() for row in rows]
    assert len(names) == len(set(names)), "one row per action"


@pytest.mark.parametrize(
    ("action", "category"),
    [
        ("iam:PassRole", PRIVILEGE_ESCALATION),
        ("iam:CreatePolicyVersion", PRIVILEGE_ESCALATION),
        ("ec2:RunInstances", PRIVILEGE_ESCALATION),
        ("lambda:UpdateFunctionCode", PRIVILEGE_ESCALATION),
        ("cloudtrail:StopLogging", DEFENCE_EVASION),
        ("cloudtrail:DeleteTrail", DEFENCE_EVASION),
        ("cloudtrail:UpdateTrail", DEFENCE_EVASION),
        ("cloudtrail:PutEventSelectors", DEFENCE_EVASION),
        ("guardduty:DeleteDetector", DEFENCE_EVASION),
        ("config:StopConfigurationRecorder", DEFENCE_EVASION),
        ("logs:DeleteLogGroup", DEFENCE_EVASION),
    ],
)
def test_the_documented_paths_are_in_the_table(action, category):
    assert table()[action.lower()].category == category


# --- classifying statements ----------------------------------------------------------------------


def test_pass_role_on_star_comes_first():
    found = review(
        proposal(
            ("S3", ("s3:PutBucketPolicy",), (BUCKET,)),
            ("Trail", ("cloudtrail:StopLogging",), (TRAIL,)),
            ("Lambda", ("lambda:UpdateFunctionCode",), (FUNCTION,)),
            ("Kms", ("kms:CreateGrant",), ("*",)),
            ("Star", ("ec2:DescribeInstances", "iam:PassRole"), ("*",)),
        )
    )
    assert summary(found) == [
        ("Star", "iam:PassRole", PRIVILEGE_ESCALATION, True),
        ("Kms", "kms:CreateGrant", PERMISSIONS_MANAGEMENT, True),
        ("Lambda", "lambda:UpdateFunctionCode", PRIVILEGE_ESCALATION, False),
        ("Trail", "cloudtrail:StopLogging", DEFENCE_EVASION, False),
        ("S3", "s3:PutBucketPolicy", PERMISSIONS_MANAGEMENT, False),
    ]
    first = found.items[0]
    assert first.resources == ("*",)
    assert first.policy == "trailmin-legacy-batch"
    assert "id_roles_use_passrole" in first.provenance


@pytest.mark.parametrize(
    ("actions", "resources", "expected"),
    [
        (("cloudtrail:StopLogging",), (TRAIL,), [("cloudtrail:StopLogging", DEFENCE_EVASION)]),
        (("s3:GetObject",), (f"{BUCKET}/reports/a.csv",), []),
        (("ec2:DescribeInstances", "s3:ListAllMyBuckets"), ("*",), []),
        (("s3:PutBucketTagging",), (BUCKET,), []),  # Tagging, not permissions management
        # Permissions management, from the catalog's access level: no row names them.
        (
            ("iam:CreatePolicy",),
            (f"arn:aws:iam::{A}:policy/p",),
            [("iam:CreatePolicy", PERMISSIONS_MANAGEMENT)],
        ),
        (("s3:PutBucketPolicy",), (BUCKET,), [("s3:PutBucketPolicy", PERMISSIONS_MANAGEMENT)]),
        # Permissions management in the catalog, and a documented escalation: the table wins.
        (("iam:PutRolePolicy",), (ROLE,), [("iam:PutRolePolicy", PRIVILEGE_ESCALATION)]),
        # Any case, as IAM matches actions; reported as the catalog spells it.
        (("IAM:passrole",), (ROLE,), [("iam:PassRole", PRIVILEGE_ESCALATION)]),
    ],
)
def test_what_a_statement_is_listed_for(actions, resources, expected):
    found = review(proposal(("Sid1", actions, resources)))
    assert [(i.action, i.category) for i in found.items] == expected
    assert all(i.any_resource is (resources == ("*",)) for i in found.items)


def test_permissions_management_rows_cite_the_catalog():
    (item,) = review(proposal(("S3", ("s3:PutBucketPolicy",), (BUCKET,)))).items
    assert item.provenance == CATALOG_PROVENANCE


def test_an_action_pattern_is_listed_for_each_action_it_covers():
    found = review(proposal(("Iam", ("iam:PutRole*",), (ROLE,))))
    assert [(i.action, i.category, i.granted_as) for i in found.items] == [
        ("iam:PutRolePolicy", PRIVILEGE_ESCALATION, "iam:PutRole*"),
        ("iam:PutRolePermissionsBoundary", PERMISSIONS_MANAGEMENT, "iam:PutRole*"),
    ]


def test_a_proposal_without_policies_has_nothing_to_review():
    skipped = Proposal(f"arn:aws:iam::{A}:root", "Root", None, skipped="the root user")
    assert review(skipped) == Review(f"arn:aws:iam::{A}:root")
    assert not review(skipped).flagged


def test_unusual_codes_are_kept_sorted_once():
    found = review(proposal(), ["NEW_REGION", "DENIED_SPIKE", "NEW_REGION"])
    assert found.unusual == ("DENIED_SPIKE", "NEW_REGION")
    assert found.flagged
    assert found.to_dict() == {
        "principal": USER,
        "unusual_activity": ["DENIED_SPIKE", "NEW_REGION"],
        "items": [],
    }


def test_unusual_codes_by_principal_from_the_checklist():
    other = f"arn:aws:iam::{A}:user/bob"
    findings = [
        Finding("NEW_SERVICE", "low", (USER,), "first use of service iam"),
        Finding("DENIED_SPIKE", "medium", (USER,), "7 access-denied calls"),
        Finding("CONSOLE_SIGNIN_WITHOUT_MFA", "medium", (other,), "no MFA"),
        Finding("NEW_REGION", "low", (other, USER), "first use of region eu-west-1"),
    ]
    assert unusual_by_principal(findings) == {
        other: ("NEW_REGION",),
        USER: ("DENIED_SPIKE", "NEW_REGION", "NEW_SERVICE"),
    }


# --- in the files --------------------------------------------------------------------------------


def test_the_proposal_document_carries_the_review():
    risky = proposal(("Star", ("iam:PassRole",), ("*",)), ("S3", ("s3:GetObject",), (BUCKET,)))
    document = proposal_document(risky)
    assert document["review"] == [
        {
            "policy": "trailmin-legacy-batch",
            "sid": "Star",
            "action": "iam:PassRole",
            "granted_as": "iam:PassRole",
            "resources": ["*"],
            "any_resource": True,
            "category": PRIVILEGE_ESCALATION,
            "provenance": table()["iam:passrole"].provenance,
        }
    ]
    assert "unusual_activity" not in document, "said only when the checklist was asked"
    asked = proposal_document(risky, unusual=["NEW_NETWORK"])
    assert asked["unusual_activity"] == ["NEW_NETWORK"]
    assert proposal_document(proposal(("S3", ("s3:GetObject",), (BUCKET,))))["review"] == []


def test_generate_output_carries_the_review():
    risky = proposal(("Trail", ("cloudtrail:DeleteTrail",), (TRAIL,)))
    files = render([risky], "json")
    document = json.loads(files[f"{risky.slug}/index.json"])
    assert [(r["sid"], r["action"], r["category"]) for r in document["review"]] == [
        ("Trail", "cloudtrail:DeleteTrail", DEFENCE_EVASION)
    ]
    assert "unusual_activity" not in document
    flagged = json.loads(
        render([risky], "json", unusual={USER: ("NEW_REGION",)})[f"{risky.slug}/index.json"]
    )
    assert flagged["unusual_activity"] == ["NEW_REGION"]


def item(sid: str, action: str, resources: tuple[str, ...], category: str) -> ReviewItem:
    return ReviewItem(
        "trailmin-x", sid, action, resources, category, "*" in resources, "source", action
    )


def test_the_markdown_section_most_severe_first():
    quiet = f"arn:aws:iam::{A}:role/quiet"
    ci = f"arn:aws:iam::{A}:role/ci-deploy"
    reviews = [
        Review(quiet),
        Review(
            ci,
            (item("Lambda", "lambda:UpdateFunctionCode", (FUNCTION, ROLE), PRIVILEGE_ESCALATION),),
        ),
        Review(USER, unusual=("NEW_REGION",)),
        Review(
            f"arn:aws:iam::{A}:user/intruder",
            (
                item("Star", "iam:PassRole", ("*",), PRIVILEGE_ESCALATION),
                item("Trail", "cloudtrail:StopLogging", (TRAIL,), DEFENCE_EVASION),
            ),
            ("DENIED_SPIKE",),
        ),
    ]
    folders = {r.principal: r.principal.rsplit("/", 1)[-1] for r in reviews}
    lines = markdown(reviews, folders)
    assert lines[0] == "## Review first"
    assert [line for line in lines if line.startswith(("###", "-", "**"))] == [
        f"### [arn:aws:iam::{A}:user/intruder](./intruder/)",
        "**The checklist flags unusual activity for this principal (DENIED_SPIKE).**",
        "- **`iam:PassRole` on `*`**: privilege escalation, statement `Star`",
        f"- `cloudtrail:StopLogging` on `{TRAIL}`: defence evasion, statement `Trail`",
        f"### [{ci}](./ci-deploy/)",
        "- `lambda:UpdateFunctionCode` on 2 resources: privilege escalation, statement `Lambda`",
        f"### [{USER}](./legacy-batch/)",
        "**The checklist flags unusual activity for this principal (NEW_REGION).** "
        "No statement of its proposal is listed here.",
    ]
    assert not any("quiet" in line for line in lines)


def test_the_markdown_section_says_when_there_is_nothing():
    assert markdown([Review(USER)], {USER: "legacy-batch"}) == [
        "## Review first",
        "",
        "No proposed statement grants a privilege-escalation, defence-evasion or "
        "permissions-management action, and the checklist finds no unusual activity.",
    ]
