"""The ``api`` Lambda function: invocations through its alias, cold starts."""

from __future__ import annotations

from trailmin.synth.agents import UA_LAMBDA, UA_LAMBDA_WORKER
from trailmin.synth.cast import Caller, Cast
from trailmin.synth.churn.calls import (
    DDB_VERSION,
    emit_app_calls,
    emit_log_stream,
    emit_secret,
    emit_service_assume,
)
from trailmin.synth.churn.state import Churn, Container, churn_of
from trailmin.synth.emit import Synth
from trailmin.synth.values import MS_HOUR, Step, denied_message

_API_REQUESTS: tuple[tuple[tuple[str, int], ...], ...] = (
    (("GetItem", 0), ("Query", 1), ("GetObject", -1), ("GetItem", 1)),
    (("PutItem", 2), ("PutItem", 1), ("PutObject", -1), ("SendMessage", -1), ("UpdateItem", 0)),
    (("GetItem", 0), ("GetObject", -1), ("GetItem", 1), ("Query", 1)),
)


def ep_api(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit an invocation of the ``api`` function through its alias; a cold start first when
    no execution environment of the live version is warm."""
    ch = churn_of(s, c)
    rng = s.rng
    version = ch.live_version(t)
    # Episodes are built in time order: an environment expired now is of no later use.
    ch.containers = [e for e in ch.containers if e.expires > t]
    warm = [e for e in ch.containers if e.version == version]
    steps: list[Step] = []
    if warm and rng.random() > 0.04:
        container = warm[int(rng.random() * len(warm))]
        caller = container.caller
    else:
        caller, steps = _api_cold_start(s, ch, version, t)
    roll = rng.random()
    request = _API_REQUESTS[0 if roll < 0.45 else 1 if roll < 0.75 else 2]

    def serve(at: int) -> None:
        emit_app_calls(s, at, max(0, n - len(steps)), caller, ch.api, request, "api")

    for i, step in enumerate(steps[:n]):
        step(t + i * rng.randrange(20, 200))
    if n > len(steps):
        serve(t + 200 * len(steps))
    if rng.random() < 0.01:
        ch.forget(t)


def _api_cold_start(s: Synth, ch: Churn, version: int, t: int) -> tuple[Caller, list[Step]]:
    """Return a new execution environment's session and the calls of its start: Lambda gets
    it credentials, the Lambda worker creates its log stream, the code reads its secret (and
    now and then a library asks for a table's description, which the role does not allow)."""
    rng = s.rng
    identity = ch.api_role.session(s, "api", t)
    ip = ch.lambda_ips[int(rng.random() * len(ch.lambda_ips))]
    caller = Caller(identity, account=ch.account, region=ch.region, ip=ip, ua=UA_LAMBDA)
    ch.containers.append(Container(caller, version, t + rng.randrange(MS_HOUR, 5 * MS_HOUR)))
    day = s.clock.stamp(t)[:10].replace("-", "/")
    stream = f"{day}/[{version}]{s.hex(32)}"
    worker = Caller(identity, account=ch.account, region=ch.region, ip=ip, ua=UA_LAMBDA_WORKER)

    def assume(at: int) -> None:
        emit_service_assume(s, at, ch, ch.api_role, identity, "lambda.amazonaws.com", 12)

    def log(at: int) -> None:
        emit_log_stream(s, at, ch, worker.who(s, "logs"), ch.api.log_group, stream)

    def secret(at: int) -> None:
        emit_secret(s, at, caller, ch.api)

    steps: list[Step] = [assume, log, secret]
    if s.first(ch.cast, "api-describe-denied", 0.05):
        table = ch.api.tables[1]

        def describe(at: int) -> None:
            message = denied_message(identity["arn"], "dynamodb:DescribeTable", table[1])
            s.call(
                at,
                caller.who(s, "dynamodb"),
                "DescribeTable",
                {"tableName": table[0]},
                read_only=True,
                error=("AccessDeniedException", message),
                api_version=DDB_VERSION,
            )

        steps.append(describe)
    return caller, steps
