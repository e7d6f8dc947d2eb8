"""Synthetic CloudTrail logs: seeded, deterministic records and delivery trees shaped like real ones.

``iter_records`` yields CloudTrail records in time order for the cast of a fictional organization
(Acme), repeated in every account given:

- ``role/service/app-backend`` (a role with a path), assumed by Lambda and ECS: S3 object data
  events, DynamoDB items, SQS messages, KMS data keys, Secrets Manager secrets, a few errors;
- ``role/ci-deploy``, assumed by GitHub Actions through OIDC: Lambda deploys, CloudFormation,
  ECR, artifacts in S3, an ``iam:PassRole`` refused now and then;
- ``AWSReservedSSO_AdministratorAccess_<hash>``, the IAM Identity Center permission set role, used
  from the console by people signed in with their email address;
- the IAM users ``alice`` (console, MFA), ``bob`` (console, no MFA, a failed sign-in) and
  ``legacy-batch`` (a long-term access key used by a script on an EC2 instance);
- the root user, rarely; AWS services acting on their own (``AwsServiceEvent``) or for a principal
  (``AWSService`` identities, ``invokedBy``).

``write_trail`` lays them out as CloudTrail delivers them to S3: gzipped ``{"Records": [...]}``
files about every five minutes per account and region, and hourly digest files.

Determinism: everything random comes from ``random.Random`` seeded with the ``seed`` argument; no
clock, no ``uuid4``, gzip headers carry no time. The same arguments give byte-identical files.

Records share nested values (identities, TLS details, constant request parameters) to stay fast
enough for corpora of millions of events: treat them as read-only and copy before changing one.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import random
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec

from trailmin.errors import UsageError

Record = dict[str, Any]

# Global services (IAM, the STS global endpoint, sign-in, CloudFront, Organizations) are recorded
# in us-east-1 by a multi-region trail, whatever region the caller works in.
GLOBAL_REGION = "us-east-1"
TRAIL_NAME = "acme-trail"
# CloudTrail's own deflate level is not documented; level 1 keeps write_trail fast (about 8x
# smaller than the JSON, against 9x at level 6 which costs twice the time).
COMPRESSLEVEL = 1
DELIVERY_MS = 5 * 60 * 1000

_MS_HOUR = 3_600_000
_MS_DAY = 24 * _MS_HOUR
_SECONDS = tuple(f"{s:02d}Z" for s in range(60))
_ALNUM = string.ascii_letters + string.digits
_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_ACCOUNT = re.compile(r"^\d{12}$")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ENCODE = msgspec.json.Encoder().encode

# User agents, as the SDKs and the console send them.
_UA_LAMBDA = (
    "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.226-235.879.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 "
    "cfg/retry-mode#legacy Botocore/1.34.145"
)
_UA_ECS = (
    "aws-sdk-js/3.675.0 ua/2.1 os/linux#5.10.227-219.884.amzn2.x86_64 lang/js md/nodejs#20.18.0 "
    "api/{service}#3.675.0 m/E,N exec-env/AWS_ECS_FARGATE"
)
_UA_GITHUB = (
    "aws-sdk-js/3.670.0 ua/2.1 os/linux#6.5.0-1025-azure lang/js md/nodejs#20.18.0 "
    "api/{service}#3.670.0 m/E configure-aws-credentials-for-github-actions"
)
_UA_CLI = (
    "aws-cli/2.18.5 md/awscrt#0.22.0 ua/2.0 os/linux#6.5.0-1025-azure md/arch#x86_64 "
    "lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
    "md/distrib#ubuntu.22 md/prompt#off md/command#{command}"
)
_UA_BATCH = (
    "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.11.6 "
    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0"
)
_UA_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36"
)
_UA_FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
_UA_EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0"
)
_UA_S3_CONSOLE = (
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 "
    "Linux/5.10.225-191.880.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.422-b05 java/1.8.0_422 "
    "vendor/Oracle_Corporation cfg/retry-mode/standard]"
)
_INTERNAL = "AWS Internal"

# Hourly weights (UTC) for people in a European office, for CI pushes, and for steady machines.
_HUMAN_HOURS = (
    0.05, 0.03, 0.03, 0.03, 0.05, 0.2, 0.8, 3, 6, 8, 8, 7,
    5, 7, 8, 7, 6, 4, 2, 1, 0.6, 0.4, 0.2, 0.1,
)  # fmt: skip
_CI_HOURS = (
    0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1, 3, 5, 6, 6, 6,
    5, 6, 7, 7, 6, 5, 3, 2, 1.5, 1, 0.6, 0.3,
)  # fmt: skip
_FLAT_HOURS = (1.0,) * 24


def _cumulative(weights: tuple[float, ...]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return out


_HUMAN_CUM = _cumulative(_HUMAN_HOURS)
_CI_CUM = _cumulative(_CI_HOURS)
_FLAT_CUM = _cumulative(_FLAT_HOURS)
_HOURS = range(24)


@dataclass(frozen=True, slots=True)
class SynthSummary:
    """What ``write_trail`` wrote: counts of files and events, sizes of the log files."""

    files: int
    digest_files: int
    events: int
    bytes: int
    uncompressed_bytes: int


class _Clock:
    """Formats epoch milliseconds the way CloudTrail does, caching one prefix per minute."""

    __slots__ = ("_minutes",)

    def __init__(self) -> None:
        self._minutes: dict[int, str] = {}

    def stamp(self, t: int) -> str:
        minute, second = divmod(t // 1000, 60)
        prefix = self._minutes.get(minute)
        if prefix is None:
            if len(self._minutes) > 4096:
                self._minutes.clear()
            prefix = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
            self._minutes[minute] = prefix
        return prefix + _SECONDS[second]


def _expiration(t: int) -> str:
    moment = datetime.fromtimestamp(t // 1000, UTC)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S} {half}"


def _epoch_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


class _Region:
    """One account's resources in one region."""

    __slots__ = (
        "app_ips",
        "bucket",
        "bucket_arn",
        "function_arn",
        "kms_arn",
        "kms_id",
        "name",
        "queue_arn",
        "queue_url",
        "s3_host",
        "secret_arn",
        "stack_arn",
        "table_arn",
        "vpce",
        "worker_ip",
    )

    def __init__(self, rng: random.Random, account: str, name: str, octet: int) -> None:
        self.name = name
        self.bucket = f"acme-app-data-{account}-{name}"
        self.bucket_arn = f"arn:aws:s3:::{self.bucket}"
        self.s3_host = f"{self.bucket}.s3.{name}.amazonaws.com"
        self.table_arn = f"arn:aws:dynamodb:{name}:{account}:table/orders"
        self.queue_url = f"https://sqs.{name}.amazonaws.com/{account}/order-events"
        self.queue_arn = f"arn:aws:sqs:{name}:{account}:order-events"
        self.kms_id = _uuid(rng)
        self.kms_arn = f"arn:aws:kms:{name}:{account}:key/{self.kms_id}"
        suffix = "".join(rng.choices(_ALNUM, k=6))
        self.secret_arn = f"arn:aws:secretsmanager:{name}:{account}:secret:prod/app-backend/db-{suffix}"
        self.function_arn = f"arn:aws:lambda:{name}:{account}:function:app-backend-api"
        self.stack_arn = f"arn:aws:cloudformation:{name}:{account}:stack/app-backend/{_uuid(rng)}"
        # Lambda outside a VPC calls from AWS public addresses; ECS tasks go through VPC endpoints.
        self.app_ips = tuple(
            f"{rng.choice((3, 18, 34, 44, 52, 54))}.{rng.randrange(256)}.{rng.randrange(256)}."
            f"{rng.randrange(1, 255)}"
            for _ in range(6)
        )
        self.worker_ip = f"10.{octet}.{rng.randrange(16, 32)}.{rng.randrange(1, 255)}"
        self.vpce = {
            service: f"vpce-0{rng.randbytes(8).hex()[:16]}"
            for service in ("s3", "dynamodb", "sqs", "kms", "secretsmanager")
        }


class _Person:
    """A human: how they sign in and from where."""

    __slots__ = ("arn", "email", "ip", "name", "principal_id", "ua")

    def __init__(self, name: str, arn: str, principal_id: str, ip: str, ua: str) -> None:
        self.name = name
        self.email = name
        self.arn = arn
        self.principal_id = principal_id
        self.ip = ip
        self.ua = ua


