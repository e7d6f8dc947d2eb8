"""The replay check: generated policies allow every call they were made from; others are caught."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import trailmin
from tests.conftest import SAMPLE_LOGS
from trailmin.errors import UsageError

APP = "arn:aws:iam::111122223333:role/service/app-backend"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    lake = tmp_path_factory.mktemp("verify") / "lake"
    trailmin.ingest([SAMPLE_LOGS], lake=lake, workers=1)
    return lake


@pytest.fixture(scope="module")
def invictus(tmp_path_factory, real_logs):
    lake = tmp_path_factory.mktemp("verify") / "lake"
    trailmin.ingest([real_logs / "invictus-ir"], lake=lake, workers=1)
    return lake


@pytest.mark.parametrize("which", ["sample", "invictus"])
def test_generated_policies_pass_the_replay_for_every_principal(which, request):
    lake = request.getfixturevalue(which)
    proposals = trailmin.generate(lake)
    proposed = [p for p in proposals if p.policies]
    assert len(proposed) >= 5
    for proposal in proposals:
        assert not proposal.replay_failures, proposal.principal
    for proposal in proposed:
        verdict = trailmin.verify(
            [p.document() for p in proposal.policies], lake=lake, principal=proposal.principal
        )
        assert verdict.passed, (proposal.principal, verdict.refused[:3])
        assert verdict.calls > 0


def test_a_hand_broken_policy_fails_with_the_right_calls(sample):
    (proposal,) = trailmin.generate(sample, principals=[APP])
    documents = [p.document() for p in proposal.policies]
    # s3:GetObject taken out of every statement, the statement's other actions kept (with
    # generalization, reads and writes of one key space share a statement).
    removed = []
    for document in documents:
        kept = []
        for statement in document["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            if "s3:GetObject" in actions:
                removed.append(statement)
                actions = [a for a in actions if a != "s3:GetObject"]
            if actions:
                kept.append({**statement, "Action": actions})
        document["Statement"] = kept
    assert removed
    verdict = trailmin.verify(documents, lake=sample, principal=APP)
    usage = trailmin.usage(sample, principals=[APP])
    expected = usage[(usage["action"] == "s3:GetObject") & (usage["authorized"] > 0)]
    assert sorted((r.action, r.resource, r.calls) for r in verdict.refused) == sorted(
        zip(expected["action"], expected["resource"], expected["authorized"], strict=True)
    )
    assert {r.decision for r in verdict.refused} == {"ImplicitDeny"}


def test_conditions_are_decided_from_the_records(sample):
    east = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
            }
        ],
    }
    verdict = trailmin.verify([east], lake=sample, principal=APP)
    usage = trailmin.usage(sample, principals=[APP], regions=["eu-west-1"])
    assert {(r.action, r.resource) for r in verdict.refused} == {
        (a, r)
        for a, r, n in zip(usage["action"], usage["resource"], usage["authorized"], strict=True)
        if n
    }
    assert sum(r.calls for r in verdict.refused) == usage["authorized"].sum()


def test_a_key_the_records_cannot_tell_is_named(sample):
    tagged = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "payments"}},
            }
        ],
    }
    verdict = trailmin.verify([tagged], lake=sample, principal=APP, days=1)
    assert verdict.refused
    assert {r.decision for r in verdict.refused} == {"ImplicitDeny"}
    assert {r.unknown_keys for r in verdict.refused} == {("aws:PrincipalTag/team",)}


def test_verify_command_exit_codes(sample, tmp_path):
    (proposal,) = trailmin.generate(sample, principals=[APP])
    good = tmp_path / "good.json"
    good.write_text(json.dumps(proposal.to_dict()))
    narrow = tmp_path / "narrow.json"
    narrow.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}],
            }
        )
    )

    def run(*args):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "trailmin",
                "verify",
                *args,
                "--lake",
                str(sample),
                "--principal",
                APP,
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    passed = run(str(good))
    assert passed.returncode == 0, passed.stderr
    assert "all allowed" in passed.stdout
    failed = run(str(narrow), "--format", "json")
    assert failed.returncode == 1
    refused = json.loads(failed.stdout)["refused"]
    assert refused
    assert "kms:Decrypt" not in {r["action"] for r in refused}
    missing = run(str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    assert "nope.json" in missing.stderr


def test_a_file_without_a_policy_is_refused_with_the_fix(tmp_path, sample):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(UsageError, match="holds no IAM policy document"):
        trailmin.verify(path, lake=sample, principal=APP)
