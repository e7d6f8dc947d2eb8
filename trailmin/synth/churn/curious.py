"""People at the console looking into the churning workloads, now and then at something new."""

from __future__ import annotations

from collections.abc import Callable

from trailmin.synth.agents import INTERNAL
from trailmin.synth.cast import Cast, Who
from trailmin.synth.churn.calls import DDB_VERSION
from trailmin.synth.churn.state import Churn, churn_of
from trailmin.synth.console import console_login, user_identities
from trailmin.synth.emit import Synth
from trailmin.synth.sso import sso_sign_in
from trailmin.synth.values import Record, response_date

_Probe = Callable[[Churn, int], Record]


def _a_task(ch: Churn, t: int) -> str:
    """Return the ARN of a storefront task running at ``t``."""
    running = ch.running(t) or ch.tasks[-1:]
    return running[0].arn


def _an_instance(ch: Churn, t: int) -> str:
    """Return the ID of a worker instance up at ``t``."""
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


def ep_curious(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit someone at the console looking into the workloads, now and then at something they
    never looked at before (an Identity Center user, or alice)."""
    ch = churn_of(s, c)
    rng = s.rng
    if n >= 3 and rng.random() < 0.7:
        signed_in = sso_sign_in(s, c, t, console=True)
        assert signed_in is not None
        identity, person, t = signed_in
        n -= 2
    else:
        person = c.alice
        login, identity = user_identities(s, c, person, t, mfa=True)
        console_login(s, t, c, login, person, mfa=f"arn:aws:iam::{c.account}:mfa/alice-iphone")
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
        who = Who(service, identity, account=c.account, region=ch.region, ip=person.ip, ua=INTERNAL)
        request = params(ch, t)
        response = None
        if name == "StartExecution":
            execution = (
                f"arn:aws:states:{ch.region}:{c.account}:execution:orders-etl:{request['name']}"
            )
            response = {"executionArn": execution, "startDate": response_date(t)}
        s.call(
            t,
            who,
            name,
            request,
            response=response,
            read_only=read_only,
            api_version=DDB_VERSION if service == "dynamodb" else None,
            console=True,
        )