class _Cast:
    """The fictional organization's principals and resources in one account."""

    def __init__(
        self, rng: random.Random, index: int, account: str, regions: tuple[str, ...]
    ) -> None:
        self.index = index
        self.account = account
        self.primary = regions[0]
        self.regions = {
            name: _Region(rng, account, name, 20 + 10 * i) for i, name in enumerate(regions)
        }
        self.shown: set[str] = set()
        a = account

        self.app_role_arn = f"arn:aws:iam::{a}:role/service/app-backend"
        self.app_role_id = "AROA" + _key(rng, 17)
        self.app_issuer = _issuer(self.app_role_id, self.app_role_arn, a, "app-backend")

        self.ci_role_arn = f"arn:aws:iam::{a}:role/ci-deploy"
        self.ci_role_id = "AROA" + _key(rng, 17)
        self.ci_issuer = _issuer(self.ci_role_id, self.ci_role_arn, a, "ci-deploy")
        self.oidc_arn = f"arn:aws:iam::{a}:oidc-provider/token.actions.githubusercontent.com"
        self.ci_web_id = {"federatedProvider": self.oidc_arn, "attributes": {}}
        self.ci_ips = tuple(
            f"{rng.choice((4, 13, 20, 40, 52))}.{rng.randrange(256)}.{rng.randrange(256)}."
            f"{rng.randrange(1, 255)}"
            for _ in range(8)
        )
        self.artifacts = f"acme-ci-artifacts-{a}"

        self.sso_region = regions[-1]
        self.sso_role_name = f"AWSReservedSSO_AdministratorAccess_{rng.randbytes(8).hex()}"
        self.sso_role_arn = (
            f"arn:aws:iam::{a}:role/aws-reserved/sso.amazonaws.com/{self.sso_region}/"
            f"{self.sso_role_name}"
        )
        self.sso_role_id = "AROA" + _key(rng, 17)
        self.sso_issuer = _issuer(self.sso_role_id, self.sso_role_arn, a, self.sso_role_name)
        self.saml_provider_arn = (
            f"arn:aws:iam::{a}:saml-provider/AWSSSO_{rng.randbytes(8).hex()}_DO_NOT_DELETE"
        )
        self.saml_idp = base64.b64encode(rng.randbytes(20)).decode()
        self.sso_people = tuple(
            _Person(email, "", "", ip, ua)
            for email, ip, ua in (
                ("maria.garcia@acme.example", "203.0.113.24", _UA_CHROME),
                ("dev.patel@acme.example", "198.51.100.77", _UA_EDGE),
                ("li.wei@acme.example", "203.0.113.51", _UA_CHROME),
            )
        )

        self.alice = _Person(
            "alice",
            f"arn:aws:iam::{a}:user/alice",
            "AIDA" + _key(rng, 17),
            "203.0.113.10",
            _UA_CHROME,
        )
        self.bob = _Person(
            "bob", f"arn:aws:iam::{a}:user/bob", "AIDA" + _key(rng, 17), "198.51.100.23", _UA_FIREFOX
        )
        batch_id = "AIDA" + _key(rng, 17)
        self.batch_identity: Record = {
            "type": "IAMUser",
            "principalId": batch_id,
            "arn": f"arn:aws:iam::{a}:user/legacy-batch",
            "accountId": a,
            "accessKeyId": "AKIA" + _key(rng, 16),
            "userName": "legacy-batch",
        }
        self.batch_ip = f"54.{rng.randrange(144, 176)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        self.reports = f"acme-legacy-reports-{a}"

        self.trail_key_arn = f"arn:aws:kms:{self.primary}:{a}:key/{_uuid(rng)}"
        self.trail_arn = f"arn:aws:cloudtrail:{self.primary}:{a}:trail/{TRAIL_NAME}"
        self.trail_bucket = f"acme-cloudtrail-{a}"
        # Credentials of the app's runtimes rotate on a schedule: (runtime, region) -> phase (ms).
        self.app_phase = {
            (runtime, name): rng.randrange(_MS_HOUR)
            for runtime in ("lambda", "ecs")
            for name in regions
        }


def _key(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(_KEY_CHARS, k=length))


def _uuid(rng: random.Random) -> str:
    h = rng.randbytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def _issuer(principal_id: str, arn: str, account: str, name: str) -> Record:
    return {
        "type": "Role",
        "principalId": principal_id,
        "arn": arn,
        "accountId": account,
        "userName": name,
    }


def _resource(kind: str, arn: str, account: str) -> Record:
    return {"accountId": account, "type": kind, "ARN": arn}


