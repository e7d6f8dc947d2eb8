"""Generalization that predicts: the parts of ARNs that kept changing become *, the rest exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trailmin.churn import Seen, generalize, read

START = datetime(2026, 9, 1, tzinfo=UTC)
END = START + timedelta(days=60)
BUCKET = "arn:aws:s3:::acme-data"
LOGS = "arn:aws:logs:us-east-1:111122223333:log-group"
ECS = "arn:aws:ecs:us-east-1:111122223333"


def _daily(action: str, arns: list[str], every: float = 1.0) -> list[Seen]:
    """One new ARN every ``every`` days through the window."""
    return [Seen(action, arn, START + timedelta(days=i * every)) for i, arn in enumerate(arns)]


def _at_start(action: str, arns: list[str]) -> list[Seen]:
    return [Seen(action, arn, START + timedelta(hours=i)) for i, arn in enumerate(arns)]


def _patterns(seen: list[Seen]) -> dict[str, str]:
    replaced, _ = generalize(seen, start=START, end=END)
    return {arn: replaced.get((s.action, arn), arn) for s in seen for arn in [s.arn]}


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        # New object keys every day under a stable prefix: the keys churn, the prefix stays.
        (
            _daily("s3:GetObject", [f"{BUCKET}/orders/{i:012x}.json" for i in range(50)]),
            {f"{BUCKET}/orders/*"},
        ),
        # Dated folders: the year and month change next month, so they go too.
        (
            _daily(
                "s3:GetObject",
                [f"{BUCKET}/invoices/2026/{9 + i // 30}/inv-{i:08x}.pdf" for i in range(50)],
            ),
            {f"{BUCKET}/invoices/*"},
        ),
        (
            _daily(
                "s3:PutObject",
                [f"{BUCKET}/reports/daily/2026-09-{1 + i:02d}.csv" for i in range(20)],
                3,
            ),
            {f"{BUCKET}/reports/daily/*"},
        ),
        # Three keys read from the first day on are stable: exact.
        (
            _at_start("s3:GetObject", [f"{BUCKET}/config/{n}.json" for n in ("a", "b", "c")]),
            {f"{BUCKET}/config/a.json", f"{BUCKET}/config/b.json", f"{BUCKET}/config/c.json"},
        ),
        # Two new keys are not yet a pattern.
        (
            _daily("s3:GetObject", [f"{BUCKET}/exports/{i:08x}.csv" for i in range(2)], 30),
            {f"{BUCKET}/exports/00000000.csv", f"{BUCKET}/exports/00000001.csv"},
        ),
        # A log stream per container: the stream churns, the group stays exact.
        (
            _daily(
                "logs:PutLogEvents",
                [
                    f"{LOGS}:/aws/lambda/api:log-stream:2026/09/{1 + i % 28:02d}/[$LATEST]{i:032x}"
                    for i in range(40)
                ],
            ),
            {f"{LOGS}:/aws/lambda/api:log-stream:*"},
        ),
        # Task-definition revisions bumped by deploys: family exact, revision *.
        (
            _daily("ecs:RunTask", [f"{ECS}:task-definition/web:{41 + i}" for i in range(4)], 15),
            {f"{ECS}:task-definition/web:*"},
        ),
        # New instances every few days.
        (
            _daily(
                "ec2:TerminateInstances",
                [f"arn:aws:ec2:us-east-1:111122223333:instance/i-{i:017x}" for i in range(10)],
                5,
            ),
            {"arn:aws:ec2:us-east-1:111122223333:instance/*"},
        ),
        # Three tables used every day from the first: three ARNs.
        (
            _at_start(
                "dynamodb:GetItem",
                [f"arn:aws:dynamodb:us-east-1:111122223333:table/{t}" for t in ("a", "b", "c")],
            ),
            {f"arn:aws:dynamodb:us-east-1:111122223333:table/{t}" for t in ("a", "b", "c")},
        ),
        # Named tables appearing in three parts of the window are not enough to widen to table/*:
        # a name needs four.
        (
            _daily(
                "dynamodb:GetItem",
                [f"arn:aws:dynamodb:us-east-1:111122223333:table/{t}" for t in ("a", "b", "c")],
                20,
            ),
            {f"arn:aws:dynamodb:us-east-1:111122223333:table/{t}" for t in ("a", "b", "c")},
        ),
    ],
)
def test_what_churns_is_generalized_and_what_holds_stays_exact(seen, expected):
    """The patterns the window's history predicts, and the ARNs it leaves exact."""
    assert set(_patterns(seen).values()) == expected


def test_keys_written_and_read_are_one_key_space():
    """A write of two keys under a prefix whose reads churn is generalized with them."""
    reads = _daily("s3:GetObject", [f"{BUCKET}/orders/{i:012x}.json" for i in range(30)])
    writes = _daily("s3:PutObject", [f"{BUCKET}/orders/{i:012x}.json" for i in (100, 101)], 20)
    replaced, patterns = generalize(reads + writes, start=START, end=END)
    assert {replaced[(s.action, s.arn)] for s in writes} == {f"{BUCKET}/orders/*"}
    (pattern,) = patterns
    assert pattern.actions == ("s3:GetObject", "s3:PutObject")
    assert pattern.part == "ObjectName"
    assert pattern.distinct == 32
    # First used from day 40 on (the last third of 60 days): days 40..59 of the reads' 0..29
    # none, and the second write (day 20) not, so none of the reads and neither write.
    assert pattern.late == 0
    assert len(pattern.covers) == 32


def test_the_evidence_counts_late_values():
    """How many values were first used in the last third of the window."""
    seen = _daily("s3:GetObject", [f"{BUCKET}/k/{i:08x}" for i in range(60)])
    _, (pattern,) = generalize(seen, start=START, end=END)
    assert pattern.distinct == 60
    assert pattern.late == 20


def test_another_bucket_or_region_is_never_taken_in():
    """Churn in one bucket gives a pattern in that bucket only; account and region stay."""
    one = _daily("s3:GetObject", [f"{BUCKET}/orders/{i:08x}" for i in range(20)])
    other = _at_start("s3:GetObject", ["arn:aws:s3:::other/x"])
    assert set(_patterns(one + other).values()) == {f"{BUCKET}/orders/*", "arn:aws:s3:::other/x"}
    regions = _daily(
        "sqs:SendMessage",
        [f"arn:aws:sqs:{r}:111122223333:q" for r in ("us-east-1", "eu-west-1", "ap-south-1")],
        20,
    )
    assert set(_patterns(regions).values()) == {s.arn for s in regions}


def test_wildcard_characters_in_names_stay_literal():
    """A key holding * or ? keeps it escaped in the stable part of a pattern."""
    seen = _daily("s3:GetObject", [f"{BUCKET}/we*rd/{i:08x}" for i in range(20)])
    assert set(_patterns(seen).values()) == {f"{BUCKET}/we${{*}}rd/*"}


def test_an_arn_of_no_template_of_its_action_is_left_alone():
    """Read against the action's templates: a qualified function ARN is not a function's."""
    assert read("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:1:function:api") is not None
    assert read("s3:GetObject", "arn:aws:s3:::bucket") is None
