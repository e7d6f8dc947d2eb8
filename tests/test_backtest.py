"""The backtest: proposals from the earlier part of the window, replayed on the later part."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

import trailmin
from tests.conftest import ROOT, SAMPLE_LOGS
from trailmin.cli import app
from trailmin.policy.backtest import NEW_ACTION, RESOURCE, LaterCall, probe, replay_later
from trailmin.policy.generate import Options, Policy, Proposal, Statement, Target

A = "111122223333"
BUCKET = f"arn:aws:s3:::acme-data-{A}"


def _proposal(*statements: tuple[tuple[str, ...], tuple[str, ...]]) -> Proposal:
    return Proposal(
        f"arn:aws:iam::{A}:role/app",
        "Role",
        Target("role", "app", A),
        policies=(
            Policy(
                "trailmin-app",
                tuple(Statement(f"S{i}", a, r) for i, (a, r) in enumerate(statements)),
            ),
        ),
    )


def test_later_calls_are_refused_by_cause():
    """A call is refused for a new action, or for a resource outside the grants; counted once
    however many of its permissions are refused."""
    proposal = _proposal((("s3:GetObject",), (f"{BUCKET}/orders/*",)))
    calls = [
        LaterCall("p", (("s3:GetObject", f"{BUCKET}/orders/1.json"),), 5),
        LaterCall("p", (("s3:GetObject", f"{BUCKET}/invoices/1.pdf"),), 2),
        LaterCall("p", (("s3:PutObject", f"{BUCKET}/orders/2.json"),), 1),
        LaterCall(
            "p",
            (("s3:GetObject", f"{BUCKET}/x"), ("s3:PutObject", f"{BUCKET}/orders/3.json")),
            1,
        ),
    ]
    total, new_action, resource, broken = replay_later(proposal, calls)
    assert (total, new_action, resource) == (9, 2, 2)
    assert [(b.action, b.resource, b.cause, b.calls) for b in broken] == [
        ("s3:GetObject", f"{BUCKET}/invoices/1.pdf", RESOURCE, 2),
        ("s3:GetObject", f"{BUCKET}/x", RESOURCE, 1),
        ("s3:PutObject", f"{BUCKET}/orders/2.json", NEW_ACTION, 1),
        ("s3:PutObject", f"{BUCKET}/orders/3.json", NEW_ACTION, 1),
    ]


@pytest.mark.parametrize(
    ("resources", "made", "allowed"),
    [
        # Exact grants: the other bucket's objects and the other key are refused.
        ((f"{BUCKET}/orders/1.json",), 2, 0),
        # A pattern over the key space lets the probe under it through, not the other bucket's;
        # and a probe beside the pattern (the same key in another bucket) is refused.
        ((f"{BUCKET}/orders/*",), 3, 1),
        # A pattern across buckets lets the probe beside it through, seen in the lake or not.
        (("arn:aws:s3:::*/orders/1.json",), 3, 1),
        # "*": every probe of the action.
        (("*",), 2, 2),
    ],
)
def test_resource_probes(resources, made, allowed):
    """Probes: the granted action on resources of its type that exist but were never touched,
    and beside each pattern, the same resource under another name."""
    proposal = _proposal((("s3:GetObject",), resources))
    lake = {
        "s3": [
            f"{BUCKET}/orders/1.json",
            f"{BUCKET}/orders/2.json",
            "arn:aws:s3:::another-bucket/k",
            "arn:aws:s3:::another-bucket",  # a bucket: not a resource GetObject takes
        ]
    }
    found = probe(
        proposal,
        touched=frozenset({f"{BUCKET}/orders/1.json"}),
        used_actions=frozenset({"s3:GetObject"}),
        resources=lake,
    )
    assert found[:2] == (made, allowed)


def test_action_probes():
    """Probes: the service's other actions, on the principal's own resources or on "*"."""
    exact = _proposal((("s3:GetObject",), (f"{BUCKET}/k",)))
    whole = _proposal((("s3:*",), ("*",)))
    kwargs = {
        "touched": frozenset({f"{BUCKET}/k"}),
        "used_actions": frozenset({"s3:GetObject"}),
        "resources": {"s3": [f"{BUCKET}/k"]},
    }
    _, _, made, passed = probe(exact, **kwargs)
    assert made > 20
    assert passed == 0
    _, _, made_too, passed_all = probe(whole, **kwargs)
    assert made_too == made
    assert passed_all == made


# --- on the sample logs --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    lake = tmp_path_factory.mktemp("backtest") / "lake"
    trailmin.ingest([SAMPLE_LOGS], lake=lake, workers=1)
    return lake


def _by_principal(result):
    return {r.principal.rsplit(":", 1)[-1]: r for r in result.results}


def test_the_default_predicts_the_keys_of_the_next_days(sample):
    """Generated up to 12 October, replayed on the week after: exact ARNs refuse tomorrow's
    report and export keys; the learned patterns allow them."""
    exact = trailmin.backtest(sample, split_at="2026-10-12", options=Options(generalize="exact"))
    learned = trailmin.backtest(sample, split_at="2026-10-12")
    assert exact.earlier[1] == learned.later[0] == datetime(2026, 10, 12, tzinfo=UTC)
    assert learned.generalize == "churn"
    before, after = _by_principal(exact), _by_principal(learned)
    batch = "user/legacy-batch"
    assert before[batch].later_calls == after[batch].later_calls == 51
    assert before[batch].refused_resource == 12
    assert all("/reports/daily/2026-10-" in b.resource for b in before[batch].broken)
    assert after[batch].refused == 0
    # 477: with the vendor's audit of 15 October (6 calls by role/vendor-audit, all allowed)
    assert (exact.workloads.refused, exact.workloads.later_calls) == (89, 477)
    # One write of an invoice key, where only reads churned: a write inherits no read pattern.
    assert (learned.workloads.refused, learned.workloads.later_calls) == (6, 477)
    # Neither lets anything through that the principal never did.
    assert exact.workloads.probes_allowed == learned.workloads.probes_allowed == 0
    # One probe beside each pattern, under another name (another bucket, another secret),
    # refused: 7 more beside the learned patterns than beside the mapping's own (a secret's
    # suffix, a role's path).
    # (118 of them other actions of vendor-audit's services, on "*": no resource probe)
    assert exact.workloads.probes == 1638
    assert learned.workloads.probes == 1645
    assert (exact.workloads.resource_probes, learned.workloads.resource_probes) == (199, 206)
    assert learned.workloads.coverage == 1.0
    # People are apart: they do new things.
    assert {r.principal.rsplit("/", 1)[-1] for r in learned.results if r.human} == {
        "AWSReservedSSO_AdministratorAccess_ef13406b01f4da88",
        "alice",
        "bob",
    }
    assert learned.people.refused_new_action == 18


def test_held_actions_are_counted_with_authorization_details(sample):
    """With the account's authorization details: how many held actions each proposal drops."""
    details = trailmin.authorization_details(auth_file=ROOT / "examples" / "sample-auth.json")
    result = trailmin.backtest(sample, split_at="2026-10-12", details=details)
    batch = _by_principal(result)["user/legacy-batch"]
    assert (batch.held_actions, batch.removed_actions) == (97, 93)
    frame = result.to_frame()
    assert set(frame.columns) >= {"principal", "breakage", "leakage", "removed_actions"}
    assert len(frame) == len(result.results)


