"""Usage over the lake: the SQL's answers checked against counts taken from the raw records."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

import trailmin
from tests.conftest import SAMPLE_LOGS, log_name, make_record, write_delivery
from trailmin.aws.partitions import partition_of_region
from trailmin.errors import UsageError
from trailmin.lake.store import Store
from trailmin.mapping.outcomes import outcome_of
from trailmin.mapping.permissions import event_permissions
from trailmin.mapping.resources import Context
from trailmin.query import sql as queries

# Written out here rather than imported, so the test does not share the code's list.
REFUSED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "AuthorizationErrorException",
}


def raw_records(folder: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or "Digest" in path.name or path.suffix not in {".gz", ".json"}:
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        found.extend(json.loads(data)["Records"])
    return found


def principal_of(record: dict[str, Any]) -> str | None:
    """The principal as DESIGN.md says, worked out by hand for the identity types used here."""
    identity = record["userIdentity"]
    if identity.get("type") == "AssumedRole":
        return identity["sessionContext"]["sessionIssuer"]["arn"]
    if identity.get("type") in {"IAMUser", "Root"}:
        return identity.get("arn")
    return None


def when(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))


def expected_usage(records: list[dict[str, Any]], principal: str) -> pd.DataFrame:
    """Usage of one principal, computed from the raw records one by one (no SQL, no lake)."""
    rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {
            "calls": 0,
            "succeeded": 0,
            "denied": 0,
            "errors": 0,
            "authorized": 0,
            "times": [],
            "regions": set(),
        }
    )
    for record in records:
        if principal_of(record) != principal:
            continue
        region = record.get("awsRegion")
        # The trail's account, else the caller's (older records have no recipientAccountId).
        account = record.get("recipientAccountId") or record["userIdentity"].get("accountId")
        context = Context(
            partition_of_region(region),
            region or "",
            account or "",
            record.get("requestParameters") or {},
            tuple(r["ARN"] for r in record.get("resources") or () if r.get("ARN")),
            record["userIdentity"].get("arn") or "",  # IAM calls without userName: the caller
        )
        code = record.get("errorCode")
        needed = event_permissions(
            record["eventSource"],
            record["eventName"],
            record.get("eventType"),
            context,
            error_code=code,
        )
        for permission in needed:
            row = rows[permission.action, permission.resource]
            row["calls"] += 1
            if code is None:
                row["succeeded"] += 1
            elif code in REFUSED:
                row["denied"] += 1
            else:
                row["errors"] += 1
            if code is None or outcome_of(code) == "authorized":
                row["authorized"] += 1
            row["times"].append(when(record))
            row["regions"].add(region)
    return pd.DataFrame(
        [
            {
                "action": action,
                "resource": resource,
                "calls": row["calls"],
                "succeeded": row["succeeded"],
                "denied": row["denied"],
                "errors": row["errors"],
                "authorized": row["authorized"],
                "first_seen": min(row["times"]),
                "last_seen": max(row["times"]),
                "regions": sorted(row["regions"]),
            }
            for (action, resource), row in sorted(rows.items())
        ]
    )


COMPARED = [
    "action",
    "resource",
    "calls",
    "succeeded",
    "denied",
    "errors",
    "authorized",
    "first_seen",
    "last_seen",
]


def assert_same_usage(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.sort_values(["action", "resource"]).reset_index(drop=True)
    assert len(got) == len(want) > 0
    for column in COMPARED:
        left = got[column].astype(object).tolist()
        right = want[column].tolist()
        if column.endswith("_seen"):
            left = [t.to_pydatetime() for t in got[column]]
        assert left == right, column
    assert got["regions"].tolist() == want["regions"].tolist()


@pytest.fixture(scope="module")
def invictus(tmp_path_factory, real_logs):
    lake = tmp_path_factory.mktemp("usage") / "lake"
    trailmin.ingest([real_logs / "invictus-ir"], lake=lake, workers=1)
    return lake, raw_records(real_logs / "invictus-ir")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    lake = tmp_path_factory.mktemp("usage") / "lake"
    trailmin.ingest([SAMPLE_LOGS], lake=lake, workers=1)
    return lake, raw_records(SAMPLE_LOGS)


# --- usage against the raw records ---------------------------------------------------------------

INVICTUS = "arn:aws:iam::123837392027:"


@pytest.mark.parametrize(
    "principal",
    [
        "user/bert-jan",  # 2,642 calls: successes, AccessDenied, throttling and not-found errors
        "user/benjamin",
        "role/stratus-red-team-ec2-get-password-data-role",  # every call refused
        "role/stratus-red-team-ec2-steal-credentials-role",
    ],
)
def test_invictus_usage_matches_the_raw_records(invictus, principal):
    lake, records = invictus
    arn = INVICTUS + principal
    got = trailmin.usage(lake, principals=[arn])
    assert set(got["principal"]) == {arn}
    assert_same_usage(got, expected_usage(records, arn))


def test_refused_calls_are_denied_not_used(invictus):
    """29 GetPasswordData calls on 29 instances, all refused with Client.UnauthorizedOperation.

    Each is scoped to the instance its request names (``instanceId``), the resource AWS's own
    refusal names."""
    lake, _ = invictus
    got = trailmin.usage(
        lake, principals=[INVICTUS + "role/stratus-red-team-ec2-get-password-data-role"]
    )
    assert set(got["action"]) == {"ec2:GetPasswordData"}
    assert len(got) == 29
    assert all(
        r.startswith("arn:aws:ec2:us-east-1:123837392027:instance/i-") for r in got["resource"]
    )
    assert got[["calls", "succeeded", "denied", "errors"]].sum().tolist() == [29, 0, 29, 0]
    assert got["first_seen"].min() == pd.Timestamp("2023-07-10T11:54:47Z")
    assert got["last_seen"].max() == pd.Timestamp("2023-07-10T11:54:50Z")
    assert pd.isna(got["last_succeeded"][0])


def test_other_failures_are_errors(invictus):
    """benjamin's GetBucketPolicy on four buckets failed with NoSuchBucketPolicy: errors."""
    lake, _ = invictus
    got = trailmin.usage(lake, principals=[INVICTUS + "user/benjamin"], services=["s3"])
    policy = got[got["action"] == "s3:GetBucketPolicy"].set_index("resource")
    assert policy.loc[
        "arn:aws:s3:::invictus-aws-2022-09-28-pgd48", ["succeeded", "errors"]
    ].tolist() == [0, 1]
    assert policy.loc[
        "arn:aws:s3:::config-bucket-123837392027", ["succeeded", "errors"]
    ].tolist() == [1, 0]
    assert set(got["service"]) == {"s3"}


