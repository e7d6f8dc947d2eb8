"""The ``workers`` Auto Scaling group and ``fleet-ops``, which patches and replaces them."""

from __future__ import annotations

from trailmin.synth.agents import UA_CW_AGENT, UA_EXPORT, UA_LAMBDA_WORKER, UA_SSM_AGENT
from trailmin.synth.cast import Caller, Cast, Who
from trailmin.synth.churn import bodies
from trailmin.synth.churn.calls import (
    emit_app_item,
    emit_log_stream,
    emit_object,
    emit_queue_call,
    emit_service_assume,
    emit_steps,
)
from trailmin.synth.churn.state import Churn, Instance, churn_of
from trailmin.synth.emit import Synth
from trailmin.synth.values import Record, Step


def ep_worker(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit a worker instance taking a job off the api's queue: the order, its invoice."""
    ch = churn_of(s, c)
    rng = s.rng
    booted = ch.booted(t) or ch.instances[-1:]
    instance = booted[int(rng.random() * len(booted))]
    if instance.caller is None:
        instance.caller = ch.instance_caller(s, instance)
    caller = instance.caller
    for i in range(n):
        step = i % 4
        if step == 0:
            emit_queue_call(s, t, caller.who(s, "sqs"), "ReceiveMessage", ch.api)
        elif step == 1:
            emit_app_item(s, t, caller, ch.api, "GetItem", 1)
        elif step == 2:
            key, old = ch.api.key_to_read(rng)
            emit_object(s, t, caller, "GetObject", ch.api, key, old=old)
        else:
            emit_queue_call(s, t, caller.who(s, "sqs"), "DeleteMessage", ch.api)
        t += 10 + int(rng.random() * 900)


def ep_fleet_ops(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit the nightly ``fleet-ops`` Lambda: patch the workers through SSM, tag them, and
    terminate the oldest when its time is up, which the Auto Scaling group replaces."""
    ch = churn_of(s, c)
    rng = s.rng
    a, r = ch.account, ch.region
    identity = ch.fleet_role.session(s, "fleet-ops", t)
    ip = ch.lambda_ips[int(rng.random() * len(ch.lambda_ips))]
    caller = Caller(identity, account=a, region=r, ip=ip, ua=UA_EXPORT)
    worker = Caller(identity, account=a, region=r, ip=ip, ua=UA_LAMBDA_WORKER)
    booted = ch.booted(t) or ch.instances[-1:]
    ids = [i.id for i in booted]
    day = s.clock.stamp(t)[:10]
    command: list[str] = []

    def assume(at: int) -> None:
        emit_service_assume(s, at, ch, ch.fleet_role, identity, "lambda.amazonaws.com", 12)

    def log(at: int) -> None:
        stream = f"{day.replace('-', '/')}/[$LATEST]{s.hex(32)}"
        emit_log_stream(s, at, ch, worker.who(s, "logs"), "/aws/lambda/fleet-ops", stream)

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
        response = bodies.send_command(command_id, ids, at=at, region=r)
        s.call(at, caller.who(s, "ssm"), "SendCommand", request, response=response, read_only=False)

    def poll(at: int) -> None:
        target = ids[int(rng.random() * len(ids))]
        request = {"commandId": command[0] if command else ch.command, "instanceId": target}
        s.call(at, caller.who(s, "ssm"), "GetCommandInvocation", request, read_only=True)

    def tag(instance_id: str) -> Step:
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

    steps: list[Step] = [assume, log, describe, send, *(tag(i) for i in ids)]
    due = [i for i in booted if t - i.launched >= i.lifetime]
    if due:
        steps.extend(_replace_instance(s, ch, caller, min(due, key=lambda i: i.launched)))
    emit_steps(s, t, n, steps, poll, pad_at=4, gap=(400, 15_000))
    ch.forget(t)


def _replace_instance(s: Synth, ch: Churn, caller: Caller, old: Instance) -> list[Step]:
    """Return the calls of an instance's replacement: fleet-ops terminates it, the Auto Scaling
    group launches another, which creates its log stream and registers with SSM."""
    a, r = ch.account, ch.region
    rng = s.rng
    new: list[Instance] = []

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
        who = Who(
            "ec2",
            identity,
            account=a,
            region=r,
            ip="autoscaling.amazonaws.com",
            ua="autoscaling.amazonaws.com",
        )
        token = s.uuid()
        request_id = s.uuid()
        reservation_id = "r-0" + s.hex(16)
        request, response = bodies.run_instances(
            ch,
            instance,
            zone=zone,
            at=at,
            token=token,
            request_id=request_id,
            reservation_id=reservation_id,
        )
        s.call(at, who, "RunInstances", request, response=response, read_only=False)

    def booted() -> tuple[Instance, Record]:
        instance = new[0]  # launch() runs before the steps of the instance's boot
        if instance.caller is None:
            instance.caller = ch.instance_caller(s, instance)
        return instance, instance.caller.identity

    def stream(at: int) -> None:
        instance, identity = booted()
        agent = Caller(identity, account=a, region=r, ip=ch.nat_ip, ua=UA_CW_AGENT)
        when = instance.launched + rng.randrange(60_000, 120_000)
        emit_log_stream(s, when, ch, agent.who(s, "logs"), "/ec2/workers", instance.id)

    def register(at: int) -> None:
        instance, identity = booted()
        agent = Caller(identity, account=a, region=r, ip=ch.nat_ip, ua=UA_SSM_AGENT)
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
