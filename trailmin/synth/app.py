"""The application role ``role/service/app-backend``, assumed by Lambda and ECS."""

from __future__ import annotations

from trailmin.synth.agents import UA_ECS, UA_LAMBDA
from trailmin.synth.cast import Cast, Who
from trailmin.synth.emit import Synth, emit_s3_object
from trailmin.synth.values import (
    MS_HOUR,
    Record,
    expiration,
    random_id,
    resource_entry,
    service_identity,
)


class AppSession:
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

    def __init__(self, cast: Cast, runtime: str, region: str, *, name: str, ip: str) -> None:
        self.cast = cast
        self.runtime = runtime
        self.region = region
        self.name = name
        self.ip = ip
        self.access_key = ""
        self.token = ""
        self.identity: Record = {}
        self.who: dict[str, Who] = {}
        self.templates: dict[str, Record] = {}


_QUERY: Record = {
    "tableName": "orders",
    "indexName": "by-customer",
    "keyConditionExpression": "customerId = :c",
    "scanIndexForward": False,
    "limit": 25,
}
_QUERY_ERROR = "Query condition missed key schema element: customerId"


def _app_session(s: Synth, c: Cast, runtime: str, region: str, t: int) -> AppSession:
    """Return the app role session a runtime holds at ``t`` (its credentials rotate)."""
    period = 8 * MS_HOUR if runtime == "lambda" else 12 * MS_HOUR
    phase = c.app_phase[(runtime, region)]
    index = (t - phase) // period
    key = (c.index, runtime, region, index)
    session = s.sessions.get(key)
    if session is None:
        rng = s.rng
        where = c.regions[region]
        if runtime == "lambda":
            session = AppSession(
                c, runtime, region, name="app-backend-api", ip=rng.choice(where.app_ips)
            )
        else:
            session = AppSession(c, runtime, region, name=s.hex(32), ip=where.worker_ip)
        session.access_key = "ASIA" + random_id(rng, 16)
        session.token = s.token()
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
                    "creationDate": s.clock.stamp(phase + index * period),
                    "mfaAuthenticated": "false",
                },
            },
        }
        s.sessions[key] = session
    return session


def _app_who(s: Synth, session: AppSession, service: str) -> Who:
    """Return how the app calls ``service``: Lambda over the internet, ECS via endpoints."""
    who = session.who.get(service)
    if who is None:
        ecs = session.runtime == "ecs"
        region = session.region
        where = session.cast.regions[region]
        tls = s.tls(service, region)
        if service == "s3":
            tls = s.tls_host(f"{where.bucket}.s3.{region}.amazonaws.com")
        who = Who(
            service,
            session.identity,
            account=session.cast.account,
            region=region,
            ip=session.ip,
            ua=(UA_ECS if ecs else UA_LAMBDA).format(service=service),
            tls=tls,
            vpce=where.vpce.get(service) if ecs else None,
        )
        session.who[service] = who
    return who


def _app_template(s: Synth, session: AppSession, step: str) -> Record:
    """Return the template of an error-free app call to DynamoDB, SQS or KMS."""
    where = session.cast.regions[session.region]
    account = session.cast.account
    if step == "SendMessage":
        return s.call(
            0,
            _app_who(s, session, "sqs"),
            step,
            {"queueUrl": where.queue_url, "messageBody": "HIDDEN_DUE_TO_SECURITY_REASONS"},
            read_only=False,
            resources=[resource_entry("AWS::SQS::Queue", where.queue_arn, account)],
            data=True,
            template=True,
        )
    if step == "GenerateDataKey":
        return s.call(
            0,
            _app_who(s, session, "kms"),
            step,
            None,
            read_only=True,
            resources=[resource_entry("AWS::KMS::Key", where.kms_arn, account)],
            template=True,
        )
    return s.call(
        0,
        _app_who(s, session, "dynamodb"),
        step,
        None,
        read_only=step != "PutItem",
        resources=[resource_entry("AWS::DynamoDB::Table", where.table_arn, account)],
        api_version="2012-08-10",
        data=True,
        template=True,
    )


