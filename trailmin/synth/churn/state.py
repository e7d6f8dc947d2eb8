"""The churning workloads' state in one account: their applications, tasks, instances, versions."""

from __future__ import annotations

import random
from collections import deque
from datetime import date
from typing import TYPE_CHECKING

from trailmin.synth.agents import UA_ECS, UA_WORKER
from trailmin.synth.cast import Caller, Cast, Role
from trailmin.synth.values import ALNUM, MS_DAY, MS_HOUR, public_ip, random_uuid

if TYPE_CHECKING:
    from trailmin.synth.emit import Synth

NEVER = 1 << 62  # a stop time for what has not stopped


class App:
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
        suffix = "".join(rng.choices(ALNUM, k=6))
        self.secret_arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}-{suffix}"
        self.kms_arn = f"arn:aws:kms:{region}:{account}:key/{random_uuid(rng)}"
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


class Task:
    """An ECS task of the storefront: its id, sessions and when it ran."""

    __slots__ = ("arn", "caller", "id", "started", "stopped")

    def __init__(self, task_id: str, arn: str, started: int) -> None:
        self.id = task_id
        self.arn = arn
        self.started = started
        self.stopped = NEVER
        self.caller: Caller | None = None


class Container:
    """A Lambda execution environment of the ``api`` function: its version and log stream."""

    __slots__ = ("caller", "expires", "version")

    def __init__(self, caller: Caller, version: int, expires: int) -> None:
        self.caller = caller
        self.version = version
        self.expires = expires


class Instance:
    """An EC2 instance of the ``workers`` Auto Scaling group."""

    __slots__ = ("caller", "id", "ip", "launched", "lifetime", "terminated")

    def __init__(self, instance_id: str, ip: str, launched: int, lifetime: int) -> None:
        self.id = instance_id
        self.ip = ip
        self.launched = launched
        self.lifetime = lifetime
        self.terminated = NEVER
        self.caller: Caller | None = None


class Churn:
    """One account's churning workloads: their roles, resources and state so far.

    Things that start or stop (tasks, instances, execution environments, versions) carry the
    time they did, so that an episode built earlier but happening later sees the state at its
    own time.
    """

    def __init__(self, s: Synth, c: Cast) -> None:
        rng = s.rng
        a = self.account = c.account
        r = self.region = c.primary
        self.cast = c
        self.web_role = Role(rng, a, "storefront-web", "service/")
        self.exec_role = Role(rng, a, "storefront-task-execution", "service/")
        self.api_role = Role(rng, a, "api-handler", "service/")
        self.worker_role = Role(rng, a, "workers", "service/")
        self.fleet_role = Role(rng, a, "fleet-ops", "service/")
        self.pipeline_role = Role(rng, a, "data-pipeline", "service/")
        self.release_role = Role(rng, a, "release")
        self.asg_role = Role(
            rng, a, "AWSServiceRoleForAutoScaling", "aws-service-role/autoscaling.amazonaws.com/"
        )
        self.storefront = App(
            rng,
            a,
            r,
            bucket=f"acme-storefront-{a}",
            tables=("storefront-carts", "storefront-sessions", "storefront-products"),
            queue="storefront-orders",
            secret="prod/storefront/stripe",
            log_group="/ecs/web",
        )
        self.api = App(
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
        self.nat_ip = public_ip(rng, (3, 34, 52, 54))
        self.lambda_ips = tuple(public_ip(rng, (3, 18, 34, 44, 52, 54)) for _ in range(8))
        self.oidc_arn = c.oidc_arn

        # ECS: the storefront's service and the revisions of its task definition.
        self.cluster_arn = f"arn:aws:ecs:{r}:{a}:cluster/storefront"
        self.repository_arn = f"arn:aws:ecr:{r}:{a}:repository/storefront-web"
        self.revision = rng.randrange(30, 60)
        self.image = rng.randbytes(20).hex()[:12]
        self.tasks: list[Task] = []
        for _ in range(3):
            self.tasks.append(self.new_task(s, s.start_ms - rng.randrange(MS_DAY, 3 * MS_DAY)))
        for task in self.tasks:
            task.caller = self.task_caller(s, task, task.started)

        # Lambda: the api function's versions; the alias "live" points at one (from when).
        self.function_arn = f"arn:aws:lambda:{r}:{a}:function:api"
        self.aliases: list[tuple[int, int]] = [(0, rng.randrange(10, 25))]
        self.published = self.aliases[0][1]
        self.containers: list[Container] = []

        # EC2: the workers group, each instance living a few days before it is replaced.
        self.vpc = "vpc-0" + rng.randbytes(8).hex()[:16]
        self.subnets = tuple("subnet-0" + rng.randbytes(8).hex()[:16] for _ in range(3))
        self.template = "lt-0" + rng.randbytes(8).hex()[:16]
        self.ami = "ami-0" + rng.randbytes(8).hex()[:16]
        self.instances: list[Instance] = []
        for _ in range(4):
            launched = s.start_ms - rng.randrange(MS_HOUR, 4 * MS_DAY)
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

    def new_task(self, s: Synth, started: int) -> Task:
        task_id = s.hex(32)
        arn = f"arn:aws:ecs:{self.region}:{self.account}:task/storefront/{task_id}"
        return Task(task_id, arn, started)

    def task_caller(self, s: Synth, task: Task, t: int) -> Caller:
        """Return the task role's session in ``task`` (ECS names it after the task)."""
        identity = self.web_role.session(s, task.id, t)
        return Caller(identity, account=self.account, region=self.region, ip=self.nat_ip, ua=UA_ECS)

    def new_instance(self, s: Synth, launched: int) -> Instance:
        rng = s.rng
        ip = f"10.40.{rng.randrange(0, 48)}.{rng.randrange(4, 250)}"
        lifetime = rng.randrange(2 * MS_DAY, 5 * MS_DAY)
        return Instance("i-0" + s.hex(16), ip, launched, lifetime)

    def instance_caller(self, s: Synth, instance: Instance) -> Caller:
        """Return the instance profile's session on ``instance`` (named after the instance)."""
        identity = self.worker_role.session(s, instance.id, instance.launched + 40_000, ec2=True)
        return Caller(
            identity, account=self.account, region=self.region, ip=self.nat_ip, ua=UA_WORKER
        )

    def live_version(self, t: int) -> int:
        """Return the version the alias ``live`` pointed at, at ``t``."""
        version = self.aliases[0][1]
        for since, number in self.aliases:
            if since <= t:
                version = number
        return version

    def running(self, t: int) -> list[Task]:
        return [k for k in self.tasks if k.started <= t < k.stopped]

    def booted(self, t: int) -> list[Instance]:
        return [i for i in self.instances if i.launched + 60_000 <= t < i.terminated]

    def forget(self, t: int) -> None:
        """Drop what stopped more than a day before ``t``."""
        self.tasks = [k for k in self.tasks if k.stopped > t - MS_DAY]
        self.instances = [i for i in self.instances if i.terminated > t - MS_DAY]
        self.containers = [e for e in self.containers if e.expires > t - MS_DAY]
        if len(self.aliases) > 4:
            self.aliases = self.aliases[-4:]


def churn_of(s: Synth, c: Cast) -> Churn:
    """Return the churning workloads of ``c``'s account (a trail made with ``churn``)."""
    assert s.churn is not None
    return s.churn[c.index]
