"""The replay check: generated policies allow every call they were made from; others are caught."""

from __future__ import annotations

import json
import re
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


def _verify_command(*args):
    return subprocess.run(
        [sys.executable, "-m", "trailmin", "verify", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_verify_of_nothing_is_not_a_pass(sample, tmp_path):
    """A misspelled principal has no call to replay: exit 2 naming the principals that exist,
    closest first, never "all allowed" and exit 0 (a green CI check for a typo)."""
    (proposal,) = trailmin.generate(sample, principals=[APP])
    good = tmp_path / "proposal.json"
    good.write_text(json.dumps(proposal.to_dict()))
    typo = APP.replace("app-backend", "app-bakend")

    run = _verify_command(str(good), "--lake", str(sample), "--principal", typo)

    assert run.returncode == 2, run.stdout
    assert "all allowed" not in run.stdout
    assert (
        f"error: {typo} made no call in the window (2026-07-20 23:39 UTC to 2026-10-18 23:39 UTC), "
        "so nothing is verified." in run.stderr
    )
    closest = run.stderr.split("closest first: ", 1)[1].split("; ")
    assert closest[0] == APP
    with pytest.raises(trailmin.NothingMatched, match="closest first: " + re.escape(APP)):
        trailmin.verify(good, lake=sample, principal=typo)


def test_a_principal_whose_calls_were_all_refused_has_nothing_to_verify(tmp_path):
    from tests.conftest import make_record, write_delivery

    write_delivery(
        tmp_path / "logs" / "a.json.gz",
        [make_record(n, errorCode="AccessDenied", errorMessage="no") for n in range(3)],
    )
    lake = tmp_path / "lake"
    trailmin.ingest([tmp_path / "logs"], lake=lake, workers=1)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    with pytest.raises(
        trailmin.NothingMatched,
        match=re.escape(
            "none of the 3 calls of arn:aws:iam::111122223333:user/alice in the window "
            "(2026-07-07 12:00 UTC to 2026-10-05 12:00 UTC) passed authorization"
        ),
    ):
        trailmin.verify([policy], lake=lake, principal="arn:aws:iam::111122223333:user/alice")


def test_a_proposal_names_its_own_principal(sample, tmp_path):
    """--principal may be left out when the file is a proposal, which names its principal."""
    (proposal,) = trailmin.generate(sample, principals=[APP])
    path = tmp_path / "proposal.json"
    path.write_text(json.dumps(proposal.to_dict()))

    run = _verify_command(str(path), "--lake", str(sample))

    assert run.returncode == 0, run.stderr
    assert f"of {APP} against {path}: all allowed." in run.stdout
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(proposal.policies[0].document()))
    unnamed = _verify_command(str(policy), "--lake", str(sample))
    assert unnamed.returncode == 2
    assert "name the principal whose calls are replayed (principal=ARN)" in unnamed.stderr


def test_a_string_filter_is_one_value_not_its_characters(sample):
    """The library takes ``principals="arn:…"`` as one principal (not 60 one-letter globs), and
    ``services="s3"`` as the service s3."""
    one = trailmin.usage(sample, principals=APP)
    assert set(one["principal"]) == {APP}
    assert len(one) == len(trailmin.usage(sample, principals=[APP]))
    s3 = trailmin.usage(sample, services="s3")
    assert len(s3) > 0
    assert all(action.startswith("s3:") for action in s3["action"])
    events = trailmin.read_events(sample, principals=APP, columns=["principal_arn"])
    assert set(events["principal_arn"]) == {APP}
    with pytest.raises(UsageError, match="principals must be a string or a list of strings"):
        trailmin.usage(sample, principals=[1])
