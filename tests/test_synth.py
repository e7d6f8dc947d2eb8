"""The synthetic trail: deterministic, laid out as CloudTrail writes it, and realistic."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import re
from collections import Counter
from datetime import date
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest

from trailmin.errors import UsageError
from trailmin.synth.trail import iter_records, write_trail

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_logs"
SCRIPT = ROOT / "scripts" / "make_sample_logs.py"

REGION = r"[a-z]{2}(?:-[a-z]+)+-\d"
LOG_KEY = re.compile(
    rf"^AWSLogs/(?:o-[a-z0-9]{{10,32}}/)?(?P<account>\d{{12}})/CloudTrail/(?P<region>{REGION})/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"(?P=account)_CloudTrail_(?P=region)_(?P=y)(?P=m)(?P=d)T(?P<hhmm>\d{4})Z_"
    r"[A-Za-z0-9]{16}\.json\.gz$"
)
DIGEST_KEY = re.compile(
    rf"^AWSLogs/(?:o-[a-z0-9]{{10,32}}/)?(?P<account>\d{{12}})/CloudTrail-Digest/"
    rf"(?P<region>{REGION})/(?P<y>\d{{4}})/(?P<m>\d{{2}})/(?P<d>\d{{2}})/"
    r"(?P=account)_CloudTrail-Digest_(?P=region)_(?P<trail>[A-Za-z0-9._-]+)_"
    rf"(?P<home>{REGION})_(?P=y)(?P=m)(?P=d)T\d{{6}}Z\.json\.gz$"
)
SMALL: dict[str, Any] = {
    "seed": 3,
    "start": date(2026, 3, 2),
    "days": 1,
    "events_per_day": 400,
    "events_per_file": 40,
}


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def gunzip_json(data: bytes) -> Any:
    return json.loads(gzip.decompress(data))


def log_records(files: dict[str, bytes]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for key in sorted(files):
        if LOG_KEY.match(key):
            records.extend(gunzip_json(files[key])["Records"])
    return records


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_sample_logs", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    return log_records(tree(SAMPLE))


# ---------------------------------------------------------------------- determinism


def test_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    """Two runs with the same arguments write byte-identical trees; another seed does not."""
    first = write_trail(tmp_path / "a", **SMALL)
    second = write_trail(tmp_path / "b", **SMALL)
    other = write_trail(tmp_path / "c", **{**SMALL, "seed": 4})
    a, b, c = tree(tmp_path / "a"), tree(tmp_path / "b"), tree(tmp_path / "c")
    assert first == second
    assert a == b
    assert len(a) == first.files + first.digest_files
    assert set(a) != set(c)
    assert log_records(a) != log_records(c)
    # the day's 400, and the vendor's audit on the first day (vendor.py): 7 more
    assert other.events == first.events == 400 + 7


def test_iter_records_is_ordered_counted_and_unique() -> None:
    """Records come in time order, exactly days x events_per_day x accounts and those of the
    episodes outside the budget (Shared.aside), IDs unique."""
    accounts = ("111122223333", "444455556666")
    records = list(
        iter_records(seed=5, start=date(2026, 1, 3), days=2, events_per_day=700, accounts=accounts)
    )
    # per account: the vendor's audit on the first day (7), the leaked key's check on the last (1)
    assert len(records) == 2 * 700 * 2 + 2 * (7 + 1)
    times = [r["eventTime"] for r in records]
    assert times == sorted(times)
    assert times[0] >= "2026-01-03T00:00:00Z"
    assert times[-1] < "2026-01-05T00:00:00Z"
    assert len({r["eventID"] for r in records}) == len(records)
    per_account = Counter(r["recipientAccountId"] for r in records)
    assert per_account == {"111122223333": 1408, "444455556666": 1408}


def test_written_records_are_iter_records(tmp_path: Path) -> None:
    """write_trail writes exactly the records iter_records yields, none lost or changed."""
    summary = write_trail(tmp_path, **SMALL)
    written = log_records(tree(tmp_path))
    options = {k: v for k, v in SMALL.items() if k != "events_per_file"}
    expected = json.loads(msgspec.json.encode(list(iter_records(**options))))
    assert summary.events == len(written) == 400 + 7  # and the vendor's audit
    assert sorted(written, key=lambda r: r["eventID"]) == sorted(
        expected, key=lambda r: r["eventID"]
    )
    assert summary.uncompressed_bytes > 3 * summary.bytes


# ---------------------------------------------------------------------- layout and digests


def test_files_are_named_and_laid_out_as_cloudtrail_does(tmp_path: Path) -> None:
    """Every file is a log or a digest at its CloudTrail key, in the date folder of its name."""
    accounts = ("111122223333", "444455556666")
    summary = write_trail(
        tmp_path, **{**SMALL, "accounts": accounts, "org_id": "o-exampleorg1"}, digest=True
    )
    files = tree(tmp_path)
    logs = [k for k in files if LOG_KEY.match(k)]
    digests = [k for k in files if DIGEST_KEY.match(k)]
    assert sorted(logs + digests) == sorted(files)
    assert len(logs) == summary.files
    assert len(digests) == summary.digest_files
    assert {k.split("/")[1] for k in files} == {"o-exampleorg1"}
    places = {(m["account"], m["region"]) for m in map(LOG_KEY.match, logs) if m}
    assert places == {(a, r) for a in accounts for r in ("us-east-1", "eu-west-1")}
    for key in digests:
        match = DIGEST_KEY.match(key)
        assert match is not None
        assert (match["trail"], match["home"]) == ("acme-trail", "us-east-1")
    for key in logs:
        records = gunzip_json(files[key])["Records"]
        assert 1 <= len(records) <= SMALL["events_per_file"]
        match = LOG_KEY.match(key)
        assert match is not None
        stamp = f"{match['y']}-{match['m']}-{match['d']}T{match['hhmm'][:2]}:{match['hhmm'][2:]}"
        # Named after its delivery: just after the newest event in it.
        assert stamp >= records[-1]["eventTime"][:16]
        assert {r["recipientAccountId"] for r in records} == {match["account"]}
        assert {r["awsRegion"] for r in records} == {match["region"]}


def test_digests_list_every_log_file_with_its_hash(tmp_path: Path) -> None:
    """Hourly digests chain, and list each log file once with the SHA-256 of its JSON."""
    write_trail(tmp_path, **SMALL)
    files = tree(tmp_path)
    logs = {k for k in files if LOG_KEY.match(k)}
    listed: list[str] = []
    chains: dict[tuple[str, str], list[str]] = {}
    for key in sorted(k for k in files if DIGEST_KEY.match(k)):
        digest = gunzip_json(files[key])
        assert digest["digestS3Object"] == key
        assert digest["digestSignatureAlgorithm"] == "SHA256withRSA"
        chains.setdefault((digest["awsAccountId"], key.split("/")[3]), []).append(key)
        for entry in digest["logFiles"]:
            assert entry["hashAlgorithm"] == "SHA-256"
            # As CloudTrail (and aws cloudtrail validate-logs) hashes it: the uncompressed file.
            body = gzip.decompress(files[entry["s3Object"]])
            assert entry["hashValue"] == hashlib.sha256(body).hexdigest()
            records = json.loads(body)["Records"]
            assert entry["oldestEventTime"] == records[0]["eventTime"]
            assert entry["newestEventTime"] == records[-1]["eventTime"]
            assert digest["digestStartTime"] <= digest["digestEndTime"]
            listed.append(entry["s3Object"])
    assert sorted(listed) == sorted(logs)
    assert set(chains) == {("111122223333", "us-east-1"), ("111122223333", "eu-west-1")}
    for chain in chains.values():
        assert len(chain) == 25  # one an hour, and one for what was delivered after midnight
        first = gunzip_json(files[chain[0]])
        assert first["previousDigestS3Object"] is None
        assert first["previousDigestHashValue"] is None
        for previous, key in pairwise(chain):
            digest = gunzip_json(files[key])
            assert digest["previousDigestS3Object"] == previous
            body = gzip.decompress(files[previous])
            assert digest["previousDigestHashValue"] == hashlib.sha256(body).hexdigest()
            assert json.loads(body)["digestEndTime"] == digest["digestStartTime"]


# ---------------------------------------------------------------------- the committed sample


def test_committed_sample_is_what_the_script_writes(tmp_path: Path) -> None:
    """sample_logs/ is exactly what scripts/make_sample_logs.py writes today.

    Gzipped files are compared on their content: another zlib build (zlib-ng) deflates the same
    bytes differently, and that is not a difference in the trail.
    """
    script = load_script()
    summary = script.make_sample_logs(tmp_path / "sample_logs")
    fresh, committed = tree(tmp_path / "sample_logs"), tree(SAMPLE)
    assert sorted(fresh) == sorted(committed), "run scripts/make_sample_logs.py"
    for key, data in fresh.items():
        if key.endswith(".gz"):
            assert gzip.decompress(data) == gzip.decompress(committed[key]), key
        else:
            assert data == committed[key], key
    # 1,400 and the vendor's audits (3 x 7: the first day, then weekly) and the leaked key's
    # check (1), in 6 more log files
    assert (summary.files, summary.digest_files, summary.events) == (449, 674, 1422)
    assert "scripts/make_sample_logs.py" in committed["README.md"].decode()


def test_sample_is_small() -> None:
    """The committed sample stays about a thousand small files and well under 2 MB."""
    files = tree(SAMPLE)
    assert len(files) == 1124
    assert sum(len(data) for data in files.values()) < 1_500_000
    assert any("/CloudTrail-Digest/" in key for key in files)


def test_sample_shows_every_principal(sample: list[dict[str, Any]]) -> None:
    """Each principal of the cast appears, with the identity shape CloudTrail gives it."""
    types = Counter(r["userIdentity"].get("type") for r in sample)
    assert types == {
        "AssumedRole": 872,  # the vendor-audit sessions' 18 calls among them
        "IAMUser": 388,
        "AWSService": 141,
        "AWSAccount": 3,  # the vendor's AssumeRole, seen from the role's account
        "SAMLUser": 10,
        "Root": 3,
        "WebIdentityUser": 3,
        None: 2,  # KMS rotating a key: accountId and invokedBy only
    }
    issuers = Counter(
        r["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
        for r in sample
        if r["userIdentity"].get("type") == "AssumedRole"
    )
    sso = (
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
        "AWSReservedSSO_AdministratorAccess_ef13406b01f4da88"
    )
    assert issuers == {
        "arn:aws:iam::111122223333:role/service/app-backend": 723,
        sso: 97,
        "arn:aws:iam::111122223333:role/ci-deploy": 34,
        "arn:aws:iam::111122223333:role/vendor-audit": 18,
    }
    users = Counter(
        r["userIdentity"].get("userName")
        for r in sample
        if r["userIdentity"].get("type") == "IAMUser"
    )
    assert users == {"legacy-batch": 187, "alice": 101, "bob": 58, "export-job": 42}
    batch = next(
        r
        for r in sample
        if r["userIdentity"].get("userName") == "legacy-batch" and r["eventTime"] < "2026-10-18"
    )
    assert batch["userIdentity"]["accessKeyId"].startswith("AKIA")
    assert batch["userAgent"].startswith("Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 ")
    export = [r for r in sample if r["userIdentity"].get("userName") == "export-job"]
    assert {r["userIdentity"]["accessKeyId"][:4] for r in export} == {"AKIA"}
    assert all("exec-env/AWS_Lambda_python3.12" in r["userAgent"] for r in export)
    assert len({r["eventTime"][:10] for r in export}) == 14  # nightly
    ci = next(
        r
        for r in sample
        if r["eventName"] == "GetCallerIdentity" and "ci-deploy" in r["userIdentity"].get("arn", "")
    )
    web = ci["userIdentity"]["sessionContext"]["webIdFederationData"]
    assert web["federatedProvider"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    sso_user = next(r for r in sample if r["userIdentity"].get("type") == "SAMLUser")
    assert sso_user["eventName"] == "AssumeRoleWithSAML"
    assert sso_user["userIdentity"]["userName"].endswith("@acme.example")


def test_sample_shows_sign_ins(sample: list[dict[str, Any]]) -> None:
    """Console sign-ins: root and alice with MFA (root after a mistyped password), bob without
    and failing now and then, SSO users."""
    logins = Counter(
        (
            r["userIdentity"]["type"],
            r["userIdentity"].get("userName") or r["userIdentity"]["arn"].rsplit("/", 1)[-1],
            r["additionalEventData"]["MFAUsed"],
            r["responseElements"]["ConsoleLogin"],
        )
        for r in sample
        if r["eventName"] == "ConsoleLogin"
    )
    assert logins == {
        ("Root", "arn:aws:iam::111122223333:root", "No", "Failure"): 1,
        ("Root", "arn:aws:iam::111122223333:root", "Yes", "Success"): 1,
        ("IAMUser", "alice", "Yes", "Success"): 11,
        ("IAMUser", "bob", "No", "Success"): 11,
        ("IAMUser", "bob", "No", "Failure"): 2,
        ("AssumedRole", "dev.patel@acme.example", "No", "Success"): 5,
        ("AssumedRole", "li.wei@acme.example", "No", "Success"): 3,
        ("AssumedRole", "maria.garcia@acme.example", "No", "Success"): 2,
    }
    failed = next(
        r
        for r in sample
        if r.get("errorMessage") == "Failed authentication"
        and r["userIdentity"]["type"] == "IAMUser"
    )
    assert "errorCode" not in failed
    assert "arn" not in failed["userIdentity"]
    assert all(
        r["eventType"] == "AwsConsoleSignIn" for r in sample if r["eventName"] == "ConsoleLogin"
    )
    root = [r["eventName"] for r in sample if r["userIdentity"].get("type") == "Root"]
    assert root == ["ConsoleLogin", "ConsoleLogin", "GetAccountSummary"]  # a mistyped password


def test_sample_shows_errors(sample: list[dict[str, Any]]) -> None:
    """Refused and failed calls, with the codes and messages real ones have; on the last day,
    the refusals of someone trying legacy-batch's key."""
    errors = Counter((r["errorCode"], r["eventName"]) for r in sample if "errorCode" in r)
    assert errors == {
        ("NoSuchKey", "GetObject"): 1,
        ("AccessDenied", "ListUsers"): 3,
        ("ThrottlingException", "GetParameter"): 5,
        ("AccessDeniedException", "CreateFunction20150331"): 1,
        ("ResourceNotFoundException", "GetFunction20150331v2"): 1,
        ("ValidationException", "Query"): 1,
        ("AccessDenied", "ListRoles"): 1,
        ("AccessDenied", "ListAttachedUserPolicies"): 1,
        ("AccessDenied", "GetAccountAuthorizationDetails"): 1,
        ("AccessDeniedException", "ListSecrets"): 1,
        ("AccessDeniedException", "ListFunctions20150331"): 1,
        ("AccessDeniedException", "DescribeOrganization"): 1,
    }
    intruder = [r for r in sample if r["sourceIPAddress"] == "91.123.166.67"]
    assert len(intruder) == 9 + 1  # its check of the key while the nightly run uses it
    assert {r["userIdentity"]["userName"] for r in intruder} == {"legacy-batch"}
    assert {r["eventTime"][:10] for r in intruder} == {"2026-10-18"}
    assert sum("errorCode" in r for r in intruder) == 7
    pass_role = next(r for r in sample if r["eventName"] == "CreateFunction20150331")
    assert pass_role["errorMessage"] == (
        "User: arn:aws:sts::111122223333:assumed-role/ci-deploy/GitHubActions is not authorized "
        "to perform: iam:PassRole on resource: arn:aws:iam::111122223333:role/service/app-backend"
        " because no identity-based policy allows the iam:PassRole action"
    )
    assert (
        pass_role["requestParameters"]["role"]
        == "arn:aws:iam::111122223333:role/service/app-backend"
    )


