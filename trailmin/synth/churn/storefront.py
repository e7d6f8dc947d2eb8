"""The storefront: an ECS service's tasks serving requests, started and replaced."""

from __future__ import annotations

from trailmin.synth.agents import UA_FARGATE
from trailmin.synth.cast import Caller, Cast
from trailmin.synth.churn.calls import (
    emit_app_calls,
    emit_log_stream,
    emit_secret,
    emit_service_assume,
    emit_steps,
)
from trailmin.synth.churn.state import NEVER, Churn, Task, churn_of
from trailmin.synth.emit import Synth
from trailmin.synth.values import Step

# What a storefront request does: (API, table index or the object key it writes or reads).
_STOREFRONT_REQUESTS: tuple[tuple[tuple[str, int], ...], ...] = (
    (("GetItem", 1), ("GetItem", 2), ("Query", 2), ("GetItem", 0), ("GetItem", 2)),
    (("UpdateItem", 0), ("PutObject", -1), ("SendMessage", -1), ("UpdateItem", 1), ("GetItem", 0)),
    (("GetItem", 1), ("GetObject", -1), ("GetObject", -1), ("Query", 0), ("GetItem", 2)),
)


def ep_storefront(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit a storefront request served by one of the web service's running tasks."""
    ch = churn_of(s, c)
    rng = s.rng
    running = ch.running(t) or ch.tasks[-3:]
    task = running[int(rng.random() * len(running))]
    assert task.caller is not None
    caller = task.caller
    roll = rng.random()
    steps = _STOREFRONT_REQUESTS[0 if roll < 0.5 else 1 if roll < 0.8 else 2]
    emit_app_calls(s, t, n, caller, ch.storefront, steps, "storefront")


def task_start(s: Synth, ch: Churn, task: Task, *, stops: Task | None = None) -> list[Step]:
    """Return the calls of a Fargate task starting: the execution role pulls the image and
    creates the task's log stream, then the task's own role reads its secret."""
    a, r = ch.account, ch.region
    exec_caller: list[Caller] = []

    def assume_exec(t: int) -> None:
        task.started = t
        if stops is not None:
            stops.stopped = t + 90_000  # the old task drains once the new one is healthy
        identity = ch.exec_role.session(s, task.id, t)
        exec_caller.append(Caller(identity, account=a, region=r, ip=ch.nat_ip, ua=UA_FARGATE))
        emit_service_assume(s, t, ch, ch.exec_role, identity, "ecs-tasks.amazonaws.com", 6)

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
        emit_log_stream(s, t, ch, who, ch.storefront.log_group, f"ecs/web/{task.id}")

    def assume_task(t: int) -> None:
        task.caller = ch.task_caller(s, task, t)
        emit_service_assume(
            s, t, ch, ch.web_role, task.caller.identity, "ecs-tasks.amazonaws.com", 6
        )

    def secret(t: int) -> None:
        if task.caller is None:  # the task's role was not assumed (a truncated start)
            task.caller = ch.task_caller(s, task, t)
        emit_secret(s, t, task.caller, ch.storefront)

    return [assume_exec, token, image, layer, stream, assume_task, secret]


def ep_task_replaced(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit a storefront task replaced by the service after failing its health checks."""
    ch = churn_of(s, c)
    running = ch.running(t) or ch.tasks[-3:]
    old = running[int(s.rng.random() * len(running))]
    task = ch.new_task(s, NEVER)
    ch.tasks.append(task)
    steps = task_start(s, ch, task, stops=old)
    emit_steps(s, t, n, steps, steps[-1], pad_at=len(steps), gap=(300, 4_000))
    ch.forget(t)