def _denied(caller: str, action: str, resource: str) -> str:
    return (
        f"User: {caller} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


class _Session:
    """A set of temporary credentials and the identity CloudTrail shows for calls made with them."""

    __slots__ = ("access_key", "created", "identity", "invoked", "ip", "name", "token")

    def __init__(
        self, identity: Record, access_key: str, created: int, name: str, ip: str, token: str
    ) -> None:
        self.identity = identity
        self.access_key = access_key
        self.created = created
        self.name = name
        self.ip = ip
        self.token = token
        self.invoked: dict[str, Record] = {}

    def invoked_by(self, service: str) -> Record:
        """Return this identity with ``invokedBy``, as logged when a service calls for it."""
        found = self.invoked.get(service)
        if found is None:
            found = {**self.identity, "invokedBy": service}
            self.invoked[service] = found
        return found


# A console action: (eventSource prefix, eventName, global?, readOnly, request parameters).
_Params = Callable[["_Cast", str], Record | None]
_ConsoleAction = tuple[str, str, bool, bool, _Params]


def _none(_c: _Cast, _r: str) -> Record | None:
    return None


def _const(value: Record) -> _Params:
    def params(_c: _Cast, _r: str) -> Record | None:
        return value

    return params


_COMMON_READS: tuple[_ConsoleAction, ...] = (
    ("ec2", "DescribeInstances", False, True, _const({"instancesSet": {}, "filterSet": {}})),
    (
        "ec2",
        "DescribeSecurityGroups",
        False,
        True,
        _const({"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}}),
    ),
    ("ec2", "DescribeVpcs", False, True, _const({"vpcSet": {}, "filterSet": {}})),
    ("lambda", "ListFunctions20150331", False, True, _none),
    (
        "lambda",
        "GetFunction20150331v2",
        False,
        True,
        _const({"functionName": "app-backend-api"}),
    ),
    ("logs", "DescribeLogGroups", False, True, _const({"limit": 50})),
    (
        "logs",
        "DescribeLogStreams",
        False,
        True,
        _const(
            {
                "logGroupName": "/aws/lambda/app-backend-api",
                "orderBy": "LastEventTime",
                "descending": True,
                "limit": 25,
            }
        ),
    ),
    ("monitoring", "DescribeAlarms", False, True, _const({"maxRecords": 100})),
    ("dynamodb", "DescribeTable", False, True, _const({"tableName": "orders"})),
    ("cloudformation", "DescribeStacks", False, True, _const({"stackName": "app-backend"})),
    ("s3", "ListBuckets", True, True, _const({"Host": "s3.amazonaws.com"})),
    (
        "s3",
        "GetBucketPolicy",
        False,
        True,
        lambda c, r: {"policy": "", "bucketName": c.regions[r].bucket, "Host": c.regions[r].s3_host},
    ),
    ("sqs", "ListQueues", False, True, _none),
    (
        "secretsmanager",
        "ListSecrets",
        False,
        True,
        _const({"maxResults": 100, "includePlannedDeletion": False}),
    ),
    ("kms", "ListAliases", False, True, _none),
)

_ADMIN_ACTIONS: tuple[_ConsoleAction, ...] = (
    *_COMMON_READS,
    ("iam", "ListRoles", True, True, _none),
    ("iam", "GetRole", True, True, _const({"roleName": "app-backend"})),
    ("iam", "ListAttachedRolePolicies", True, True, _const({"roleName": "ci-deploy"})),
    ("iam", "ListRolePolicies", True, True, _const({"roleName": "app-backend"})),
    (
        "iam",
        "GetPolicyVersion",
        True,
        True,
        lambda c, r: {
            "policyArn": f"arn:aws:iam::{c.account}:policy/ci-deploy-permissions",
            "versionId": "v3",
        },
    ),
    ("iam", "GetAccountAuthorizationDetails", True, True, _const({"filter": ["Role", "User"]})),
    ("cloudfront", "ListDistributions2020_05_31", True, True, _none),
    ("organizations", "DescribeOrganization", True, True, _none),
    ("rds", "DescribeDBInstances", False, True, _none),
    ("ecs", "ListClusters", False, True, _none),
    (
        "ecs",
        "DescribeServices",
        False,
        True,
        _const({"cluster": "app", "services": ["app-worker"], "include": ["TAGS"]}),
    ),
    ("cloudtrail", "DescribeTrails", False, True, _const({"includeShadowTrails": True})),
    (
        "cloudtrail",
        "LookupEvents",
        False,
        True,
        _const({"maxResults": 50, "lookupAttributes": [{"attributeKey": "ReadOnly", "attributeValue": "false"}]}),
    ),
    ("ssm", "DescribeParameters", False, True, _const({"maxResults": 50})),
    (
        "ssm",
        "PutParameter",
        False,
        False,
        _const(
            {
                "name": "/app/feature-flags",
                "type": "String",
                "overwrite": True,
                "value": "HIDDEN_DUE_TO_SECURITY_REASONS",
            }
        ),
    ),
    (
        "lambda",
        "UpdateFunctionConfiguration20150331v2",
        False,
        False,
        _const({"functionName": "app-backend-api", "timeout": 30, "memorySize": 1024}),
    ),
)

_DEV_ACTIONS: tuple[_ConsoleAction, ...] = (
    *_COMMON_READS,
    ("iam", "GetRole", True, True, _const({"roleName": "app-backend"})),
    ("iam", "ListRoles", True, True, _none),
    (
        "sqs",
        "GetQueueAttributes",
        False,
        True,
        lambda c, r: {"queueUrl": c.regions[r].queue_url, "attributeNames": ["All"]},
    ),
    ("kms", "DescribeKey", False, True, lambda c, r: {"keyId": c.regions[r].kms_arn}),
    (
        "s3",
        "PutBucketTagging",
        False,
        False,
        lambda c, r: {"tagging": "", "bucketName": c.regions[r].bucket, "Host": c.regions[r].s3_host},
    ),
    ("ssm", "DescribeParameters", False, True, _const({"maxResults": 50})),
)

_ANALYST_ACTIONS: tuple[_ConsoleAction, ...] = (
    (
        "ce",
        "GetCostAndUsage",
        True,
        True,
        _const(
            {
                "timePeriod": {"start": "2026-09-01", "end": "2026-10-01"},
                "granularity": "MONTHLY",
                "metrics": ["UnblendedCost"],
                "groupBy": [{"type": "DIMENSION", "key": "SERVICE"}],
            }
        ),
    ),
    ("s3", "ListBuckets", True, True, _const({"Host": "s3.amazonaws.com"})),
    ("monitoring", "DescribeAlarms", False, True, _const({"maxRecords": 100})),
    ("health", "DescribeEventAggregates", True, True, _const({"aggregateField": "eventTypeCategory"})),
    ("dynamodb", "DescribeTable", False, True, _const({"tableName": "orders"})),
    ("ec2", "DescribeInstances", False, True, _const({"instancesSet": {}, "filterSet": {}})),
    ("logs", "DescribeLogGroups", False, True, _const({"limit": 50})),
)

# eventVersion by service: the data planes and newer consoles write 1.09, the rest 1.08.
_VERSION_109 = frozenset({"s3", "dynamodb", "sqs", "lambda", "cloudformation", "cloudtrail"})


class _Synth:
    """The generator's state: one random stream, the casts, and caches of shared values."""

    def __init__(
        self,
        *,
        seed: int,
        start: date,
        days: int,
        events_per_day: int,
        accounts: tuple[str, ...],
        regions: tuple[str, ...],
    ) -> None:
        self.rng = random.Random(seed)
        self.clock = _Clock()
        self.start_ms = _epoch_ms(start)
        self.start = start
        self.days = days
        self.events_per_day = events_per_day
        self.regions = regions
        self.casts = [_Cast(self.rng, i, a, regions) for i, a in enumerate(accounts)]
        self.sessions: dict[tuple[int, str, str, int], _Session] = {}
        self.tls: dict[tuple[str, str], Record] = {}
        self.out: list[tuple[int, int, Record]] = []
        self.seq = 0

    # ------------------------------------------------------------------ small random helpers

    def uuid(self) -> str:
        h = self.rng.randbytes(16).hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"

    def token(self) -> str:
        return "IQoJb3JpZ2luX2Vj" + base64.b64encode(self.rng.randbytes(540)).decode()

    def host(self, service: str, region: str, *, tls13: bool = True) -> Record:
        """Return the (shared) tlsDetails of a call to ``service`` in ``region``."""
        key = (service, region if tls13 else region + "/1.2")
        found = self.tls.get(key)
        if found is None:
            if service in ("iam", "cloudfront", "organizations", "ce", "health"):
                name = f"{service}.amazonaws.com"
            elif service == "sts-global":
                name = "sts.amazonaws.com"
            else:
                name = f"{service}.{region}.amazonaws.com"
            found = {
                "tlsVersion": "TLSv1.3" if tls13 else "TLSv1.2",
                "cipherSuite": "TLS_AES_128_GCM_SHA256" if tls13 else "ECDHE-RSA-AES128-GCM-SHA256",
                "clientProvidedHostHeader": name,
            }
            self.tls[key] = found
        return found

    def emit(self, t: int, record: Record) -> None:
        self.out.append((t, self.seq, record))
        self.seq += 1

    # ------------------------------------------------------------------ the record itself

    def call(
        self,
        t: int,
        identity: Record,
        service: str,
        name: str,
        region: str,
        ip: str,
        ua: str,
        request: Record | None,
        response: Record | None,
        account: str,
        *,
        read_only: bool,
        error: tuple[str, str] | None = None,
        extra: Record | None = None,
        request_id: str | None = "",
        resources: list[Record] | None = None,
        event_type: str = "AwsApiCall",
        api_version: str | None = None,
        data: bool = False,
        shared: bool = False,
        vpce: str | None = None,
        details: Record | None = None,
        tls: Record | None = None,
        console: bool = False,
    ) -> Record:
        """Return one record with its keys in the order CloudTrail writes them."""
        r: Record = {
            "eventVersion": "1.09" if service in _VERSION_109 else "1.08",
            "userIdentity": identity,
            "eventTime": self.clock.stamp(t),
            "eventSource": f"{service}.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": ua,
        }
        if error is not None:
            r["errorCode"], r["errorMessage"] = error
        r["requestParameters"] = request
        r["responseElements"] = response
        if extra is not None:
            r["additionalEventData"] = extra
        if request_id is not None:
            r["requestID"] = request_id or self.uuid()
        r["eventID"] = self.uuid()
        r["readOnly"] = read_only
        if resources is not None:
            r["resources"] = resources
        r["eventType"] = event_type
        if api_version is not None:
            r["apiVersion"] = api_version
        r["managementEvent"] = not data
        r["recipientAccountId"] = account
        if shared:
            r["sharedEventID"] = self.uuid()
        if vpce is not None:
            r["vpcEndpointId"] = vpce
        if details is not None:
            r["serviceEventDetails"] = details
        r["eventCategory"] = "Data" if data else "Management"
        if tls is not None:
            r["tlsDetails"] = tls
        if console:
            r["sessionCredentialFromConsole"] = "true"
        self.emit(t, r)
        return r

    def first(self, c: _Cast, case: str, probability: float) -> bool:
        """Return True when a rare case happens: always the first time, then by chance."""
        if case not in c.shown:
            c.shown.add(case)
            return True
        return self.rng.random() < probability

    # ------------------------------------------------------------------ the application role

    def app_session(self, c: _Cast, runtime: str, region: str, t: int) -> _Session:
        """Return the app role session that a runtime holds at ``t`` (credentials rotate)."""
        period = 8 * _MS_HOUR if runtime == "lambda" else 12 * _MS_HOUR
        phase = c.app_phase[(runtime, region)]
        index = (t - phase) // period
        key = (c.index, runtime, region, index)
        session = self.sessions.get(key)
        if session is None:
            rng = self.rng
            created = phase + index * period
            name = "app-backend-api" if runtime == "lambda" else rng.randbytes(16).hex()
            access_key = "ASIA" + _key(rng, 16)
            identity = {
                "type": "AssumedRole",
                "principalId": f"{c.app_role_id}:{name}",
                "arn": f"arn:aws:sts::{c.account}:assumed-role/app-backend/{name}",
                "accountId": c.account,
                "accessKeyId": access_key,
                "sessionContext": {
                    "sessionIssuer": c.app_issuer,
                    "webIdFederationData": {},
                    "attributes": {
                        "creationDate": self.clock.stamp(created),
                        "mfaAuthenticated": "false",
                    },
                },
            }
            where = c.regions[region]
            ip = where.worker_ip if runtime == "ecs" else rng.choice(where.app_ips)
            session = _Session(identity, access_key, created, name, ip, self.token())
            self.sessions[key] = session
        return session

    def app_context(
        self, c: _Cast, runtime: str, region: str, service: str, session: _Session
    ) -> tuple[str, str | None]:
        """Return the user agent and VPC endpoint of an app call to ``service``."""
        if runtime == "lambda":
            return _UA_LAMBDA, None
        return _UA_ECS.format(service=service), c.regions[region].vpce.get(service)

    def s3_object(
        self,
        t: int,
        c: _Cast,
        region: str,
        identity: Record,
        ip: str,
        ua: str,
        name: str,
        bucket: str,
        key: str,
        *,
        size: int,
        vpce: str | None = None,
        error: tuple[str, str] | None = None,
    ) -> Record:
        """Return an S3 object data event (GetObject, PutObject) as CloudTrail logs it."""
        rng = self.rng
        put = name == "PutObject"
        host = f"{bucket}.s3.{region}.amazonaws.com"
        request: Record = {"bucketName": bucket, "Host": host, "key": key}
        if put:
            request["x-amz-server-side-encryption"] = "aws:kms"
            request["x-amz-server-side-encryption-aws-kms-key-id"] = c.regions[region].kms_arn
            request["x-amz-server-side-encryption-bucket-key-enabled"] = "true"
        extra = {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": size if put else 0,
            "SSEApplied": "SSE_KMS" if put else "Default_SSE_S3",
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": base64.b64encode(rng.randbytes(56)).decode(),
            "bytesTransferredOut": 0 if put or error else size,
        }
        response = (
            {
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": c.regions[region].kms_arn,
                "x-amz-server-side-encryption-bucket-key-enabled": "true",
            }
            if put and error is None
            else None
        )
        return self.call(
            t,
            identity,
            "s3",
            name,
            region,
            ip,
            ua,
            request,
            response,
            c.account,
            read_only=not put,
            error=error,
            extra=extra,
            request_id=rng.randbytes(8).hex().upper(),
            resources=[
                {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                {"accountId": c.account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
            ],
            data=True,
            vpce=vpce,
            tls=self.host("s3", region) if vpce is None else None,
        )

    def app_step(
        self, step: str, t: int, c: _Cast, runtime: str, region: str, session: _Session
    ) -> None:
        """Emit one call of an app invocation: ``step`` names which."""
        rng = self.rng
        where = c.regions[region]
        identity = session.identity
        account = c.account
        order = f"{rng.getrandbits(48):012x}"
        day = self.clock.stamp(t)[:10]
        if step in ("GetObject", "PutObject"):
            ua, vpce = self.app_context(c, runtime, region, "s3", session)
            if runtime == "ecs":
                key = f"exports/daily/{day}/batch-{order[:6]}.csv.gz"
            elif rng.random() < 0.7:
                key = f"orders/{day[:7]}/{order}.json"
            else:
                key = f"invoices/{day[:4]}/{day[5:7]}/inv-{order[:8]}.pdf"
            error = None
            if step == "GetObject" and self.first(c, "NoSuchKey", 0.03):
                error = ("NoSuchKey", "The specified key does not exist.")
            self.s3_object(
                t,
                c,
                region,
                identity,
                session.ip,
                ua,
                step,
                where.bucket,
                key,
                size=rng.randrange(400, 90_000),
                vpce=vpce,
                error=error,
            )
            return
        if step in ("GetItem", "PutItem", "Query"):
            ua, vpce = self.app_context(c, runtime, region, "dynamodb", session)
            error = None
            if step == "Query":
                request: Record = {
                    "tableName": "orders",
                    "indexName": "by-customer",
                    "keyConditionExpression": "customerId = :c",
                    "scanIndexForward": False,
                    "limit": 25,
                }
                if self.first(c, "ValidationException", 0.01):
                    error = (
                        "ValidationException",
                        "Query condition missed key schema element: customerId",
                    )
            else:
                request = {"tableName": "orders", "key": {"pk": f"ORDER#{order}", "sk": "META"}}
                if step == "GetItem":
                    request["consistentRead"] = False
                else:
                    request["conditionExpression"] = "attribute_not_exists(pk)"
            self.call(
                t,
                identity,
                "dynamodb",
                step,
                region,
                session.ip,
                ua,
                request,
                None,
                account,
                read_only=step != "PutItem",
                error=error,
                resources=[_resource("AWS::DynamoDB::Table", where.table_arn, account)],
                api_version="2012-08-10",
                data=True,
                vpce=vpce,
                tls=self.host("dynamodb", region),
            )
            return
        if step == "SendMessage":
            ua, vpce = self.app_context(c, runtime, region, "sqs", session)
            self.call(
                t,
                identity,
                "sqs",
                "SendMessage",
                region,
                session.ip,
                ua,
                {"queueUrl": where.queue_url, "messageBody": "HIDDEN_DUE_TO_SECURITY_REASONS"},
                {"mD5OfMessageBody": rng.randbytes(16).hex(), "messageId": self.uuid()},
                account,
                read_only=False,
                resources=[_resource("AWS::SQS::Queue", where.queue_arn, account)],
                data=True,
                vpce=vpce,
                tls=self.host("sqs", region),
            )
            return
        # GenerateDataKey: envelope encryption of an order's payload, called directly.
        ua, vpce = self.app_context(c, runtime, region, "kms", session)
        self.call(
            t,
            identity,
            "kms",
            "GenerateDataKey",
            region,
            session.ip,
            ua,
            {
                "keyId": "alias/app-backend",
                "encryptionContext": {"service": "app-backend", "order": order},
                "keySpec": "AES_256",
            },
            None,
            account,
            read_only=True,
            resources=[_resource("AWS::KMS::Key", where.kms_arn, account)],
            vpce=vpce,
            tls=self.host("kms", region),
        )

    def ep_app(self, c: _Cast, region: str, t: int, n: int, runtime: str) -> None:
        """Emit one invocation of the app (a Lambda request or an ECS job): ``n`` calls."""
        rng = self.rng
        session = self.app_session(c, runtime, region, t)
        roll = rng.random()
        if runtime == "ecs":
            steps: tuple[str, ...] = ("GetObject", "PutItem", "PutObject", "SendMessage")
        elif roll < 0.4:
            steps = ("GetItem", "GetObject", "GetItem", "GetObject")
        elif roll < 0.7:
            steps = ("PutItem", "GenerateDataKey", "PutObject", "SendMessage")
        else:
            steps = ("Query", "GetItem", "GetObject", "GetItem")
        for i in range(n):
            self.app_step(steps[i % 4], t, c, runtime, region, session)
            t += rng.randrange(5, 400)

    def ep_cold_start(self, c: _Cast, region: str, t: int, n: int, runtime: str) -> None:
        """Emit a runtime getting new app role credentials, then reading its secret."""
        rng = self.rng
        session = self.app_session(c, runtime, region, t)
        account = c.account
        where = c.regions[region]
        service = "lambda.amazonaws.com" if runtime == "lambda" else "ecs-tasks.amazonaws.com"
        response: Record = {
            "credentials": {
                "accessKeyId": session.access_key,
                "sessionToken": session.token,
                "expiration": _expiration(t + 12 * _MS_HOUR),
            }
        }
        if runtime == "ecs":
            response["assumedRoleUser"] = {
                "assumedRoleId": f"{c.app_role_id}:{session.name}",
                "arn": session.identity["arn"],
            }
        steps = 0
        self.call(
            t,
            {"type": "AWSService", "invokedBy": service},
            "sts",
            "AssumeRole",
            region,
            service,
            service,
            {"roleArn": c.app_role_arn, "roleSessionName": session.name},
            response,
            account,
            read_only=True,
            resources=[_resource("AWS::IAM::Role", c.app_role_arn, account)],
            shared=True,
        )
        steps += 1
        while steps < n:
            t += rng.randrange(80, 900)
            ua, vpce = self.app_context(c, runtime, region, "secretsmanager", session)
            version = self.uuid().upper()
            self.call(
                t,
                session.identity,
                "secretsmanager",
                "GetSecretValue",
                region,
                session.ip,
                ua,
                {"secretId": where.secret_arn.split(":secret:")[1][:-7]},
                None,
                account,
                read_only=True,
                vpce=vpce,
                tls=self.host("secretsmanager", region),
            )
            steps += 1
            if steps >= n:
                break
            self.call(
                t + rng.randrange(3, 40),
                session.invoked_by("secretsmanager.amazonaws.com"),
                "kms",
                "Decrypt",
                region,
                "secretsmanager.amazonaws.com",
                "secretsmanager.amazonaws.com",
                {
                    "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                    "encryptionContext": {
                        "SecretARN": where.secret_arn,
                        "SecretVersionId": version,
                    },
                },
                None,
                account,
                read_only=True,
                resources=[_resource("AWS::KMS::Key", where.kms_arn, account)],
            )
            steps += 1

    def ep_trail_key(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit CloudTrail itself asking KMS for data keys to encrypt log files it delivers."""
        for _ in range(n):
            self.call(
                t,
                {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},
                "kms",
                "GenerateDataKey",
                region,
                "cloudtrail.amazonaws.com",
                "cloudtrail.amazonaws.com",
                {
                    "keyId": c.trail_key_arn,
                    "encryptionContext": {"aws:cloudtrail:arn": c.trail_arn},
                    "keySpec": "AES_256",
                },
                None,
                c.account,
                read_only=True,
                resources=[_resource("AWS::KMS::Key", c.trail_key_arn, c.account)],
                shared=True,
            )
            t += self.rng.randrange(1000, 30_000)

    def ep_rotate_key(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit KMS rotating a key on its own: an ``AwsServiceEvent``."""
        where = c.regions[region]
        self.call(
            t,
            {"accountId": c.account, "invokedBy": _INTERNAL},
            "kms",
            "RotateKey",
            region,
            _INTERNAL,
            _INTERNAL,
            None,
            None,
            c.account,
            read_only=False,
            request_id=None,
            resources=[_resource("AWS::KMS::Key", where.kms_arn, c.account)],
            event_type="AwsServiceEvent",
            details={"keyId": where.kms_id},
        )

    # ------------------------------------------------------------------ CI through GitHub OIDC

    def ep_ci(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit one GitHub Actions deploy run of ``n`` calls by ``role/ci-deploy``."""
        rng = self.rng
        account = c.account
        where = c.regions[region]
        ip = rng.choice(c.ci_ips)
        sha = rng.randbytes(20).hex()
        subject = "repo:acme/app-backend:ref:refs/heads/main"
        access_key = "ASIA" + _key(rng, 16)
        session_arn = f"arn:aws:sts::{account}:assumed-role/ci-deploy/GitHubActions"
        identity: Record = {
            "type": "AssumedRole",
            "principalId": f"{c.ci_role_id}:GitHubActions",
            "arn": session_arn,
            "accountId": account,
            "accessKeyId": access_key,
            "sessionContext": {
                "sessionIssuer": c.ci_issuer,
                "webIdFederationData": c.ci_web_id,
                "attributes": {"creationDate": self.clock.stamp(t), "mfaAuthenticated": "false"},
            },
        }
        artifact = f"builds/app-backend/{sha}.zip"
        canary = f"arn:aws:lambda:{region}:{account}:function:app-backend-canary"

        def sts_web_identity(t: int) -> None:
            self.call(
                t,
                {
                    "type": "WebIdentityUser",
                    "principalId": f"{c.oidc_arn}:sts.amazonaws.com:{subject}",
                    "userName": subject,
                    "identityProvider": c.oidc_arn,
                },
                "sts",
                "AssumeRoleWithWebIdentity",
                region,
                ip,
                _UA_GITHUB.format(service="sts"),
                {
                    "roleArn": c.ci_role_arn,
                    "roleSessionName": "GitHubActions",
                    "durationSeconds": 3600,
                },
                {
                    "credentials": {
                        "accessKeyId": access_key,
                        "sessionToken": self.token(),
                        "expiration": _expiration(t + _MS_HOUR),
                    },
                    "subjectFromWebIdentityToken": subject,
                    "assumedRoleUser": {
                        "assumedRoleId": f"{c.ci_role_id}:GitHubActions",
                        "arn": session_arn,
                    },
                    "provider": c.oidc_arn,
                    "audience": "sts.amazonaws.com",
                },
                account,
                read_only=True,
                extra={"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
                resources=[_resource("AWS::IAM::Role", c.ci_role_arn, account)],
                tls=self.host("sts", region),
            )

        def simple(
            service: str,
            name: str,
            request: Record | None,
            response: Record | None = None,
            *,
            read_only: bool = True,
            error: tuple[str, str] | None = None,
            api: str | None = None,
        ) -> Callable[[int], None]:
            def step(t: int) -> None:
                self.call(
                    t,
                    identity,
                    service,
                    name,
                    region,
                    ip,
                    _UA_CLI.format(command=f"{service}.{name.lower()}")
                    if service == "cloudformation"
                    else _UA_GITHUB.format(service=service),
                    request,
                    response,
                    account,
                    read_only=read_only,
                    error=error,
                    api_version=api,
                    tls=self.host(service, region),
                )

            return step

        def put_artifact(t: int) -> None:
            self.s3_object(
                t,
                c,
                c.primary,
                identity,
                ip,
                _UA_GITHUB.format(service="s3"),
                "PutObject",
                c.artifacts,
                artifact,
                size=rng.randrange(2_000_000, 9_000_000),
            )

        def function_config(name: str, arn: str) -> Record:
            return {
                "functionName": name,
                "functionArn": arn,
                "runtime": "python3.12",
                "role": c.app_role_arn,
                "handler": "app.handler",
                "codeSize": rng.randrange(2_000_000, 9_000_000),
                "description": "",
                "timeout": 30,
                "memorySize": 1024,
                "lastModified": self.clock.stamp(t)[:-1] + ".000+0000",
                "codeSha256": base64.b64encode(rng.randbytes(32)).decode(),
                "version": "$LATEST",
                "tracingConfig": {"mode": "PassThrough"},
                "revisionId": self.uuid(),
                "state": "Active",
                "lastUpdateStatus": "InProgress",
                "lastUpdateStatusReason": "The function is being created.",
                "lastUpdateStatusReasonCode": "Creating",
                "packageType": "Zip",
                "architectures": ["arm64"],
                "ephemeralStorage": {"size": 512},
                "snapStart": {"applyOn": "None", "optimizationStatus": "Off"},
                "loggingConfig": {"logFormat": "Text", "logGroup": f"/aws/lambda/{name}"},
            }

        code = {"s3Bucket": c.artifacts, "s3Key": artifact}
        update_stack_error = None
        roll = rng.random()
        if roll < 0.05:
            update_stack_error = (
                "AccessDenied",
                _denied(session_arn, "cloudformation:UpdateStack", where.stack_arn),
            )
        elif roll < 0.25:
            update_stack_error = ("ValidationError", "No updates are to be performed.")
        steps: list[Callable[[int], None]] = [
            sts_web_identity,
            simple("sts", "GetCallerIdentity", None),
            simple("ecr", "GetAuthorizationToken", {"registryIds": [account]}),
            put_artifact,
            simple("cloudformation", "DescribeStacks", {"stackName": "app-backend"}),
            simple(
                "cloudformation",
                "UpdateStack",
                {
                    "stackName": "app-backend",
                    "templateURL": f"https://{c.artifacts}.s3.amazonaws.com/templates/{sha}.yaml",
                    "parameters": [{"parameterKey": "CodeVersion", "parameterValue": sha[:12]}],
                    "capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
                },
                None if update_stack_error else {"stackId": where.stack_arn},
                read_only=False,
                error=update_stack_error,
            ),
            simple(
                "lambda",
                "GetFunction20150331v2",
                {"functionName": "app-backend-api"},
                api="2015-03-31",
            ),
            simple(
                "lambda",
                "UpdateFunctionCode20150331v2",
                {"functionName": "app-backend-api", **code, "publish": False, "dryRun": False},
                function_config("app-backend-api", where.function_arn),
                read_only=False,
                api="2015-03-31",
            ),
        ]
        if self.first(c, "ci-canary", 0.12):
            steps.append(
                simple(
                    "lambda",
                    "GetFunction20150331v2",
                    {"functionName": "app-backend-canary"},
                    error=("ResourceNotFoundException", f"Function not found: {canary}"),
                    api="2015-03-31",
                )
            )
            create = {
                "functionName": "app-backend-canary",
                "runtime": "python3.12",
                "role": c.app_role_arn,
                "handler": "app.handler",
                "code": code,
                "description": "canary",
                "timeout": 30,
                "memorySize": 1024,
                "publish": True,
                "packageType": "Zip",
                "architectures": ["arm64"],
            }
            if self.first(c, "ci-passrole-denied", 0.6):
                error = (
                    "AccessDeniedException",
                    _denied(session_arn, "iam:PassRole", c.app_role_arn),
                )
                steps.append(
                    simple(
                        "lambda",
                        "CreateFunction20150331",
                        create,
                        read_only=False,
                        error=error,
                        api="2015-03-31",
                    )
                )
            else:
                steps.append(
                    simple(
                        "lambda",
                        "CreateFunction20150331",
                        create,
                        function_config("app-backend-canary", canary),
                        read_only=False,
                        api="2015-03-31",
                    )
                )
        poll = (
            simple(
                "lambda",
                "GetFunction20150331v2",
                {"functionName": "app-backend-api"},
                api="2015-03-31",
            ),
            simple("cloudformation", "DescribeStacks", {"stackName": "app-backend"}),
        )
        while len(steps) < n:
            steps.append(poll[len(steps) % 2])
        for step in steps[:n]:
            step(t)
            t += rng.randrange(800, 25_000)

    # ------------------------------------------------------------------ people at the console

    def console_calls(
        self,
        c: _Cast,
        t: int,
        n: int,
        identity: Record,
        person: _Person,
        actions: tuple[_ConsoleAction, ...],
        *,
        denied: Callable[[int], bool] | None = None,
    ) -> None:
        """Emit ``n`` console calls by a signed-in person, from ``t`` on."""
        rng = self.rng
        account = c.account
        regions = tuple(c.regions)
        for _ in range(n):
            t += rng.randrange(2_000, 45_000)
            if denied is not None and denied(t):
                continue
            service, name, is_global, read_only, params = rng.choice(actions)
            if is_global:
                region = GLOBAL_REGION
                params_region = c.primary
            else:
                region = c.primary if rng.random() < 0.8 else rng.choice(regions)
                params_region = region
            ua = _UA_S3_CONSOLE if service == "s3" else _INTERNAL
            self.call(
                t,
                identity,
                service,
                name,
                region,
                person.ip,
                ua,
                params(c, params_region),
                None,
                account,
                read_only=read_only,
                api_version="2012-08-10" if service == "dynamodb" else None,
                console=True,
            )

    def console_login(
        self,
        t: int,
        c: _Cast,
        identity: Record,
        person: _Person,
        *,
        mfa: str | None,
        failed: bool = False,
    ) -> None:
        """Emit a ``ConsoleLogin`` sign-in event."""
        extra: Record = {
            "LoginTo": f"https://console.aws.amazon.com/console/home?region={c.primary}",
            "MobileVersion": "No",
        }
        if mfa is not None:
            extra["MFAIdentifier"] = mfa
            extra["MFAUsed"] = "Yes"
        else:
            extra["MFAUsed"] = "No"
        self.call(
            t,
            identity,
            "signin",
            "ConsoleLogin",
            GLOBAL_REGION,
            person.ip,
            person.ua,
            None,
            {"ConsoleLogin": "Failure" if failed else "Success"},
            c.account,
            read_only=False,
            error=("", "Failed authentication") if failed else None,
            extra=extra,
            request_id=None,
            event_type="AwsConsoleSignIn",
            tls=self.host("signin", GLOBAL_REGION),
        )
        if failed:
            # A failed sign-in has an errorMessage and no errorCode.
            record = self.out[-1][2]
            del record["errorCode"]

    def ep_sso(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit an IAM Identity Center sign-in to the console, then ``n - 2`` console calls."""
        rng = self.rng
        account = c.account
        person = rng.choice(c.sso_people)
        access_key = "ASIA" + _key(rng, 16)
        session_arn = f"arn:aws:sts::{account}:assumed-role/{c.sso_role_name}/{person.email}"
        context = {
            "sessionIssuer": c.sso_issuer,
            "webIdFederationData": {},
            "attributes": {"creationDate": self.clock.stamp(t), "mfaAuthenticated": "false"},
        }
        self.call(
            t,
            {
                "type": "SAMLUser",
                "principalId": f"{c.saml_idp}:{person.email}",
                "userName": person.email,
                "identityProvider": c.saml_idp,
            },
            "sts",
            "AssumeRoleWithSAML",
            GLOBAL_REGION,
            person.ip,
            person.ua,
            {
                "sAMLAssertionID": "_" + self.uuid(),
                "roleSessionName": person.email,
                "roleArn": c.sso_role_arn,
                "principalArn": c.saml_provider_arn,
                "durationSeconds": 43200,
            },
            {
                "credentials": {
                    "accessKeyId": access_key,
                    "sessionToken": self.token(),
                    "expiration": _expiration(t + 12 * _MS_HOUR),
                },
                "assumedRoleUser": {
                    "assumedRoleId": f"{c.sso_role_id}:{person.email}",
                    "arn": session_arn,
                },
                "subject": person.email,
                "subjectType": "persistent",
                "issuer": f"https://portal.sso.{c.sso_region}.amazonaws.com/saml/assertion/"
                + base64.b64encode(rng.randbytes(24)).decode(),
                "audience": "https://signin.aws.amazon.com/saml",
                "nameQualifier": c.saml_idp,
            },
            account,
            read_only=True,
            resources=[
                _resource("AWS::IAM::Role", c.sso_role_arn, account),
                _resource("AWS::IAM::SAMLProvider", c.saml_provider_arn, account),
            ],
        )
        if n < 2:
            return
        t += rng.randrange(500, 3_000)
        self.console_login(
            t,
            c,
            {
                "type": "AssumedRole",
                "principalId": f"{c.sso_role_id}:{person.email}",
                "arn": session_arn,
                "accountId": account,
                "sessionContext": context,
            },
            person,
            mfa=None,
        )
        identity = {
            "type": "AssumedRole",
            "principalId": f"{c.sso_role_id}:{person.email}",
            "arn": session_arn,
            "accountId": account,
            "accessKeyId": access_key,
            "sessionContext": context,
        }
        self.console_calls(c, t, n - 2, identity, person, _ADMIN_ACTIONS)

    def user_identities(self, c: _Cast, person: _Person, t: int, mfa: bool) -> tuple[Record, Record]:
        """Return an IAM user's sign-in identity and the console session identity after it."""
        login = {
            "type": "IAMUser",
            "principalId": person.principal_id,
            "arn": person.arn,
            "accountId": c.account,
            "userName": person.name,
        }
        session = {
            "type": "IAMUser",
            "principalId": person.principal_id,
            "arn": person.arn,
            "accountId": c.account,
            "accessKeyId": "ASIA" + _key(self.rng, 16),
            "userName": person.name,
            "sessionContext": {
                "sessionIssuer": {},
                "webIdFederationData": {},
                "attributes": {
                    "creationDate": self.clock.stamp(t),
                    "mfaAuthenticated": "true" if mfa else "false",
                },
            },
        }
        return login, session

    def ep_alice(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit alice signing in with MFA, then working in the console."""
        login, session = self.user_identities(c, c.alice, t, True)
        mfa = f"arn:aws:iam::{c.account}:mfa/alice-iphone"
        self.console_login(t, c, login, c.alice, mfa=mfa)
        self.console_calls(c, t, n - 1, session, c.alice, _DEV_ACTIONS)

    def ep_bob(self, c: _Cast, region: str, t: int, n: int, *, fail_first: bool = False) -> None:
        """Emit bob signing in without MFA (after a failed try, when asked), then his calls."""
        rng = self.rng
        person = c.bob
        if fail_first:
            self.console_login(
                t,
                c,
                {
                    "type": "IAMUser",
                    "principalId": person.principal_id,
                    "accountId": c.account,
                    "accessKeyId": "",
                    "userName": person.name,
                },
                person,
                mfa=None,
                failed=True,
            )
            n -= 1
            t += rng.randrange(8_000, 40_000)
            if n <= 0:
                return
        login, session = self.user_identities(c, person, t, False)
        self.console_login(t, c, login, person, mfa=None)
        denied_done = False

        def denied(at: int) -> bool:
            nonlocal denied_done
            if denied_done or not self.first(c, "bob-denied", 0.25):
                denied_done = True
                return False
            denied_done = True
            self.call(
                at,
                session,
                "iam",
                "ListUsers",
                GLOBAL_REGION,
                person.ip,
                _INTERNAL,
                {"maxItems": 100},
                None,
                c.account,
                read_only=True,
                error=(
                    "AccessDenied",
                    _denied(person.arn, "iam:ListUsers", f"arn:aws:iam::{c.account}:user/"),
                ),
                console=True,
            )
            return True

        self.console_calls(c, t, n - 1, session, person, _ANALYST_ACTIONS, denied=denied)

    def ep_root(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit the root user signing in (with MFA) and making one call."""
        account = c.account
        arn = f"arn:aws:iam::{account}:root"
        person = _Person("root", arn, account, "203.0.113.10", _UA_CHROME)
        self.console_login(
            t,
            c,
            {"type": "Root", "principalId": account, "arn": arn, "accountId": account, "accessKeyId": ""},
            person,
            mfa=f"arn:aws:iam::{account}:mfa/root-account-mfa-device",
        )
        if n < 2:
            return
        created = self.clock.stamp(t)
        t += self.rng.randrange(10_000, 60_000)
        self.call(
            t,
            {
                "type": "Root",
                "principalId": account,
                "arn": arn,
                "accountId": account,
                "accessKeyId": "ASIA" + _key(self.rng, 16),
                "sessionContext": {
                    "sessionIssuer": {},
                    "webIdFederationData": {},
                    "attributes": {"creationDate": created, "mfaAuthenticated": "true"},
                },
            },
            "iam",
            "GetAccountSummary",
            GLOBAL_REGION,
            person.ip,
            _INTERNAL,
            None,
            None,
            account,
            read_only=True,
            console=True,
        )

    # ------------------------------------------------------------------ the legacy script

    def ep_batch(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit a run of the ``legacy-batch`` script with its long-term access key."""
        rng = self.rng
        account = c.account
        identity = c.batch_identity
        ip = c.batch_ip
        region = c.primary
        prefix = "reports/daily/"
        day = self.clock.stamp(t)[:10]
        done = 0

        def plain(
            service: str,
            name: str,
            request: Record | None,
            *,
            where: str = region,
            tls: Record | None = None,
            error: tuple[str, str] | None = None,
        ) -> None:
            self.call(
                t,
                identity,
                service,
                name,
                where,
                ip,
                _UA_BATCH,
                request,
                None,
                account,
                read_only=True,
                error=error,
                tls=tls or self.host(service, where),
            )

        while done < n:
            stage = done % 6
            if stage == 0:
                plain("sts", "GetCallerIdentity", None, where=GLOBAL_REGION, tls=self.host("sts-global", GLOBAL_REGION))
            elif stage == 1:
                bucket = c.reports
                self.call(
                    t,
                    identity,
                    "s3",
                    "ListObjects",
                    region,
                    ip,
                    _UA_BATCH,
                    {
                        "list-type": "2",
                        "bucketName": bucket,
                        "encoding-type": "url",
                        "prefix": prefix,
                        "Host": f"{bucket}.s3.{region}.amazonaws.com",
                    },
                    None,
                    account,
                    read_only=True,
                    extra={
                        "SignatureVersion": "SigV4",
                        "CipherSuite": "TLS_AES_128_GCM_SHA256",
                        "bytesTransferredIn": 0,
                        "AuthenticationMethod": "AuthHeader",
                        "x-amz-id-2": base64.b64encode(rng.randbytes(56)).decode(),
                        "bytesTransferredOut": rng.randrange(600, 9_000),
                    },
                    request_id=rng.randbytes(8).hex().upper(),
                    resources=[
                        {"type": "AWS::S3::Object", "ARNPrefix": f"arn:aws:s3:::{bucket}/{prefix}"},
                        {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
                    ],
                    data=True,
                    tls=self.host("s3", region, tls13=False),
                )
            elif stage == 2:
                self.s3_object(
                    t,
                    c,
                    region,
                    identity,
                    ip,
                    _UA_BATCH,
                    "GetObject",
                    c.reports,
                    f"{prefix}{day}.csv",
                    size=rng.randrange(50_000, 400_000),
                )
            elif stage == 3:
                plain(
                    "ec2",
                    "DescribeInstances",
                    {
                        "instancesSet": {},
                        "filterSet": {
                            "items": [{"name": "tag:Role", "valueSet": {"items": [{"value": "batch"}]}}]
                        },
                    },
                )
            elif stage == 4:
                if self.first(c, "ThrottlingException", 0.1):
                    plain(
                        "ssm",
                        "GetParameter",
                        {"name": "/legacy/batch/db-password", "withDecryption": True},
                        error=("ThrottlingException", "Rate exceeded"),
                    )
                    done += 1
                    t += rng.randrange(300, 2_000)
                    if done >= n:
                        break
                plain("ssm", "GetParameter", {"name": "/legacy/batch/db-password", "withDecryption": True})
            else:
                plain("sts", "GetCallerIdentity", None, where=GLOBAL_REGION, tls=self.host("sts-global", GLOBAL_REGION))
            done += 1
            t += rng.randrange(150, 3_000)

    # ------------------------------------------------------------------ planning a day


_Builder = Callable[[_Synth, _Cast, str, int, int], None]


def _lambda_app(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    s.ep_app(c, region, t, n, "lambda")


def _ecs_app(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    s.ep_app(c, region, t, n, "ecs")


def _lambda_cold(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    s.ep_cold_start(c, region, t, n, "lambda")


def _ecs_cold(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    s.ep_cold_start(c, region, t, n, "ecs")


def _bob_failing(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    s.ep_bob(c, region, t, n, fail_first=True)


@dataclass(frozen=True, slots=True)
class _Kind:
    """A kind of episode: its share of a weekday's and a weekend's events, and its shape."""

    name: str
    builder: _Builder
    weekday: float
    weekend: float
    hours: list[float]
    sizes: tuple[int, ...]
    where: str  # "app": any region, "primary", "trail": the first account's primary region
    span_ms: int


_KINDS = (
    _Kind("app", _lambda_app, 0.40, 0.46, _FLAT_CUM, (1, 1, 2, 2, 3, 4), "app", 2_000),
    _Kind("worker", _ecs_app, 0.16, 0.20, _FLAT_CUM, (2, 3, 4, 4), "primary", 2_000),
    _Kind("trail", _Synth.ep_trail_key, 0.03, 0.04, _FLAT_CUM, (1, 1, 2), "trail", 60_000),
    _Kind("ci", _Synth.ep_ci, 0.08, 0.01, _CI_CUM, (9, 10, 11, 12, 13, 14, 16), "app", 600_000),
    _Kind("sso", _Synth.ep_sso, 0.13, 0.02, _HUMAN_CUM, (4, 6, 8, 10, 14, 18, 24), "primary", 1_500_000),
    _Kind("alice", _Synth.ep_alice, 0.08, 0.01, _HUMAN_CUM, (3, 5, 8, 12, 16), "primary", 1_500_000),
    _Kind("bob", _Synth.ep_bob, 0.05, 0.005, _HUMAN_CUM, (3, 4, 6, 8, 10), "primary", 1_500_000),
    _Kind("batch", _Synth.ep_batch, 0.07, 0.08, _FLAT_CUM, (4, 5, 6, 6, 7, 8), "primary", 60_000),
)

# An episode planned for a day: (start ms, order, builder, cast, region, events).
_Episode = tuple[int, int, _Builder, _Cast, str, int]


def _plan_day(s: _Synth, day_index: int) -> list[_Episode]:
    """Return the day's episodes: scheduled ones first, then a weighted fill to the budget."""
    rng = s.rng
    day = date.fromordinal(s.start.toordinal() + day_index)
    day_start = s.start_ms + day_index * _MS_DAY
    day_end = day_start + _MS_DAY
    last_day = day_index == s.days - 1
    budget = s.events_per_day
    plan: list[_Episode] = []

    def add(t: int, builder: _Builder, c: _Cast, region: str, n: int, span: int = 0) -> None:
        nonlocal budget
        n = min(n, budget)
        if n <= 0:
            return
        if last_day:
            t = min(t, day_end - span - 1)
        plan.append((t, len(plan), builder, c, region, n))
        budget -= n

    def at(cum: list[float]) -> int:
        hour = rng.choices(_HOURS, cum_weights=cum)[0]
        return day_start + hour * _MS_HOUR + rng.randrange(_MS_HOUR)

    for c in s.casts:
        # Rare and scheduled events first, so that even a small corpus shows each of them.
        if day_index % 30 == 0:
            add(at(_HUMAN_CUM), _Synth.ep_root, c, GLOBAL_REGION, 2, 120_000)
        if day_index % 365 == 0:
            for region in s.regions:
                add(day_start + rng.randrange(_MS_HOUR, 5 * _MS_HOUR), _Synth.ep_rotate_key, c, region, 1)
        if day_index % 7 == 0:
            add(at(_HUMAN_CUM), _bob_failing, c, c.primary, 6, 1_500_000)
        # Credentials of the app's runtimes rotate: an AssumeRole by the service, then the secret.
        for (runtime, region), phase in c.app_phase.items():
            if runtime == "ecs" and region != c.primary:
                continue
            period = 8 * _MS_HOUR if runtime == "lambda" else 12 * _MS_HOUR
            first = phase + -(-(day_start - phase) // period) * period
            for t in range(first, day_end, period):
                add(t, _lambda_cold if runtime == "lambda" else _ecs_cold, c, region, 3, 2_000)

    weekend = day.weekday() >= 5
    kinds = _KINDS
    weights = [
        (k.weekend if weekend else k.weekday) / (sum(k.sizes) / len(k.sizes)) for k in kinds
    ]
    cum = _cumulative(tuple(weights))
    casts = s.casts
    regions = s.regions
    others = regions[1:]
    while budget > 0:
        kind = rng.choices(kinds, cum_weights=cum)[0]
        c = casts[0] if kind.where == "trail" else rng.choice(casts)
        if kind.where == "app" and others and rng.random() < 0.4:
            region = rng.choice(others)
        else:
            region = c.primary
        add(at(kind.hours), kind.builder, c, region, rng.choice(kind.sizes), kind.span_ms)
    return plan


def _iter_timed(s: _Synth) -> Iterator[tuple[int, Record]]:
    """Yield (epoch ms, record) in time order, building one hour of episodes at a time."""
    carry: list[tuple[int, int, Record]] = []
    for day_index in range(s.days):
        plan = _plan_day(s, day_index)
        plan.sort()
        day_start = s.start_ms + day_index * _MS_DAY
        i = 0
        for hour in range(1, 25):
            until = day_start + hour * _MS_HOUR
            s.out = carry
            while i < len(plan) and plan[i][0] < until:
                t, _, builder, c, region, n = plan[i]
                builder(s, c, region, t, n)
                i += 1
            pending = s.out
            pending.sort(key=_time_and_order)
            cut = 0
            for cut, item in enumerate(pending):  # noqa: B007 - the index is used after the loop
                if item[0] >= until:
                    break
            else:
                cut = len(pending)
            for t, _, record in pending[:cut]:
                yield t, record
            carry = pending[cut:]
    carry.sort(key=_time_and_order)
    for t, _, record in carry:
        yield t, record


def _time_and_order(item: tuple[int, int, Record]) -> tuple[int, int]:
    return item[0], item[1]


def _check(
    *, days: int, events_per_day: int, accounts: tuple[str, ...], regions: tuple[str, ...]
) -> None:
    if days < 1:
        raise UsageError(f"days must be at least 1, not {days}.")
    if events_per_day < 0:
        raise UsageError(f"events_per_day must be 0 or more, not {events_per_day}.")
    if not accounts or not all(_ACCOUNT.match(a) for a in accounts):
        raise UsageError(f"accounts must be 12-digit AWS account IDs, not {accounts!r}.")
    if len(set(accounts)) != len(accounts):
        raise UsageError(f"accounts must be distinct: {accounts!r}.")
    if not regions or not all(_REGION.match(r) for r in regions):
        raise UsageError(f"regions must be AWS region names such as us-east-1, not {regions!r}.")
    if len(set(regions)) != len(regions):
        raise UsageError(f"regions must be distinct: {regions!r}.")


def iter_records(
    *,
    seed: int = 7,
    start: date,
    days: int,
    events_per_day: int,
    accounts: tuple[str, ...] = ("111122223333",),
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1"),
) -> Iterator[Record]:
    """Yield ``days * events_per_day`` CloudTrail records in time order, the same for a seed.

    ``events_per_day`` counts every account's events together; global services are recorded in
    us-east-1 as CloudTrail does. Nested values are shared between records: do not mutate them.
    """
    _check(days=days, events_per_day=events_per_day, accounts=accounts, regions=regions)
    synth = _Synth(
        seed=seed,
        start=start,
        days=days,
        events_per_day=events_per_day,
        accounts=accounts,
        regions=regions,
    )
    for _, record in _iter_timed(synth):
        yield record


# ---------------------------------------------------------------------- the delivery tree


@dataclass(slots=True)
class _Delivered:
    """A log file written: what its digest needs to list it."""

    delivered: int
    key: str
    sha256: str
    oldest: str
    newest: str


class _Stream:
    """The log files of one account and region being filled, and those already delivered."""

    __slots__ = ("delivered", "first_t", "last_t", "phase", "prefix", "records", "window_end")

    def __init__(self, prefix: str, phase: int) -> None:
        self.prefix = prefix
        self.phase = phase
        self.records: list[Record] = []
        self.first_t = 0
        self.last_t = 0
        self.window_end = 0
        self.delivered: list[_Delivered] = []


def write_trail(
    out_dir: Path,
    *,
    seed: int = 7,
    start: date,
    days: int,
    events_per_day: int,
    accounts: tuple[str, ...] = ("111122223333",),
    org_id: str | None = None,
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1"),
    events_per_file: int = 100,
    digest: bool = True,
) -> SynthSummary:
    """Return what was written: a CloudTrail S3 tree of ``iter_records`` under ``out_dir``.

    Log files go to ``AWSLogs/[<org_id>/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/``, one
    about every five minutes per account and region with at most ``events_per_file`` records,
    named after their delivery time; with ``digest``, hourly digest files go beside them under
    ``CloudTrail-Digest/``, chained and listing the SHA-256 of each log file's JSON as CloudTrail
    computes it (over the uncompressed content). Existing files are left alone.
    """
    _check(days=days, events_per_day=events_per_day, accounts=accounts, regions=regions)
    if events_per_file < 1:
        raise UsageError(f"events_per_file must be at least 1, not {events_per_file}.")
    if org_id is not None and not _ORG_ID.match(org_id):
        raise UsageError(f"org_id must look like o-a1b2c3d4e5, not {org_id!r}.")
    synth = _Synth(
        seed=seed,
        start=start,
        days=days,
        events_per_day=events_per_day,
        accounts=accounts,
        regions=regions,
    )
    # File names and delivery delays come from their own stream so that records do not depend on
    # how they are split into files.
    rng = random.Random(f"trailmin.synth.files:{seed}")
    root = "AWSLogs/" + (f"{org_id}/" if org_id else "")
    streams: dict[tuple[str, str], _Stream] = {}
    made_dirs: set[Path] = set()
    totals = [0, 0, 0, 0]  # files, events, bytes, uncompressed bytes
    minutes: dict[int, tuple[str, str]] = {}

    def stream_for(account: str, region: str) -> _Stream:
        key = (account, region)
        found = streams.get(key)
        if found is None:
            found = _Stream(f"{root}{account}", rng.randrange(DELIVERY_MS))
            streams[key] = found
        return found

    for account in accounts:
        for region in dict.fromkeys((*regions, GLOBAL_REGION)):
            stream_for(account, region)

    def flush(account: str, region: str, stream: _Stream) -> None:
        records = stream.records
        delivered = stream.last_t + rng.randrange(15_000, 110_000)
        minute = delivered // 60_000
        names = minutes.get(minute)
        if names is None:
            moment = datetime.fromtimestamp(minute * 60, UTC)
            names = (moment.strftime("%Y/%m/%d"), moment.strftime("%Y%m%dT%H%MZ"))
            minutes[minute] = names
        folder, stamp = names
        suffix = "".join(rng.choices(_ALNUM, k=16))
        key = (
            f"{stream.prefix}/CloudTrail/{region}/{folder}/"
            f"{account}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"
        )
        body = _ENCODE({"Records": records})
        packed = gzip.compress(body, compresslevel=COMPRESSLEVEL, mtime=0)
        path = out_dir / key
        if path.parent not in made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(path.parent)
        path.write_bytes(packed)
        stream.delivered.append(
            _Delivered(
                delivered,
                key,
                hashlib.sha256(body).hexdigest(),
                records[0]["eventTime"],
                records[-1]["eventTime"],
            )
        )
        totals[0] += 1
        totals[1] += len(records)
        totals[2] += len(packed)
        totals[3] += len(body)
        stream.records = []

    for t, record in _iter_timed(synth):
        account = record["recipientAccountId"]
        region = record["awsRegion"]
        stream = streams.get((account, region)) or stream_for(account, region)
        if stream.records and (t >= stream.window_end or len(stream.records) >= events_per_file):
            flush(account, region, stream)
        if not stream.records:
            stream.first_t = t
            phase = stream.phase
            stream.window_end = phase + ((t - phase) // DELIVERY_MS + 1) * DELIVERY_MS
        stream.records.append(record)
        stream.last_t = t
    for (account, region), stream in streams.items():
        if stream.records:
            flush(account, region, stream)

    digests = 0
    if digest:
        end_ms = synth.start_ms + days * _MS_DAY
        for (account, region), stream in streams.items():
            if region not in regions and not stream.delivered:
                continue
            digests += _write_digests(
                out_dir,
                rng,
                account=account,
                region=region,
                home=regions[0],
                prefix=stream.prefix,
                bucket=synth.casts[0].trail_bucket,
                start_ms=synth.start_ms,
                end_ms=max([end_ms, *(d.delivered for d in stream.delivered)]),
                delivered=stream.delivered,
            )
    return SynthSummary(
        files=totals[0],
        digest_files=digests,
        events=totals[1],
        bytes=totals[2],
        uncompressed_bytes=totals[3],
    )


def _write_digests(
    out_dir: Path,
    rng: random.Random,
    *,
    account: str,
    region: str,
    home: str,
    prefix: str,
    bucket: str,
    start_ms: int,
    end_ms: int,
    delivered: list[_Delivered],
) -> int:
    """Write one account and region's hourly digest chain; return how many files it has."""
    delivered = sorted(delivered, key=lambda d: d.delivered)
    fingerprint = rng.randbytes(16).hex()
    offset = rng.randrange(60_000, 300_000)
    clock = _Clock()
    previous: tuple[str, str, str] | None = None  # key, sha256 of its JSON, its signature
    written = 0
    i = 0
    digest_end = start_ms + offset
    while True:
        digest_start = digest_end - _MS_HOUR
        files = []
        while i < len(delivered) and delivered[i].delivered < digest_end:
            files.append(delivered[i])
            i += 1
        moment = datetime.fromtimestamp(digest_end // 1000, UTC)
        key = (
            f"{prefix}/CloudTrail-Digest/{region}/{moment:%Y/%m/%d}/"
            f"{account}_CloudTrail-Digest_{region}_{TRAIL_NAME}_{home}_{moment:%Y%m%dT%H%M%SZ}.json.gz"
        )
        content: Record = {
            "awsAccountId": account,
            "digestStartTime": clock.stamp(digest_start),
            "digestEndTime": clock.stamp(digest_end),
            "digestS3Bucket": bucket,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": fingerprint,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": max(f.newest for f in files) if files else None,
            "oldestEventTime": min(f.oldest for f in files) if files else None,
            "previousDigestS3Bucket": bucket if previous else None,
            "previousDigestS3Object": previous[0] if previous else None,
            "previousDigestHashValue": previous[1] if previous else None,
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": previous[2] if previous else None,
            "logFiles": [
                {
                    "s3Bucket": bucket,
                    "s3Object": f.key,
                    "hashValue": f.sha256,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": f.newest,
                    "oldestEventTime": f.oldest,
                }
                for f in files
            ],
        }
        body = _ENCODE(content)
        path = out_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(body, compresslevel=COMPRESSLEVEL, mtime=0))
        written += 1
        # The signature itself lives in the S3 object's metadata; only the next digest shows it.
        previous = (key, hashlib.sha256(body).hexdigest(), rng.randbytes(256).hex())
        if digest_end >= end_ms and i >= len(delivered):
            return written
        digest_end += _MS_HOUR
