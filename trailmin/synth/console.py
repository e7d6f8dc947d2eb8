"""People at the console: sign-in events, console calls, and what each kind of person does there."""

from __future__ import annotations

from collections.abc import Callable

from trailmin.synth.agents import INTERNAL, UA_S3_CONSOLE
from trailmin.synth.cast import Cast, Person, Who
from trailmin.synth.emit import Synth
from trailmin.synth.values import GLOBAL_REGION, Record, random_id

# A console action: (service, eventName, global?, readOnly, request parameters).
Params = Callable[["Cast", str], Record | None]
Action = tuple[str, str, bool, bool, Params]


def _none(_c: Cast, _r: str) -> Record | None:
    return None


def _const(value: Record) -> Params:
    def params(_c: Cast, _r: str) -> Record | None:
        return value

    return params


def _bucket_params(kind: str) -> Params:
    def params(c: Cast, r: str) -> Record | None:
        bucket = c.regions[r].bucket
        return {kind: "", "bucketName": bucket, "Host": f"{bucket}.s3.{r}.amazonaws.com"}

    return params


_NO_FILTER = _const({"instancesSet": {}, "filterSet": {}})
_COMMON_READS: tuple[Action, ...] = (
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

ADMIN_ACTIONS: tuple[Action, ...] = (
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

DEV_ACTIONS: tuple[Action, ...] = (
    *_COMMON_READS,
    ("iam", "GetRole", True, True, _const({"roleName": "app-backend"})),
    ("iam", "ListRoles", True, True, _none),
    ("sqs", "GetQueueAttributes", False, True,
     lambda c, r: {"queueUrl": c.regions[r].queue_url, "attributeNames": ["All"]}),
    ("kms", "DescribeKey", False, True, lambda c, r: {"keyId": c.regions[r].kms_arn}),
    ("s3", "PutBucketTagging", False, False, _bucket_params("tagging")),
    ("ssm", "DescribeParameters", False, True, _const({"maxResults": 50})),
)  # fmt: skip

ANALYST_ACTIONS: tuple[Action, ...] = (
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


def console_login(
    s: Synth,
    t: int,
    c: Cast,
    identity: Record,
    person: Person,
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
    who = Who(
        "signin",
        identity,
        account=c.account,
        region=GLOBAL_REGION,
        ip=person.ip,
        ua=person.ua,
        tls=s.tls("signin", GLOBAL_REGION),
    )
    s.call(
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
    s: Synth,
    c: Cast,
    t: int,
    n: int,
    *,
    identity: Record,
    person: Person,
    actions: tuple[Action, ...],
) -> None:
    """Emit ``n`` console calls by a signed-in person after ``t``, picked from ``actions``."""
    rng = s.rng
    regions = tuple(c.regions)
    templates = s.console_templates
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
            ua = UA_S3_CONSOLE if service == "s3" else INTERNAL
            who = Who(service, identity, account=c.account, region=region, ip=person.ip, ua=ua)
            template = s.call(
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
        s.fill(t, cached[1], params(c, home))


def user_identities(
    s: Synth, c: Cast, person: Person, t: int, *, mfa: bool
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
        "creationDate": s.clock.stamp(t),
        "mfaAuthenticated": "true" if mfa else "false",
    }
    session = {
        "type": "IAMUser",
        "principalId": person.principal_id,
        "arn": person.arn,
        "accountId": c.account,
        "accessKeyId": "ASIA" + random_id(s.rng, 16),
        "userName": person.name,
        "sessionContext": {
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": attributes,
        },
    }
    return login, session