def test_sample_shows_data_and_service_events(sample: list[dict[str, Any]]) -> None:
    """S3 and DynamoDB data events, AWS service events, calls services make for principals."""
    categories = Counter((r["eventCategory"], r["managementEvent"]) for r in sample)
    assert categories == {("Data", False): 576, ("Management", True): 846}
    put = next(
        r
        for r in sample
        if r["eventName"] == "PutObject" and "app-data" in r["requestParameters"]["bucketName"]
    )
    bucket = put["requestParameters"]["bucketName"]
    key = put["requestParameters"]["key"]
    assert put["resources"] == [
        {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
        {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
    ]
    assert put["additionalEventData"]["bytesTransferredIn"] > 0
    assert key.startswith(("orders/", "invoices/", "exports/"))
    service_events = [r for r in sample if r["eventType"] == "AwsServiceEvent"]
    assert sorted((r["eventName"], r["awsRegion"]) for r in service_events) == [
        ("RotateKey", "eu-west-1"),
        ("RotateKey", "us-east-1"),
    ]
    assert {r["serviceEventDetails"]["keyId"] for r in service_events} == {
        r["resources"][0]["ARN"].rsplit("/", 1)[1] for r in service_events
    }
    invoked = Counter(
        (r["userIdentity"].get("type"), r["userIdentity"]["invokedBy"], r["eventName"])
        for r in sample
        if "invokedBy" in r["userIdentity"]
    )
    assert invoked == {
        ("AWSService", "lambda.amazonaws.com", "AssumeRole"): 84,
        ("AWSService", "ecs-tasks.amazonaws.com", "AssumeRole"): 28,
        ("AWSService", "cloudtrail.amazonaws.com", "GenerateDataKey"): 29,
        ("AssumedRole", "secretsmanager.amazonaws.com", "Decrypt"): 112,
        (None, "AWS Internal", "RotateKey"): 2,
    }
    callers = Counter(
        r["userIdentity"]["type"] for r in sample if r["eventName"] == "GetCallerIdentity"
    )
    assert callers == {"IAMUser": 56, "AssumedRole": 3}  # 56: the leaked key's check too


def test_sample_records_global_services_in_us_east_1(sample: list[dict[str, Any]]) -> None:
    """IAM, sign-in and the STS global endpoint are recorded in us-east-1, as CloudTrail does."""
    regions = Counter(r["awsRegion"] for r in sample)
    assert set(regions) == {"us-east-1", "eu-west-1"}
    for record in sample:
        source = record["eventSource"]
        host = (record.get("tlsDetails") or {}).get("clientProvidedHostHeader")
        if source in ("iam.amazonaws.com", "signin.amazonaws.com") or host == "sts.amazonaws.com":
            assert record["awsRegion"] == "us-east-1", record["eventID"]


def test_sample_records_have_cloudtrail_key_order(sample: list[dict[str, Any]]) -> None:
    """Keys come in the order CloudTrail writes them, with 1.08 or 1.09 versions."""
    order = [
        "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
        "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
        "responseElements", "additionalEventData", "requestID", "eventID", "readOnly", "resources",
        "eventType", "apiVersion", "managementEvent", "recipientAccountId", "sharedEventID",
        "vpcEndpointId", "serviceEventDetails", "eventCategory", "tlsDetails",
        "sessionCredentialFromConsole",
    ]  # fmt: skip
    for record in sample:
        keys = list(record)
        assert keys == [k for k in order if k in record], keys
    assert {r["eventVersion"] for r in sample} == {"1.08", "1.09"}


# ---------------------------------------------------------------------- size and arguments


def test_mean_record_size_is_realistic() -> None:
    """Records average 1.0 to 1.7 KB of JSON, as real ones do (about 1.3 KB)."""
    records = list(iter_records(seed=7, start=date(2026, 10, 5), days=2, events_per_day=10_000))
    sizes = [len(msgspec.json.encode(r)) for r in records]
    mean = sum(sizes) / len(sizes)
    print(f"mean record size over {len(sizes):,} records: {mean:,.0f} bytes")
    assert len(sizes) == 20_000 + 7 + 1  # and the vendor's audit, the leaked key's check
    assert 1_000 < mean < 1_700


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"days": 0}, "days must be at least 1"),
        ({"events_per_day": -1}, "events_per_day must be 0 or more"),
        ({"accounts": ("12345",)}, "12-digit AWS account IDs"),
        ({"accounts": ("111122223333", "111122223333")}, "accounts must be distinct"),
        ({"regions": ()}, "AWS region names"),
        ({"events_per_file": 0}, "events_per_file must be at least 1"),
        ({"org_id": "acme"}, "org_id must look like o-a1b2c3d4e5"),
        ({"churn": True}, "events_per_day must be at least 500 with churn"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    """Arguments that name nothing sensible raise UsageError, writing nothing."""
    with pytest.raises(UsageError, match=message):
        write_trail(tmp_path / "out", **{**SMALL, **options})
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------- workloads that churn

CHURN: dict[str, Any] = {
    "seed": 11,
    "start": date(2026, 10, 5),
    "days": 30,
    "events_per_day": 600,
    "churn": True,
}


@pytest.fixture(scope="module")
def churn() -> list[dict[str, Any]]:
    return list(iter_records(**CHURN))


def third(record: dict[str, Any]) -> int:
    """Return which third of the 30-day churn window a record falls in."""
    start: date = CHURN["start"]
    return (date.fromisoformat(record["eventTime"][:10]) - start).days // 10


def issuer(record: dict[str, Any]) -> str | None:
    identity = record["userIdentity"]
    if identity.get("type") != "AssumedRole":
        return None
    name: str = identity["sessionContext"]["sessionIssuer"]["userName"]
    return name


def by_third(values: list[tuple[int, str]]) -> list[tuple[int, int]]:
    """Return, per third, how many distinct values appear and how many were not seen before."""
    seen: set[str] = set()
    out = []
    for part in range(3):
        here = {v for k, v in values if k == part}
        out.append((len(here), len(here - seen)))
        seen |= here
    return out


def test_churn_trail_is_deterministic(tmp_path: Path) -> None:
    """The same seed writes the same churn trail byte for byte; without churn, the trail is the
    one of before (sample_logs pins that)."""
    options = {**CHURN, "days": 2, "events_per_day": 800, "events_per_file": 200}
    first = write_trail(tmp_path / "a", **options)
    second = write_trail(tmp_path / "b", **options)
    assert first == second
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert first.events == 1600 + 7 + 1  # and the vendor's audit, the leaked key's check
    plain = list(iter_records(**{**CHURN, "days": 2, "events_per_day": 800, "churn": False}))
    assert {issuer(r) for r in plain} == {
        "app-backend",
        "ci-deploy",
        "AWSReservedSSO_AdministratorAccess_54a0d4dd4541d762",
        "vendor-audit",  # the vendor's audit, outside the budget (Shared.aside)
        None,
    }


def test_churn_trail_is_ordered_and_counted(churn: list[dict[str, Any]]) -> None:
    """A churn trail keeps iter_records' promise: days x events_per_day records (and those of
    the episodes outside the budget), in time order, IDs unique."""
    # the vendor's audits on days 0, 3, 10, 17 and 24 (7 calls each), the leaked key's check
    assert len(churn) == 30 * 600 + 5 * 7 + 1
    times = [r["eventTime"] for r in churn]
    assert times == sorted(times)
    assert times[0] >= "2026-10-05T00:00:00Z"
    assert times[-1] < "2026-11-04T00:00:00Z"
    assert len({r["eventID"] for r in churn}) == len(churn)


def test_churn_workloads_have_their_own_roles(churn: list[dict[str, Any]]) -> None:
    """Each churning workload calls with its own role, beside the cast of before."""
    calls = Counter(issuer(r) for r in churn)
    assert {name: calls[name] for name in CHURN_ROLES} == CHURN_ROLES


CHURN_ROLES = {
    "storefront-web": 2742,  # the storefront's ECS tasks
    "storefront-task-execution": 325,  # Fargate pulling their image, creating their log streams
    "api-handler": 2282,  # the api Lambda function
    "workers": 663,  # the instances of an Auto Scaling group
    "fleet-ops": 278,  # a Lambda function patching and replacing them
    "data-pipeline": 1992,  # Step Functions, Glue and Athena every four hours
    "release": 375,  # GitHub Actions deploying the storefront and the api
    "AWSServiceRoleForAutoScaling": 26,  # launching the replacements
}


def test_churning_resources_keep_changing(churn: list[dict[str, Any]]) -> None:
    """Log streams, instances, task definition revisions, Lambda versions, executions and object
    keys are new in every third of the window; what churns is named as CloudTrail logs it."""
    streams: dict[str, list[tuple[int, str]]] = {}
    found: dict[str, list[tuple[int, str]]] = {
        "instance": [],
        "revision": [],
        "version": [],
        "execution": [],
        "order key": [],
        "invoice key": [],
    }
    for r in churn:
        name, request = r["eventName"], r["requestParameters"] or {}
        response = r["responseElements"] or {}
        part = third(r)
        if name == "CreateLogStream":
            group = request["logGroupName"]
            streams.setdefault(group, []).append((part, request["logStreamName"]))
        elif name == "RunInstances":
            found["instance"].append((part, response["instancesSet"]["items"][0]["instanceId"]))
        elif name == "RegisterTaskDefinition":
            found["revision"].append((part, response["taskDefinition"]["taskDefinitionArn"]))
        elif name == "PublishVersion20150331" and "errorCode" not in r:
            found["version"].append((part, response["functionArn"]))
        elif name == "StartExecution" and issuer(r) == "data-pipeline":
            found["execution"].append((part, response["executionArn"]))
        elif name == "PutObject" and request["bucketName"].startswith("acme-storefront-"):
            found["order key"].append((part, request["key"]))
        elif name == "PutObject" and request["bucketName"].startswith("acme-api-documents-"):
            found["invoice key"].append((part, request["key"]))
    # (distinct, new) in each third: all new, every third.
    assert {group: by_third(values) for group, values in streams.items()} == {
        "/aws/lambda/api": [(50, 50), (49, 49), (48, 48)],  # an execution environment each
        "/aws/lambda/etl-trigger": [(60, 60), (60, 60), (60, 60)],
        "/aws/lambda/fleet-ops": [(10, 10), (10, 10), (10, 10)],
        "/ec2/workers": [(8, 8), (9, 9), (9, 9)],  # an instance each
        "/ecs/web": [(31, 31), (26, 26), (29, 29)],  # a task each
    }
    assert {kind: by_third(values) for kind, values in found.items()} == {
        "instance": [(8, 8), (9, 9), (9, 9)],
        "revision": [(7, 7), (6, 6), (6, 6)],
        "version": [(6, 6), (7, 7), (5, 5)],
        "execution": [(60, 60), (60, 60), (60, 60)],
        "order key": [(66, 66), (66, 66), (66, 66)],
        "invoice key": [(31, 31), (29, 29), (39, 39)],
    }
    definition = "arn:aws:ecs:us-east-1:111122223333:task-definition/web:"
    assert [v for _, v in found["revision"]] == [f"{definition}{n}" for n in range(50, 69)]
    function = "arn:aws:lambda:us-east-1:111122223333:function:api:"
    assert [v for _, v in found["version"]] == [f"{function}{n}" for n in range(19, 37)]
    lambda_streams = sorted(v for _, v in streams["/aws/lambda/api"])
    assert all(re.fullmatch(r"2026/1[01]/\d\d/\[\d+\][0-9a-f]{32}", s) for s in lambda_streams)
    assert all(re.fullmatch(r"ecs/web/[0-9a-f]{32}", s) for _, s in streams["/ecs/web"])
    assert all(re.fullmatch(r"i-0[0-9a-f]{16}", s) for _, s in streams["/ec2/workers"])
    assert all(
        re.fullmatch(r"orders/2026-1[01]/[0-9a-f]{12}\.json", k) for _, k in found["order key"]
    )
    assert all(
        re.fullmatch(r"invoices/2026/1[01]/inv-[0-9a-f]{10}\.pdf", k)
        for _, k in found["invoice key"]
    )
    execution = re.compile(
        r"arn:aws:states:us-east-1:111122223333:execution:orders-etl:[0-9a-f-]{36}"
    )
    assert all(execution.fullmatch(e) for _, e in found["execution"])
    reports = sorted(
        r["requestParameters"]["key"]
        for r in churn
        if r["eventName"] == "PutObject" and r["requestParameters"]["key"].startswith("reports/d")
    )
    assert reports[:2] == ["reports/daily/2026-10-04.csv", "reports/daily/2026-10-05.csv"]
    assert len(reports) == 30


def test_stable_resources_stay_stable(churn: list[dict[str, Any]]) -> None:
    """The churning workloads' tables, queues and secrets are the same every day: three tables
    per application role, one queue each, a secret each."""
    tables: dict[str, set[str]] = {}
    queues: dict[str, set[str]] = {}
    secrets: dict[str, set[str]] = {}
    for r in churn:
        role = issuer(r)
        if role not in CHURN_ROLES:
            continue
        for resource in r.get("resources") or []:
            arn = resource.get("ARN", "")
            if ":table/" in arn:
                tables.setdefault(role, set()).add(arn.rsplit("/", 1)[1])
            elif ":sqs:" in arn:
                queues.setdefault(role, set()).add(arn.rsplit(":", 1)[1])
        if r["eventName"] == "GetSecretValue":
            secrets.setdefault(role, set()).add(r["requestParameters"]["secretId"])
    assert tables == {
        "storefront-web": {"storefront-carts", "storefront-sessions", "storefront-products"},
        "api-handler": {"api-customers", "api-orders", "api-idempotency"},
        "workers": {"api-orders"},
    }
    assert queues == {
        "storefront-web": {"storefront-orders"},
        "api-handler": {"api-jobs"},
        "workers": {"api-jobs"},
    }
    assert secrets == {
        "storefront-web": {"prod/storefront/stripe"},
        "api-handler": {"prod/api/jwt-signing"},
    }
    for part in range(3):  # used every third of the window, not only at first
        used = {
            resource["ARN"].rsplit("/", 1)[1]
            for r in churn
            if third(r) == part and issuer(r) == "api-handler"
            for resource in r.get("resources") or []
            if ":table/" in resource.get("ARN", "")
        }
        assert used == tables["api-handler"]


def test_people_try_new_things_now_and_then(churn: list[dict[str, Any]]) -> None:
    """People at the console come to actions they never used before, all through the window."""
    done = [
        (
            third(r),
            r["userIdentity"]["arn"].rsplit("/", 1)[-1] + " " + r["eventName"],
        )
        for r in churn
        if r.get("sessionCredentialFromConsole") and "arn" in r["userIdentity"]
    ]
    assert by_third(done) == [(116, 116), (101, 11), (121, 8)]


def test_churn_errors_are_realistic(churn: list[dict[str, Any]]) -> None:
    """The churning workloads fail as real ones do: a condition that does not hold, a key gone,
    a publish too soon after an update, a throttled poll, a refused call."""
    errors = Counter(
        (issuer(r), r["errorCode"], r["eventName"])
        for r in churn
        if "errorCode" in r and issuer(r) in CHURN_ROLES
    )
    assert errors == {
        ("storefront-web", "NoSuchKey", "GetObject"): 8,  # old keys, expired by a lifecycle rule
        ("api-handler", "NoSuchKey", "GetObject"): 7,
        ("workers", "NoSuchKey", "GetObject"): 1,
        ("api-handler", "ConditionalCheckFailedException", "PutItem"): 4,  # a repeated request
        ("api-handler", "AccessDeniedException", "DescribeTable"): 2,  # a library at cold start
        ("release", "ResourceConflictException", "PublishVersion20150331"): 4,
        ("data-pipeline", "ThrottlingException", "DescribeExecution"): 6,
    }


def test_churn_events_map_to_catalog_permissions(tmp_path: Path) -> None:
    """Every event of a churn trail maps to IAM actions of the catalog (none unmapped)."""
    import trailmin

    write_trail(tmp_path / "trail", **{**CHURN, "days": 3, "events_per_file": 500})
    trailmin.ingest([tmp_path / "trail"], lake=tmp_path / "lake", workers=1)
    report = trailmin.mapping_report(tmp_path / "lake")
    totals = report.totals
    assert totals["events"] == 1800 + 7 + 1  # and the vendor's audit, the leaked key's check
    assert totals["kinds_unmapped"] == 0
    assert totals["mapped_share"] == 1.0
    kinds = {(row.event_source.split(".")[0], row.event_name) for row in report.rows}
    assert {
        ("logs", "CreateLogStream"),
        ("ecs", "RegisterTaskDefinition"),
        ("ecs", "RunTask"),
        ("ecs", "DescribeTasks"),
        ("lambda", "PublishVersion20150331"),
        ("lambda", "UpdateAlias20150331"),
        ("states", "StartExecution"),
        ("states", "DescribeExecution"),
        ("ec2", "RunInstances"),
        ("ec2", "TerminateInstances"),
        ("ec2", "CreateTags"),
        ("ssm", "SendCommand"),
        ("glue", "StartJobRun"),
        ("athena", "StartQueryExecution"),
    } <= kinds


def test_synth_cli_writes_a_churn_trail(tmp_path: Path) -> None:
    """``trailmin synth --churn`` writes a churn trail, 2,000 events a day unless told."""
    from typer.testing import CliRunner

    from trailmin.cli import app

    result = CliRunner().invoke(
        app, ["synth", str(tmp_path / "t"), "--churn", "--days", "1", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["events"] == 2000 + 7  # and the vendor's first audit
    refused = CliRunner().invoke(
        app, ["synth", str(tmp_path / "u"), "--churn", "--events-per-day", "300"]
    )
    assert refused.exit_code != 0
    assert "at least 500 with churn" in refused.output