@pytest.mark.parametrize(
    "principal",
    [
        "arn:aws:iam::111122223333:role/service/app-backend",
        "arn:aws:iam::111122223333:user/legacy-batch",
        "arn:aws:iam::111122223333:user/bob",
        "arn:aws:iam::111122223333:root",
    ],
)
def test_sample_usage_matches_the_raw_records(sample, principal):
    lake, records = sample
    assert_same_usage(
        trailmin.usage(lake, principals=[principal]), expected_usage(records, principal)
    )


def test_inferred_pass_role_is_marked(sample):
    lake, _ = sample
    got = trailmin.usage(lake, services=["iam"])
    passed = got[got["action"] == "iam:PassRole"]
    assert len(passed) > 0
    assert passed["inferred"].all()
    assert not got[got["action"] != "iam:PassRole"]["inferred"].any()


# --- filters -------------------------------------------------------------------------------------


def test_window_filters_match_the_raw_records(invictus):
    lake, records = invictus
    arn = INVICTUS + "user/bert-jan"
    start, end = datetime(2023, 7, 10, 12, 0, tzinfo=UTC), datetime(2023, 7, 10, 12, 15, tzinfo=UTC)
    inside = [r for r in records if start <= when(r) < end]
    got = trailmin.usage(lake, principals=[arn], start="2023-07-10T12:00Z", end="2023-07-10T12:15Z")
    assert_same_usage(got, expected_usage(inside, arn))
    assert got["first_seen"].min() >= pd.Timestamp(start)
    assert got["last_seen"].max() < pd.Timestamp(end)


