"""Synthetic CloudTrail logs: seeded, deterministic records and S3 trees shaped like real ones.

``iter_records`` yields CloudTrail records in time order for the cast of a fictional organization
(Acme), repeated in every account given:

- ``role/service/app-backend`` (a role with a path), assumed by Lambda and ECS: S3 object data
  events, DynamoDB items, SQS messages, KMS data keys, Secrets Manager secrets, a few errors;
- ``role/ci-deploy``, assumed by GitHub Actions through OIDC: Lambda deploys, CloudFormation,
  ECR, artifacts in S3, an ``iam:PassRole`` refused now and then;
- ``AWSReservedSSO_AdministratorAccess_<hash>``, the IAM Identity Center permission set role, used
  from the console by people signed in with their email address;
- the IAM users ``alice`` (console, MFA), ``bob`` (console, no MFA, a failed sign-in),
  ``legacy-batch`` (a long-term access key used by a nightly script on an EC2 instance; on the
  last day, someone else tries the key from their own machine: who am I, then what can it list,
  most of it refused, in a region the script never uses) and ``export-job`` (a user's access key
  used by a Lambda function, instead of its execution role);
- the root user, rarely; AWS services acting on their own (``AwsServiceEvent``) or for a principal
  (``AWSService`` identities, ``invokedBy``).

``write_trail`` lays them out as CloudTrail delivers them to S3: gzipped ``{"Records": [...]}``
files about every five minutes per account and region, and hourly digest files.

Deterministic: everything random comes from ``random.Random`` seeded with ``seed``; no clock, no
``uuid4``, no time in gzip headers. The same arguments give byte-identical files.

Records share nested values (identities, TLS details, constant request parameters) so that corpora
of millions of events are quick to make: treat them as read-only, copy before changing one.
"""

from __future__ import annotations

import base64
import gc
import gzip
import hashlib
import os
import random
import re
import string
from bisect import bisect, bisect_left
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from trailmin.errors import UsageError

Record = dict[str, Any]
_Timed = tuple[int, int, Record]  # (epoch ms, order of creation, record)

# A multi-region trail records global services (IAM, the STS global endpoint, sign-in, CloudFront,
# Organizations) in us-east-1, whatever region the caller works in.
GLOBAL_REGION = "us-east-1"
TRAIL_NAME = "acme-trail"
# CloudTrail's own deflate level is not documented. Level 1 makes files about 7x smaller than
# their JSON (level 6: about 9x) in half the time, and compression is write_trail's largest cost.
COMPRESSLEVEL = 1
DELIVERY_MS = 5 * 60 * 1000

_MS_HOUR = 3_600_000
_MS_DAY = 24 * _MS_HOUR
_SECONDS = tuple(f"{s:02d}Z" for s in range(60))
_ALNUM = string.ascii_letters + string.digits
_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
_BASE32HEX = bytes(b"0123456789ABCDEFGHIJKLMNOPQRSTUV"[b & 31] for b in range(256))
# Byte maps that set a random UUID's version (4) and variant (RFC 4122) bits.
_UUID_VERSION = bytes((b & 0x0F) | 0x40 for b in range(256))
_UUID_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))
_ACCOUNT = re.compile(r"^\d{12}$")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ENCODE = msgspec.json.Encoder().encode

