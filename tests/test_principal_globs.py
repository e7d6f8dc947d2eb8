"""Principal globs: one rule (``*`` any run, ``?`` one character, the rest literal) everywhere."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot
from sqlglot import exp

import trailmin
from tests.conftest import ROOT, SAMPLE_LOGS
from trailmin.query import sql as queries

AUTH = ROOT / "examples" / "sample-auth.json"
ARN = "arn:aws:iam::111122223333:"
SSO = (
    "role/aws-reserved/sso.amazonaws.com/eu-west-1/"
    "AWSReservedSSO_AdministratorAccess_ef13406b01f4da88"
)

# Every principal of the sample lake and of the sample authorization details, by the part after
# the account; "AWS Internal" and the service principals carry no account, and the vendor's account
# (its AssumeRole calls, its caller known by its ID only) is another.
NAMES = [
    "role/ci-deploy",
    "role/old-etl",
    "role/reports-2024",
    "role/service/app-backend",
    "role/vendor-audit",
    SSO,
    "root",
    "user/alice",
    "user/bob",
    "user/export-job",
    "user/legacy-batch",
]
UNIVERSE = [ARN + n for n in NAMES] + [
    "arn:aws:iam::999988887777:root",
    "AWS Internal",
    "cloudtrail.amazonaws.com",
    "ecs-tasks.amazonaws.com",
    "lambda.amazonaws.com",
]

# The patterns asked for, and the principals they match, written out by hand.
CASES = [
    (("*:user/a*",), {"user/alice"}),
    (("arn:aws:iam::*:user/[ab]*",), set()),  # brackets are literal: not alice and bob
    (("*_ci*",), set()),  # _ is literal: not role/ci-deploy
    (("*O_A*",), {SSO}),
    (("*%*",), set()),  # % is literal: not everything
    ((ARN + "user/?ob",), {"user/bob"}),
    (("*:user/???",), {"user/bob"}),  # ? is exactly one character
    ((ARN + "user/bob",), {"user/bob"}),
    ((ARN + "user/bo",), set()),  # an exact ARN is not a prefix
    (
        ("*:role/*",),
        {
            "role/ci-deploy",
            "role/old-etl",
            "role/reports-2024",
            "role/service/app-backend",
            "role/vendor-audit",
            SSO,
        },
    ),
    (("*:user/a*", ARN + "role/ci-deploy"), {"user/alice", "role/ci-deploy"}),
]
IDS = [" ".join(patterns) for patterns, _ in CASES]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    lake = tmp_path_factory.mktemp("globs") / "lake"
    trailmin.ingest([SAMPLE_LOGS], lake=lake, workers=1)
    return lake


@pytest.fixture(scope="module")
def details():
    return trailmin.authorization_details(auth_file=AUTH)


def arns(names: set[str]) -> set[str]:
    return {ARN + n for n in names}


@pytest.mark.parametrize(("patterns", "names"), CASES, ids=IDS)
def test_the_python_matcher_follows_the_rule(patterns, names):
    """principal_matcher picks out exactly the principals written in the table."""
    matches = queries.principal_matcher(patterns)
    assert {a for a in UNIVERSE if matches(a)} == arns(names)


def test_no_patterns_match_every_principal():
    """An empty filter restricts nothing."""
    assert all(queries.principal_matcher(())(a) for a in UNIVERSE)


@pytest.mark.parametrize(("patterns", "names"), CASES, ids=IDS)
def test_every_lake_function_selects_the_same_principals(sample, details, patterns, names):
    """read_events, principals, usage, services and diff agree with the table."""
    everyone = set(trailmin.principals(sample)["principal"])
    users = set(trailmin.usage(sample)["principal"])
    expected = arns(names)

    events = trailmin.read_events(sample, principals=patterns, columns=["principal_arn"])
    assert set(events["principal_arn"]) == expected & everyone
    assert set(trailmin.principals(sample, principals=patterns)["principal"]) == expected & everyone
    used = trailmin.usage(sample, principals=patterns)
    assert set(used["principal"]) == expected & users
    by_service = trailmin.services(sample, principals=patterns)
    assert dict(zip(by_service["service"], by_service["principals"], strict=True)) == (
        used.groupby("service", observed=True)["principal"].nunique().to_dict()
    )
    report = trailmin.diff(sample, details, principals=patterns)
    held = {a for a in details.principals if ":role/aws-service-role/" not in a}
    assert [d.principal for d in report.diffs] == sorted(expected & held)


VALUES = ["a%b", "a_b", "axb", "a\\b", "a\\\\b", "[ab]c", "ac", "a'b", "ab", "a", "x\\", ""]
RAW = [
    ("a%b", {"a%b"}),
    ("a_b", {"a_b"}),
    ("a?b", {"a%b", "a_b", "axb", "a\\b", "a'b"}),
    ("a*b", {"a%b", "a_b", "axb", "a\\b", "a\\\\b", "a'b", "ab"}),
    ("a\\*", {"a\\b", "a\\\\b"}),
    ("*\\", {"x\\"}),
    ("[ab]*", {"[ab]c"}),
    ("*'*", {"a'b"}),
    ("*", set(VALUES)),
    ("?*", set(VALUES) - {""}),
]


@pytest.mark.parametrize(("glob", "matched"), RAW, ids=[g for g, _ in RAW])
def test_duckdb_and_python_agree_on_the_awkward_characters(glob, matched):
    """The SQL condition (run on DuckDB) and the Python matcher give the same answers."""
    condition = queries.principal_condition([glob], "v")
    with duckdb.connect() as db:
        db.execute("CREATE TABLE t (v VARCHAR)")
        db.executemany("INSERT INTO t VALUES (?)", [[v] for v in VALUES])
        found = {row[0] for row in db.sql(f"SELECT v FROM t WHERE {condition}").fetchall()}
    assert found == matched
    assert {v for v in VALUES if queries.principal_matcher([glob])(v)} == matched


def test_an_exact_arn_is_compared_by_equality():
    """Patterns without * or ? become IN (…), the globs LIKE … ESCAPE."""
    condition = queries.principal_condition([ARN + "user/bob", "*:user/a*"], "e.principal_arn")
    assert condition == (
        f"(e.principal_arn IN ('{ARN}user/bob') OR e.principal_arn LIKE '%:user/a%' ESCAPE '\\')"
    )


@pytest.mark.parametrize("build", [queries.usage_sql, queries.principals_sql, queries.services_sql])
def test_the_trino_sql_of_every_glob_parses(build):
    """Each glob of the table gives Trino SQL that sqlglot reads, with an ESCAPE on each LIKE."""
    patterns = (*(p for ps, _ in CASES for p in ps), "a\\*", "*'*")
    text = build(queries.Filters(principals=patterns), queries.TRINO)
    tree = sqlglot.parse_one(text, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    escapes = [e for e in tree.find_all(exp.Escape) if isinstance(e.this, exp.Like)]
    likes = {e.this.expression.name for e in escapes if e.this.this.sql() == "e.principal_arn"}
    assert likes == {queries.like_pattern(p) for p in patterns if queries.is_glob(p)}
    assert all(e.expression.name == "\\" for e in escapes)
    tree.sql(dialect="trino", unsupported_level=sqlglot.ErrorLevel.RAISE)
