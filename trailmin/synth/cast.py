"""The cast: the fictional organization's principals and resources, and who calls how."""

from __future__ import annotations

import base64
import random
from typing import TYPE_CHECKING

from trailmin.synth.agents import UA_CHROME, UA_EDGE, UA_FIREFOX
from trailmin.synth.values import (
    ALNUM,
    MS_HOUR,
    TRAIL_NAME,
    Record,
    issuer,
    key_user,
    public_ip,
    random_id,
    random_uuid,
)

if TYPE_CHECKING:
    from trailmin.synth.emit import Synth


class Region:
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
        self.kms_id = random_uuid(rng)
        self.kms_arn = f"arn:aws:kms:{name}:{account}:key/{self.kms_id}"
        suffix = "".join(rng.choices(ALNUM, k=6))
        self.secret_arn = f"arn:aws:secretsmanager:{name}:{account}:secret:prod/app/db-{suffix}"
        self.function_arn = f"arn:aws:lambda:{name}:{account}:function:app-backend-api"
        self.stack_arn = (
            f"arn:aws:cloudformation:{name}:{account}:stack/app-backend/{random_uuid(rng)}"
        )
        # Lambda outside a VPC calls from AWS public addresses; ECS tasks go through VPC endpoints.
        self.app_ips = tuple(public_ip(rng, (3, 18, 34, 44, 52, 54)) for _ in range(6))
        self.worker_ip = f"10.{octet}.{rng.randrange(16, 32)}.{rng.randrange(1, 255)}"
        self.vpce = {
            service: "vpce-0" + rng.randbytes(8).hex()[:16]
            for service in ("s3", "dynamodb", "sqs", "kms", "secretsmanager")
        }


class Person:
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


class Cast:
    """The fictional organization's principals and resources in one account."""

    def __init__(
        self, rng: random.Random, index: int, account: str, regions: tuple[str, ...]
    ) -> None:
        a = account
        self.index = index
        self.account = a
        self.primary = regions[0]
        self.regions = {name: Region(rng, a, name, 20 + 10 * i) for i, name in enumerate(regions)}
        # Rare cases already shown in this account (see Synth.first).
        self.shown: set[str] = set()

        self.app_role_arn = f"arn:aws:iam::{a}:role/service/app-backend"
        self.app_role_id = "AROA" + random_id(rng, 17)
        self.app_issuer = issuer(self.app_role_id, self.app_role_arn, a, "app-backend")
        # Credentials of the app's runtimes rotate on a schedule: (runtime, region) -> phase.
        self.app_phase = {
            (runtime, name): rng.randrange(MS_HOUR)
            for runtime in ("lambda", "ecs")
            for name in regions
        }

        self.ci_role_arn = f"arn:aws:iam::{a}:role/ci-deploy"
        self.ci_role_id = "AROA" + random_id(rng, 17)
        self.ci_issuer = issuer(self.ci_role_id, self.ci_role_arn, a, "ci-deploy")
        self.oidc_arn = f"arn:aws:iam::{a}:oidc-provider/token.actions.githubusercontent.com"
        self.ci_web_id = {"federatedProvider": self.oidc_arn, "attributes": {}}
        self.artifacts = f"acme-ci-artifacts-{a}"

        self.sso_region = regions[-1]
        self.sso_role_name = f"AWSReservedSSO_AdministratorAccess_{rng.randbytes(8).hex()}"
        self.sso_role_arn = (
            f"arn:aws:iam::{a}:role/aws-reserved/sso.amazonaws.com/{self.sso_region}/"
            + self.sso_role_name
        )
        self.sso_role_id = "AROA" + random_id(rng, 17)
        self.sso_issuer = issuer(self.sso_role_id, self.sso_role_arn, a, self.sso_role_name)
        self.saml_provider_arn = (
            f"arn:aws:iam::{a}:saml-provider/AWSSSO_{rng.randbytes(8).hex()}_DO_NOT_DELETE"
        )
        self.saml_idp = base64.b64encode(rng.randbytes(20)).decode()
        self.sso_people = (
            Person("maria.garcia@acme.example", ip="203.0.113.24", ua=UA_CHROME),
            Person("dev.patel@acme.example", ip="198.51.100.77", ua=UA_EDGE),
            Person("li.wei@acme.example", ip="203.0.113.51", ua=UA_CHROME),
        )

        self.alice = Person(
            "alice",
            arn=f"arn:aws:iam::{a}:user/alice",
            principal_id="AIDA" + random_id(rng, 17),
            ip="203.0.113.10",
            ua=UA_CHROME,
        )
        self.bob = Person(
            "bob",
            arn=f"arn:aws:iam::{a}:user/bob",
            principal_id="AIDA" + random_id(rng, 17),
            ip="198.51.100.23",
            ua=UA_FIREFOX,
        )
        self.root = Person(
            "root", arn=f"arn:aws:iam::{a}:root", principal_id=a, ip="203.0.113.10", ua=UA_CHROME
        )
        self.batch_identity = key_user(rng, a, "legacy-batch")
        self.batch_ip = public_ip(rng, (54,))
        self.reports = f"acme-legacy-reports-{a}"

        self.trail_key_arn = f"arn:aws:kms:{self.primary}:{a}:key/{random_uuid(rng)}"
        self.trail_arn = f"arn:aws:cloudtrail:{self.primary}:{a}:trail/{TRAIL_NAME}"
        self.trail_bucket = f"acme-cloudtrail-{a}"

        # A Lambda function that signs its calls with an IAM user's access key (kept in its
        # environment variables) instead of its execution role: the case the checklist flags.
        self.export_identity = key_user(rng, a, "export-job")
        self.export_ip = public_ip(rng, (3, 18, 34))
        self.exports = f"acme-exports-{a}"
        # Someone who found legacy-batch's key, trying it from their own machine.
        self.intruder_ip = public_ip(rng, (45, 91, 185))


class Who:
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


class Role:
    """A workload's IAM role: its ARN, unique ID and the sessionIssuer of its sessions."""

    __slots__ = ("account", "arn", "id", "issuer", "name")

    def __init__(self, rng: random.Random, account: str, name: str, path: str = "") -> None:
        self.account = account
        self.name = name
        self.arn = f"arn:aws:iam::{account}:role/{path}{name}"
        self.id = "AROA" + random_id(rng, 17)
        self.issuer = issuer(self.id, self.arn, account, name)

    def session(
        self, s: Synth, name: str, created: int, *, web: Record | None = None, ec2: bool = False
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
            "accessKeyId": "ASIA" + random_id(s.rng, 16),
            "sessionContext": context,
        }


class Caller:
    """A session calling from one place with one agent: a ``Who`` per service (and S3 host)."""

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
        self.whos: dict[str, Who] = {}

    def who(self, s: Synth, service: str, host: str | None = None) -> Who:
        found = self.whos.get(host or service)
        if found is None:
            tls = None
            if self.tls:
                tls = s.tls_host(host) if host else s.tls(service, self.region)
            found = Who(
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
