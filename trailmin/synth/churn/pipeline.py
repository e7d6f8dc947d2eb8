"""The ``orders-etl`` data pipeline: a Lambda trigger, Step Functions, Glue and Athena."""

from __future__ import annotations

from datetime import date, timedelta

from trailmin.synth.agents import UA_EXPORT, UA_LAMBDA_WORKER
from trailmin.synth.cast import Caller, Cast
from trailmin.synth.churn.calls import emit_log_stream, emit_service_assume, emit_steps
from trailmin.synth.churn.state import churn_of
from trailmin.synth.emit import Synth, emit_s3_object
from trailmin.synth.values import ALNUM, Step, response_date


def ep_pipeline(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit a run of the ``orders-etl`` pipeline: the ``etl-trigger`` Lambda starts an execution
    of the state machine, which runs a Glue job and an Athena query with the same role; the
    trigger waits for it, reads the query's result and writes the report."""
    ch = churn_of(s, c)
    rng = s.rng
    a, r = ch.account, ch.region
    role = ch.pipeline_role
    identity = role.session(s, "etl-trigger", t)
    ip = ch.lambda_ips[int(rng.random() * len(ch.lambda_ips))]
    trigger = Caller(identity, account=a, region=r, ip=ip, ua=UA_EXPORT)
    worker = Caller(identity, account=a, region=r, ip=ip, ua=UA_LAMBDA_WORKER)
    machine_identity = role.session(s, "".join(rng.choices(ALNUM, k=32)), t)
    machine = Caller(
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
        emit_service_assume(s, at, ch, role, identity, "lambda.amazonaws.com", 12)

    def log(at: int) -> None:
        stream = f"{day.replace('-', '/')}/[$LATEST]{s.hex(32)}"
        emit_log_stream(s, at, ch, worker.who(s, "logs"), "/aws/lambda/etl-trigger", stream)

    def start(at: int) -> None:
        ch.execution = f"arn:aws:states:{r}:{a}:execution:orders-etl:{s.uuid()}"
        s.call(
            at,
            trigger.who(s, "states"),
            "StartExecution",
            {"stateMachineArn": ch.state_machine, "input": "HIDDEN_DUE_TO_SECURITY_REASONS"},
            response={"executionArn": ch.execution, "startDate": response_date(at)},
            read_only=False,
        )

    def assume_machine(at: int) -> None:
        emit_service_assume(s, at, ch, role, machine_identity, "states.amazonaws.com", 1)

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
        emit_s3_object(
            s, at, trigger.who(s, "s3", host), "GetObject", key, bucket=ch.analytics, size=size
        )

    def write(at: int) -> None:
        size = rng.randrange(2_000, 60_000)
        emit_s3_object(
            s, at, trigger.who(s, "s3", host), "PutObject", report, bucket=ch.analytics, size=size
        )

    steps: list[Step] = [
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
    emit_steps(s, t, n, steps, poll, pad_at=6, gap=(5_000, 60_000))