def test_days_count_back_from_the_newest_event(sample):
    lake, records = sample
    newest = max(when(r) for r in records)
    arn = "arn:aws:iam::111122223333:role/service/app-backend"
    inside = [r for r in records if when(r) > newest - timedelta(days=1)]
    got = trailmin.usage(lake, principals=[arn], days=1)
    assert_same_usage(got, expected_usage(inside, arn))
    everything = trailmin.usage(lake, principals=[arn])
    assert got["calls"].sum() < everything["calls"].sum()


def test_days_and_a_window_together_are_refused(sample):
    lake, _ = sample
    with pytest.raises(UsageError, match="either days or start/end"):
        trailmin.usage(lake, days=3, start="2026-10-05")


def test_principal_globs_accounts_regions_and_services(sample):
    lake, _ = sample
    every = trailmin.usage(lake)
    users = trailmin.usage(lake, principals=["arn:aws:iam::*:user/*"])
    assert set(users["principal"]) == {p for p in every["principal"] if ":user/" in p}
    one = trailmin.usage(lake, principals=["arn:aws:iam::111122223333:user/bo?"])
    assert set(one["principal"]) == {"arn:aws:iam::111122223333:user/bob"}
    east = trailmin.usage(lake, regions=["eu-west-1"])
    assert all(regions == ["eu-west-1"] for regions in east["regions"])
    assert 0 < east["calls"].sum() < every["calls"].sum()
    kms = trailmin.usage(lake, services=["KMS"])
    assert set(kms["service"]) == {"kms"}
    assert kms["calls"].sum() == every[every["service"] == "kms"]["calls"].sum()
    assert trailmin.usage(lake, accounts=["999999999999"]).empty


def test_a_glob_matches_underscores_and_percents_literally(tmp_path):
    records = [
        make_record(0, userIdentity=identity("svc_a")),
        make_record(1, userIdentity=identity("svcXa")),
        make_record(2, userIdentity=identity("svc%a")),
    ]
    lake = lake_of(tmp_path, records)
    assert set(trailmin.usage(lake, principals=["*:user/svc_a"])["principal"]) == {
        "arn:aws:iam::111122223333:user/svc_a"
    }
    assert set(trailmin.usage(lake, principals=["*:user/svc%*"])["principal"]) == {
        "arn:aws:iam::111122223333:user/svc%a"
    }


def test_frames_have_utc_times_and_categories(sample):
    lake, _ = sample
    frame = trailmin.usage(lake)
    assert str(frame["first_seen"].dtype) == "datetime64[us, UTC]"
    assert frame["principal"].dtype == "category"
    assert frame["calls"].dtype == "int64"
    assert frame["inferred"].dtype == "boolean"
    assert (frame["calls"] == frame["succeeded"] + frame["denied"] + frame["errors"]).all()


# --- principals and services ---------------------------------------------------------------------


def test_principal_summaries_match_the_raw_records(sample):
    lake, records = sample
    frame = trailmin.principals(lake).set_index("principal")
    for arn in (
        "arn:aws:iam::111122223333:role/service/app-backend",
        "arn:aws:iam::111122223333:user/legacy-batch",
    ):
        mine = [r for r in records if principal_of(r) == arn]
        row = frame.loc[arn]
        assert row["calls"] == len(mine)
        assert row["succeeded"] == sum(1 for r in mine if "errorCode" not in r)
        assert row["denied"] == sum(1 for r in mine if r.get("errorCode") in REFUSED)
        assert row["first_seen"] == min(map(when, mine))
        assert row["last_seen"] == max(map(when, mine))
        used = expected_usage(records, arn)
        assert row["actions"] == used["action"].nunique()
        assert row["service_list"] == sorted({a.split(":")[0] for a in used["action"]})
    # Busiest first.
    assert frame["calls"].tolist() == sorted(frame["calls"], reverse=True)


def test_who_is_a_person(sample):
    lake, _ = sample
    frame = trailmin.principals(lake).set_index("principal")
    human = frame["human"].to_dict()
    assert human["arn:aws:iam::111122223333:root"] is True
    assert human["arn:aws:iam::111122223333:user/bob"] is True  # console sign-in with MFA
    assert human["arn:aws:iam::111122223333:user/legacy-batch"] is False  # an access key only
    assert human["arn:aws:iam::111122223333:role/service/app-backend"] is False
    sso = [p for p in human if "AWSReservedSSO_" in p]
    assert sso
    assert all(human[p] for p in sso)
    assert frame.loc["arn:aws:iam::111122223333:user/legacy-batch", "access_keys"] == 1


