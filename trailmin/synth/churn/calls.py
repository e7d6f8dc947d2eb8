"""Calls the churning workloads share: assumed roles, log streams, items, messages, objects."""

from __future__ import annotations

from trailmin.synth.cast import Caller, Role, Who
from trailmin.synth.churn.state import App, Churn
from trailmin.synth.emit import Synth, emit_s3_object
from trailmin.synth.values import (
    MS_HOUR,
    Record,
    Step,
    expiration,
    resource_entry,
    service_identity,
)

DDB_VERSION = "2012-08-10"


def emit_steps(
    s: Synth,
    t: int,
    n: int,
    steps: list[Step],
    pad: Step,
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


def emit_service_assume(
    s: Synth, t: int, ch: Churn, role: Role, identity: Record, service: str, hours: int
) -> None:
    """Emit an AWS service (Lambda, ECS tasks, Step Functions) assuming ``role`` for a session."""
    name = identity["principalId"].split(":", 1)[1]
    credentials = {
        "accessKeyId": identity["accessKeyId"],
        "sessionToken": s.token(),
        "expiration": expiration(t + hours * MS_HOUR),
    }
    aws = Who(
        "sts",
        service_identity(service),
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
        resources=[resource_entry("AWS::IAM::Role", role.arn, ch.account)],
        shared=True,
    )


def emit_log_stream(s: Synth, t: int, ch: Churn, who: Who, group: str, stream: str) -> None:
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


def _emit_item(
    s: Synth,
    t: int,
    who: Who,
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
            resources=[resource_entry("AWS::DynamoDB::Table", table[1], who.account)],
            api_version=DDB_VERSION,
            data=True,
            template=True,
        )
        if error is None:
            who.templates[key] = template
    s.fill(t, template, request, s.dynamodb_request_id())


def emit_queue_call(s: Synth, t: int, who: Who, name: str, app: App) -> None:
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
            resources=[resource_entry("AWS::SQS::Queue", app.queue_arn, who.account)],
            data=True,
            template=True,
        )
    request = template["requestParameters"]
    if name == "DeleteMessage":
        request = {**request, "receiptHandle": "AQEB" + s.amz_id_2()[:-1]}
    r = s.fill(t, template, request)
    if name == "SendMessage":
        r["responseElements"] = {"mD5OfMessageBody": s.hex(32), "messageId": s.uuid()}


def emit_object(
    s: Synth, t: int, caller: Caller, name: str, app: App, key: str, *, old: bool = False
) -> None:
    """Emit GetObject or PutObject on ``app``'s bucket; an old key may be gone (lifecycle)."""
    rng = s.rng
    who = caller.who(s, "s3", f"{app.bucket}.s3.{caller.region}.amazonaws.com")
    error = None
    if old and rng.random() < 0.2:
        error = ("NoSuchKey", "The specified key does not exist.")
    size = 800 + int(rng.random() * 120_000)
    emit_s3_object(
        s, t, who, name, key, bucket=app.bucket, size=size, kms_arn=app.kms_arn, error=error
    )
    if name == "PutObject":
        app.wrote(key)


def emit_secret(s: Synth, t: int, caller: Caller, app: App) -> None:
    """Emit ``caller`` reading ``app``'s secret."""
    s.call(
        t,
        caller.who(s, "secretsmanager"),
        "GetSecretValue",
        {"secretId": app.secret_name},
        read_only=True,
    )


def emit_app_calls(
    s: Synth,
    t: int,
    n: int,
    caller: Caller,
    app: App,
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
                emit_object(s, t, caller, name, app, key)
            else:
                key, old = app.key_to_read(rng)
                emit_object(s, t, caller, name, app, key, old=old)
        elif name == "SendMessage":
            emit_queue_call(s, t, caller.who(s, "sqs"), name, app)
        else:
            emit_app_item(s, t, caller, app, name, table)
        t += 4 + int(rng.random() * 300)


def emit_app_item(s: Synth, t: int, caller: Caller, app: App, name: str, index: int) -> None:
    """Emit an item call of an application request on ``app``'s table ``index``."""
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
            _emit_item(s, t, who, name, table, request, failed)
            return
    _emit_item(s, t, who, name, table, request)