# User agents, as the SDKs, the CLI and the console send them.
_UA_LAMBDA = (
    "aws-sdk-js/3.632.0 ua/2.1 os/linux#5.10.227-239.884.amzn2.x86_64 lang/js md/nodejs#20.18.0 "
    "api/{service}#3.632.0 exec-env/AWS_Lambda_nodejs20.x"
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
_UA_EXPORT = (
    "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.227-239.884.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 "
    "cfg/retry-mode#legacy Botocore/1.34.145"
)
_UA_INTRUDER = (
    "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.6.9-amd64 md/arch#x86_64 "
    "lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
    "md/distrib#kali.2024 md/prompt#off md/command#{command}"
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

# Hourly weights (UTC): people in a European office, CI runs after their pushes, steady machines.
_HUMAN_HOURS = (
    0.05, 0.03, 0.03, 0.03, 0.05, 0.2, 0.8, 3, 6, 8, 8, 7,
    5, 7, 8, 7, 6, 4, 2, 1, 0.6, 0.4, 0.2, 0.1,
)  # fmt: skip
_CI_HOURS = (
    0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1, 3, 5, 6, 6, 6,
    5, 6, 7, 7, 6, 5, 3, 2, 1.5, 1, 0.6, 0.3,
)  # fmt: skip
_FLAT_HOURS = (1.0,) * 24

# eventVersion by service: the data planes and newer APIs write 1.09, the rest 1.08.
_VERSION_109 = frozenset({"s3", "dynamodb", "sqs", "lambda", "cloudformation", "cloudtrail"})
# Services whose endpoint has no region in its name.
_GLOBAL_HOSTS = {
    "iam": "iam.amazonaws.com",
    "cloudfront": "cloudfront.amazonaws.com",
    "organizations": "organizations.us-east-1.amazonaws.com",
    "ce": "ce.us-east-1.amazonaws.com",
    "health": "health.us-east-1.amazonaws.com",
    "signin": "signin.aws.amazon.com",
    "sts-global": "sts.amazonaws.com",
}


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


@dataclass(frozen=True, slots=True)
class SynthSummary:
    """What ``write_trail`` wrote: file counts, events, and the log files' sizes."""

    files: int
    digest_files: int
    events: int
    bytes: int
    uncompressed_bytes: int


class _Clock:
    """Formats epoch milliseconds as CloudTrail does, caching one prefix per minute."""

    __slots__ = ("_last", "_last_second", "_minutes")

    def __init__(self) -> None:
        self._minutes: dict[int, str] = {}
        self._last_second = -1
        self._last = ""

    def stamp(self, t: int) -> str:
        seconds = t // 1000
        if seconds == self._last_second:
            return self._last
        minute, second = divmod(seconds, 60)
        prefix = self._minutes.get(minute)
        if prefix is None:
            if len(self._minutes) > 4096:
                self._minutes.clear()
            prefix = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
            self._minutes[minute] = prefix
        self._last_second = seconds
        self._last = prefix + _SECONDS[second]
        return self._last


def _expiration(t: int) -> str:
    """Return a credential expiry as STS logs it: ``Oct 5, 2026, 6:17:23 PM``."""
    moment = datetime.fromtimestamp(t // 1000, UTC)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S} {half}"


def _epoch_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


def _key(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(_KEY_CHARS, k=length))


def _uuid(rng: random.Random) -> str:
    h = rng.randbytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def _public_ip(rng: random.Random, first: tuple[int, ...]) -> str:
    return f"{rng.choice(first)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _issuer(principal_id: str, arn: str, account: str, name: str) -> Record:
    return {
        "type": "Role",
        "principalId": principal_id,
        "arn": arn,
        "accountId": account,
        "userName": name,
    }


def _key_user(rng: random.Random, account: str, name: str) -> Record:
    """Return the identity of an IAM user calling with its long-term (AKIA) access key."""
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + _key(rng, 17),
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": "AKIA" + _key(rng, 16),
        "userName": name,
    }


def _resource(kind: str, arn: str, account: str) -> Record:
    return {"accountId": account, "type": kind, "ARN": arn}


def _denied(caller: str, action: str, resource: str) -> str:
    return (
        f"User: {caller} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


def _service_identity(service: str) -> Record:
    return {"type": "AWSService", "invokedBy": service}


class _Region:
    """One account's application resources in one region."""

    __slots__ = (
        "app_ips",
        "bucket",
        "function_arn",
        "kms_arn",
        "kms_id",
        "name",
        "queue_arn",
        "queue_url",
        "secret_arn",
        "stack_arn",
        "table_arn",
        "vpce",
        "worker_ip",
    )

    def __init__(self, rng: random.Random, account: str, name: str, octet: int) -> None:
        self.name = name
        self.bucket = f"acme-app-data-{account}-{name}"
        self.table_arn = f"arn:aws:dynamodb:{name}:{account}:table/orders"
        self.queue_url = f"https://sqs.{name}.amazonaws.com/{account}/order-events"
        self.queue_arn = f"arn:aws:sqs:{name}:{account}:order-events"
        self.kms_id = _uuid(rng)
        self.kms_arn = f"arn:aws:kms:{name}:{account}:key/{self.kms_id}"
        suffix = "".join(rng.choices(_ALNUM, k=6))
        self.secret_arn = f"arn:aws:secretsmanager:{name}:{account}:secret:prod/app/db-{suffix}"
        self.function_arn = f"arn:aws:lambda:{name}:{account}:function:app-backend-api"
        self.stack_arn = f"arn:aws:cloudformation:{name}:{account}:stack/app-backend/{_uuid(rng)}"
        # Lambda outside a VPC calls from AWS public addresses; ECS tasks go through VPC endpoints.
        self.app_ips = tuple(_public_ip(rng, (3, 18, 34, 44, 52, 54)) for _ in range(6))
        self.worker_ip = f"10.{octet}.{rng.randrange(16, 32)}.{rng.randrange(1, 255)}"
        self.vpce = {
            service: "vpce-0" + rng.randbytes(8).hex()[:16]
            for service in ("s3", "dynamodb", "sqs", "kms", "secretsmanager")
        }


class _Person:
    """Someone at the console: their IAM identity (if a user), address and browser."""

    __slots__ = ("arn", "ip", "name", "principal_id", "ua")

    def __init__(
        self, name: str, *, arn: str = "", principal_id: str = "", ip: str, ua: str
    ) -> None:
        self.name = name
        self.arn = arn
        self.principal_id = principal_id
        self.ip = ip
        self.ua = ua


class _Cast:
    """The fictional organization's principals and resources in one account."""

    def __init__(
        self, rng: random.Random, index: int, account: str, regions: tuple[str, ...]
    ) -> None:
        a = account
        self.index = index
        self.account = a
        self.primary = regions[0]
        self.regions = {name: _Region(rng, a, name, 20 + 10 * i) for i, name in enumerate(regions)}
        # Rare cases already shown in this account (see _Synth.first).
        self.shown: set[str] = set()

        self.app_role_arn = f"arn:aws:iam::{a}:role/service/app-backend"
        self.app_role_id = "AROA" + _key(rng, 17)
        self.app_issuer = _issuer(self.app_role_id, self.app_role_arn, a, "app-backend")
        # Credentials of the app's runtimes rotate on a schedule: (runtime, region) -> phase.
        self.app_phase = {
            (runtime, name): rng.randrange(_MS_HOUR)
            for runtime in ("lambda", "ecs")
            for name in regions
        }

        self.ci_role_arn = f"arn:aws:iam::{a}:role/ci-deploy"
        self.ci_role_id = "AROA" + _key(rng, 17)
        self.ci_issuer = _issuer(self.ci_role_id, self.ci_role_arn, a, "ci-deploy")
        self.oidc_arn = f"arn:aws:iam::{a}:oidc-provider/token.actions.githubusercontent.com"
        self.ci_web_id = {"federatedProvider": self.oidc_arn, "attributes": {}}
        self.artifacts = f"acme-ci-artifacts-{a}"

        self.sso_region = regions[-1]
        self.sso_role_name = f"AWSReservedSSO_AdministratorAccess_{rng.randbytes(8).hex()}"
        self.sso_role_arn = (
            f"arn:aws:iam::{a}:role/aws-reserved/sso.amazonaws.com/{self.sso_region}/"
            + self.sso_role_name
        )
        self.sso_role_id = "AROA" + _key(rng, 17)
        self.sso_issuer = _issuer(self.sso_role_id, self.sso_role_arn, a, self.sso_role_name)
        self.saml_provider_arn = (
            f"arn:aws:iam::{a}:saml-provider/AWSSSO_{rng.randbytes(8).hex()}_DO_NOT_DELETE"
        )
        self.saml_idp = base64.b64encode(rng.randbytes(20)).decode()
        self.sso_people = (
            _Person("maria.garcia@acme.example", ip="203.0.113.24", ua=_UA_CHROME),
            _Person("dev.patel@acme.example", ip="198.51.100.77", ua=_UA_EDGE),
            _Person("li.wei@acme.example", ip="203.0.113.51", ua=_UA_CHROME),
        )

        self.alice = _Person(
            "alice",
            arn=f"arn:aws:iam::{a}:user/alice",
            principal_id="AIDA" + _key(rng, 17),
            ip="203.0.113.10",
            ua=_UA_CHROME,
        )
        self.bob = _Person(
            "bob",
            arn=f"arn:aws:iam::{a}:user/bob",
            principal_id="AIDA" + _key(rng, 17),
            ip="198.51.100.23",
            ua=_UA_FIREFOX,
        )
        self.root = _Person(
            "root", arn=f"arn:aws:iam::{a}:root", principal_id=a, ip="203.0.113.10", ua=_UA_CHROME
        )
        self.batch_identity = _key_user(rng, a, "legacy-batch")
        self.batch_ip = _public_ip(rng, (54,))
        self.reports = f"acme-legacy-reports-{a}"

        self.trail_key_arn = f"arn:aws:kms:{self.primary}:{a}:key/{_uuid(rng)}"
        self.trail_arn = f"arn:aws:cloudtrail:{self.primary}:{a}:trail/{TRAIL_NAME}"
        self.trail_bucket = f"acme-cloudtrail-{a}"

        # A Lambda function that signs its calls with an IAM user's access key (kept in its
        # environment variables) instead of its execution role: the case the checklist flags.
        self.export_identity = _key_user(rng, a, "export-job")
        self.export_ip = _public_ip(rng, (3, 18, 34))
        self.exports = f"acme-exports-{a}"
        # Someone who found legacy-batch's key, trying it from their own machine.
        self.intruder_ip = _public_ip(rng, (45, 91, 185))


class _Who:
    """Who calls which service, and how: identity, account, region, address, agent, endpoint."""

    __slots__ = (
        "account",
        "identity",
        "ip",
        "region",
        "service",
        "templates",
        "tls",
        "ua",
        "vpce",
    )

    def __init__(
        self,
        service: str,
        identity: Record,
        *,
        account: str,
        region: str,
        ip: str,
        ua: str,
        tls: Record | None = None,
        vpce: str | None = None,
    ) -> None:
        self.service = service
        self.identity = identity
        self.account = account
        self.region = region
        self.ip = ip
        self.ua = ua
        self.tls = tls
        self.vpce = vpce
        self.templates: dict[str, Record] = {}


class _AppSession:
    """Credentials of the app role held by one runtime (a Lambda function or an ECS task)."""

    __slots__ = (
        "access_key",
        "cast",
        "identity",
        "ip",
        "name",
        "region",
        "runtime",
        "templates",
        "token",
        "who",
    )

    def __init__(self, cast: _Cast, runtime: str, region: str, *, name: str, ip: str) -> None:
        self.cast = cast
        self.runtime = runtime
        self.region = region
        self.name = name
        self.ip = ip
        self.access_key = ""
        self.token = ""
        self.identity: Record = {}
        self.who: dict[str, _Who] = {}
        self.templates: dict[str, Record] = {}


# A console action: (service, eventName, global?, readOnly, request parameters).
_Params = Callable[["_Cast", str], Record | None]
_Action = tuple[str, str, bool, bool, _Params]


def _none(_c: _Cast, _r: str) -> Record | None:
    return None


def _const(value: Record) -> _Params:
    def params(_c: _Cast, _r: str) -> Record | None:
        return value

    return params


def _bucket_params(kind: str) -> _Params:
    def params(c: _Cast, r: str) -> Record | None:
        bucket = c.regions[r].bucket
        return {kind: "", "bucketName": bucket, "Host": f"{bucket}.s3.{r}.amazonaws.com"}

    return params


_NO_FILTER = _const({"instancesSet": {}, "filterSet": {}})
_COMMON_READS: tuple[_Action, ...] = (
    ("ec2", "DescribeInstances", False, True, _NO_FILTER),
    ("ec2", "DescribeSecurityGroups", False, True,
     _const({"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}})),
    ("ec2", "DescribeVpcs", False, True, _const({"vpcSet": {}, "filterSet": {}})),
    ("lambda", "ListFunctions20150331", False, True, _none),
    ("lambda", "GetFunction20150331v2", False, True, _const({"functionName": "app-backend-api"})),
    ("logs", "DescribeLogGroups", False, True, _const({"limit": 50})),
    ("logs", "DescribeLogStreams", False, True,
     _const({"logGroupName": "/aws/lambda/app-backend-api", "orderBy": "LastEventTime",
             "descending": True, "limit": 25})),
    ("monitoring", "DescribeAlarms", False, True, _const({"maxRecords": 100})),
    ("dynamodb", "DescribeTable", False, True, _const({"tableName": "orders"})),
    ("cloudformation", "DescribeStacks", False, True, _const({"stackName": "app-backend"})),
    ("s3", "ListBuckets", True, True, _const({"Host": "s3.amazonaws.com"})),
    ("s3", "GetBucketPolicy", False, True, _bucket_params("policy")),
    ("sqs", "ListQueues", False, True, _none),
    ("secretsmanager", "ListSecrets", False, True,
     _const({"maxResults": 100, "includePlannedDeletion": False})),
    ("kms", "ListAliases", False, True, _none),
)  # fmt: skip

_ADMIN_ACTIONS: tuple[_Action, ...] = (
    *_COMMON_READS,
    ("iam", "ListRoles", True, True, _none),
    ("iam", "GetRole", True, True, _const({"roleName": "app-backend"})),
    ("iam", "ListAttachedRolePolicies", True, True, _const({"roleName": "ci-deploy"})),
    ("iam", "ListRolePolicies", True, True, _const({"roleName": "app-backend"})),
    ("iam", "GetPolicyVersion", True, True,
     lambda c, r: {"policyArn": f"arn:aws:iam::{c.account}:policy/ci-deploy-permissions",
                   "versionId": "v3"}),
    ("iam", "GetAccountAuthorizationDetails", True, True, _const({"filter": ["Role", "User"]})),
    ("cloudfront", "ListDistributions2020_05_31", True, True, _none),
    ("organizations", "DescribeOrganization", True, True, _none),
    ("rds", "DescribeDBInstances", False, True, _none),
    ("ecs", "ListClusters", False, True, _none),
    ("ecs", "DescribeServices", False, True,
     _const({"cluster": "app", "services": ["app-worker"], "include": ["TAGS"]})),
    ("cloudtrail", "DescribeTrails", False, True, _const({"includeShadowTrails": True})),
    ("cloudtrail", "LookupEvents", False, True,
     _const({"maxResults": 50,
             "lookupAttributes": [{"attributeKey": "ReadOnly", "attributeValue": "false"}]})),
    ("ssm", "DescribeParameters", False, True, _const({"maxResults": 50})),
    ("ssm", "PutParameter", False, False,
     _const({"name": "/app/feature-flags", "type": "String", "overwrite": True,
             "value": "HIDDEN_DUE_TO_SECURITY_REASONS"})),
    ("lambda", "UpdateFunctionConfiguration20150331v2", False, False,
     _const({"functionName": "app-backend-api", "timeout": 30, "memorySize": 1024})),
)  # fmt: skip

_DEV_ACTIONS: tuple[_Action, ...] = (
    *_COMMON_READS,
    ("iam", "GetRole", True, True, _const({"roleName": "app-backend"})),
    ("iam", "ListRoles", True, True, _none),
    ("sqs", "GetQueueAttributes", False, True,
     lambda c, r: {"queueUrl": c.regions[r].queue_url, "attributeNames": ["All"]}),
    ("kms", "DescribeKey", False, True, lambda c, r: {"keyId": c.regions[r].kms_arn}),
    ("s3", "PutBucketTagging", False, False, _bucket_params("tagging")),
    ("ssm", "DescribeParameters", False, True, _const({"maxResults": 50})),
)  # fmt: skip

_ANALYST_ACTIONS: tuple[_Action, ...] = (
    ("ce", "GetCostAndUsage", True, True,
     _const({"timePeriod": {"start": "2026-09-01", "end": "2026-10-01"},
             "granularity": "MONTHLY", "metrics": ["UnblendedCost"],
             "groupBy": [{"type": "DIMENSION", "key": "SERVICE"}]})),
    ("s3", "ListBuckets", True, True, _const({"Host": "s3.amazonaws.com"})),
    ("monitoring", "DescribeAlarms", False, True, _const({"maxRecords": 100})),
    ("health", "DescribeEventAggregates", True, True,
     _const({"aggregateField": "eventTypeCategory"})),
    ("dynamodb", "DescribeTable", False, True, _const({"tableName": "orders"})),
    ("ec2", "DescribeInstances", False, True, _NO_FILTER),
    ("logs", "DescribeLogGroups", False, True, _const({"limit": 50})),
)  # fmt: skip


_QUERY: Record = {
    "tableName": "orders",
    "indexName": "by-customer",
    "keyConditionExpression": "customerId = :c",
    "scanIndexForward": False,
    "limit": 25,
}
_QUERY_ERROR = "Query condition missed key schema element: customerId"


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
        raw: bool = False,
        churn: bool = False,
    ) -> None:
        self.rng = random.Random(seed)
        self.clock = _Clock()
        self.start = start
        self.start_ms = _epoch_ms(start)
        self.days = days
        self.events_per_day = events_per_day
        self.regions = regions
        self.casts = [_Cast(self.rng, i, a, regions) for i, a in enumerate(accounts)]
        self.sessions: dict[tuple[int, str, str, int], _AppSession] = {}
        self.tls_cache: dict[tuple[str, bool], Record] = {}
        self.console_templates: dict[tuple[int, str, str], tuple[Record, Record]] = {}
        self.trail_templates: dict[tuple[int, str], Record] = {}
        self.out: list[_Timed] = []
        self.seq = 0
        # Pools of random hex, base64 and UUIDs, cut into IDs: far cheaper than a call per ID.
        self.hex_pool = ""
        self.hex_at = 0
        self.b64_pool = ""
        self.b64_at = 0
        self.uuids: list[str] = []
        self.b32_pool = ""
        self.b32_at = 0
        # With ``raw``, shared nested values go into records as pre-encoded JSON (write_trail
        # encodes them once, not once per record); iter_records keeps plain dicts.
        self.raw = raw
        self.raw_cache: dict[int, tuple[Record, msgspec.Raw]] = {}
        # The workloads whose resources churn, one per cast (see _Churn), made after the casts
        # so that a trail without them draws the same random numbers as before they existed.
        self.churn = [_Churn(self, c) for c in self.casts] if churn else None

    # ------------------------------------------------------------------ shared small values

    def hex(self, length: int) -> str:
        """Return ``length`` random lowercase hex digits."""
        at = self.hex_at
        end = at + length
        if end > len(self.hex_pool):
            self.hex_pool = self.rng.randbytes(4096).hex()
            at, end = 0, length
        self.hex_at = end
        return self.hex_pool[at:end]

    def uuid(self) -> str:
        """Return a random (version 4) UUID."""
        uuids = self.uuids
        if not uuids:
            self.more_uuids()
        return uuids.pop()

    def more_uuids(self) -> None:
        """Refill the pool of UUIDs, a thousand at a time, with C-level byte work."""
        raw = bytearray(self.rng.randbytes(16 * 1024))
        raw[6::16] = raw[6::16].translate(_UUID_VERSION)
        raw[8::16] = raw[8::16].translate(_UUID_VARIANT)
        h = raw.hex()
        self.uuids.extend(
            [
                f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-"
                + h[i + 20 : i + 32]
                for i in range(0, len(h), 32)
            ]
        )

    def dynamodb_request_id(self) -> str:
        """Return a request ID as DynamoDB writes them: 52 characters of base32hex."""
        at = self.b32_at
        if at + 52 > len(self.b32_pool):
            self.b32_pool = self.rng.randbytes(52 * 64).translate(_BASE32HEX).decode()
            at = 0
        self.b32_at = at + 52
        return self.b32_pool[at : at + 52]

    def frozen(self, value: Record) -> Any:
        """Return ``value``, pre-encoded once when records are made for write_trail."""
        if not self.raw:
            return value
        key = id(value)
        found = self.raw_cache.get(key)
        if found is None or found[0] is not value:
            if len(self.raw_cache) > 50_000:
                self.raw_cache.clear()
            found = (value, msgspec.Raw(_ENCODE(value)))
            self.raw_cache[key] = found
        return found[1]

    def amz_id_2(self) -> str:
        """Return a made-up S3 ``x-amz-id-2`` (base64 of 56 bytes)."""
        at = self.b64_at
        if at + 75 > len(self.b64_pool):
            self.b64_pool = base64.b64encode(self.rng.randbytes(57 * 128)).decode()
            at = 0
        self.b64_at = at + 76
        return self.b64_pool[at : at + 75] + "="

    def token(self) -> str:
        """Return a made-up STS session token, as long as real ones are."""
        return "IQoJb3JpZ2luX2Vj" + base64.b64encode(self.rng.randbytes(540)).decode()

    def tls(self, service: str, region: str, *, tls13: bool = True) -> Record:
        """Return the (shared) tlsDetails of a call to ``service``'s endpoint in ``region``."""
        host = _GLOBAL_HOSTS.get(service)
        if host is None:
            prefix = "api.ecr" if service == "ecr" else service
            host = f"{prefix}.{region}.amazonaws.com"
        return self.tls_host(host, tls13=tls13)

    def tls_host(self, host: str, *, tls13: bool = True) -> Record:
        """Return the (shared) tlsDetails of a call to ``host``."""
        key = (host, tls13)
        found = self.tls_cache.get(key)
        if found is None:
            found = {
                "tlsVersion": "TLSv1.3" if tls13 else "TLSv1.2",
                "cipherSuite": "TLS_AES_128_GCM_SHA256" if tls13 else "ECDHE-RSA-AES128-GCM-SHA256",
                "clientProvidedHostHeader": host,
            }
            if len(self.tls_cache) > 10_000:
                self.tls_cache.clear()
            self.tls_cache[key] = found
        return found

    def first(self, c: _Cast, case: str, probability: float) -> bool:
        """Return whether a rare case happens: always the first time in an account, then by chance.

        Forcing the first time makes even a small corpus show every case.
        """
        if case not in c.shown:
            c.shown.add(case)
            return True
        return self.rng.random() < probability

    # ------------------------------------------------------------------ the record itself

    def call(
        self,
        t: int,
        who: _Who,
        name: str,
        request: Record | None,
        *,
        response: Record | None = None,
        read_only: bool,
        error: tuple[str, str] | None = None,
        extra: Record | None = None,
        request_id: str | None = "",
        resources: list[Record] | None = None,
        event_type: str = "AwsApiCall",
        api_version: str | None = None,
        data: bool = False,
        shared: bool = False,
        details: Record | None = None,
        console: bool = False,
        template: bool = False,
    ) -> Record:
        """Emit one record, its keys in the order CloudTrail writes them, and return it.

        ``error`` is (errorCode, errorMessage); an empty code is left out, as for a failed
        sign-in. ``request_id`` "" makes a UUID, None leaves the key out. A ``template`` is
        returned with empty times and IDs, not emitted: ``fill`` copies it for each event.
        """
        r: Record = {
            "eventVersion": "1.09" if who.service in _VERSION_109 else "1.08",
            "userIdentity": self.frozen(who.identity),
            "eventTime": "" if template else self.clock.stamp(t),
            "eventSource": f"{who.service}.amazonaws.com",
            "eventName": name,
            "awsRegion": who.region,
            "sourceIPAddress": who.ip,
            "userAgent": who.ua,
        }
        if error is not None:
            if error[0]:
                r["errorCode"] = error[0]
            r["errorMessage"] = error[1]
        r["requestParameters"] = request
        r["responseElements"] = response
        if extra is not None:
            r["additionalEventData"] = extra
        if request_id is not None:
            r["requestID"] = request_id or ("" if template else self.uuid())
        r["eventID"] = "" if template else self.uuid()
        r["readOnly"] = read_only
        if resources is not None:
            r["resources"] = resources
        r["eventType"] = event_type
        if api_version is not None:
            r["apiVersion"] = api_version
        r["managementEvent"] = not data
        r["recipientAccountId"] = who.account
        if shared:
            r["sharedEventID"] = "" if template else self.uuid()
        if who.vpce is not None:
            r["vpcEndpointId"] = who.vpce
        if details is not None:
            r["serviceEventDetails"] = details
        r["eventCategory"] = "Data" if data else "Management"
        if who.tls is not None:
            r["tlsDetails"] = self.frozen(who.tls)
        if console:
            r["sessionCredentialFromConsole"] = "true"
        if not template:
            self.out.append((t, self.seq, r))
            self.seq += 1
        return r

    def fill(
        self, t: int, template: Record, request: Record | None, request_id: str = ""
    ) -> Record:
        """Emit a copy of ``template`` at ``t`` with ``request`` and new IDs; return it."""
        r = template.copy()
        r["eventTime"] = self.clock.stamp(t)
        r["requestParameters"] = request
        uuids = self.uuids
        if len(uuids) < 2:
            self.more_uuids()
        r["requestID"] = request_id or uuids.pop()
        r["eventID"] = uuids.pop()
        if "sharedEventID" in r:
            r["sharedEventID"] = self.uuid()
        self.out.append((t, self.seq, r))
        self.seq += 1
        return r

    def s3_object(
        self,
        t: int,
        who: _Who,
        name: str,
        key: str,
        *,
        bucket: str,
        size: int,
        kms_arn: str | None = None,
        error: tuple[str, str] | None = None,
    ) -> None:
        """Emit an S3 object data event (GetObject, PutObject) as CloudTrail logs it."""
        put = name == "PutObject"
        template = who.templates.get(name) if error is None else None
        if template is None:
            response = None
            if put and kms_arn is not None:  # the bucket encrypts with its default KMS key
                response = {
                    "x-amz-server-side-encryption": "aws:kms",
                    "x-amz-server-side-encryption-aws-kms-key-id": kms_arn,
                    "x-amz-server-side-encryption-bucket-key-enabled": "true",
                }
            elif put:
                response = {"x-amz-server-side-encryption": "AES256"}
            sse = ("SSE_KMS" if kms_arn else "Default_SSE_S3") if put else "Default_SSE_S3"
            template = self.call(
                t,
                who,
                name,
                None,
                response=None if error else response,
                read_only=not put,
                error=error,
                extra={
                    "SignatureVersion": "SigV4",
                    "CipherSuite": "TLS_AES_128_GCM_SHA256",
                    "bytesTransferredIn": 0,
                    "SSEApplied": sse,
                    "AuthenticationMethod": "AuthHeader",
                    "x-amz-id-2": "",
                    "bytesTransferredOut": 0,
                },
                resources=[],
                data=True,
                template=True,
            )
            if error is None:
                who.templates[name] = template
        r = self.fill(
            t,
            template,
            {"bucketName": bucket, "Host": f"{bucket}.s3.{who.region}.amazonaws.com", "key": key},
            self.hex(16).upper(),
        )
        extra = r["additionalEventData"].copy()
        extra["x-amz-id-2"] = self.amz_id_2()
        if put:
            extra["bytesTransferredIn"] = size
        else:
            extra["bytesTransferredOut"] = 243 if error else size
        r["additionalEventData"] = extra
        r["resources"] = [
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
            _resource("AWS::S3::Bucket", f"arn:aws:s3:::{bucket}", who.account),
        ]

    # ------------------------------------------------------------------ the application role

    def app_session(self, c: _Cast, runtime: str, region: str, t: int) -> _AppSession:
        """Return the app role session a runtime holds at ``t`` (its credentials rotate)."""
        period = 8 * _MS_HOUR if runtime == "lambda" else 12 * _MS_HOUR
        phase = c.app_phase[(runtime, region)]
        index = (t - phase) // period
        key = (c.index, runtime, region, index)
        session = self.sessions.get(key)
        if session is None:
            rng = self.rng
            where = c.regions[region]
            if runtime == "lambda":
                session = _AppSession(
                    c, runtime, region, name="app-backend-api", ip=rng.choice(where.app_ips)
                )
            else:
                session = _AppSession(c, runtime, region, name=self.hex(32), ip=where.worker_ip)
            session.access_key = "ASIA" + _key(rng, 16)
            session.token = self.token()
            session.identity = {
                "type": "AssumedRole",
                "principalId": f"{c.app_role_id}:{session.name}",
                "arn": f"arn:aws:sts::{c.account}:assumed-role/app-backend/{session.name}",
                "accountId": c.account,
                "accessKeyId": session.access_key,
                "sessionContext": {
                    "sessionIssuer": c.app_issuer,
                    "webIdFederationData": {},
                    "attributes": {
                        "creationDate": self.clock.stamp(phase + index * period),
                        "mfaAuthenticated": "false",
                    },
                },
            }
            self.sessions[key] = session
        return session

    def app_who(self, session: _AppSession, service: str) -> _Who:
        """Return how the app calls ``service``: Lambda over the internet, ECS via endpoints."""
        who = session.who.get(service)
        if who is None:
            ecs = session.runtime == "ecs"
            region = session.region
            where = session.cast.regions[region]
            tls = self.tls(service, region)
            if service == "s3":
                tls = self.tls_host(f"{where.bucket}.s3.{region}.amazonaws.com")
            who = _Who(
                service,
                session.identity,
                account=session.cast.account,
                region=region,
                ip=session.ip,
                ua=(_UA_ECS if ecs else _UA_LAMBDA).format(service=service),
                tls=tls,
                vpce=where.vpce.get(service) if ecs else None,
            )
            session.who[service] = who
        return who

    def app_template(self, session: _AppSession, step: str) -> Record:
        """Return the template of an error-free app call to DynamoDB, SQS or KMS."""
        where = session.cast.regions[session.region]
        account = session.cast.account
        if step == "SendMessage":
            return self.call(
                0,
                self.app_who(session, "sqs"),
                step,
                {"queueUrl": where.queue_url, "messageBody": "HIDDEN_DUE_TO_SECURITY_REASONS"},
                read_only=False,
                resources=[_resource("AWS::SQS::Queue", where.queue_arn, account)],
                data=True,
                template=True,
            )
        if step == "GenerateDataKey":
            return self.call(
                0,
                self.app_who(session, "kms"),
                step,
                None,
                read_only=True,
                resources=[_resource("AWS::KMS::Key", where.kms_arn, account)],
                template=True,
            )
        return self.call(
            0,
            self.app_who(session, "dynamodb"),
            step,
            None,
            read_only=step != "PutItem",
            resources=[_resource("AWS::DynamoDB::Table", where.table_arn, account)],
            api_version="2012-08-10",
            data=True,
            template=True,
        )

    def app_step(self, step: str, t: int, session: _AppSession) -> None:
        """Emit one call of an app invocation; ``step`` names the API."""
        rng = self.rng
        c = session.cast
        order = self.hex(12)
        if step in ("GetObject", "PutObject"):
            where = c.regions[session.region]
            day = self.clock.stamp(t)[:10]
            if session.runtime == "ecs":
                key = f"exports/daily/{day}/batch-{order[:6]}.csv.gz"
            elif rng.random() < 0.7:
                key = f"orders/{day[:7]}/{order}.json"
            else:
                key = f"invoices/{day[:4]}/{day[5:7]}/inv-{order[:8]}.pdf"
            error = None
            if step == "GetObject" and self.first(c, "NoSuchKey", 0.03):
                error = ("NoSuchKey", "The specified key does not exist.")
            size = 400 + int(rng.random() * 90_000)
            who = self.app_who(session, "s3")
            self.s3_object(
                t,
                who,
                step,
                key,
                bucket=where.bucket,
                size=size,
                kms_arn=where.kms_arn,
                error=error,
            )
            return
        if step == "Query":
            request: Record | None = _QUERY
            if self.first(c, "ValidationException", 0.01):
                table = c.regions[session.region].table_arn
                self.call(
                    t,
                    self.app_who(session, "dynamodb"),
                    step,
                    request,
                    read_only=True,
                    error=("ValidationException", _QUERY_ERROR),
                    resources=[_resource("AWS::DynamoDB::Table", table, c.account)],
                    api_version="2012-08-10",
                    data=True,
                )
                return
        elif step == "GetItem":
            request = {
                "tableName": "orders",
                "key": {"pk": "ORDER#" + order, "sk": "META"},
                "consistentRead": False,
            }
        elif step == "PutItem":
            request = {
                "tableName": "orders",
                "key": {"pk": "ORDER#" + order, "sk": "META"},
                "conditionExpression": "attribute_not_exists(pk)",
            }
        elif step == "SendMessage":
            request = None
        else:
            request = {
                "keyId": "alias/app-backend",
                "keySpec": "AES_256",
                "encryptionContext": {"service": "app-backend", "order": order},
            }
        templates = session.templates
        found = templates.get(step)
        if found is None:
            found = templates[step] = self.app_template(session, step)
        if request is None:  # SendMessage: the request is the same each time
            request = found["requestParameters"]
        request_id = (
            "" if step in ("SendMessage", "GenerateDataKey") else self.dynamodb_request_id()
        )
        r = self.fill(t, found, request, request_id)
        if step == "SendMessage":
            r["responseElements"] = {"mD5OfMessageBody": self.hex(32), "messageId": self.uuid()}

    def ep_app(self, c: _Cast, region: str, t: int, n: int, runtime: str) -> None:
        """Emit one invocation of the app (a Lambda request or an ECS job): ``n`` calls."""
        rng = self.rng
        session = self.app_session(c, runtime, region, t)
        roll = rng.random()
        if runtime == "ecs":
            steps: tuple[str, ...] = ("GetObject", "PutItem", "SendMessage", "PutObject")
        elif roll < 0.4:
            steps = ("GetItem", "GetItem", "GetObject", "Query")
        elif roll < 0.7:
            steps = ("PutItem", "SendMessage", "GenerateDataKey", "PutObject")
        else:
            steps = ("Query", "GetItem", "GetObject", "GetItem")
        for i in range(n):
            self.app_step(steps[i % 4], t, session)
            t += 5 + int(rng.random() * 395)

    def ep_cold_start(self, c: _Cast, region: str, t: int, n: int, runtime: str) -> None:
        """Emit a runtime getting new app role credentials from STS, then reading its secret."""
        rng = self.rng
        session = self.app_session(c, runtime, region, t)
        where = c.regions[region]
        service = "lambda.amazonaws.com" if runtime == "lambda" else "ecs-tasks.amazonaws.com"
        expires = _expiration(t + (12 if runtime == "lambda" else 6) * _MS_HOUR)
        credentials = {
            "accessKeyId": session.access_key,
            "sessionToken": session.token,
            "expiration": expires,
        }
        response: Record = {"credentials": credentials}
        if runtime == "ecs":
            response["assumedRoleUser"] = {
                "assumedRoleId": f"{c.app_role_id}:{session.name}",
                "arn": session.identity["arn"],
            }
        aws = _Who(
            "sts",
            _service_identity(service),
            account=c.account,
            region=region,
            ip=service,
            ua=service,
        )
        self.call(
            t,
            aws,
            "AssumeRole",
            {"roleArn": c.app_role_arn, "roleSessionName": session.name},
            response=response,
            read_only=True,
            resources=[_resource("AWS::IAM::Role", c.app_role_arn, c.account)],
            shared=True,
        )
        secret_id = where.secret_arn.split(":secret:")[1][:-7]
        for i in range(1, n):
            t += rng.randrange(80, 900)
            if i % 2:
                self.call(
                    t,
                    self.app_who(session, "secretsmanager"),
                    "GetSecretValue",
                    {"secretId": secret_id},
                    read_only=True,
                )
                continue
            # Secrets Manager decrypts the secret with KMS on the caller's behalf.
            invoked = _Who(
                "kms",
                {**session.identity, "invokedBy": "secretsmanager.amazonaws.com"},
                account=c.account,
                region=region,
                ip="secretsmanager.amazonaws.com",
                ua="secretsmanager.amazonaws.com",
            )
            context = {"SecretARN": where.secret_arn, "SecretVersionId": self.uuid().upper()}
            self.call(
                t,
                invoked,
                "Decrypt",
                {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context},
                read_only=True,
                resources=[_resource("AWS::KMS::Key", where.kms_arn, c.account)],
            )

    def ep_trail_key(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit CloudTrail asking KMS for data keys to encrypt the log files it delivers."""
        template = self.trail_templates.get((c.index, region))
        if template is None:
            aws = _Who(
                "kms",
                _service_identity("cloudtrail.amazonaws.com"),
                account=c.account,
                region=region,
                ip="cloudtrail.amazonaws.com",
                ua="cloudtrail.amazonaws.com",
            )
            request = {
                "keyId": c.trail_key_arn,
                "encryptionContext": {"aws:cloudtrail:arn": c.trail_arn},
                "keySpec": "AES_256",
            }
            template = self.trail_templates[(c.index, region)] = self.call(
                t,
                aws,
                "GenerateDataKey",
                request,
                read_only=True,
                resources=[_resource("AWS::KMS::Key", c.trail_key_arn, c.account)],
                shared=True,
                template=True,
            )
        for _ in range(n):
            self.fill(t, template, template["requestParameters"])
            t += self.rng.randrange(1_000, 30_000)

    def ep_rotate_key(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit KMS rotating the app's key on its own: an ``AwsServiceEvent``."""
        where = c.regions[region]
        aws = _Who(
            "kms",
            {"accountId": c.account, "invokedBy": _INTERNAL},
            account=c.account,
            region=region,
            ip=_INTERNAL,
            ua=_INTERNAL,
        )
        self.call(
            t,
            aws,
            "RotateKey",
            None,
            read_only=False,
            request_id=None,
            resources=[_resource("AWS::KMS::Key", where.kms_arn, c.account)],
            event_type="AwsServiceEvent",
            details={"keyId": where.kms_id},
        )

    # ------------------------------------------------------------------ CI through GitHub OIDC

    def ep_ci(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit one GitHub Actions deploy run by ``role/ci-deploy``: ``n`` calls."""
        rng = self.rng
        account = c.account
        where = c.regions[region]
        # A GitHub-hosted runner is a new virtual machine for each job, with an Azure address.
        ip = _public_ip(rng, (4, 13, 20, 40, 52))
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
        code = {"s3Bucket": c.artifacts, "s3Key": artifact}
        canary_arn = f"arn:aws:lambda:{region}:{account}:function:app-backend-canary"

        def by(service: str) -> _Who:
            if service == "cloudformation":
                ua = _UA_CLI.format(command="cloudformation.deploy")
            else:
                ua = _UA_GITHUB.format(service=service)
            return _Who(
                service,
                identity,
                account=account,
                region=region,
                ip=ip,
                ua=ua,
                tls=self.tls(service, region),
            )

        def function(name: str, arn: str, at: int) -> Record:
            return {
                "functionName": name,
                "functionArn": arn,
                "runtime": "nodejs20.x",
                "role": c.app_role_arn,
                "handler": "index.handler",
                "codeSize": rng.randrange(2_000_000, 9_000_000),
                "description": "",
                "timeout": 30,
                "memorySize": 1024,
                "lastModified": self.clock.stamp(at)[:-1] + ".000+0000",
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

        def web_identity(at: int) -> None:
            web_user = {
                "type": "WebIdentityUser",
                "principalId": f"{c.oidc_arn}:sts.amazonaws.com:{subject}",
                "userName": subject,
                "identityProvider": c.oidc_arn,
            }
            credentials = {
                "accessKeyId": access_key,
                "sessionToken": self.token(),
                "expiration": _expiration(at + _MS_HOUR),
            }
            self.call(
                at,
                _Who(
                    "sts",
                    web_user,
                    account=account,
                    region=region,
                    ip=ip,
                    ua=_UA_GITHUB.format(service="sts"),
                    tls=self.tls("sts", region),
                ),
                "AssumeRoleWithWebIdentity",
                {
                    "roleArn": c.ci_role_arn,
                    "roleSessionName": "GitHubActions",
                    "durationSeconds": 3600,
                },
                response={
                    "credentials": credentials,
                    "subjectFromWebIdentityToken": subject,
                    "assumedRoleUser": {
                        "assumedRoleId": f"{c.ci_role_id}:GitHubActions",
                        "arn": session_arn,
                    },
                    "provider": c.oidc_arn,
                    "audience": "sts.amazonaws.com",
                },
                read_only=True,
                extra={"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
                resources=[_resource("AWS::IAM::Role", c.ci_role_arn, account)],
            )

        def put_artifact(at: int) -> None:
            who = _Who(
                "s3",
                identity,
                account=account,
                region=c.primary,
                ip=ip,
                ua=_UA_GITHUB.format(service="s3"),
                tls=self.tls_host(f"{c.artifacts}.s3.{c.primary}.amazonaws.com"),
            )
            size = rng.randrange(2_000_000, 9_000_000)
            self.s3_object(at, who, "PutObject", artifact, bucket=c.artifacts, size=size)

        def api(service: str, name: str, request: Record | None, **options: Any) -> _Step:
            def step(at: int) -> None:
                opts = {"read_only": True, **options}
                if service == "lambda":
                    opts["api_version"] = "2015-03-31"
                    if (
                        name.startswith(("UpdateFunction", "CreateFunction"))
                        and "error" not in opts
                    ):
                        function_name = request["functionName"] if request else ""
                        arn = canary_arn if "canary" in function_name else where.function_arn
                        opts["response"] = function(function_name, arn, at)
                self.call(at, by(service), name, request, **opts)

            return step

        stack_error = None
        roll = rng.random()
        if roll < 0.05:
            message = _denied(session_arn, "cloudformation:UpdateStack", where.stack_arn)
            stack_error = ("AccessDenied", message)
        elif roll < 0.25:
            stack_error = ("ValidationError", "No updates are to be performed.")
        template = f"https://{c.artifacts}.s3.amazonaws.com/templates/{sha}.yaml"
        update_stack = {
            "stackName": "app-backend",
            "templateURL": template,
            "parameters": [{"parameterKey": "CodeVersion", "parameterValue": sha[:12]}],
            "capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        }
        get_function = api("lambda", "GetFunction20150331v2", {"functionName": "app-backend-api"})
        describe_stack = api("cloudformation", "DescribeStacks", {"stackName": "app-backend"})
        steps: list[_Step] = [
            web_identity,
            api("sts", "GetCallerIdentity", None),
            api("ecr", "GetAuthorizationToken", {"registryIds": [account]}),
            put_artifact,
            describe_stack,
            api(
                "cloudformation",
                "UpdateStack",
                update_stack,
                read_only=False,
                error=stack_error,
                response=None if stack_error else {"stackId": where.stack_arn},
            ),
            get_function,
            api(
                "lambda",
                "UpdateFunctionCode20150331v2",
                {"functionName": "app-backend-api", **code, "publish": False, "dryRun": False},
                read_only=False,
            ),
        ]
        # Now and then the run tries to create a canary function, passing the app role to it.
        if n >= len(steps) + 2 and self.first(c, "ci-canary", 0.12):
            missing = ("ResourceNotFoundException", f"Function not found: {canary_arn}")
            steps.append(
                api(
                    "lambda",
                    "GetFunction20150331v2",
                    {"functionName": "app-backend-canary"},
                    error=missing,
                )
            )
            create = {
                "functionName": "app-backend-canary",
                "runtime": "nodejs20.x",
                "role": c.app_role_arn,
                "handler": "index.handler",
                "code": code,
                "description": "canary",
                "timeout": 30,
                "memorySize": 1024,
                "publish": True,
                "packageType": "Zip",
                "architectures": ["arm64"],
            }
            if self.first(c, "PassRole-denied", 0.6):
                denied = _denied(session_arn, "iam:PassRole", c.app_role_arn)
                steps.append(
                    api(
                        "lambda",
                        "CreateFunction20150331",
                        create,
                        read_only=False,
                        error=("AccessDeniedException", denied),
                    )
                )
            else:
                steps.append(api("lambda", "CreateFunction20150331", create, read_only=False))
        while len(steps) < n:
            steps.append(get_function if len(steps) % 2 else describe_stack)
        for step in steps[:n]:
            step(t)
            t += rng.randrange(800, 25_000)

    # ------------------------------------------------------------------ people at the console

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
        """Emit a ``ConsoleLogin`` sign-in event, successful or not."""
        extra: Record = {
            "LoginTo": f"https://console.aws.amazon.com/console/home?region={c.primary}",
            "MobileVersion": "No",
        }
        if mfa is not None:
            extra["MFAIdentifier"] = mfa
        extra["MFAUsed"] = "Yes" if mfa is not None else "No"
        who = _Who(
            "signin",
            identity,
            account=c.account,
            region=GLOBAL_REGION,
            ip=person.ip,
            ua=person.ua,
            tls=self.tls("signin", GLOBAL_REGION),
        )
        self.call(
            t,
            who,
            "ConsoleLogin",
            None,
            response={"ConsoleLogin": "Failure" if failed else "Success"},
            read_only=False,
            error=("", "Failed authentication") if failed else None,
            extra=extra,
            request_id=None,
            event_type="AwsConsoleSignIn",
        )

    def console_calls(
        self,
        c: _Cast,
        t: int,
        n: int,
        *,
        identity: Record,
        person: _Person,
        actions: tuple[_Action, ...],
    ) -> None:
        """Emit ``n`` console calls by a signed-in person after ``t``, picked from ``actions``."""
        rng = self.rng
        regions = tuple(c.regions)
        templates = self.console_templates
        for _ in range(n):
            t += rng.randrange(2_000, 45_000)
            service, name, is_global, read_only, params = rng.choice(actions)
            if is_global:
                region, home = GLOBAL_REGION, c.primary
            else:
                region = c.primary if rng.random() < 0.8 else rng.choice(regions)
                home = region
            key = (id(identity), f"{service}:{name}", region)
            cached = templates.get(key)
            if cached is None or cached[0] is not identity:
                ua = _UA_S3_CONSOLE if service == "s3" else _INTERNAL
                who = _Who(service, identity, account=c.account, region=region, ip=person.ip, ua=ua)
                template = self.call(
                    t,
                    who,
                    name,
                    None,
                    read_only=read_only,
                    api_version="2012-08-10" if service == "dynamodb" else None,
                    console=True,
                    template=True,
                )
                if len(templates) > 10_000:
                    templates.clear()
                cached = templates[key] = (identity, template)
            self.fill(t, cached[1], params(c, home))

    def user_identities(
        self, c: _Cast, person: _Person, t: int, *, mfa: bool
    ) -> tuple[Record, Record]:
        """Return an IAM user's sign-in identity and that of the console session it opens."""
        login = {
            "type": "IAMUser",
            "principalId": person.principal_id,
            "arn": person.arn,
            "accountId": c.account,
            "userName": person.name,
        }
        attributes = {
            "creationDate": self.clock.stamp(t),
            "mfaAuthenticated": "true" if mfa else "false",
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
                "attributes": attributes,
            },
        }
        return login, session

    def ep_sso(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit an IAM Identity Center sign-in to the console, then ``n - 2`` console calls."""
        signed_in = self.sso_sign_in(c, t, console=n >= 2)
        if signed_in is not None:
            identity, person, t = signed_in
            self.console_calls(
                c, t, n - 2, identity=identity, person=person, actions=_ADMIN_ACTIONS
            )

    def sso_sign_in(self, c: _Cast, t: int, *, console: bool) -> tuple[Record, _Person, int] | None:
        """Emit someone getting the permission set's role through SAML and, with ``console``,
        signing in to the console; return their console identity, who they are and the time."""
        rng = self.rng
        account = c.account
        person = rng.choice(c.sso_people)
        email = person.name
        access_key = "ASIA" + _key(rng, 16)
        session_arn = f"arn:aws:sts::{account}:assumed-role/{c.sso_role_name}/{email}"
        saml_user = {
            "type": "SAMLUser",
            "principalId": f"{c.saml_idp}:{email}",
            "userName": email,
            "identityProvider": c.saml_idp,
        }
        credentials = {
            "accessKeyId": access_key,
            "sessionToken": self.token(),
            "expiration": _expiration(t + 12 * _MS_HOUR),
        }
        assertion = base64.b64encode(rng.randbytes(24)).decode()
        self.call(
            t,
            _Who(
                "sts", saml_user, account=account, region=GLOBAL_REGION, ip=person.ip, ua=person.ua
            ),
            "AssumeRoleWithSAML",
            {
                "sAMLAssertionID": "_" + self.uuid(),
                "roleSessionName": email,
                "roleArn": c.sso_role_arn,
                "principalArn": c.saml_provider_arn,
                "durationSeconds": 43200,
            },
            response={
                "credentials": credentials,
                "assumedRoleUser": {
                    "assumedRoleId": f"{c.sso_role_id}:{email}",
                    "arn": session_arn,
                },
                "subject": email,
                "subjectType": "persistent",
                "issuer": f"https://portal.sso.{c.sso_region}.amazonaws.com/saml/assertion/"
                + assertion,
                "audience": "https://signin.aws.amazon.com/saml",
                "nameQualifier": c.saml_idp,
            },
            read_only=True,
            resources=[
                _resource("AWS::IAM::Role", c.sso_role_arn, account),
                _resource("AWS::IAM::SAMLProvider", c.saml_provider_arn, account),
            ],
        )
        if not console:
            return None
        t += rng.randrange(500, 3_000)
        context = {
            "sessionIssuer": c.sso_issuer,
            "webIdFederationData": {},
            "attributes": {"creationDate": self.clock.stamp(t), "mfaAuthenticated": "false"},
        }
        login = {
            "type": "AssumedRole",
            "principalId": f"{c.sso_role_id}:{email}",
            "arn": session_arn,
            "accountId": account,
        }
        self.console_login(t, c, {**login, "sessionContext": context}, person, mfa=None)
        return {**login, "accessKeyId": access_key, "sessionContext": context}, person, t

    def ep_alice(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit alice signing in with MFA, then working in the console."""
        login, session = self.user_identities(c, c.alice, t, mfa=True)
        self.console_login(t, c, login, c.alice, mfa=f"arn:aws:iam::{c.account}:mfa/alice-iphone")
        self.console_calls(c, t, n - 1, identity=session, person=c.alice, actions=_DEV_ACTIONS)

    def ep_bob(self, c: _Cast, region: str, t: int, n: int, *, fail_first: bool = False) -> None:
        """Emit bob signing in without MFA (after a failed try, when asked), then his calls."""
        rng = self.rng
        bob = c.bob
        if fail_first:
            # A failed sign-in shows the user name but no ARN, and an empty access key.
            attempt = {
                "type": "IAMUser",
                "principalId": bob.principal_id,
                "accountId": c.account,
                "accessKeyId": "",
                "userName": bob.name,
            }
            self.console_login(t, c, attempt, bob, mfa=None, failed=True)
            n -= 1
            t += rng.randrange(8_000, 40_000)
            if n <= 0:
                return
        login, session = self.user_identities(c, bob, t, mfa=False)
        self.console_login(t, c, login, bob, mfa=None)
        n -= 1
        if n > 0 and self.first(c, "bob-denied", 0.25):
            # bob opens the IAM users page, which his policies do not allow.
            t += rng.randrange(3_000, 20_000)
            resource = f"arn:aws:iam::{c.account}:user/"
            self.call(
                t,
                _Who(
                    "iam", session, account=c.account, region=GLOBAL_REGION, ip=bob.ip, ua=_INTERNAL
                ),
                "ListUsers",
                {"maxItems": 100},
                read_only=True,
                error=("AccessDenied", _denied(bob.arn, "iam:ListUsers", resource)),
                console=True,
            )
            n -= 1
        self.console_calls(c, t, n, identity=session, person=bob, actions=_ANALYST_ACTIONS)

    def ep_root(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit the root user signing in (with MFA; after mistyping the password, at times) and
        making one call."""
        account = c.account
        root = c.root
        login = {
            "type": "Root",
            "principalId": account,
            "arn": root.arn,
            "accountId": account,
            "accessKeyId": "",
        }
        mfa = f"arn:aws:iam::{account}:mfa/root-account-mfa-device"
        if n >= 3 and self.first(c, "root-mistyped", 0.2):
            # A mistyped password first: a failed sign-in, before MFA is asked for.
            self.console_login(t, c, login, root, mfa=None, failed=True)
            t += self.rng.randrange(10_000, 40_000)
            n -= 1
        self.console_login(t, c, login, root, mfa=mfa)
        if n < 2:
            return
        attributes = {"creationDate": self.clock.stamp(t), "mfaAuthenticated": "true"}
        identity = {
            **login,
            "accessKeyId": "ASIA" + _key(self.rng, 16),
            "sessionContext": {
                "sessionIssuer": {},
                "webIdFederationData": {},
                "attributes": attributes,
            },
        }
        who = _Who("iam", identity, account=account, region=GLOBAL_REGION, ip=root.ip, ua=_INTERNAL)
        # The IAM dashboard: the account's summary, then its alias (when the sign-in took one
        # try, a call is left for it: each episode makes exactly its ``n`` calls).
        for name in ("GetAccountSummary", "ListAccountAliases")[: n - 1]:
            t += self.rng.randrange(10_000, 60_000)
            self.call(t, who, name, None, read_only=True, console=True)

    # ------------------------------------------------------------------ the legacy script

    def ep_batch(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit a run of the ``legacy-batch`` script with its long-term access key."""
        rng = self.rng
        account = c.account
        region = c.primary
        bucket = c.reports
        prefix = "reports/daily/"
        day = self.clock.stamp(t)[:10]

        def by(service: str, *, where: str = region, tls: Record | None = None) -> _Who:
            return _Who(
                service,
                c.batch_identity,
                account=account,
                region=where,
                ip=c.batch_ip,
                ua=_UA_BATCH,
                tls=tls or self.tls(service, where),
            )

        parameter = {"name": "/legacy/batch/db-password", "withDecryption": True}
        done = 0
        while done < n:
            stage = done % 6
            if stage in (0, 5):
                # boto3 1.34 still calls the STS global endpoint, recorded in us-east-1.
                sts = by("sts", where=GLOBAL_REGION, tls=self.tls("sts-global", GLOBAL_REGION))
                self.call(t, sts, "GetCallerIdentity", None, read_only=True)
            elif stage == 1:
                s3 = by("s3", tls=self.tls_host(f"{bucket}.s3.{region}.amazonaws.com", tls13=False))
                extra = {
                    "SignatureVersion": "SigV4",
                    "CipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
                    "bytesTransferredIn": 0,
                    "AuthenticationMethod": "AuthHeader",
                    "x-amz-id-2": base64.b64encode(rng.randbytes(56)).decode(),
                    "bytesTransferredOut": rng.randrange(600, 9_000),
                }
                self.call(
                    t,
                    s3,
                    "ListObjects",
                    {
                        "list-type": "2",
                        "bucketName": bucket,
                        "encoding-type": "url",
                        "prefix": prefix,
                        "Host": f"{bucket}.s3.{region}.amazonaws.com",
                    },
                    read_only=True,
                    extra=extra,
                    request_id=rng.randbytes(8).hex().upper(),
                    resources=[
                        {"type": "AWS::S3::Object", "ARNPrefix": f"arn:aws:s3:::{bucket}/{prefix}"},
                        _resource("AWS::S3::Bucket", f"arn:aws:s3:::{bucket}", account),
                    ],
                    data=True,
                )
            elif stage == 2:
                s3 = by("s3", tls=self.tls_host(f"{bucket}.s3.{region}.amazonaws.com", tls13=False))
                size = rng.randrange(50_000, 400_000)
                self.s3_object(t, s3, "GetObject", f"{prefix}{day}.csv", bucket=bucket, size=size)
            elif stage == 3:
                batch_tag = {"name": "tag:Role", "valueSet": {"items": [{"value": "batch"}]}}
                request = {"instancesSet": {}, "filterSet": {"items": [batch_tag]}}
                self.call(t, by("ec2"), "DescribeInstances", request, read_only=True)
            else:
                if self.first(c, "ThrottlingException", 0.1):
                    throttled = ("ThrottlingException", "Rate exceeded")
                    self.call(
                        t, by("ssm"), "GetParameter", parameter, read_only=True, error=throttled
                    )
                    done += 1
                    t += rng.randrange(300, 2_000)
                    if done >= n:
                        break
                self.call(t, by("ssm"), "GetParameter", parameter, read_only=True)
            done += 1
            t += rng.randrange(150, 3_000)

    def ep_export(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit the nightly export: a Lambda function (in a VPC, behind a NAT gateway) that calls
        with the ``export-job`` user's access key instead of its execution role."""
        rng = self.rng
        region = c.primary
        where = c.regions[region]
        ua = _UA_EXPORT

        def by(service: str, host: str | None = None) -> _Who:
            return _Who(
                service,
                c.export_identity,
                account=c.account,
                region=region,
                ip=c.export_ip,
                ua=ua,
                tls=self.tls_host(host) if host else self.tls(service, region),
            )

        day = self.clock.stamp(t)[:10]
        for step in range(n):
            if step % 3 == 0:
                request = {"name": "/export-job/config", "withDecryption": False}
                self.call(t, by("ssm"), "GetParameter", request, read_only=True)
            elif step % 3 == 1:
                self.call(
                    t,
                    by("dynamodb"),
                    "Query",
                    None,
                    read_only=True,
                    resources=[_resource("AWS::DynamoDB::Table", where.table_arn, c.account)],
                    api_version="2012-08-10",
                    data=True,
                )
            else:
                host = f"{c.exports}.s3.{region}.amazonaws.com"
                s3 = by("s3", host)
                size = rng.randrange(20_000, 200_000)
                self.s3_object(
                    t, s3, "PutObject", f"orders/{day}.csv.gz", bucket=c.exports, size=size
                )
            t += rng.randrange(200, 4_000)

    def ep_intruder(self, c: _Cast, region: str, t: int, n: int) -> None:
        """Emit someone trying legacy-batch's leaked key from their own machine: who am I, then
        what can this key list, most of it refused; a run of ``n`` calls."""
        account = c.account
        user_arn = c.batch_identity["arn"]
        other = next((name for name in c.regions if name != c.primary), c.primary)
        iam = f"arn:aws:iam::{account}:"
        # (service, CLI command, eventName, request, region, refused (action, resource, code))
        steps: tuple[tuple[str, str, str, Record | None, str, tuple[str, str, str] | None], ...] = (
            ("sts", "sts.get-caller-identity", "GetCallerIdentity", None, GLOBAL_REGION, None),
            ("iam", "iam.list-users", "ListUsers", None, GLOBAL_REGION,
             ("iam:ListUsers", iam + "user/", "AccessDenied")),
            ("iam", "iam.list-roles", "ListRoles", None, GLOBAL_REGION,
             ("iam:ListRoles", iam + "role/", "AccessDenied")),
            ("iam", "iam.list-attached-user-policies", "ListAttachedUserPolicies",
             {"userName": "legacy-batch"}, GLOBAL_REGION,
             ("iam:ListAttachedUserPolicies", user_arn, "AccessDenied")),
            ("iam", "iam.get-account-authorization-details", "GetAccountAuthorizationDetails",
             None, GLOBAL_REGION, ("iam:GetAccountAuthorizationDetails", "*", "AccessDenied")),
            ("secretsmanager", "secretsmanager.list-secrets", "ListSecrets", None, c.primary,
             ("secretsmanager:ListSecrets", "*", "AccessDeniedException")),
            ("lambda", "lambda.list-functions", "ListFunctions20150331", None, c.primary,
             ("lambda:ListFunctions", "*", "AccessDeniedException")),
            ("organizations", "organizations.describe-organization", "DescribeOrganization",
             None, GLOBAL_REGION,
             ("organizations:DescribeOrganization", "*", "AccessDeniedException")),
            ("ec2", "ec2.describe-instances", "DescribeInstances",
             {"instancesSet": {}, "filterSet": {}}, other, None),
        )  # fmt: skip
        for service, command, name, request, where, refused in steps[:n]:
            who = _Who(
                service,
                c.batch_identity,
                account=account,
                region=where,
                ip=c.intruder_ip,
                ua=_UA_INTRUDER.format(command=command),
                tls=self.tls(service, where),
            )
            error = None
            if refused is not None:
                action, resource, code = refused
                error = (code, _denied(user_arn, action, resource))
            self.call(t, who, name, request, read_only=True, error=error)
            t += self.rng.randrange(1_500, 9_000)


_Step = Callable[[int], None]
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
    """A kind of episode: its share of weekday and weekend events, hours, sizes and place."""

    builder: _Builder
    weekday: float
    weekend: float
    hours: list[float]
    sizes: tuple[int, ...]
    where: str  # "any": any region, "primary", "trail": the first account's primary region only
    span_ms: int  # how long an episode can last


_KINDS = (
    _Kind(_lambda_app, 0.40, 0.46, _FLAT_CUM, (1, 1, 2, 2, 3, 4), "any", 2_000),
    _Kind(_ecs_app, 0.16, 0.20, _FLAT_CUM, (2, 3, 4, 4), "primary", 2_000),
    _Kind(_Synth.ep_trail_key, 0.03, 0.04, _FLAT_CUM, (1, 1, 2), "trail", 60_000),
    _Kind(_Synth.ep_ci, 0.08, 0.01, _CI_CUM, (9, 10, 11, 12, 13, 14, 16), "any", 400_000),
    _Kind(_Synth.ep_sso, 0.13, 0.02, _HUMAN_CUM, (4, 6, 8, 10, 14, 18, 24), "primary", 1_200_000),
    _Kind(_Synth.ep_alice, 0.08, 0.01, _HUMAN_CUM, (3, 5, 8, 12, 16), "primary", 800_000),
    _Kind(_Synth.ep_bob, 0.05, 0.005, _HUMAN_CUM, (3, 4, 6, 8, 10), "primary", 500_000),
    _Kind(_Synth.ep_batch, 0.07, 0.08, _FLAT_CUM, (4, 5, 6, 6, 7, 8), "primary", 30_000),
)


# ---------------------------------------------------------------------- workloads that churn
#
# With ``churn``, every account also runs workloads whose resources keep changing, as real ones
# do, beside stable ones (the same three tables, one queue, a few secrets and keys every day):
# new S3 keys with ids and dates, a log stream per Lambda execution environment and ECS task,
# EC2 instances of an Auto Scaling group replaced every few days, a task definition revision
# and a Lambda version per deploy, a Step Functions execution per run. Each workload has its
# own role and resources of the same types as the others', so that a principal's neighbours
# hold resources it never touched. Their state lives in one _Churn per account; each episode
# below emits exactly the number of calls it is given, as every episode does.

# Churn trails need room in each day for the scheduled runs (deploys, the pipeline, patching)
# besides the rest of the cast.
CHURN_MIN_EVENTS_PER_DAY = 500

_UA_LAMBDA_WORKER = "awslambda-worker/1.0 rusoto/0.48.0 rust/1.79.0 linux"
_UA_FARGATE = "aws-sdk-go/1.51.21 (go1.21.9; linux; amd64) amazon-ecs-agent/1.82.4 (fargate)"
_UA_CW_AGENT = "aws-sdk-go/1.48.6 (go1.22.5; linux; arm64) amazon-cloudwatch-agent/1.300049.1"
_UA_SSM_AGENT = "aws-sdk-go/1.44.260 (go1.22.5; linux; arm64) amazon-ssm-agent/3.3.987.0"
_UA_WORKER = (
    "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#6.1.109-118.189.amzn2023.aarch64 "
    "md/arch#aarch64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy "
    "Botocore/1.35.36"
)
_NEVER = 1 << 62  # a stop time for what has not stopped
_DDB_VERSION = "2012-08-10"


class _Role:
    """A workload's IAM role: its ARN, unique ID and the sessionIssuer of its sessions."""

    __slots__ = ("account", "arn", "id", "issuer", "name")

    def __init__(self, rng: random.Random, account: str, name: str, path: str = "") -> None:
        self.account = account
        self.name = name
        self.arn = f"arn:aws:iam::{account}:role/{path}{name}"
        self.id = "AROA" + _key(rng, 17)
        self.issuer = _issuer(self.id, self.arn, account, name)

    def session(
        self, s: _Synth, name: str, created: int, *, web: Record | None = None, ec2: bool = False
    ) -> Record:
        """Return the identity of a new session named ``name`` (new credentials)."""
        context: Record = {
            "sessionIssuer": self.issuer,
            "webIdFederationData": web or {},
            "attributes": {"creationDate": s.clock.stamp(created), "mfaAuthenticated": "false"},
        }
        if ec2:  # instance profile credentials, fetched through IMDSv2
            context["ec2RoleDelivery"] = "2.0"
        return {
            "type": "AssumedRole",
            "principalId": f"{self.id}:{name}",
            "arn": f"arn:aws:sts::{self.account}:assumed-role/{self.name}/{name}",
            "accountId": self.account,
            "accessKeyId": "ASIA" + _key(s.rng, 16),
            "sessionContext": context,
        }


class _Caller:
    """A session calling from one place with one agent: a ``_Who`` per service (and S3 host)."""

    __slots__ = ("account", "identity", "ip", "region", "tls", "ua", "whos")

    def __init__(
        self, identity: Record, *, account: str, region: str, ip: str, ua: str, tls: bool = True
    ) -> None:
        self.identity = identity
        self.account = account
        self.region = region
        self.ip = ip
        self.ua = ua  # may hold {service}
        self.tls = tls  # False for an AWS service calling for the session (invokedBy)
        self.whos: dict[str, _Who] = {}

    def who(self, s: _Synth, service: str, host: str | None = None) -> _Who:
        found = self.whos.get(host or service)
        if found is None:
            tls = None
            if self.tls:
                tls = s.tls_host(host) if host else s.tls(service, self.region)
            found = _Who(
                service,
                self.identity,
                account=self.account,
                region=self.region,
                ip=self.ip,
                ua=self.ua.format(service=service),
                tls=tls,
            )
            self.whos[host or service] = found
        return found


class _App:
    """An application's own resources: a bucket, three tables, a queue, a secret and a key,
    with the object keys it wrote lately and a few old ones."""

    __slots__ = (
        "bucket",
        "kms_arn",
        "log_group",
        "old",
        "prefixes",
        "queue_arn",
        "queue_url",
        "recent",
        "secret_arn",
        "secret_name",
        "tables",
        "written",
    )

    def __init__(
        self,
        rng: random.Random,
        account: str,
        region: str,
        *,
        bucket: str,
        tables: tuple[str, str, str],
        queue: str,
        secret: str,
        log_group: str,
    ) -> None:
        self.bucket = bucket
        self.tables = tuple(
            (name, f"arn:aws:dynamodb:{region}:{account}:table/{name}") for name in tables
        )
        # Item keys name their kind, as single-table designs do: CART#…, SESSION#…, ORDER#….
        self.prefixes = tuple(name.rsplit("-", 1)[1].rstrip("s").upper() for name in tables)
        self.queue_url = f"https://sqs.{region}.amazonaws.com/{account}/{queue}"
        self.queue_arn = f"arn:aws:sqs:{region}:{account}:{queue}"
        self.secret_name = secret
        suffix = "".join(rng.choices(_ALNUM, k=6))
        self.secret_arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}-{suffix}"
        self.kms_arn = f"arn:aws:kms:{region}:{account}:key/{_uuid(rng)}"
        self.log_group = log_group
        self.recent: deque[str] = deque(maxlen=400)
        self.old: list[str] = []
        self.written = 0

    def wrote(self, key: str) -> None:
        self.recent.append(key)
        self.written += 1
        if self.written % 50 == 1:  # keep one key in fifty: the old ones read now and then
            self.old.append(key)

    def key_to_read(self, rng: random.Random) -> tuple[str, bool]:
        """Return a key to read, mostly one written lately, and whether it is an old one."""
        recent = self.recent
        roll = rng.random()
        if recent and roll < 0.95:
            # Most reads are of what was just written (an order page, an invoice download).
            back = min(len(recent), 40 if roll < 0.8 else len(recent))
            return recent[len(recent) - 1 - int(rng.random() * back)], False
        return self.old[int(rng.random() * len(self.old))], True


class _Task:
    """An ECS task of the storefront: its id, sessions and when it ran."""

    __slots__ = ("arn", "caller", "id", "started", "stopped")

    def __init__(self, task_id: str, arn: str, started: int) -> None:
        self.id = task_id
        self.arn = arn
        self.started = started
        self.stopped = _NEVER
        self.caller: _Caller | None = None


class _Container:
    """A Lambda execution environment of the ``api`` function: its version and log stream."""

    __slots__ = ("caller", "expires", "version")

    def __init__(self, caller: _Caller, version: int, expires: int) -> None:
        self.caller = caller
        self.version = version
        self.expires = expires


class _Instance:
    """An EC2 instance of the ``workers`` Auto Scaling group."""

    __slots__ = ("caller", "id", "ip", "launched", "lifetime", "terminated")

    def __init__(self, instance_id: str, ip: str, launched: int, lifetime: int) -> None:
        self.id = instance_id
        self.ip = ip
        self.launched = launched
        self.lifetime = lifetime
        self.terminated = _NEVER
        self.caller: _Caller | None = None


class _Churn:
    """One account's churning workloads: their roles, resources and state so far.

    Things that start or stop (tasks, instances, execution environments, versions) carry the
    time they did, so that an episode built earlier but happening later sees the state at its
    own time.
    """

    def __init__(self, s: _Synth, c: _Cast) -> None:
        rng = s.rng
        a = self.account = c.account
        r = self.region = c.primary
        self.cast = c
        self.web_role = _Role(rng, a, "storefront-web", "service/")
        self.exec_role = _Role(rng, a, "storefront-task-execution", "service/")
        self.api_role = _Role(rng, a, "api-handler", "service/")
        self.worker_role = _Role(rng, a, "workers", "service/")
        self.fleet_role = _Role(rng, a, "fleet-ops", "service/")
        self.pipeline_role = _Role(rng, a, "data-pipeline", "service/")
        self.release_role = _Role(rng, a, "release")
        self.asg_role = _Role(
            rng, a, "AWSServiceRoleForAutoScaling", "aws-service-role/autoscaling.amazonaws.com/"
        )
        self.storefront = _App(
            rng,
            a,
            r,
            bucket=f"acme-storefront-{a}",
            tables=("storefront-carts", "storefront-sessions", "storefront-products"),
            queue="storefront-orders",
            secret="prod/storefront/stripe",
            log_group="/ecs/web",
        )
        self.api = _App(
            rng,
            a,
            r,
            bucket=f"acme-api-documents-{a}",
            tables=("api-customers", "api-orders", "api-idempotency"),
            queue="api-jobs",
            secret="prod/api/jwt-signing",
            log_group="/aws/lambda/api",
        )
        # Keys written before the trail begins: what the few reads of old keys find.
        before = date.fromordinal(s.start.toordinal() - 20)
        for _ in range(12):
            self.storefront.old.append(f"orders/{before:%Y-%m}/{s.hex(12)}.json")
            self.api.old.append(f"invoices/{before:%Y/%m}/inv-{s.hex(10)}.pdf")
        self.analytics = f"acme-analytics-{a}"
        self.artifacts = f"acme-release-artifacts-{a}"
        self.nat_ip = _public_ip(rng, (3, 34, 52, 54))
        self.lambda_ips = tuple(_public_ip(rng, (3, 18, 34, 44, 52, 54)) for _ in range(8))
        self.oidc_arn = c.oidc_arn

        # ECS: the storefront's service and the revisions of its task definition.
        self.cluster_arn = f"arn:aws:ecs:{r}:{a}:cluster/storefront"
        self.repository_arn = f"arn:aws:ecr:{r}:{a}:repository/storefront-web"
        self.revision = rng.randrange(30, 60)
        self.image = rng.randbytes(20).hex()[:12]
        self.tasks: list[_Task] = []
        for _ in range(3):
            self.tasks.append(self.new_task(s, s.start_ms - rng.randrange(_MS_DAY, 3 * _MS_DAY)))
        for task in self.tasks:
            task.caller = self.task_caller(s, task, task.started)

        # Lambda: the api function's versions; the alias "live" points at one (from when).
        self.function_arn = f"arn:aws:lambda:{r}:{a}:function:api"
        self.aliases: list[tuple[int, int]] = [(0, rng.randrange(10, 25))]
        self.published = self.aliases[0][1]
        self.containers: list[_Container] = []

        # EC2: the workers group, each instance living a few days before it is replaced.
        self.vpc = "vpc-0" + rng.randbytes(8).hex()[:16]
        self.subnets = tuple("subnet-0" + rng.randbytes(8).hex()[:16] for _ in range(3))
        self.template = "lt-0" + rng.randbytes(8).hex()[:16]
        self.ami = "ami-0" + rng.randbytes(8).hex()[:16]
        self.instances: list[_Instance] = []
        for _ in range(4):
            launched = s.start_ms - rng.randrange(_MS_HOUR, 4 * _MS_DAY)
            instance = self.new_instance(s, launched)
            instance.caller = self.instance_caller(s, instance)
            self.instances.append(instance)
        self.command = s.uuid()  # the last SSM command sent to the workers

        # Step Functions: one state machine, an execution per run.
        self.state_machine = f"arn:aws:states:{r}:{a}:stateMachine:orders-etl"
        self.execution = f"arn:aws:states:{r}:{a}:execution:orders-etl:{s.uuid()}"
        self.query = s.uuid()  # the last Athena query

        # People trying new things: each comes to the console actions in their own order and
        # knows the first few so far.
        self.repertoires: dict[str, list[int]] = {}
        self.known: dict[str, int] = {}

    # ---------------------------------------------------------------- things that start

    def new_task(self, s: _Synth, started: int) -> _Task:
        task_id = s.hex(32)
        arn = f"arn:aws:ecs:{self.region}:{self.account}:task/storefront/{task_id}"
        return _Task(task_id, arn, started)

    def task_caller(self, s: _Synth, task: _Task, t: int) -> _Caller:
        """Return the task role's session in ``task`` (ECS names it after the task)."""
        identity = self.web_role.session(s, task.id, t)
        return _Caller(
            identity, account=self.account, region=self.region, ip=self.nat_ip, ua=_UA_ECS
        )

    def new_instance(self, s: _Synth, launched: int) -> _Instance:
        rng = s.rng
        ip = f"10.40.{rng.randrange(0, 48)}.{rng.randrange(4, 250)}"
        lifetime = rng.randrange(2 * _MS_DAY, 5 * _MS_DAY)
        return _Instance("i-0" + s.hex(16), ip, launched, lifetime)

    def instance_caller(self, s: _Synth, instance: _Instance) -> _Caller:
        """Return the instance profile's session on ``instance`` (named after the instance)."""
        identity = self.worker_role.session(s, instance.id, instance.launched + 40_000, ec2=True)
        return _Caller(
            identity, account=self.account, region=self.region, ip=self.nat_ip, ua=_UA_WORKER
        )

    def live_version(self, t: int) -> int:
        """Return the version the alias ``live`` pointed at, at ``t``."""
        version = self.aliases[0][1]
        for since, number in self.aliases:
            if since <= t:
                version = number
        return version

    def running(self, t: int) -> list[_Task]:
        return [k for k in self.tasks if k.started <= t < k.stopped]

    def booted(self, t: int) -> list[_Instance]:
        return [i for i in self.instances if i.launched + 60_000 <= t < i.terminated]

    def forget(self, t: int) -> None:
        """Drop what stopped more than a day before ``t``."""
        self.tasks = [k for k in self.tasks if k.stopped > t - _MS_DAY]
        self.instances = [i for i in self.instances if i.terminated > t - _MS_DAY]
        self.containers = [e for e in self.containers if e.expires > t - _MS_DAY]
        if len(self.aliases) > 4:
            self.aliases = self.aliases[-4:]


def _churn_of(s: _Synth, c: _Cast) -> _Churn:
    assert s.churn is not None
    return s.churn[c.index]


def _steps_run(
    s: _Synth,
    t: int,
    n: int,
    steps: list[_Step],
    pad: _Step,
    *,
    pad_at: int,
    gap: tuple[int, int],
) -> None:
    """Emit ``n`` calls: ``steps`` in order, ``pad`` (a poll) repeated before ``steps[pad_at]``
    until there are ``n``; the steps past ``n`` are left out."""
    extra = max(0, n - len(steps))
    plan = steps[:pad_at] + [pad] * extra + steps[pad_at:]
    rng = s.rng
    for step in plan[:n]:
        step(t)
        t += rng.randrange(*gap)


def _service_assume(
    s: _Synth, t: int, ch: _Churn, role: _Role, identity: Record, service: str, hours: int
) -> None:
    """Emit an AWS service (Lambda, ECS tasks, Step Functions) assuming ``role`` for a session."""
    name = identity["principalId"].split(":", 1)[1]
    credentials = {
        "accessKeyId": identity["accessKeyId"],
        "sessionToken": s.token(),
        "expiration": _expiration(t + hours * _MS_HOUR),
    }
    aws = _Who(
        "sts",
        _service_identity(service),
        account=ch.account,
        region=ch.region,
        ip=service,
        ua=service,
    )
    s.call(
        t,
        aws,
        "AssumeRole",
        {"roleArn": role.arn, "roleSessionName": name},
        response={
            "credentials": credentials,
            "assumedRoleUser": {"assumedRoleId": identity["principalId"], "arn": identity["arn"]},
        },
        read_only=True,
        resources=[_resource("AWS::IAM::Role", role.arn, ch.account)],
        shared=True,
    )


def _log_stream(s: _Synth, t: int, ch: _Churn, who: _Who, group: str, stream: str) -> None:
    """Emit ``logs:CreateLogStream``, as a runtime or agent does for each new stream.

    CloudTrail does not record PutLogEvents: a stream's creation is all a trail shows of it.
    """
    s.call(
        t,
        who,
        "CreateLogStream",
        {"logGroupName": group, "logStreamName": stream},
        read_only=False,
        api_version="20140328",
    )


def _item(
    s: _Synth,
    t: int,
    who: _Who,
    name: str,
    table: tuple[str, str],
    request: Record,
    error: tuple[str, str] | None = None,
) -> None:
    """Emit a DynamoDB item call on ``table`` (name, ARN), from a template per caller."""
    key = f"{name} {table[0]}"
    template = who.templates.get(key) if error is None else None
    if template is None:
        template = s.call(
            t,
            who,
            name,
            None,
            read_only=name in ("GetItem", "Query"),
            error=error,
            resources=[_resource("AWS::DynamoDB::Table", table[1], who.account)],
            api_version=_DDB_VERSION,
            data=True,
            template=True,
        )
        if error is None:
            who.templates[key] = template
    s.fill(t, template, request, s.dynamodb_request_id())


def _queue_call(s: _Synth, t: int, who: _Who, name: str, app: _App) -> None:
    """Emit an SQS message call (SendMessage, ReceiveMessage, DeleteMessage) on ``app``'s queue."""
    template = who.templates.get(name)
    if template is None:
        if name == "SendMessage":
            request: Record = {
                "queueUrl": app.queue_url,
                "messageBody": "HIDDEN_DUE_TO_SECURITY_REASONS",
            }
        elif name == "ReceiveMessage":
            request = {
                "queueUrl": app.queue_url,
                "maxNumberOfMessages": 10,
                "waitTimeSeconds": 20,
                "messageAttributeNames": ["All"],
            }
        else:
            request = {"queueUrl": app.queue_url, "receiptHandle": ""}
        template = who.templates[name] = s.call(
            t,
            who,
            name,
            request,
            read_only=name == "ReceiveMessage",
            resources=[_resource("AWS::SQS::Queue", app.queue_arn, who.account)],
            data=True,
            template=True,
        )
    request = template["requestParameters"]
    if name == "DeleteMessage":
        request = {**request, "receiptHandle": "AQEB" + s.amz_id_2()[:-1]}
    r = s.fill(t, template, request)
    if name == "SendMessage":
        r["responseElements"] = {"mD5OfMessageBody": s.hex(32), "messageId": s.uuid()}


def _object(
    s: _Synth, t: int, caller: _Caller, name: str, app: _App, key: str, *, old: bool = False
) -> None:
    """Emit GetObject or PutObject on ``app``'s bucket; an old key may be gone (lifecycle)."""
    rng = s.rng
    who = caller.who(s, "s3", f"{app.bucket}.s3.{caller.region}.amazonaws.com")
    error = None
    if old and rng.random() < 0.2:
        error = ("NoSuchKey", "The specified key does not exist.")
    size = 800 + int(rng.random() * 120_000)
    s.s3_object(t, who, name, key, bucket=app.bucket, size=size, kms_arn=app.kms_arn, error=error)
    if name == "PutObject":
        app.wrote(key)


def _secret(s: _Synth, t: int, caller: _Caller, app: _App) -> None:
    s.call(
        t,
        caller.who(s, "secretsmanager"),
        "GetSecretValue",
        {"secretId": app.secret_name},
        read_only=True,
    )


# ---------------------------------------------------------------- the storefront (ECS)

# What a storefront request does: (API, table index or the object key it writes or reads).
_STOREFRONT_REQUESTS: tuple[tuple[tuple[str, int], ...], ...] = (
    (("GetItem", 1), ("GetItem", 2), ("Query", 2), ("GetItem", 0), ("GetItem", 2)),
    (("UpdateItem", 0), ("PutObject", -1), ("SendMessage", -1), ("UpdateItem", 1), ("GetItem", 0)),
    (("GetItem", 1), ("GetObject", -1), ("GetObject", -1), ("Query", 0), ("GetItem", 2)),
)


def _ep_storefront(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    """Emit a storefront request served by one of the web service's running tasks."""
    ch = _churn_of(s, c)
    rng = s.rng
    running = ch.running(t) or ch.tasks[-3:]
    task = running[int(rng.random() * len(running))]
    assert task.caller is not None
    caller = task.caller
    roll = rng.random()
    steps = _STOREFRONT_REQUESTS[0 if roll < 0.5 else 1 if roll < 0.8 else 2]
    _app_calls(s, t, n, caller, ch.storefront, steps, "storefront")


def _app_calls(
    s: _Synth,
    t: int,
    n: int,
    caller: _Caller,
    app: _App,
    steps: tuple[tuple[str, int], ...],
    kind: str,
) -> None:
    """Emit ``n`` calls of an application request, cycling through ``steps``."""
    rng = s.rng
    for i in range(n):
        name, table = steps[i % len(steps)]
        if name in ("GetObject", "PutObject"):
            if name == "PutObject":
                day = s.clock.stamp(t)[:10]
                if kind == "storefront":
                    key = f"orders/{day[:7]}/{s.hex(12)}.json"
                else:
                    key = f"invoices/{day[:4]}/{day[5:7]}/inv-{s.hex(10)}.pdf"
                _object(s, t, caller, name, app, key)
            else:
                key, old = app.key_to_read(rng)
                _object(s, t, caller, name, app, key, old=old)
        elif name == "SendMessage":
            _queue_call(s, t, caller.who(s, "sqs"), name, app)
        else:
            _app_item(s, t, caller, app, name, table)
        t += 4 + int(rng.random() * 300)


def _app_item(s: _Synth, t: int, caller: _Caller, app: _App, name: str, index: int) -> None:
    table = app.tables[index]
    pk = f"{app.prefixes[index]}#{s.hex(10)}"
    who = caller.who(s, "dynamodb")
    if name == "GetItem":
        request: Record = {"tableName": table[0], "key": {"pk": pk}, "consistentRead": False}
    elif name == "Query":
        request = {
            "tableName": table[0],
            "keyConditionExpression": "pk = :pk",
            "scanIndexForward": False,
            "limit": 20,
        }
    elif name == "UpdateItem":
        request = {
            "tableName": table[0],
            "key": {"pk": pk},
            "updateExpression": "SET #items = :items, #ttl = :ttl",
            "returnValues": "NONE",
        }
    else:
        request = {
            "tableName": table[0],
            "key": {"pk": pk},
            "conditionExpression": "attribute_not_exists(pk)",
        }
        # An idempotency key seen before: the condition fails, as it is meant to.
        if table[0].endswith("idempotency") and s.rng.random() < 0.03:
            failed = ("ConditionalCheckFailedException", "The conditional request failed")
            _item(s, t, who, name, table, request, failed)
            return
    _item(s, t, who, name, table, request)


def _task_start(s: _Synth, ch: _Churn, task: _Task, *, stops: _Task | None = None) -> list[_Step]:
    """Return the calls of a Fargate task starting: the execution role pulls the image and
    creates the task's log stream, then the task's own role reads its secret."""
    a, r = ch.account, ch.region
    exec_caller: list[_Caller] = []

    def assume_exec(t: int) -> None:
        task.started = t
        if stops is not None:
            stops.stopped = t + 90_000  # the old task drains once the new one is healthy
        identity = ch.exec_role.session(s, task.id, t)
        exec_caller.append(_Caller(identity, account=a, region=r, ip=ch.nat_ip, ua=_UA_FARGATE))
        _service_assume(s, t, ch, ch.exec_role, identity, "ecs-tasks.amazonaws.com", 6)

    def token(t: int) -> None:
        s.call(
            t,
            exec_caller[0].who(s, "ecr"),
            "GetAuthorizationToken",
            {"registryIds": [a]},
            read_only=True,
        )

    def image(t: int) -> None:
        s.call(
            t,
            exec_caller[0].who(s, "ecr"),
            "BatchGetImage",
            {
                "imageIds": [{"imageTag": ch.image}],
                "acceptedMediaTypes": [
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.oci.image.manifest.v1+json",
                ],
                "repositoryName": "storefront-web",
                "registryId": a,
            },
            read_only=True,
            resources=[{"accountId": a, "ARN": ch.repository_arn}],
        )

    def layer(t: int) -> None:
        s.call(
            t,
            exec_caller[0].who(s, "ecr"),
            "GetDownloadUrlForLayer",
            {
                "repositoryName": "storefront-web",
                "registryId": a,
                "layerDigest": "sha256:" + s.hex(64),
            },
            read_only=True,
            resources=[{"accountId": a, "ARN": ch.repository_arn}],
        )

    def stream(t: int) -> None:
        who = exec_caller[0].who(s, "logs")
        _log_stream(s, t, ch, who, ch.storefront.log_group, f"ecs/web/{task.id}")

    def assume_task(t: int) -> None:
        task.caller = ch.task_caller(s, task, t)
        _service_assume(s, t, ch, ch.web_role, task.caller.identity, "ecs-tasks.amazonaws.com", 6)

    def secret(t: int) -> None:
        if task.caller is None:  # the task's role was not assumed (a truncated start)
            task.caller = ch.task_caller(s, task, t)
        _secret(s, t, task.caller, ch.storefront)

    return [assume_exec, token, image, layer, stream, assume_task, secret]


def _ep_task_replaced(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    """Emit a storefront task replaced by the service after failing its health checks."""
    ch = _churn_of(s, c)
    running = ch.running(t) or ch.tasks[-3:]
    old = running[int(s.rng.random() * len(running))]
    task = ch.new_task(s, _NEVER)
    ch.tasks.append(task)
    steps = _task_start(s, ch, task, stops=old)
    _steps_run(s, t, n, steps, steps[-1], pad_at=len(steps), gap=(300, 4_000))
    ch.forget(t)


# ---------------------------------------------------------------- the api function (Lambda)

_API_REQUESTS: tuple[tuple[tuple[str, int], ...], ...] = (
    (("GetItem", 0), ("Query", 1), ("GetObject", -1), ("GetItem", 1)),
    (("PutItem", 2), ("PutItem", 1), ("PutObject", -1), ("SendMessage", -1), ("UpdateItem", 0)),
    (("GetItem", 0), ("GetObject", -1), ("GetItem", 1), ("Query", 1)),
)


def _ep_api(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    """Emit an invocation of the ``api`` function through its alias; a cold start first when
    no execution environment of the live version is warm."""
    ch = _churn_of(s, c)
    rng = s.rng
    version = ch.live_version(t)
    # Episodes are built in time order: an environment expired now is of no later use.
    ch.containers = [e for e in ch.containers if e.expires > t]
    warm = [e for e in ch.containers if e.version == version]
    steps: list[_Step] = []
    if warm and rng.random() > 0.04:
        container = warm[int(rng.random() * len(warm))]
        caller = container.caller
    else:
        caller, steps = _api_cold_start(s, ch, version, t)
    roll = rng.random()
    request = _API_REQUESTS[0 if roll < 0.45 else 1 if roll < 0.75 else 2]

    def serve(at: int) -> None:
        _app_calls(s, at, max(0, n - len(steps)), caller, ch.api, request, "api")

    for i, step in enumerate(steps[:n]):
        step(t + i * rng.randrange(20, 200))
    if n > len(steps):
        serve(t + 200 * len(steps))
    if rng.random() < 0.01:
        ch.forget(t)


def _api_cold_start(s: _Synth, ch: _Churn, version: int, t: int) -> tuple[_Caller, list[_Step]]:
    """Return a new execution environment's session and the calls of its start: Lambda gets
    it credentials, the Lambda worker creates its log stream, the code reads its secret (and
    now and then a library asks for a table's description, which the role does not allow)."""
    rng = s.rng
    identity = ch.api_role.session(s, "api", t)
    ip = ch.lambda_ips[int(rng.random() * len(ch.lambda_ips))]
    caller = _Caller(identity, account=ch.account, region=ch.region, ip=ip, ua=_UA_LAMBDA)
    ch.containers.append(_Container(caller, version, t + rng.randrange(_MS_HOUR, 5 * _MS_HOUR)))
    day = s.clock.stamp(t)[:10].replace("-", "/")
    stream = f"{day}/[{version}]{s.hex(32)}"
    worker = _Caller(identity, account=ch.account, region=ch.region, ip=ip, ua=_UA_LAMBDA_WORKER)

    def assume(at: int) -> None:
        _service_assume(s, at, ch, ch.api_role, identity, "lambda.amazonaws.com", 12)

    def log(at: int) -> None:
        _log_stream(s, at, ch, worker.who(s, "logs"), ch.api.log_group, stream)

    def secret(at: int) -> None:
        _secret(s, at, caller, ch.api)

    steps: list[_Step] = [assume, log, secret]
    if s.first(ch.cast, "api-describe-denied", 0.05):
        table = ch.api.tables[1]

        def describe(at: int) -> None:
            message = _denied(identity["arn"], "dynamodb:DescribeTable", table[1])
            s.call(
                at,
                caller.who(s, "dynamodb"),
                "DescribeTable",
                {"tableName": table[0]},
                read_only=True,
                error=("AccessDeniedException", message),
                api_version=_DDB_VERSION,
            )

        steps.append(describe)
    return caller, steps


# ---------------------------------------------------------------- the workers (EC2, ASG)


def _ep_worker(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    """Emit a worker instance taking a job off the api's queue: the order, its invoice."""
    ch = _churn_of(s, c)
    rng = s.rng
    booted = ch.booted(t) or ch.instances[-1:]
    instance = booted[int(rng.random() * len(booted))]
    if instance.caller is None:
        instance.caller = ch.instance_caller(s, instance)
    caller = instance.caller
    for i in range(n):
        step = i % 4
        if step == 0:
            _queue_call(s, t, caller.who(s, "sqs"), "ReceiveMessage", ch.api)
        elif step == 1:
            _app_item(s, t, caller, ch.api, "GetItem", 1)
        elif step == 2:
            key, old = ch.api.key_to_read(rng)
            _object(s, t, caller, "GetObject", ch.api, key, old=old)
        else:
            _queue_call(s, t, caller.who(s, "sqs"), "DeleteMessage", ch.api)
        t += 10 + int(rng.random() * 900)


def _ep_fleet_ops(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    """Emit the nightly ``fleet-ops`` Lambda: patch the workers through SSM, tag them, and
    terminate the oldest when its time is up, which the Auto Scaling group replaces."""
    ch = _churn_of(s, c)
    rng = s.rng
    a, r = ch.account, ch.region
    identity = ch.fleet_role.session(s, "fleet-ops", t)
    ip = ch.lambda_ips[int(rng.random() * len(ch.lambda_ips))]
    caller = _Caller(identity, account=a, region=r, ip=ip, ua=_UA_EXPORT)
    worker = _Caller(identity, account=a, region=r, ip=ip, ua=_UA_LAMBDA_WORKER)
    booted = ch.booted(t) or ch.instances[-1:]
    ids = [i.id for i in booted]
    day = s.clock.stamp(t)[:10]
    command: list[str] = []

    def assume(at: int) -> None:
        _service_assume(s, at, ch, ch.fleet_role, identity, "lambda.amazonaws.com", 12)

    def log(at: int) -> None:
        stream = f"{day.replace('-', '/')}/[$LATEST]{s.hex(32)}"
        _log_stream(s, at, ch, worker.who(s, "logs"), "/aws/lambda/fleet-ops", stream)

    def describe(at: int) -> None:
        group = {
            "name": "tag:aws:autoscaling:groupName",
            "valueSet": {"items": [{"value": "workers"}]},
        }
        running = {"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}]}}
        request = {"instancesSet": {}, "filterSet": {"items": [group, running]}}
        s.call(at, caller.who(s, "ec2"), "DescribeInstances", request, read_only=True)

    def send(at: int) -> None:
        command_id = s.uuid()
        command.append(command_id)
        ch.command = command_id
        request = {
            "instanceIds": ids,
            "documentName": "AWS-RunPatchBaseline",
            "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
            "timeoutSeconds": 3600,
            "maxConcurrency": "50%",
            "maxErrors": "0",
        }
        response = {
            "command": {
                "commandId": command_id,
                "documentName": "AWS-RunPatchBaseline",
                "documentVersion": "$DEFAULT",
                "comment": "",
                "expiresAfter": _expiration(at + _MS_HOUR + 600_000),
                "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
                "instanceIds": ids,
                "targets": [],
                "requestedDateTime": _expiration(at),
                "status": "Pending",
                "statusDetails": "Pending",
                "outputS3Region": r,
                "outputS3BucketName": "",
                "outputS3KeyPrefix": "",
                "maxConcurrency": "50%",
                "maxErrors": "0",
                "targetCount": len(ids),
                "completedCount": 0,
                "errorCount": 0,
                "deliveryTimedOutCount": 0,
                "serviceRole": "",
                "notificationConfig": {
                    "notificationArn": "",
                    "notificationEvents": [],
                    "notificationType": "",
                },
                "cloudWatchOutputConfig": {
                    "cloudWatchLogGroupName": "",
                    "cloudWatchOutputEnabled": False,
                },
                "timeoutSeconds": 3600,
                "alarmConfiguration": {"ignorePollAlarmFailure": False, "alarms": []},
                "triggeredAlarms": [],
            }
        }
        s.call(at, caller.who(s, "ssm"), "SendCommand", request, response=response, read_only=False)

    def poll(at: int) -> None:
        target = ids[int(rng.random() * len(ids))]
        request = {"commandId": command[0] if command else ch.command, "instanceId": target}
        s.call(at, caller.who(s, "ssm"), "GetCommandInvocation", request, read_only=True)

    def tag(instance_id: str) -> _Step:
        def step(at: int) -> None:
            request = {
                "resourcesSet": {"items": [{"resourceId": instance_id}]},
                "tagSet": {"items": [{"key": "PatchedAt", "value": day}]},
            }
            response = {"requestId": s.uuid(), "_return": True}
            s.call(
                at, caller.who(s, "ec2"), "CreateTags", request, response=response, read_only=False
            )

        return step

    steps: list[_Step] = [assume, log, describe, send, *(tag(i) for i in ids)]
    due = [i for i in booted if t - i.launched >= i.lifetime]
    if due:
        steps.extend(_replace_instance(s, ch, caller, min(due, key=lambda i: i.launched)))
    _steps_run(s, t, n, steps, poll, pad_at=4, gap=(400, 15_000))
    ch.forget(t)


def _replace_instance(s: _Synth, ch: _Churn, caller: _Caller, old: _Instance) -> list[_Step]:
    """Return the calls of an instance's replacement: fleet-ops terminates it, the Auto Scaling
    group launches another, which creates its log stream and registers with SSM."""
    a, r = ch.account, ch.region
    rng = s.rng
    new: list[_Instance] = []

    def terminate(at: int) -> None:
        old.terminated = at
        request = {"instancesSet": {"items": [{"instanceId": old.id}]}}
        response = {
            "requestId": s.uuid(),
            "instancesSet": {
                "items": [
                    {
                        "instanceId": old.id,
                        "currentState": {"code": 32, "name": "shutting-down"},
                        "previousState": {"code": 16, "name": "running"},
                    }
                ]
            },
        }
        s.call(
            at,
            caller.who(s, "ec2"),
            "TerminateInstances",
            request,
            response=response,
            read_only=False,
        )

    def launch(at: int) -> None:
        at += rng.randrange(20_000, 90_000)  # the group notices the instance is gone
        instance = ch.new_instance(s, at)
        new.append(instance)
        ch.instances.append(instance)
        zone = f"{r}{'abc'[int(rng.random() * 3)]}"
        identity = {
            **ch.asg_role.session(s, "AutoScaling", at),
            "invokedBy": "autoscaling.amazonaws.com",
        }
        who = _Who(
            "ec2",
            identity,
            account=a,
            region=r,
            ip="autoscaling.amazonaws.com",
            ua="autoscaling.amazonaws.com",
        )
        token = s.uuid()
        tags = {
            "items": [
                {
                    "resourceType": "instance",
                    "tags": [
                        {"key": "aws:autoscaling:groupName", "value": "workers"},
                        {"key": "Name", "value": "workers"},
                    ],
                }
            ]
        }
        request = {
            "instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]},
            "blockDeviceMapping": {},
            "availabilityZone": zone,
            "monitoring": {"enabled": False},
            "disableApiTermination": False,
            "disableApiStop": False,
            "clientToken": token,
            "tagSpecificationSet": tags,
            "launchTemplate": {"launchTemplateId": ch.template, "version": "7"},
        }
        item = {
            "instanceId": instance.id,
            "imageId": ch.ami,
            "currentInstanceBootMode": "uefi",
            "instanceState": {"code": 0, "name": "pending"},
            "privateDnsName": f"ip-{instance.ip.replace('.', '-')}.ec2.internal",
            "amiLaunchIndex": 0,
            "productCodes": {},
            "instanceType": "m7g.large",
            "launchTime": at,
            "placement": {"availabilityZone": zone, "tenancy": "default"},
            "monitoring": {"state": "disabled"},
            "subnetId": ch.subnets["abc".index(zone[-1])],
            "vpcId": ch.vpc,
            "privateIpAddress": instance.ip,
            "stateReason": {"code": "pending", "message": "pending"},
            "architecture": "arm64",
            "rootDeviceType": "ebs",
            "rootDeviceName": "/dev/xvda",
            "blockDeviceMapping": {},
            "virtualizationType": "hvm",
            "clientToken": token,
            "tagSet": {"items": tags["items"][0]["tags"]},
            "hypervisor": "xen",
            "ebsOptimized": True,
            "enaSupport": True,
            "metadataOptions": {
                "state": "pending",
                "httpTokens": "required",
                "httpPutResponseHopLimit": 2,
                "httpEndpoint": "enabled",
            },
        }
        response = {
            "requestId": s.uuid(),
            "reservationId": "r-0" + s.hex(16),
            "ownerId": a,
            "groupSet": {},
            "instancesSet": {"items": [item]},
        }
        s.call(at, who, "RunInstances", request, response=response, read_only=False)

    def booted() -> tuple[_Instance, Record]:
        instance = new[0]  # launch() runs before the steps of the instance's boot
        if instance.caller is None:
            instance.caller = ch.instance_caller(s, instance)
        return instance, instance.caller.identity

    def stream(at: int) -> None:
        instance, identity = booted()
        agent = _Caller(identity, account=a, region=r, ip=ch.nat_ip, ua=_UA_CW_AGENT)
        when = instance.launched + rng.randrange(60_000, 120_000)
        _log_stream(s, when, ch, agent.who(s, "logs"), "/ec2/workers", instance.id)

    def register(at: int) -> None:
        instance, identity = booted()
        agent = _Caller(identity, account=a, region=r, ip=ch.nat_ip, ua=_UA_SSM_AGENT)
        request = {
            "instanceId": instance.id,
            "agentVersion": "3.3.987.0",
            "agentStatus": "Active",
            "platformType": "Linux",
            "platformName": "Amazon Linux",
            "platformVersion": "2023",
            "iPAddress": instance.ip,
            "computerName": f"ip-{instance.ip.replace('.', '-')}.ec2.internal",
            "agentName": "amazon-ssm-agent",
        }
        when = instance.launched + rng.randrange(60_000, 120_000)
        s.call(when, agent.who(s, "ssm"), "UpdateInstanceInformation", request, read_only=False)

    return [terminate, launch, stream, register]


# ---------------------------------------------------------------- the data pipeline


def _when(t: int) -> str:
    """Return a time as Step Functions and ECS write dates in responses: ``Oct 5, 2026, …``."""
    return _expiration(t)


def _ep_pipeline(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    """Emit a run of the ``orders-etl`` pipeline: the ``etl-trigger`` Lambda starts an execution
    of the state machine, which runs a Glue job and an Athena query with the same role; the
    trigger waits for it, reads the query's result and writes the report."""
    ch = _churn_of(s, c)
    rng = s.rng
    a, r = ch.account, ch.region
    role = ch.pipeline_role
    identity = role.session(s, "etl-trigger", t)
    ip = ch.lambda_ips[int(rng.random() * len(ch.lambda_ips))]
    trigger = _Caller(identity, account=a, region=r, ip=ip, ua=_UA_EXPORT)
    worker = _Caller(identity, account=a, region=r, ip=ip, ua=_UA_LAMBDA_WORKER)
    machine_identity = role.session(s, "".join(rng.choices(_ALNUM, k=32)), t)
    machine = _Caller(
        {**machine_identity, "invokedBy": "states.amazonaws.com"},
        account=a,
        region=r,
        ip="states.amazonaws.com",
        ua="states.amazonaws.com",
        tls=False,
    )
    stamp = s.clock.stamp(t)
    day = stamp[:10]
    if stamp[11:13] < "04":  # the night's run reports on the day before
        report = f"reports/daily/{date.fromisoformat(day) - timedelta(days=1)}.csv"
    else:
        report = f"reports/intraday/{day}/{stamp[11:13]}00.csv"
    run: list[str] = []
    host = f"{ch.analytics}.s3.{r}.amazonaws.com"

    def assume(at: int) -> None:
        _service_assume(s, at, ch, role, identity, "lambda.amazonaws.com", 12)

    def log(at: int) -> None:
        stream = f"{day.replace('-', '/')}/[$LATEST]{s.hex(32)}"
        _log_stream(s, at, ch, worker.who(s, "logs"), "/aws/lambda/etl-trigger", stream)

    def start(at: int) -> None:
        ch.execution = f"arn:aws:states:{r}:{a}:execution:orders-etl:{s.uuid()}"
        s.call(
            at,
            trigger.who(s, "states"),
            "StartExecution",
            {"stateMachineArn": ch.state_machine, "input": "HIDDEN_DUE_TO_SECURITY_REASONS"},
            response={"executionArn": ch.execution, "startDate": _when(at)},
            read_only=False,
        )

    def assume_machine(at: int) -> None:
        _service_assume(s, at, ch, role, machine_identity, "states.amazonaws.com", 1)

    def job(at: int) -> None:
        run.append("jr_" + s.hex(64))
        s.call(
            at,
            machine.who(s, "glue"),
            "StartJobRun",
            {"jobName": "orders-etl", "arguments": {"--run_date": day}},
            response={"jobRunId": run[0]},
            read_only=False,
        )

    def poll(at: int) -> None:
        request = {
            "jobName": "orders-etl",
            "runId": run[0] if run else "",
            "predecessorsIncluded": False,
        }
        s.call(at, machine.who(s, "glue"), "GetJobRun", request, read_only=True)

    def query(at: int) -> None:
        ch.query = s.uuid()
        s.call(
            at,
            machine.who(s, "athena"),
            "StartQueryExecution",
            {
                "queryString": "SELECT order_date, count(*) AS orders, sum(total) AS revenue "
                "FROM analytics.orders WHERE order_date = date_add('day', -1, current_date) "
                "GROUP BY order_date",
                "clientRequestToken": s.uuid(),
                "queryExecutionContext": {"database": "analytics"},
                "resultConfiguration": {"outputLocation": f"s3://{ch.analytics}/athena-results/"},
                "workGroup": "analytics",
            },
            response={"queryExecutionId": ch.query},
            read_only=False,
        )

    def query_state(at: int) -> None:
        request = {"queryExecutionId": ch.query}
        s.call(at, machine.who(s, "athena"), "GetQueryExecution", request, read_only=True)

    def describe(at: int) -> None:
        error = None
        if s.first(ch.cast, "pipeline-throttled", 0.03):
            error = ("ThrottlingException", "Rate exceeded")
        s.call(
            at,
            trigger.who(s, "states"),
            "DescribeExecution",
            {"executionArn": ch.execution},
            read_only=True,
            error=error,
        )

    def result(at: int) -> None:
        key = f"athena-results/{ch.query}.csv"
        size = rng.randrange(200, 4_000)
        s.s3_object(
            at, trigger.who(s, "s3", host), "GetObject", key, bucket=ch.analytics, size=size
        )

    def write(at: int) -> None:
        size = rng.randrange(2_000, 60_000)
        s.s3_object(
            at, trigger.who(s, "s3", host), "PutObject", report, bucket=ch.analytics, size=size
        )

    steps: list[_Step] = [
        assume,
        log,
        start,
        assume_machine,
        job,
        poll,
        query,
        query_state,
        describe,
        result,
        write,
    ]
    _steps_run(s, t, n, steps, poll, pad_at=6, gap=(5_000, 60_000))


# ---------------------------------------------------------------- deploys (GitHub Actions)


def _release_session(s: _Synth, ch: _Churn, t: int, repository: str) -> tuple[_Caller, _Step]:
    """Return a GitHub Actions job's session of ``role/release`` and the step that gets it."""
    rng = s.rng
    ip = _public_ip(rng, (4, 13, 20, 40, 52))
    subject = f"repo:{repository}:environment:production"
    web = {"federatedProvider": ch.oidc_arn, "attributes": {}}
    identity = ch.release_role.session(s, "GitHubActions", t, web=web)
    caller = _Caller(identity, account=ch.account, region=ch.region, ip=ip, ua=_UA_GITHUB)

    def assume(at: int) -> None:
        web_user = {
            "type": "WebIdentityUser",
            "principalId": f"{ch.oidc_arn}:sts.amazonaws.com:{subject}",
            "userName": subject,
            "identityProvider": ch.oidc_arn,
        }
        credentials = {
            "accessKeyId": identity["accessKeyId"],
            "sessionToken": s.token(),
            "expiration": _expiration(at + _MS_HOUR),
        }
        who = _Who(
            "sts",
            web_user,
            account=ch.account,
            region=ch.region,
            ip=ip,
            ua=_UA_GITHUB.format(service="sts"),
            tls=s.tls("sts", ch.region),
        )
        s.call(
            at,
            who,
            "AssumeRoleWithWebIdentity",
            {
                "roleArn": ch.release_role.arn,
                "roleSessionName": "GitHubActions",
                "durationSeconds": 3600,
            },
            response={
                "credentials": credentials,
                "subjectFromWebIdentityToken": subject,
                "assumedRoleUser": {
                    "assumedRoleId": identity["principalId"],
                    "arn": identity["arn"],
                },
                "provider": ch.oidc_arn,
                "audience": "sts.amazonaws.com",
            },
            read_only=True,
            extra={"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
            resources=[_resource("AWS::IAM::Role", ch.release_role.arn, ch.account)],
        )

    return caller, assume


def _ep_release_web(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    """Emit a storefront deploy: push the image, register the task definition's next revision,
    run the migrations as a one-off task of it, then roll the service onto it, task by task."""
    ch = _churn_of(s, c)
    rng = s.rng
    a, r = ch.account, ch.region
    caller, assume = _release_session(s, ch, t, "acme/storefront")
    tag = rng.randbytes(20).hex()[:12]
    migration = ch.new_task(s, _NEVER)
    group = "sg-0" + rng.randbytes(8).hex()[:16]

    def ecs(at: int, name: str, request: Record, response: Record | None = None) -> None:
        s.call(
            at, caller.who(s, "ecs"), name, request, response=response, read_only=response is None
        )

    def token(at: int) -> None:
        request = {"registryIds": [a]}
        s.call(at, caller.who(s, "ecr"), "GetAuthorizationToken", request, read_only=True)

    def push(at: int) -> None:
        ch.image = tag
        media = "application/vnd.oci.image.manifest.v1+json"
        digest = "sha256:" + s.hex(64)
        s.call(
            at,
            caller.who(s, "ecr"),
            "PutImage",
            {
                "repositoryName": "storefront-web",
                "imageTag": tag,
                "imageManifestMediaType": media,
                "registryId": a,
            },
            response={
                "image": {
                    "registryId": a,
                    "repositoryName": "storefront-web",
                    "imageId": {"imageDigest": digest, "imageTag": tag},
                    "imageManifestMediaType": media,
                }
            },
            read_only=False,
            resources=[{"accountId": a, "ARN": ch.repository_arn}],
        )

    def current(at: int) -> None:
        ecs(at, "DescribeTaskDefinition", {"taskDefinition": "web"})

    def container() -> Record:
        return {
            "name": "web",
            "image": f"{a}.dkr.ecr.{r}.amazonaws.com/storefront-web:{tag}",
            "cpu": 0,
            "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
            "essential": True,
            "environment": [{"name": "NODE_ENV", "value": "production"}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": ch.storefront.log_group,
                    "awslogs-region": r,
                    "awslogs-stream-prefix": "ecs",
                },
            },
        }

    def register(at: int) -> None:
        ch.revision += 1
        request = {
            "family": "web",
            "taskRoleArn": ch.web_role.arn,
            "executionRoleArn": ch.exec_role.arn,
            "networkMode": "awsvpc",
            "containerDefinitions": [container()],
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "512",
            "memory": "1024",
            "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        }
        definition = {
            "taskDefinitionArn": f"arn:aws:ecs:{r}:{a}:task-definition/web:{ch.revision}",
            **{k: v for k, v in request.items() if k != "requiresCompatibilities"},
            "revision": ch.revision,
            "volumes": [],
            "status": "ACTIVE",
            "placementConstraints": [],
            "compatibilities": ["EC2", "FARGATE"],
            "requiresCompatibilities": ["FARGATE"],
            "registeredAt": _when(at),
            "registeredBy": caller.identity["arn"],
        }
        ecs(at, "RegisterTaskDefinition", request, {"taskDefinition": definition})

    network = {
        "awsvpcConfiguration": {
            "subnets": list(ch.subnets),
            "securityGroups": [group],
            "assignPublicIp": "DISABLED",
        }
    }

    def run_task(at: int) -> None:
        definition = f"arn:aws:ecs:{r}:{a}:task-definition/web:{ch.revision}"
        request = {
            "cluster": "storefront",
            "count": 1,
            "launchType": "FARGATE",
            "networkConfiguration": network,
            "overrides": {
                "containerOverrides": [{"name": "web", "command": ["npm", "run", "migrate"]}]
            },
            "startedBy": "release",
            "taskDefinition": f"web:{ch.revision}",
        }
        task = {
            "taskArn": migration.arn,
            "clusterArn": ch.cluster_arn,
            "taskDefinitionArn": definition,
            "lastStatus": "PROVISIONING",
            "desiredStatus": "RUNNING",
            "launchType": "FARGATE",
            "createdAt": _when(at),
            "group": "family:web",
            "startedBy": "release",
            "cpu": "512",
            "memory": "1024",
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
        }
        ecs(at, "RunTask", request, {"tasks": [task], "failures": []})

    def poll(at: int) -> None:
        ecs(at, "DescribeTasks", {"cluster": "storefront", "tasks": [migration.arn]})

    def update(at: int) -> None:
        definition = f"arn:aws:ecs:{r}:{a}:task-definition/web:{ch.revision}"
        service = {
            "serviceArn": f"arn:aws:ecs:{r}:{a}:service/storefront/web",
            "serviceName": "web",
            "clusterArn": ch.cluster_arn,
            "status": "ACTIVE",
            "desiredCount": 3,
            "runningCount": 3,
            "pendingCount": 0,
            "launchType": "FARGATE",
            "platformVersion": "LATEST",
            "taskDefinition": definition,
            "deployments": [
                {
                    "id": f"ecs-svc/{rng.randrange(10**18, 10**19)}",
                    "status": "PRIMARY",
                    "taskDefinition": definition,
                    "desiredCount": 3,
                    "pendingCount": 0,
                    "runningCount": 0,
                    "launchType": "FARGATE",
                    "rolloutState": "IN_PROGRESS",
                    "rolloutStateReason": "ECS deployment ecs-svc in progress.",
                }
            ],
        }
        request = {
            "cluster": "storefront",
            "service": "web",
            "taskDefinition": f"web:{ch.revision}",
            "forceNewDeployment": False,
        }
        ecs(at, "UpdateService", request, {"service": service})

    def settled(at: int) -> None:
        ecs(at, "DescribeServices", {"cluster": "storefront", "services": ["web"]})

    # The rolling update: a new task for each running one, which drains once the new is up.
    rolling: list[_Step] = []
    for old in (ch.running(t) or ch.tasks[-3:])[:3]:
        task = ch.new_task(s, _NEVER)
        ch.tasks.append(task)
        rolling.extend(_task_start(s, ch, task, stops=old))
    migrate = _task_start(s, ch, migration)
    migrate.pop(3)  # the image's layers were just pulled: cached
    steps: list[_Step] = [
        assume,
        token,
        push,
        current,
        register,
        run_task,
        *migrate,
        poll,
        update,
        *rolling,
        settled,
    ]
    _steps_run(s, t, n, steps, poll, pad_at=6 + len(migrate), gap=(800, 25_000))


def _ep_release_api(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    """Emit a deploy of the ``api`` function: upload the code, publish a version and point the
    alias ``live`` at it (a publish too soon after the update is refused, now and then)."""
    ch = _churn_of(s, c)
    rng = s.rng
    r = ch.region
    caller, assume = _release_session(s, ch, t, "acme/api")
    sha = rng.randbytes(20).hex()
    key = f"builds/api/{sha}.zip"
    code_sha = base64.b64encode(rng.randbytes(32)).decode()
    published: list[int] = []

    def config(at: int, version: str, status: str) -> Record:
        arn = ch.function_arn if version == "$LATEST" else f"{ch.function_arn}:{version}"
        return {
            "functionName": "api",
            "functionArn": arn,
            "runtime": "nodejs20.x",
            "role": ch.api_role.arn,
            "handler": "index.handler",
            "codeSize": rng.randrange(1_000_000, 6_000_000),
            "description": sha[:12],
            "timeout": 15,
            "memorySize": 512,
            "lastModified": s.clock.stamp(at)[:-1] + ".000+0000",
            "codeSha256": code_sha,
            "version": version,
            "tracingConfig": {"mode": "PassThrough"},
            "revisionId": s.uuid(),
            "state": "Active",
            "lastUpdateStatus": status,
            "packageType": "Zip",
            "architectures": ["arm64"],
            "ephemeralStorage": {"size": 512},
            "loggingConfig": {"logFormat": "Text", "logGroup": ch.api.log_group},
        }

    def lambda_call(at: int, name: str, request: Record, **options: Any) -> None:
        opts: dict[str, Any] = {"read_only": True, "api_version": "2015-03-31", **options}
        s.call(at, caller.who(s, "lambda"), name, request, **opts)

    def upload(at: int) -> None:
        host = f"{ch.artifacts}.s3.{r}.amazonaws.com"
        size = rng.randrange(1_000_000, 6_000_000)
        s.s3_object(at, caller.who(s, "s3", host), "PutObject", key, bucket=ch.artifacts, size=size)

    def update(at: int) -> None:
        request = {
            "functionName": "api",
            "s3Bucket": ch.artifacts,
            "s3Key": key,
            "publish": False,
            "dryRun": False,
        }
        response = config(at, "$LATEST", "InProgress")
        lambda_call(at, "UpdateFunctionCode20150331v2", request, read_only=False, response=response)

    def wait(at: int) -> None:
        lambda_call(at, "GetFunctionConfiguration20150331v2", {"functionName": "api"})

    publish_request = {"functionName": "api", "codeSha256": code_sha, "description": sha[:12]}

    def too_soon(at: int) -> None:
        message = (
            "The operation cannot be performed at this time. An update is in progress for "
            f"resource: {ch.function_arn}"
        )
        lambda_call(
            at,
            "PublishVersion20150331",
            publish_request,
            read_only=False,
            error=("ResourceConflictException", message),
        )

    def publish(at: int) -> None:
        ch.published += 1
        published.append(ch.published)
        response = config(at, str(ch.published), "Successful")
        lambda_call(
            at, "PublishVersion20150331", publish_request, read_only=False, response=response
        )

    def point(at: int) -> None:
        version = str(published[0])
        ch.aliases.append((at, published[0]))
        request = {"functionName": "api", "name": "live", "functionVersion": version}
        response = {
            "aliasArn": f"{ch.function_arn}:live",
            "name": "live",
            "functionVersion": version,
            "description": "",
            "revisionId": s.uuid(),
        }
        lambda_call(at, "UpdateAlias20150331", request, read_only=False, response=response)

    def check(at: int) -> None:
        lambda_call(at, "GetAlias20150331", {"functionName": "api", "name": "live"})

    steps: list[_Step] = [assume, upload, update]
    if s.first(ch.cast, "publish-too-soon", 0.1):
        steps.append(too_soon)
    steps += [publish, point, check]
    _steps_run(s, t, n, steps, wait, pad_at=3, gap=(800, 20_000))


# ---------------------------------------------------------------- people trying new things

_Probe = Callable[[_Churn, int], Record]


def _a_task(ch: _Churn, t: int) -> str:
    running = ch.running(t) or ch.tasks[-1:]
    return running[0].arn


def _an_instance(ch: _Churn, t: int) -> str:
    booted = ch.booted(t) or ch.instances[-1:]
    return booted[-1].id


# What people come to look at in the console, each in their own order: (service, eventName,
# readOnly, request). They name the resources of the moment: the last execution, a running task.
_CURIOUS: tuple[tuple[str, str, bool, _Probe], ...] = (
    ("states", "ListExecutions", True,
     lambda ch, t: {"stateMachineArn": ch.state_machine, "maxResults": 100}),
    ("states", "DescribeExecution", True, lambda ch, t: {"executionArn": ch.execution}),
    ("states", "DescribeStateMachine", True,
     lambda ch, t: {"stateMachineArn": ch.state_machine, "includedData": "ALL_DATA"}),
    ("ecs", "DescribeTaskDefinition", True,
     lambda ch, t: {"taskDefinition": f"web:{ch.revision}", "include": ["TAGS"]}),
    ("ecs", "DescribeTasks", True,
     lambda ch, t: {"cluster": "storefront", "tasks": [_a_task(ch, t)], "include": ["TAGS"]}),
    ("ecs", "ListTasks", True,
     lambda ch, t: {"cluster": "storefront", "serviceName": "web", "desiredStatus": "RUNNING"}),
    ("lambda", "GetAlias20150331", True, lambda ch, t: {"functionName": "api", "name": "live"}),
    ("lambda", "ListVersionsByFunction20150331", True,
     lambda ch, t: {"functionName": "api", "maxItems": 50}),
    ("lambda", "GetFunction20150331v2", True,
     lambda ch, t: {"functionName": "api", "qualifier": str(ch.live_version(t))}),
    ("ec2", "GetConsoleOutput", True,
     lambda ch, t: {"instanceId": _an_instance(ch, t), "latest": True}),
    ("ec2", "DescribeInstanceStatus", True,
     lambda ch, t: {"instancesSet": {"items": [{"instanceId": _an_instance(ch, t)}]},
                    "filterSet": {}, "includeAllInstances": False}),
    ("logs", "DescribeLogStreams", True,
     lambda ch, t: {"logGroupName": "/ecs/web", "orderBy": "LastEventTime", "descending": True,
                    "limit": 50}),
    ("glue", "GetJobRuns", True, lambda ch, t: {"jobName": "orders-etl", "maxResults": 50}),
    ("athena", "GetQueryExecution", True, lambda ch, t: {"queryExecutionId": ch.query}),
    ("ssm", "ListCommandInvocations", True,
     lambda ch, t: {"commandId": ch.command, "details": True}),
    ("dynamodb", "DescribeTable", True, lambda ch, t: {"tableName": "storefront-carts"}),
    ("sqs", "GetQueueAttributes", True,
     lambda ch, t: {"queueUrl": ch.api.queue_url, "attributeNames": ["All"]}),
    ("autoscaling", "DescribeAutoScalingGroups", True,
     lambda ch, t: {"autoScalingGroupNames": ["workers"]}),
    ("states", "StartExecution", False,
     lambda ch, t: {"stateMachineArn": ch.state_machine, "name": f"rerun-{t // 1000}",
                    "input": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
)  # fmt: skip


def _ep_curious(s: _Synth, c: _Cast, region: str, t: int, n: int) -> None:
    """Emit someone at the console looking into the workloads, now and then at something they
    never looked at before (an Identity Center user, or alice)."""
    ch = _churn_of(s, c)
    rng = s.rng
    if n >= 3 and rng.random() < 0.7:
        signed_in = s.sso_sign_in(c, t, console=True)
        assert signed_in is not None
        identity, person, t = signed_in
        n -= 2
    else:
        person = c.alice
        login, identity = s.user_identities(c, person, t, mfa=True)
        s.console_login(t, c, login, person, mfa=f"arn:aws:iam::{c.account}:mfa/alice-iphone")
        n -= 1
    order = ch.repertoires.get(person.name)
    if order is None:
        order = ch.repertoires[person.name] = rng.sample(range(len(_CURIOUS)), len(_CURIOUS))
    known = ch.known.get(person.name, 2)
    new = known < len(order) and rng.random() < 0.35
    if new:
        known += 1
    ch.known[person.name] = known
    for i in range(n):
        t += rng.randrange(3_000, 40_000)
        index = order[known - 1] if new and i == 0 else order[int(rng.random() * known)]
        service, name, read_only, params = _CURIOUS[index]
        who = _Who(
            service, identity, account=c.account, region=ch.region, ip=person.ip, ua=_INTERNAL
        )
        request = params(ch, t)
        response = None
        if name == "StartExecution":
            execution = (
                f"arn:aws:states:{ch.region}:{c.account}:execution:orders-etl:{request['name']}"
            )
            response = {"executionArn": execution, "startDate": _when(t)}
        s.call(
            t,
            who,
            name,
            request,
            response=response,
            read_only=read_only,
            api_version=_DDB_VERSION if service == "dynamodb" else None,
            console=True,
        )


# The churning workloads' share of the day (as _KINDS); their scheduled runs are in _plan_churn.
_CHURN_KINDS = (
    _Kind(_ep_storefront, 0.30, 0.34, _CI_CUM, (2, 3, 4, 5, 5), "primary", 3_000),
    _Kind(_ep_api, 0.30, 0.30, _CI_CUM, (2, 3, 4, 5, 6), "primary", 5_000),
    _Kind(_ep_worker, 0.08, 0.08, _FLAT_CUM, (2, 3, 4, 4), "primary", 4_000),
    _Kind(_ep_curious, 0.02, 0.002, _HUMAN_CUM, (5, 7, 9, 12), "primary", 600_000),
)


def _plan_churn(
    s: _Synth,
    c: _Cast,
    day_start: int,
    weekend: bool,
    add: Callable[..., None],
    at: Callable[[list[float]], int],
) -> None:
    """Plan a day's scheduled runs of the churning workloads: patching at night, the pipeline
    every four hours, deploys on weekdays, a task failing its health checks now and then."""
    rng = s.rng
    region = c.primary
    t = day_start + 3 * _MS_HOUR + rng.randrange(_MS_HOUR // 6)
    add(t, _ep_fleet_ops, c, region, rng.choice((12, 13, 14)), span=300_000)
    for hour in range(2, 24, 4):
        t = day_start + hour * _MS_HOUR + rng.randrange(5 * 60_000)
        add(t, _ep_pipeline, c, region, rng.choice((12, 13, 14)), span=1_000_000)
    if not weekend:
        if rng.random() < 0.75:
            add(at(_CI_CUM), _ep_release_web, c, region, rng.choice((38, 40, 42)), span=1_200_000)
        if rng.random() < 0.75:
            add(at(_CI_CUM), _ep_release_api, c, region, rng.choice((8, 9, 10)), span=250_000)
    if rng.random() < 0.4:
        add(at(_FLAT_CUM), _ep_task_replaced, c, region, 7, span=30_000)


# An episode planned for a day: (start ms, order, builder, cast, region, events).
_Episode = tuple[int, int, _Builder, _Cast, str, int]


def _plan_day(s: _Synth, day_index: int) -> list[_Episode]:
    """Return a day's episodes, account by account: scheduled ones, then a weighted fill."""
    rng = s.rng
    day_start = s.start_ms + day_index * _MS_DAY
    day_end = day_start + _MS_DAY
    last_day = day_index == s.days - 1
    weekend = date.fromordinal(s.start.toordinal() + day_index).weekday() >= 5
    others = s.regions[1:]
    kinds = _KINDS if s.churn is None else _KINDS + _CHURN_KINDS
    plan: list[_Episode] = []
    budget = 0

    def add(t: int, builder: _Builder, c: _Cast, region: str, n: int, *, span: int = 0) -> None:
        nonlocal budget
        n = min(n, budget)
        if n <= 0:
            return
        if last_day:  # keep the corpus inside its days
            t = min(t, day_end - span - 1)
        plan.append((t, len(plan), builder, c, region, n))
        budget -= n

    def at(cum: list[float]) -> int:
        hour = bisect(cum, rng.random() * cum[-1])
        return day_start + hour * _MS_HOUR + int(rng.random() * _MS_HOUR)

    for c in s.casts:
        budget = s.events_per_day
        # Rare and scheduled events first, so that even a small corpus shows each of them.
        if day_index % 30 == 0:
            add(at(_HUMAN_CUM), _Synth.ep_root, c, GLOBAL_REGION, 3, span=100_000)
        if day_index % 365 == 0:
            for region in s.regions:
                t = day_start + rng.randrange(_MS_HOUR, 5 * _MS_HOUR)
                add(t, _Synth.ep_rotate_key, c, region, 1)
        if day_index % 7 == 0:
            add(at(_HUMAN_CUM), _bob_failing, c, c.primary, 6, span=600_000)
        # Nightly jobs (legacy-batch also runs by hand now and then: see _KINDS), and on the
        # last day someone trying legacy-batch's leaked key.
        add(day_start + _MS_HOUR + rng.randrange(_MS_HOUR // 6), _Synth.ep_batch, c, c.primary, 6)
        add(
            day_start + 2 * _MS_HOUR + rng.randrange(_MS_HOUR // 6),
            _Synth.ep_export,
            c,
            c.primary,
            3,
        )
        if last_day and s.days > 1:
            t = day_start + 3 * _MS_HOUR + rng.randrange(2 * _MS_HOUR)
            add(t, _Synth.ep_intruder, c, c.primary, 9, span=90_000)
        # The app's credentials rotate: each time, an AssumeRole by the service and a secret read.
        for (runtime, region), phase in c.app_phase.items():
            if runtime == "ecs" and region != c.primary:
                continue
            period = 8 * _MS_HOUR if runtime == "lambda" else 12 * _MS_HOUR
            first = phase - (phase - day_start) // period * period
            cold = _lambda_cold if runtime == "lambda" else _ecs_cold
            for t in range(first, day_end, period):
                add(t, cold, c, region, 3, span=2_000)
        if s.churn is not None:
            _plan_churn(s, c, day_start, weekend, add, at)
        # CloudTrail's own KMS calls belong to the account that owns the trail: the first.
        cum = _cumulative(
            tuple(
                (k.weekend if weekend else k.weekday) * len(k.sizes) / sum(k.sizes)
                if k.where != "trail" or c.index == 0
                else 0.0
                for k in kinds
            )
        )
        while budget > 0:
            kind = kinds[bisect(cum, rng.random() * cum[-1])]
            region = c.primary
            if kind.where == "any" and others and rng.random() < 0.4:
                region = rng.choice(others)
            add(at(kind.hours), kind.builder, c, region, rng.choice(kind.sizes), span=kind.span_ms)
    return plan


def _iter_timed(s: _Synth) -> Iterator[_Timed]:
    """Yield (epoch ms, order, record) in time order, building one hour's episodes at a time."""
    carry: list[_Timed] = []
    for day_index in range(s.days):
        with _no_gc():
            plan = _plan_day(s, day_index)
            plan.sort(key=lambda episode: (episode[0], episode[1]))
        day_start = s.start_ms + day_index * _MS_DAY
        i = 0
        for hour in range(1, 25):
            until = day_start + hour * _MS_HOUR
            with _no_gc():
                s.out = carry
                while i < len(plan) and plan[i][0] < until:
                    t, _, builder, c, region, n = plan[i]
                    builder(s, c, region, t, n)
                    i += 1
                pending = s.out
                # (time, order, record): the orders are unique, so records are never compared.
                pending.sort()
                cut = bisect_left(pending, (until,))
            yield from pending[:cut]
            carry = pending[cut:]
    carry.sort()
    yield from carry


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while records are built, restoring its state after.

    Building allocates many short dicts and no cycles: the collector would only spend time (about
    half of it) traversing them. The caller's code between yields runs with its GC as it was.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _check(
    *,
    days: int,
    events_per_day: int,
    accounts: tuple[str, ...],
    regions: tuple[str, ...],
    churn: bool = False,
) -> None:
    if days < 1:
        raise UsageError(f"days must be at least 1, not {days}.")
    if events_per_day < 0:
        raise UsageError(f"events_per_day must be 0 or more, not {events_per_day}.")
    if churn and events_per_day < CHURN_MIN_EVENTS_PER_DAY:
        raise UsageError(
            f"events_per_day must be at least {CHURN_MIN_EVENTS_PER_DAY} with churn (its deploys, "
            f"pipeline runs and patching take about 200 a day), not {events_per_day}."
        )
    if not accounts or not all(_ACCOUNT.match(a) for a in accounts):
        raise UsageError(f"accounts must be 12-digit AWS account IDs, not {accounts!r}.")
    if len(set(accounts)) != len(accounts):
        raise UsageError(f"accounts must be distinct, not {accounts!r}.")
    if not regions or not all(_REGION.match(r) for r in regions):
        raise UsageError(f"regions must be AWS region names such as us-east-1, not {regions!r}.")
    if len(set(regions)) != len(regions):
        raise UsageError(f"regions must be distinct, not {regions!r}.")


def iter_records(
    *,
    seed: int = 7,
    start: date,
    days: int,
    events_per_day: int,
    accounts: tuple[str, ...] = ("111122223333",),
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1"),
    churn: bool = False,
) -> Iterator[Record]:
    """Yield ``days * events_per_day * len(accounts)`` CloudTrail records in time order.

    The same arguments give the same records. ``events_per_day`` is per account. The first region
    is where the organization mostly works; global services are recorded in us-east-1, as
    CloudTrail does. With ``churn``, each account also runs workloads whose resources keep
    changing (new object keys, log streams, instances, task definition revisions, Lambda
    versions, Step Functions executions) in its first region, in the same number of records a
    day (at least CHURN_MIN_EVENTS_PER_DAY); without it the records are those of before churn.
    Nested values are shared between records: do not mutate them.
    """
    _check(
        days=days, events_per_day=events_per_day, accounts=accounts, regions=regions, churn=churn
    )
    synth = _Synth(
        seed=seed,
        start=start,
        days=days,
        events_per_day=events_per_day,
        accounts=accounts,
        regions=regions,
        churn=churn,
    )
    for _, _, record in _iter_timed(synth):
        yield record


# ---------------------------------------------------------------------- the delivery tree


@dataclass(slots=True)
class _Delivered:
    """A log file written: what a digest needs to list it."""

    delivered: int
    key: str
    sha256: str
    oldest: str
    newest: str


class _Stream:
    """One account and region: the log file being filled, and those already delivered."""

    __slots__ = ("delivered", "last_t", "phase", "prefix", "records", "window_end")

    def __init__(self, prefix: str, phase: int) -> None:
        self.prefix = prefix
        self.phase = phase
        self.records: list[Record] = []
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
    churn: bool = False,
) -> SynthSummary:
    """Return what was written: ``iter_records`` laid out under ``out_dir`` as CloudTrail does.

    Log files go to ``AWSLogs/[<org_id>/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/``, one
    about every five minutes per account and region with at most ``events_per_file`` records,
    named after their delivery time. With ``digest``, hourly digest files go to
    ``CloudTrail-Digest/`` beside them, chained, each listing the SHA-256 of the log files
    delivered in its hour (of their uncompressed content, as CloudTrail computes it). Files
    already in ``out_dir`` are left alone. ``churn`` adds the churning workloads (see
    ``iter_records``).
    """
    _check(
        days=days, events_per_day=events_per_day, accounts=accounts, regions=regions, churn=churn
    )
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
        raw=True,
        churn=churn,
    )
    # Names and delivery delays have their own random stream, so that the records do not depend
    # on how they are cut into files.
    rng = random.Random(f"trailmin.synth.files:{seed}")
    root = "AWSLogs/" + (f"{org_id}/" if org_id else "")
    streams: dict[tuple[str, str], _Stream] = {}
    for account in accounts:
        for region in dict.fromkeys((*regions, GLOBAL_REGION)):
            streams[(account, region)] = _Stream(f"{root}{account}", rng.randrange(DELIVERY_MS))
    made: set[Path] = set()
    names: dict[int, tuple[str, str]] = {}
    totals = [0, 0, 0, 0]  # files, events, bytes, uncompressed bytes
    # zlib and hashlib release the GIL: files are compressed, hashed and written by threads
    # while this one makes records. The bytes do not depend on which thread did what.
    pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
    in_flight: deque[tuple[Future[tuple[int, str]], _Delivered]] = deque()

    def settle(limit: int) -> None:
        while len(in_flight) > limit:
            future, done = in_flight.popleft()
            size, done.sha256 = future.result()
            totals[2] += size

    def deliver(account: str, region: str, stream: _Stream) -> None:
        records = stream.records
        delivered = stream.last_t + rng.randrange(15_000, 110_000)
        minute = delivered // 60_000
        folder_stamp = names.get(minute)
        if folder_stamp is None:
            moment = datetime.fromtimestamp(minute * 60, UTC)
            folder_stamp = (moment.strftime("%Y/%m/%d"), moment.strftime("%Y%m%dT%H%MZ"))
            names[minute] = folder_stamp
        folder, stamp = folder_stamp
        suffix = "".join(rng.choices(_ALNUM, k=16))
        key = (
            f"{stream.prefix}/CloudTrail/{region}/{folder}/"
            f"{account}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"
        )
        body = _ENCODE({"Records": records})
        path = out_dir / key
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        entry = _Delivered(delivered, key, "", records[0]["eventTime"], records[-1]["eventTime"])
        stream.delivered.append(entry)
        in_flight.append((pool.submit(_pack, path, body), entry))
        settle(8)
        totals[0] += 1
        totals[1] += len(records)
        totals[3] += len(body)
        stream.records = []

    # Records are short-lived and hold no cycles: the cyclic GC would only slow this loop down.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for t, _, record in _iter_timed(synth):
            account, region = record["recipientAccountId"], record["awsRegion"]
            stream = streams[(account, region)]
            if stream.records and (
                t >= stream.window_end or len(stream.records) >= events_per_file
            ):
                deliver(account, region, stream)
            if not stream.records:
                phase = stream.phase
                stream.window_end = phase + ((t - phase) // DELIVERY_MS + 1) * DELIVERY_MS
            stream.records.append(record)
            stream.last_t = t
        for (account, region), stream in streams.items():
            if stream.records:
                deliver(account, region, stream)
        settle(0)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if collecting:
            gc.enable()

    digests = 0
    if digest:
        end_ms = synth.start_ms + days * _MS_DAY
        for (account, region), stream in streams.items():
            if region not in regions and not stream.delivered:
                continue
            last = max([end_ms, *(d.delivered for d in stream.delivered)])
            digests += _write_digests(
                out_dir,
                rng,
                stream,
                account=account,
                region=region,
                home=regions[0],
                bucket=synth.casts[0].trail_bucket,
                start_ms=synth.start_ms,
                end_ms=last,
            )
    return SynthSummary(
        files=totals[0],
        digest_files=digests,
        events=totals[1],
        bytes=totals[2],
        uncompressed_bytes=totals[3],
    )


def _pack(path: Path, body: bytes) -> tuple[int, str]:
    """Write ``body`` gzipped to ``path``; return the file's size and the body's SHA-256."""
    packed = gzip.compress(body, compresslevel=COMPRESSLEVEL, mtime=0)
    path.write_bytes(packed)
    return len(packed), hashlib.sha256(body).hexdigest()


def _write_digests(
    out_dir: Path,
    rng: random.Random,
    stream: _Stream,
    *,
    account: str,
    region: str,
    home: str,
    bucket: str,
    start_ms: int,
    end_ms: int,
) -> int:
    """Write one account and region's chain of hourly digests; return how many were written."""
    delivered = sorted(stream.delivered, key=lambda d: d.delivered)
    fingerprint = rng.randbytes(16).hex()
    clock = _Clock()
    previous: tuple[str, str, str] | None = None  # key, SHA-256 of its JSON, its signature
    written = 0
    i = 0
    digest_end = start_ms + rng.randrange(60_000, 300_000)
    while True:
        files = []
        while i < len(delivered) and delivered[i].delivered < digest_end:
            files.append(delivered[i])
            i += 1
        moment = datetime.fromtimestamp(digest_end // 1000, UTC)
        key = (
            f"{stream.prefix}/CloudTrail-Digest/{region}/{moment:%Y/%m/%d}/{account}_CloudTrail-"
            f"Digest_{region}_{TRAIL_NAME}_{home}_{moment:%Y%m%dT%H%M%SZ}.json.gz"
        )
        content: Record = {
            "awsAccountId": account,
            "digestStartTime": clock.stamp(digest_end - _MS_HOUR),
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
        # A digest's own RSA signature lives in its S3 object metadata; the next digest quotes it.
        previous = (key, hashlib.sha256(body).hexdigest(), rng.randbytes(256).hex())
        if digest_end >= end_ms and i >= len(delivered):
            return written
        digest_end += _MS_HOUR