def test_a_split_outside_the_window_is_refused(sample):
    with pytest.raises(trailmin.TrailminError, match="not inside the window"):
        trailmin.backtest(sample, split_at="2030-01-01")
    with pytest.raises(trailmin.TrailminError, match="between 0 and 1"):
        trailmin.backtest(sample, split=1.5)
    with pytest.raises(trailmin.TrailminError, match="holds no event in the window, principals"):
        trailmin.backtest(sample, principals=["arn:aws:iam::*:user/nobody"])


def test_backtest_command(sample):
    """Text for people, JSON for programs; exit 1 when a workload's proposal broke."""
    runner = CliRunner()
    text = runner.invoke(app, ["backtest", "--lake", str(sample), "--split-at", "2026-10-12"])
    assert text.exit_code == 1, text.output
    # 5: role/vendor-audit too
    assert "workloads: 5 principals, breakage 1.3% (6 of 477 later calls refused" in text.output
    assert "user/legacy-batch (workload): breakage 0.0% (0 of 51)" in text.output
    data = runner.invoke(
        app,
        ["backtest", "--lake", str(sample), "--split-at", "2026-10-12", "--format", "json"],
    )
    # The JSON is stdout alone; the window read is said on stderr.
    parsed = json.loads(data.stdout)
    assert data.stderr.startswith("window: the last 90 days up to the newest event (the default)")
    assert parsed["generalize"] == "churn"
    assert parsed["workloads"]["refused"] == 6
    assert parsed["later"][0] == "2026-10-12T00:00:00Z"
