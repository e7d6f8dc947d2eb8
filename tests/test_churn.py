"""Generalization that predicts: the parts of ARNs that kept changing become *, the rest exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trailmin.policy.churn import Seen, generalize, read

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


def test_a_sibling_that_holds_fewer_values_is_generalized_the_same_way():
    """The same prefix in the bucket of another region churns the same way, with fewer keys."""
    us, eu, other = f"{BUCKET}-us-east-1", f"{BUCKET}-eu-west-1", "arn:aws:s3:::elsewhere"
    busy = _daily("s3:GetObject", [f"{us}/invoices/2026/09/{i:08x}.pdf" for i in range(30)])
    quiet = _daily("s3:GetObject", [f"{eu}/invoices/2026/09/{i:08x}.pdf" for i in (1, 2)], 9)
    stable = _at_start("s3:GetObject", [f"{eu}/config/a.json"])
    unrelated = _at_start("s3:GetObject", [f"{other}/invoices/x.pdf"])
    replaced, patterns = generalize(busy + quiet + stable + unrelated, start=START, end=END)
    assert {replaced[(s.action, s.arn)] for s in quiet} == {f"{eu}/invoices/*"}
    # Not the bucket's other keys, and not another bucket of the same key space.
    assert (stable[0].action, stable[0].arn) not in replaced
    assert (unrelated[0].action, unrelated[0].arn) not in replaced
    (learned,) = [p for p in patterns if p.pattern == f"{eu}/invoices/*"]
    assert learned.covers == tuple(sorted(s.arn for s in quiet))
    assert learned.distinct == 2  # what it covers; learned from its sibling, and says so
    assert learned.sibling


def _spread(action: str, arns: list[str]) -> list[Seen]:
    """The ARNs first used in as many parts of the window as there are ARNs."""
    return _daily(action, arns, 60 / len(arns))


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        # Three buckets whose names hold digits are names, not ids: no bucket wildcard.
        (
            _spread("s3:GetObject", [f"arn:aws:s3:::acme-{n}/config.json" for n in (10, 11, 12)]),
            {f"arn:aws:s3:::acme-{n}/config.json" for n in (10, 11, 12)},
        ),
        (
            _spread("s3:ListBucket", [f"arn:aws:s3:::acme-{n}" for n in (10, 11, 12)]),
            {f"arn:aws:s3:::acme-{n}" for n in (10, 11, 12)},
        ),
        # Words that happen to be hex are names too.
        (
            _spread(
                "sqs:SendMessage",
                [f"arn:aws:sqs:us-east-1:1:{q}" for q in ("facade", "decade", "deface")],
            ),
            {f"arn:aws:sqs:us-east-1:1:{q}" for q in ("facade", "decade", "deface")},
        ),
        # Many new names keep their common prefix: never a bare "*".
        (
            _spread(
                "dynamodb:GetItem",
                [f"arn:aws:dynamodb:us-east-1:1:table/tmp-{n:04d}" for n in range(10)],
            ),
            {"arn:aws:dynamodb:us-east-1:1:table/tmp-*"},
        ),
        (
            _spread(
                "dynamodb:GetItem", [f"arn:aws:dynamodb:us-east-1:1:table/{t}" for t in "abcdefgh"]
            ),
            {f"arn:aws:dynamodb:us-east-1:1:table/{t}" for t in "abcdefgh"},
        ),
        # A number that is not a date stays: customers/7/ is one customer's folder.
        (
            _daily("s3:GetObject", [f"{BUCKET}/customers/7/inv-{i:08x}.pdf" for i in range(20)]),
            {f"{BUCKET}/customers/7/*"},
        ),
        (
            _daily("s3:GetObject", [f"{BUCKET}/customer=12/{i:08x}.json" for i in range(20)]),
            {f"{BUCKET}/customer=12/*"},
        ),
        # A Hive-style date partition goes with its hour.
        (
            _daily(
                "s3:GetObject",
                [f"{BUCKET}/events/dt=2026-09-{1 + i:02d}/hour=03/{i:08x}.json" for i in range(20)],
            ),
            {f"{BUCKET}/events/*"},
        ),
        # Account fields stay whatever their variable is called (kafka's ${VpcOwnerAccount}).
        (
            _spread(
                "kafka:DescribeVpcConnection",
                [
                    f"arn:aws:kafka:us-east-1:{a}:vpc-connection/111122223333/c1/u-1"
                    for a in ("111111111111", "222222222222", "333333333333", "444444444444")
                ],
            ),
            {
                f"arn:aws:kafka:us-east-1:{a}:vpc-connection/111122223333/c1/u-1"
                for a in ("111111111111", "222222222222", "333333333333", "444444444444")
            },
        ),
    ],
)
def test_names_accounts_and_ids_that_look_like_dates_are_not_widened(seen, expected):
    """What must not become a wildcard, from a reviewer's hostile inputs."""
    assert set(_patterns(seen).values()) == expected


def test_one_destructive_call_does_not_inherit_a_read_pattern():
    """Many reads under a prefix and one delete there: the delete stays exact."""
    reads = _daily("s3:GetObject", [f"{BUCKET}/orders/{i:012x}.json" for i in range(30)])
    delete = [Seen("s3:DeleteObject", f"{BUCKET}/orders/{1:012x}.json", START)]
    replaced, _ = generalize(reads + delete, start=START, end=END)
    assert ("s3:DeleteObject", delete[0].arn) not in replaced
    assert replaced[("s3:GetObject", reads[5].arn)] == f"{BUCKET}/orders/*"


def test_hostile_names_stay_literal_in_patterns():
    """A wildcard character in a stable part of a churning resource is escaped, never a glob."""
    seen = _daily("s3:GetObject", [f"arn:aws:s3:::b/*/?/{i:08x}" for i in range(20)])
    assert set(_patterns(seen).values()) == {"arn:aws:s3:::b/${*}/${?}/*"}


def test_lambda_versions_churn_beside_an_alias():
    """Lambda developer guide: a qualified ARN names a version or an alias of the function; new
    versions keep coming, so the function's qualified ARNs become one pattern (the alias in it),
    and its unqualified ARN and other functions stay exact."""
    fn = "arn:aws:lambda:us-east-1:111122223333:function:api"
    versions = _daily("lambda:InvokeFunction", [f"{fn}:{17 + i}" for i in range(6)], 10)
    others = _at_start(
        "lambda:InvokeFunction", [f"{fn}:live", fn, f"{fn}-worker:3", f"{fn}-worker:live"]
    )
    assert set(_patterns(versions + others).values()) == {
        f"{fn}:*",
        fn,
        f"{fn}-worker:3",
        f"{fn}-worker:live",
    }