def _app_step(s: Synth, step: str, t: int, session: AppSession) -> None:
    """Emit one call of an app invocation; ``step`` names the API."""
    rng = s.rng
    c = session.cast
    order = s.hex(12)
    if step in ("GetObject", "PutObject"):
        where = c.regions[session.region]
        day = s.clock.stamp(t)[:10]
        if session.runtime == "ecs":
            key = f"exports/daily/{day}/batch-{order[:6]}.csv.gz"
        elif rng.random() < 0.7:
            key = f"orders/{day[:7]}/{order}.json"
        else:
            key = f"invoices/{day[:4]}/{day[5:7]}/inv-{order[:8]}.pdf"
        error = None
        if step == "GetObject" and s.first(c, "NoSuchKey", 0.03):
            error = ("NoSuchKey", "The specified key does not exist.")
        size = 400 + int(rng.random() * 90_000)
        who = _app_who(s, session, "s3")
        emit_s3_object(
            s,
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
        if s.first(c, "ValidationException", 0.01):
            table = c.regions[session.region].table_arn
            s.call(
                t,
                _app_who(s, session, "dynamodb"),
                step,
                request,
                read_only=True,
                error=("ValidationException", _QUERY_ERROR),
                resources=[resource_entry("AWS::DynamoDB::Table", table, c.account)],
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
        found = templates[step] = _app_template(s, session, step)
    if request is None:  # SendMessage: the request is the same each time
        request = found["requestParameters"]
    request_id = "" if step in ("SendMessage", "GenerateDataKey") else s.dynamodb_request_id()
    r = s.fill(t, found, request, request_id)
    if step == "SendMessage":
        r["responseElements"] = {"mD5OfMessageBody": s.hex(32), "messageId": s.uuid()}


def ep_app(s: Synth, c: Cast, region: str, t: int, n: int, runtime: str) -> None:
    """Emit one invocation of the app (a Lambda request or an ECS job): ``n`` calls."""
    rng = s.rng
    session = _app_session(s, c, runtime, region, t)
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
        _app_step(s, steps[i % 4], t, session)
        t += 5 + int(rng.random() * 395)


def ep_cold_start(s: Synth, c: Cast, region: str, t: int, n: int, runtime: str) -> None:
    """Emit a runtime getting new app role credentials from STS, then reading its secret."""
    rng = s.rng
    session = _app_session(s, c, runtime, region, t)
    where = c.regions[region]
    service = "lambda.amazonaws.com" if runtime == "lambda" else "ecs-tasks.amazonaws.com"
    expires = expiration(t + (12 if runtime == "lambda" else 6) * MS_HOUR)
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
    aws = Who(
        "sts",
        service_identity(service),
        account=c.account,
        region=region,
        ip=service,
        ua=service,
    )
    s.call(
        t,
        aws,
        "AssumeRole",
        {"roleArn": c.app_role_arn, "roleSessionName": session.name},
        response=response,
        read_only=True,
        resources=[resource_entry("AWS::IAM::Role", c.app_role_arn, c.account)],
        shared=True,
    )
    secret_id = where.secret_arn.split(":secret:")[1][:-7]
    for i in range(1, n):
        t += rng.randrange(80, 900)
        if i % 2:
            s.call(
                t,
                _app_who(s, session, "secretsmanager"),
                "GetSecretValue",
                {"secretId": secret_id},
                read_only=True,
            )
            continue
        # Secrets Manager decrypts the secret with KMS on the caller's behalf.
        invoked = Who(
            "kms",
            {**session.identity, "invokedBy": "secretsmanager.amazonaws.com"},
            account=c.account,
            region=region,
            ip="secretsmanager.amazonaws.com",
            ua="secretsmanager.amazonaws.com",
        )
        context = {"SecretARN": where.secret_arn, "SecretVersionId": s.uuid().upper()}
        s.call(
            t,
            invoked,
            "Decrypt",
            {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context},
            read_only=True,
            resources=[resource_entry("AWS::KMS::Key", where.kms_arn, c.account)],
        )