def test_invictus_principals(invictus):
    lake, _ = invictus
    frame = trailmin.principals(lake).set_index("principal")
    refused = frame.loc[INVICTUS + "role/stratus-red-team-ec2-get-password-data-role"]
    assert refused[["calls", "succeeded", "denied", "errors"]].tolist() == [29, 0, 29, 0]
    assert frame.loc[INVICTUS + "user/bert-jan", "principal_type"] == "IAMUser"
    assert frame.loc["secretsmanager.amazonaws.com", "principal_type"] == "AWSService"
    assert not frame.loc["secretsmanager.amazonaws.com", "human"]


def test_a_call_counts_once_per_service(tmp_path):
    """CopyObject needs s3:GetObject and s3:PutObject: one s3 call, two s3 actions."""
    copy = make_record(
        0,
        eventSource="s3.amazonaws.com",
        eventName="CopyObject",
        requestParameters={"bucketName": "dst", "key": "b", "x-amz-copy-source": "src/a"},
    )
    lake = lake_of(tmp_path, [copy])
    services = trailmin.services(lake).set_index("service")
    assert services.loc["s3", ["calls", "actions", "principals"]].tolist() == [1, 2, 1]
    usage = trailmin.usage(lake)
    assert usage[["action", "resource", "calls"]].values.tolist() == [
        ["s3:GetObject", "arn:aws:s3:::src/a", 1],
        ["s3:PutObject", "arn:aws:s3:::dst/b", 1],
    ]


def test_an_empty_lake_gives_empty_frames(tmp_path):
    lake = tmp_path / "lake"
    trailmin.Lake(lake)  # reads nothing
    Store.create(lake)
    assert trailmin.usage(lake).empty
    assert list(trailmin.usage(lake).columns) == list(queries.USAGE_COLUMNS)
    assert trailmin.principals(lake, days=7).empty


# --- the Lake object -----------------------------------------------------------------------------


def test_the_lake_object_asks_the_same_questions(sample):
    lake, _ = sample
    view = trailmin.Lake(lake)
    pd.testing.assert_frame_equal(view.usage(days=2), trailmin.usage(lake, days=2))
    pd.testing.assert_frame_equal(view.principals(), trailmin.principals(lake))
    pd.testing.assert_frame_equal(
        view.services(services=["s3"]), trailmin.services(lake, services=["s3"])
    )
    assert len(view.events(limit=5)) == 5
    assert view.sql("SELECT count(*) AS n FROM events")["n"][0] == view.info().rows
    assert not view.mapping_report().to_frame().empty


# --- the SQL is Trino's too ----------------------------------------------------------------------

FILTERS = queries.Filters(
    start=datetime(2026, 10, 5, tzinfo=UTC),
    end=datetime(2026, 10, 8, 12, tzinfo=UTC),
    accounts=("111122223333", "o'brien"),
    regions=("us-east-1",),
    principals=("arn:aws:iam::111122223333:user/bob", "arn:aws:iam::*:role/app_*"),
    services=("s3", "kms"),
)
BUILDERS = [queries.usage_sql, queries.principals_sql, queries.services_sql]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
@pytest.mark.parametrize("filters", [queries.Filters(), FILTERS], ids=["bare", "filtered"])
def test_the_sql_parses_as_trino(build, filters):
    text = build(filters, queries.TRINO)
    tree = sqlglot.parse_one(text, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
    # Every function is one sqlglot knows (an unknown name would be parsed as Anonymous).
    unknown = {f.name for f in tree.find_all(exp.Anonymous)}
    assert not unknown
    # The Trino text differs from DuckDB's only where the dialect layer says.
    duck = build(filters, queries.DUCKDB)
    assert _neutral(text, queries.TRINO) == _neutral(duck, queries.DUCKDB)
    tree.sql(dialect="trino", unsupported_level=sqlglot.ErrorLevel.RAISE)
    if filters is FILTERS:
        assert "o''brien" in text
        assert "app\\_%" in text


def _neutral(text: str, dialect: queries.Dialect) -> str:
    text = text.replace(dialect.permissions_of("e.permissions"), "<permissions>")
    for moment in (FILTERS.start, FILTERS.end):
        assert moment is not None
        text = text.replace(dialect.timestamp(moment), "<time>")
    return text


def test_trino_reads_the_window_as_utc_timestamps():
    text = queries.usage_sql(FILTERS, queries.TRINO)
    assert "e.event_time >= TIMESTAMP '2026-10-05 00:00:00.000000 UTC'" in text
    assert "e.\"date\" <= DATE '2026-10-08'" in text
    assert "UNNEST(e.permissions) AS p(action, resource, derivation, inferred)" in text


def test_a_bad_service_or_window_is_refused():
    with pytest.raises(UsageError, match="not an IAM service prefix"):
        queries.Filters(services=("s3'; drop",))
    with pytest.raises(UsageError, match="is not after"):
        queries.Filters(
            start=datetime(2026, 1, 2, tzinfo=UTC), end=datetime(2026, 1, 1, tzinfo=UTC)
        )
    with pytest.raises(UsageError, match="Athena"):
        queries.dialect_named("oracle")
    assert queries.dialect_named("Athena") is queries.TRINO


# --- the command line ---------------------------------------------------------------------------


def trailmin_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trailmin", *args], capture_output=True, text=True, check=False
    )


