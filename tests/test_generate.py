"""Policy generation: golden cases, the exactness property, size packing, targets, renderings.

Golden files are regenerated with ``TRAILMIN_UPDATE_GOLDEN=1 pytest tests/test_generate.py``; the
change then shows as a diff to review.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import hcl2
import pytest
from cfnlint.api import ManualArgs, lint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trailmin
from tests.conftest import ROOT, SAMPLE_LOGS
from trailmin.aws import catalog
from trailmin.errors import UsageError
from trailmin.policy.generate import (
    MANAGED_POLICY_SIZE,
    Options,
    Policy,
    Statement,
    Used,
    generate,
    policy_size,
    target_of,
)
from trailmin.policy.render import render

GOLDEN = ROOT / "tests" / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "usage.csv").exists())
UPDATE = os.environ.get("TRAILMIN_UPDATE_GOLDEN") == "1"


def read_usage(path: Path) -> list[Used]:
    with path.open(newline="") as handle:
        return [
            Used(
                principal=r["principal"],
                principal_type=r["principal_type"],
                action=r["action"],
                resource=r["resource"],
                calls=int(r["calls"]),
                succeeded=int(r["succeeded"]),
                denied=int(r["denied"]),
                first_seen=datetime.fromisoformat(r["first_seen"].replace("Z", "+00:00")),
                last_seen=datetime.fromisoformat(r["last_seen"].replace("Z", "+00:00")),
                inferred=r["inferred"] == "true",
                derivation=r["derivation"],
                authorized=int(r["authorized"]) if r.get("authorized") else None,
            )
            for r in csv.DictReader(handle)
        ]


# --- golden cases --------------------------------------------------------------------------------


def test_there_are_at_least_ten_golden_cases():
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    folder = GOLDEN / case
    spec = json.loads((folder / "case.json").read_text())
    proposals = generate(read_usage(folder / "usage.csv"), Options(**spec["options"]))
    for output in spec["formats"]:
        files = render(proposals, output)
        expected_dir = folder / "expected" / output
        if UPDATE:
            for old in sorted(expected_dir.rglob("*"), reverse=True):
                old.unlink() if old.is_file() else old.rmdir()
            for relative, text in files.items():
                (expected_dir / relative).parent.mkdir(parents=True, exist_ok=True)
                (expected_dir / relative).write_text(text)
        expected = {
            p.relative_to(expected_dir).as_posix(): p.read_text()
            for p in expected_dir.rglob("*")
            if p.is_file()
        }
        assert sorted(files) == sorted(expected), f"{case}/{output}: files differ"
        for relative, text in files.items():
            assert text == expected[relative], f"{case}/{output}/{relative} differs"


def load(case: str) -> list[trailmin.policy.generate.Proposal]:
    folder = GOLDEN / case
    spec = json.loads((folder / "case.json").read_text())
    return generate(read_usage(folder / "usage.csv"), Options(**spec["options"]))


def statements(proposal) -> list[dict]:
    return [s for p in proposal.policies for s in p.document()["Statement"]]


def test_bucket_and_object_actions_get_their_own_statements():
    (proposal,) = load("s3-bucket-and-objects")
    found = {
        tuple(s["Action"]) if isinstance(s["Action"], list) else (s["Action"],): s["Resource"]
        for s in statements(proposal)
    }
    assert found == {
        ("s3:ListBucket",): "arn:aws:s3:::data",
        ("s3:GetObject", "s3:PutObject"): [
            "arn:aws:s3:::data/reports/a.csv",
            "arn:aws:s3:::data/reports/b.csv",
        ],
        ("s3:ListAllMyBuckets",): "*",
    }


def test_a_principal_too_large_for_one_policy_gets_two():
    (proposal,) = load("split-in-two")
    assert [p.name for p in proposal.policies] == ["trailmin-app-1", "trailmin-app-2"]
    assert all(p.size <= MANAGED_POLICY_SIZE for p in proposal.policies)
    granted = {r for s in statements(proposal) for r in _list(s["Resource"])}
    assert len(granted) == 91  # 90 objects and the bucket, each once
    assert not proposal.warnings


def test_generalization_is_reported_with_what_it_covers():
    (exact,) = load("split-in-two")
    (prefix,) = load("generalize-prefix")
    (container,) = load("generalize-container")
    assert not exact.generalizations
    (found,) = prefix.generalizations
    assert found.pattern == "arn:aws:s3:::bulk-archive/2026/10/*"
    assert len(found.covers) == 90
    assert found.actions == ("s3:GetObject",)
    assert container.generalizations[0].pattern == "arn:aws:s3:::bulk-archive/*"
    (below,) = load("generalize-below-threshold")
    assert not below.generalizations  # 4 ARNs, not more than --max-resources 10


def test_unscoped_and_inferred_permissions_are_marked():
    (kms,) = load("kms-keys")
    assert [e.unscoped for e in kms.evidence if e.unscoped] == [("kms:Encrypt",)]
    (passing,) = load("inferred-pass-role")
    assert [e.inferred for e in passing.evidence if e.inferred] == [("iam:PassRole",)]


def test_calls_that_failed_after_authorization_grant_and_the_others_do_not():
    """NoSuchKey and NoSuchBucketPolicy came after authorization: the permission was needed.
    104 GetParameter calls were throttled before it: they show nothing."""
    (proposal,) = load("failed-after-authorization")
    granted = {
        (a, r)
        for s in statements(proposal)
        for a in _list(s["Action"])
        for r in _list(s["Resource"])
    }
    assert granted == {
        ("s3:GetObject", "arn:aws:s3:::data/missing.json"),
        ("s3:GetBucketPolicy", "arn:aws:s3:::data"),
        ("dynamodb:Query", "arn:aws:dynamodb:us-east-1:111122223333:table/orders"),
    }
    assert sorted(e.calls for e in proposal.evidence) == [2, 3, 4]


def test_refused_calls_are_listed_not_granted():
    (proposal,) = load("refused-calls")
    granted = {a for s in statements(proposal) for a in _list(s["Action"])}
    assert "ec2:GetPasswordData" not in granted
    assert "s3:GetObject" in granted  # it also succeeded three times
    assert [(r.action, r.denied, r.also_allowed) for r in proposal.refused] == [
        ("ec2:GetPasswordData", 29, False),
        ("s3:GetObject", 2, True),
    ]


def test_an_identity_center_role_targets_its_permission_set():
    (proposal,) = load("identity-center")
    assert proposal.target is not None
    assert (proposal.target.kind, proposal.target.name) == ("permission-set", "Data_Engineers")
    files = render([proposal], "terraform")
    (tf,) = [t for path, t in files.items() if path.endswith("main.tf")]
    assert 'resource "aws_ssoadmin_permission_set_inline_policy"' in tf
    assert "aws_iam_policy" not in tf


def test_principals_that_cannot_take_a_policy_say_why():
    reasons = {p.principal.rsplit("/", 1)[-1]: p.skipped for p in load("not-for-policies")}
    assert "service-linked" in reasons["AWSServiceRoleForRDS"]
    assert "root user" in reasons["arn:aws:iam::111122223333:root"]
    assert "AWS service" in reasons["lambda.amazonaws.com"]
    assert "AWS-reserved" in reasons["SomeRole"]


@pytest.mark.parametrize(
    ("arn", "kind", "target"),
    [
        ("arn:aws:iam::111122223333:role/app", "Role", ("role", "app", "/")),
        (
            "arn:aws:iam::111122223333:role/service/team/app",
            "Role",
            ("role", "app", "/service/team/"),
        ),
        ("arn:aws:iam::111122223333:user/ops/bob", "IAMUser", ("user", "bob", "/ops/")),
        ("arn:aws-cn:iam::111122223333:role/app", "Role", ("role", "app", "/")),
        (
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
            "IdentityCenterRole",
            ("permission-set", "Admin", "/aws-reserved/sso.amazonaws.com/"),
        ),
        (
            "arn:aws:iam::111122223333:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX",
            "Role",
            None,
        ),
        ("arn:aws:iam::111122223333:root", "Root", None),
        ("arn:aws:sts::111122223333:federated-user/bob", "FederatedUser", None),
    ],
)
def test_targets(arn, kind, target):
    found, reason = target_of(arn, kind)
    if target is None:
        assert found is None
        assert reason
    else:
        assert found is not None
        assert (found.kind, found.name, found.path) == target
        assert found.account == "111122223333"


# --- the exactness property ----------------------------------------------------------------------
# An independent matcher, after iam-evaluation.md R2-R4 (not trailmin's own).


def _glob_regex(pattern: str, *, colon_free: bool) -> str:
    out = []
    index = 0
    while index < len(pattern):
        if pattern[index : index + 2] == "${" and pattern[index + 3 : index + 4] == "}":
            out.append(re.escape(pattern[index + 2]))  # R5.3: ${*}, ${?}, ${$}
            index += 4
            continue
        char = pattern[index]
        if char == "*":
            out.append("[^:]*" if colon_free else ".*")
        elif char == "?":
            out.append("[^:]" if colon_free else ".")
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def action_allowed(pattern: str, action: str) -> bool:
    if pattern == "*":
        return True
    if ":" not in pattern:
        return False
    service, name = pattern.split(":", 1)
    a_service, a_name = action.split(":", 1)
    return service.lower() == a_service.lower() and bool(
        re.fullmatch(_glob_regex(name, colon_free=False), a_name, re.IGNORECASE | re.DOTALL)
    )


def resource_allowed(pattern: str, resource: str) -> bool:
    if pattern == "*":
        return True
    if resource == "*":
        return False
    p, r = pattern.split(":", 5), resource.split(":", 5)
    if len(p) < 6 or len(r) < 6:
        return False
    heads = all(
        re.fullmatch(_glob_regex(a, colon_free=True), b, re.DOTALL)
        for a, b in zip(p[:5], r[:5], strict=True)
    )
    return heads and bool(re.fullmatch(_glob_regex(p[5], colon_free=False), r[5], re.DOTALL))


def allowed(proposal, action: str, resource: str) -> bool:
    return any(
        any(action_allowed(a, action) for a in _list(s["Action"]))
        and any(resource_allowed(r, resource) for r in _list(s["Resource"]))
        for s in statements(proposal)
    )


def _list(value):
    return value if isinstance(value, list) else [value]


OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
BUCKETS = ["data", "logs"]
# "q?.txt" and "qa.txt": a key with a wildcard character must grant itself only.
KEYS = ["a.txt", "in/1.json", "in/2.json", "in/deep/3.json", "out/x.csv", "q?.txt", "qa.txt", "s*"]
KEY_ARNS = [f"arn:aws:s3:::{b}/{k}" for b in BUCKETS for k in KEYS]
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TABLES = [f"arn:aws:dynamodb:us-east-1:111122223333:table/{t}" for t in ("orders", "users")]
UNIVERSE = (
    [(a, r) for a in OBJECT_ACTIONS for r in KEY_ARNS]
    + [("s3:ListBucket", f"arn:aws:s3:::{b}") for b in BUCKETS]
    + [(a, t) for a in ("dynamodb:GetItem", "dynamodb:PutItem") for t in TABLES]
    + [("s3:ListAllMyBuckets", "*"), ("ec2:DescribeInstances", "*"), ("kms:Encrypt", "*")]
    # A family a wildcard can cover whole: kms:GenerateDataKey*.
    + [
        (f"kms:GenerateDataKey{suffix}", KEY)
        for suffix in ("", "Pair", "PairWithoutPlaintext", "WithoutPlaintext")
    ]
)
T = datetime(2026, 10, 5, tzinfo=UTC)

usage_rows = st.lists(
    st.tuples(st.sampled_from(UNIVERSE), st.integers(0, 3), st.integers(0, 2)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=usage_rows,
    level=st.sampled_from(["exact", "prefix", "container"]),
    threshold=st.integers(1, 6),
    size=st.sampled_from([MANAGED_POLICY_SIZE, 600]),
    wildcards=st.booleans(),
)
def test_policies_allow_exactly_what_was_used(rows, level, threshold, size, wildcards):
    role = "arn:aws:iam::111122223333:role/app"
    used = [
        Used(role, "Role", a, r, ok + no, ok, no, T, T, derivation="direct; exact")
        for (a, r), ok, no in rows
    ]
    options = Options(
        generalize=level, max_resources=threshold, policy_size=size, action_wildcards=wildcards
    )
    proposals = generate(used, options)
    (proposal,) = proposals
    succeeded = {(u.action, u.resource) for u in used if u.succeeded}
    if not succeeded:
        assert not proposal.policies
        return
    for action, resource in succeeded:
        assert allowed(proposal, action, resource), (action, resource)
    for policy in proposal.policies:
        assert policy.size <= size
    sids = [s["Sid"] for s in statements(proposal)]
    assert len(sids) == len(set(sids))
    # Nothing else is allowed, except through a reported generalization of that action.
    for action, resource in UNIVERSE:
        if (action, resource) in succeeded or not allowed(proposal, action, resource):
            continue
        assert any(
            action in g.actions and resource_allowed(g.pattern, resource)
            for g in proposal.generalizations
        ), (action, resource)
        assert level != "exact"
    # An action wildcard covers, in today's catalog, only actions used on each of its resources.
    for statement in statements(proposal):
        for pattern in _list(statement["Action"]):
            if "*" not in pattern:
                continue
            assert wildcards
            service = pattern.split(":")[0]
            matched = [
                a.full_name
                for a in catalog.actions_for(service)
                if action_allowed(pattern, a.full_name)
            ]
            assert len(matched) >= 2
            for resource in _list(statement["Resource"]):
                for action in matched:
                    assert (action, resource) in succeeded, (pattern, action, resource)


def test_the_same_usage_gives_the_same_bytes_in_any_order():
    used = read_usage(GOLDEN / "split-in-two" / "usage.csv")
    first = render(generate(used, Options()), "json")
    shuffled = list(used)
    random.Random(7).shuffle(shuffled)
    assert render(generate(shuffled, Options()), "json") == first


# --- size ----------------------------------------------------------------------------------------


def rows_of_size(target: int) -> list[Used]:
    """Usage whose single statement makes a document of exactly ``target`` characters."""
    role = "arn:aws:iam::111122223333:role/app"
    resources = [f"arn:aws:s3:::bucket/{n:03d}-" + "k" * 40 for n in range(80)]

    def used(resources):
        return [Used(role, "Role", "s3:GetObject", r, 1, 1, 0, T, T) for r in resources]

    while True:
        # The Sid is the service and 8 hex digits: its length does not depend on the content.
        statement = Statement("S3" + "0" * 8, ("s3:GetObject",), tuple(sorted(resources)))
        missing = target - Policy("x", (statement,)).size
        if missing == 0:
            return used(resources)
        if missing < 0:
            resources.pop()
        else:
            resources[-1] += "z" * min(missing, 200)


def test_a_policy_of_exactly_the_limit_is_one_policy():
    (proposal,) = generate(rows_of_size(MANAGED_POLICY_SIZE), Options())
    assert [p.size for p in proposal.policies] == [MANAGED_POLICY_SIZE]


def test_one_character_more_makes_two_policies():
    (proposal,) = generate(rows_of_size(MANAGED_POLICY_SIZE + 1), Options())
    assert len(proposal.policies) == 2
    assert all(p.size <= MANAGED_POLICY_SIZE for p in proposal.policies)
    pieces = [s.sid for p in proposal.policies for s in p.statements]
    assert pieces[0].endswith("P1")
    assert pieces[1].endswith("P2")


def test_size_is_counted_without_whitespace():
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}],
    }
    assert policy_size(document) == len(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}'
    )


def test_more_policies_than_the_quota_is_a_warning():
    used = read_usage(GOLDEN / "split-in-two" / "usage.csv")
    (proposal,) = generate(used, Options(max_policies=1))
    assert len(proposal.policies) == 2
    (warning,) = proposal.warnings
    assert "more than the 1" in warning


def test_bad_options_are_refused():
    # A library error names the parameter (issue 17), not a command-line flag.
    with pytest.raises(UsageError, match=r"^generalize 'everything' is not one of exact, churn"):
        Options(generalize="everything")
    with pytest.raises(UsageError, match=r"^max_resources must be at least 1$"):
        Options(max_resources=0)
    with pytest.raises(UsageError, match=r"^max_policies must be at least 1$"):
        Options(max_policies=0)


# --- renderings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_cloudformation_passes_cfn_lint(case):
    for path, text in render(load(case), "cloudformation").items():
        if path.endswith(".yaml"):
            matches = lint(text, config=ManualArgs(regions=["us-east-1"]))
            assert [str(m) for m in matches] == [], path


@pytest.mark.parametrize("case", CASES)
def test_terraform_parses(case):
    for path, text in render(load(case), "terraform").items():
        if path.endswith(".tf"):
            parsed = hcl2.loads(text)
            assert parsed["resource"] or parsed["data"]


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_is_formatted_as_terraform_fmt_writes_it(tmp_path):
    for case in CASES:
        for path, text in render(load(case), "terraform").items():
            if path.endswith(".tf"):
                (tmp_path / f"{case}-{path.replace('/', '-')}").write_text(text)
    assert list(tmp_path.glob("*.tf"))
    run = subprocess.run(
        ["terraform", "fmt", "-check", "-diff", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull},
    )
    assert run.returncode == 0, run.stdout


def test_resources_with_wildcard_characters_are_written_literally():
    """An S3 key may hold $, * and ?: the policy names that key, not every key it would match."""
    role = "arn:aws:iam::111122223333:role/app"
    used = [Used(role, "Role", "s3:GetObject", "arn:aws:s3:::b/${x}%{y}-q?-*", 1, 1, 0, T, T)]
    (proposal,) = generate(used)
    (statement,) = statements(proposal)
    assert statement["Resource"] == "arn:aws:s3:::b/${$}{x}%{y}-q${?}-${*}"
    assert proposal.replayed == 1
    assert not proposal.replay_failures
    text = render([proposal], "terraform")["111122223333-role-app/main.tf"]
    assert "$${$}{x}%%{y}-q$${?}-$${*}" in text  # HCL's own escapes on top
    hcl2.loads(text)


# --- end to end ----------------------------------------------------------------------------------


def test_generate_command_on_the_sample_logs(tmp_path):
    lake = tmp_path / "lake"
    trailmin.ingest([SAMPLE_LOGS], lake=lake, workers=1)
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "trailmin", "generate", "--lake", str(lake), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    index = json.loads((out / "index.json").read_text())
    by_principal = {p["principal"]: p for p in index["principals"]}
    app = by_principal["arn:aws:iam::111122223333:role/service/app-backend"]
    assert app["policies"]
    assert by_principal["arn:aws:iam::111122223333:root"]["skipped"]
    # Every successful call of the app role is allowed by what was written.
    usage = trailmin.usage(lake, principals=["arn:aws:iam::111122223333:role/service/app-backend"])
    documents = [
        json.loads((out / app["folder"] / f"{name}.json").read_text()) for name in app["policies"]
    ]
    written = [s for d in documents for s in d["Statement"]]
    for row in usage[usage["succeeded"] > 0].itertuples():
        assert any(
            any(action_allowed(a, row.action) for a in _list(s["Action"]))
            and any(resource_allowed(r, row.resource) for r in _list(s["Resource"]))
            for s in written
        ), (row.action, row.resource)
    assert "asked for and refused" in run.stderr


def test_a_permission_set_too_large_for_its_one_inline_policy_is_a_warning():
    sso = (
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/"
        "AWSReservedSSO_Analysts_0123456789abcdef"
    )
    used = [
        Used(
            sso,
            "IdentityCenterRole",
            "s3:GetObject",
            f"arn:aws:s3:::b/{n:04d}-{'k' * 60}",
            1,
            1,
            0,
            T,
            T,
        )
        for n in range(200)
    ]
    (proposal,) = generate(used)
    assert len(proposal.policies) == 2
    assert all(p.size <= 10_240 for p in proposal.policies)
    (warning,) = proposal.warnings
    assert "one inline policy of 10,240 characters" in warning
    (prefixed,) = generate(used, Options(generalize="prefix"))
    assert [len(p.statements) for p in prefixed.policies] == [1]
    assert not prefixed.warnings


def test_a_proposal_that_would_refuse_a_used_call_is_not_emitted(monkeypatch):
    """The replay check: a generation bug (here, made on purpose) never reaches the output."""
    from trailmin.policy import generate as generation

    used = read_usage(GOLDEN / "kms-keys" / "usage.csv")
    broken = generation.policy_resource
    monkeypatch.setattr(
        generation,
        "policy_resource",
        lambda row: broken(row).replace("1234abcd", "ffffffff"),
    )
    (proposal,) = generate(used)
    assert not proposal.policies
    assert proposal.skipped is not None
    assert "replay check failed" in proposal.skipped
    assert {(a, d) for a, _, d in proposal.replay_failures} == {
        ("kms:Decrypt", "ImplicitDeny"),
        ("kms:GenerateDataKey", "ImplicitDeny"),
    }


def test_privilege_escalation_resources_are_never_generalized_but_for_ids():
    """iam:PassRole on roles that churn stays on each role; ssm:SendCommand follows instances
    that are replaced; the object reads beside them learn."""
    from datetime import UTC, datetime, timedelta

    from trailmin.policy.generate import Used, generate

    start = datetime(2026, 9, 1, tzinfo=UTC)
    principal = "arn:aws:iam::111122223333:role/scheduler"

    def used(action: str, resource: str, day: int) -> Used:
        when = start + timedelta(days=day)
        return Used(principal, "Role", action, resource, 1, 1, 0, when, when, derivation="exact")

    rows = [
        used("iam:PassRole", f"arn:aws:iam::111122223333:role/job-{i:08x}", i * 6)
        for i in range(10)
    ] + [used("s3:GetObject", f"arn:aws:s3:::b/runs/{i:08x}.json", i * 3) for i in range(20)]
    rows += [
        used("ssm:SendCommand", f"arn:aws:ec2:us-east-1:111122223333:instance/i-{i:017x}", i * 5)
        for i in range(10)
    ]
    (proposal,) = generate(rows)
    statements = [s for p in proposal.policies for s in p.statements]
    (passing,) = [s for s in statements if "iam:PassRole" in s.actions]
    assert len(passing.resources) == 10
    assert all("*" not in r for r in passing.resources)
    (reading,) = [s for s in statements if "s3:GetObject" in s.actions]
    assert reading.resources == ("arn:aws:s3:::b/runs/*",)
    (commanding,) = [s for s in statements if "ssm:SendCommand" in s.actions]
    assert commanding.resources == ("arn:aws:ec2:us-east-1:111122223333:instance/*",)