def test_usage_command_prints_json_and_csv_without_noise(sample):
    lake, _ = sample
    arn = "arn:aws:iam::111122223333:user/legacy-batch"
    expected = trailmin.usage(lake, principals=[arn])
    as_json = trailmin_cli("usage", "--lake", str(lake), "--principal", arn, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    assert [(r["action"], r["resource"], r["calls"]) for r in rows] == list(
        zip(expected["action"], expected["resource"], expected["calls"], strict=True)
    )
    assert rows[0]["first_seen"].endswith("Z")
    assert isinstance(rows[0]["regions"], list)
    # Not a terminal: CSV by default, a header and one line a row, nothing else on stdout.
    as_csv = trailmin_cli("usage", "--lake", str(lake), "--principal", arn)
    assert as_csv.returncode == 0, as_csv.stderr
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(parsed) == len(expected)
    assert [int(r["denied"]) for r in parsed] == expected["denied"].tolist()


def test_principals_and_services_commands(sample):
    lake, _ = sample
    run = trailmin_cli("principals", "--lake", str(lake), "--format", "json", "--limit", "2")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    expected = trailmin.principals(lake).head(2)
    assert [r["principal"] for r in rows] == expected["principal"].tolist()
    assert [r["human"] for r in rows] == expected["human"].tolist()
    table = trailmin_cli("services", "--lake", str(lake), "--format", "table", "--service", "kms")
    assert table.returncode == 0, table.stderr
    assert "kms" in table.stdout
    assert "s3" not in table.stdout


def test_usage_command_prints_its_sql_for_athena(sample):
    lake, _ = sample
    run = trailmin_cli("usage", "--lake", str(lake), "--days", "2", "--sql", "--dialect", "trino")
    assert run.returncode == 0, run.stderr
    assert (
        "CROSS JOIN UNNEST(e.permissions) AS p(action, resource, derivation, inferred)"
        in run.stdout
    )
    assert "TIMESTAMP '2026-10-16 23:" in run.stdout  # two days back from the newest event
    sqlglot.parse_one(run.stdout, read="trino", error_level=sqlglot.ErrorLevel.RAISE)


def test_usage_command_errors_say_the_fix(sample, tmp_path):
    lake, _ = sample
    both = trailmin_cli("usage", "--lake", str(lake), "--days", "2", "--start", "2026-10-05")
    assert both.returncode == 2
    assert "give either days or start/end, not both" in both.stderr
    assert both.stdout == ""
    missing = trailmin_cli("principals", "--lake", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert "not a trailmin lake" in missing.stderr


# --- helpers -------------------------------------------------------------------------------------


def identity(name: str) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": f"arn:aws:iam::111122223333:user/{name}",
        "accountId": "111122223333",
        "accessKeyId": "AKIAEXAMPLE",
        "userName": name,
    }


def lake_of(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    source = tmp_path / "logs"
    write_delivery(source / log_name("111122223333", "us-east-1", "20261005T0000Z", "a"), records)
    lake = tmp_path / "lake"
    trailmin.ingest([source], lake=lake, workers=1)
    return lake
