"""Deploys by ``role/ci-deploy``, assumed by GitHub Actions through OIDC."""

from __future__ import annotations

import base64
from functools import partial
from typing import Any

from trailmin.synth.agents import UA_CLI, UA_GITHUB
from trailmin.synth.cast import Cast, Who
from trailmin.synth.emit import Synth, emit_s3_object
from trailmin.synth.values import (
    MS_HOUR,
    Record,
    Step,
    denied_message,
    expiration,
    public_ip,
    random_id,
    resource_entry,
)


def ep_ci(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit one GitHub Actions deploy run by ``role/ci-deploy``: ``n`` calls."""
    job = _Job(s, c, region, t)
    roll = s.rng.random()  # how UpdateStack goes
    get_function = _api(job, "lambda", "GetFunction20150331v2", {"functionName": "app-backend-api"})
    describe_stack = _api(job, "cloudformation", "DescribeStacks", {"stackName": "app-backend"})
    steps: list[Step] = [
        partial(_web_identity, job),
        _api(job, "sts", "GetCallerIdentity", None),
        _api(job, "ecr", "GetAuthorizationToken", {"registryIds": [c.account]}),
        partial(_put_artifact, job),
        describe_stack,
        _update_stack(job, roll),
        get_function,
        _api(
            job,
            "lambda",
            "UpdateFunctionCode20150331v2",
            {"functionName": "app-backend-api", **job.code, "publish": False, "dryRun": False},
            read_only=False,
        ),
    ]
    # Now and then the run tries to create a canary function, passing the app role to it.
    if n >= len(steps) + 2 and s.first(c, "ci-canary", 0.12):
        steps += _canary(job)
    while len(steps) < n:
        steps.append(get_function if len(steps) % 2 else describe_stack)
    for step in steps[:n]:
        step(t)
        t += s.rng.randrange(800, 25_000)


class _Job:
    """A deploy job: its session of ``role/ci-deploy``, its runner, what it deploys."""

    __slots__ = (
        "access_key",
        "artifact",
        "c",
        "canary_arn",
        "code",
        "identity",
        "ip",
        "region",
        "s",
        "session_arn",
        "sha",
        "where",
    )

    def __init__(self, s: Synth, c: Cast, region: str, t: int) -> None:
        rng = s.rng
        self.s = s
        self.c = c
        self.region = region
        self.where = c.regions[region]
        # A GitHub-hosted runner is a new virtual machine for each job, with an Azure address.
        self.ip = public_ip(rng, (4, 13, 20, 40, 52))
        self.sha = rng.randbytes(20).hex()
        self.access_key = "ASIA" + random_id(rng, 16)
        self.session_arn = f"arn:aws:sts::{c.account}:assumed-role/ci-deploy/GitHubActions"
        self.identity: Record = {
            "type": "AssumedRole",
            "principalId": f"{c.ci_role_id}:GitHubActions",
            "arn": self.session_arn,
            "accountId": c.account,
            "accessKeyId": self.access_key,
            "sessionContext": {
                "sessionIssuer": c.ci_issuer,
                "webIdFederationData": c.ci_web_id,
                "attributes": {"creationDate": s.clock.stamp(t), "mfaAuthenticated": "false"},
            },
        }
        self.artifact = f"builds/app-backend/{self.sha}.zip"
        self.code = {"s3Bucket": c.artifacts, "s3Key": self.artifact}
        self.canary_arn = f"arn:aws:lambda:{region}:{c.account}:function:app-backend-canary"


def _by(job: _Job, service: str) -> Who:
    """Return how the job calls ``service`` (CloudFormation through the CLI, the rest not)."""
    if service == "cloudformation":
        ua = UA_CLI.format(command="cloudformation.deploy")
    else:
        ua = UA_GITHUB.format(service=service)
    return Who(
        service,
        job.identity,
        account=job.c.account,
        region=job.region,
        ip=job.ip,
        ua=ua,
        tls=job.s.tls(service, job.region),
    )


def _function_configuration(job: _Job, name: str, arn: str, at: int) -> Record:
    """Return the configuration Lambda returns for a function just created or updated."""
    rng = job.s.rng
    return {
        "functionName": name,
        "functionArn": arn,
        "runtime": "nodejs20.x",
        "role": job.c.app_role_arn,
        "handler": "index.handler",
        "codeSize": rng.randrange(2_000_000, 9_000_000),
        "description": "",
        "timeout": 30,
        "memorySize": 1024,
        "lastModified": job.s.clock.stamp(at)[:-1] + ".000+0000",
        "codeSha256": base64.b64encode(rng.randbytes(32)).decode(),
        "version": "$LATEST",
        "tracingConfig": {"mode": "PassThrough"},
        "revisionId": job.s.uuid(),
        "state": "Active",
        "lastUpdateStatus": "InProgress",
        "lastUpdateStatusReason": "The function is being created.",
        "lastUpdateStatusReasonCode": "Creating",
        "packageType": "Zip",
        "architectures": ["arm64"],
        "ephemeralStorage": {"size": 512},
        "snapStart": {"applyOn": "None", "optimizationStatus": "Off"},
        "loggingConfig": {"logFormat": "Text", "logGroup": f"/aws/lambda/{name}"},
    }


def _web_identity(job: _Job, at: int) -> None:
    """Emit the job exchanging GitHub's OIDC token for the role's credentials."""
    s, c = job.s, job.c
    subject = "repo:acme/app-backend:ref:refs/heads/main"
    web_user = {
        "type": "WebIdentityUser",
        "principalId": f"{c.oidc_arn}:sts.amazonaws.com:{subject}",
        "userName": subject,
        "identityProvider": c.oidc_arn,
    }
    credentials = {
        "accessKeyId": job.access_key,
        "sessionToken": s.token(),
        "expiration": expiration(at + MS_HOUR),
    }
    s.call(
        at,
        Who(
            "sts",
            web_user,
            account=c.account,
            region=job.region,
            ip=job.ip,
            ua=UA_GITHUB.format(service="sts"),
            tls=s.tls("sts", job.region),
        ),
        "AssumeRoleWithWebIdentity",
        {
            "roleArn": c.ci_role_arn,
            "roleSessionName": "GitHubActions",
            "durationSeconds": 3600,
        },
        response={
            "credentials": credentials,
            "subjectFromWebIdentityToken": subject,
            "assumedRoleUser": {
                "assumedRoleId": f"{c.ci_role_id}:GitHubActions",
                "arn": job.session_arn,
            },
            "provider": c.oidc_arn,
            "audience": "sts.amazonaws.com",
        },
        read_only=True,
        extra={"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
        resources=[resource_entry("AWS::IAM::Role", c.ci_role_arn, c.account)],
    )


def _put_artifact(job: _Job, at: int) -> None:
    """Emit the build's zip uploaded to the artifacts bucket."""
    s, c = job.s, job.c
    who = Who(
        "s3",
        job.identity,
        account=c.account,
        region=c.primary,
        ip=job.ip,
        ua=UA_GITHUB.format(service="s3"),
        tls=s.tls_host(f"{c.artifacts}.s3.{c.primary}.amazonaws.com"),
    )
    size = s.rng.randrange(2_000_000, 9_000_000)
    emit_s3_object(s, at, who, "PutObject", job.artifact, bucket=c.artifacts, size=size)


def _api(job: _Job, service: str, name: str, request: Record | None, **options: Any) -> Step:
    """Return the step of one call (read-only unless told); Lambda's answer with the
    function's configuration when it creates or updates one."""

    def step(at: int) -> None:
        opts = {"read_only": True, **options}
        if service == "lambda":
            opts["api_version"] = "2015-03-31"
            if name.startswith(("UpdateFunction", "CreateFunction")) and "error" not in opts:
                function_name = request["functionName"] if request else ""
                arn = job.canary_arn if "canary" in function_name else job.where.function_arn
                opts["response"] = _function_configuration(job, function_name, arn, at)
        job.s.call(at, _by(job, service), name, request, **opts)

    return step


def _update_stack(job: _Job, roll: float) -> Step:
    """Return the step of the stack's update: refused, or with nothing to update, at times."""
    stack_error = None
    if roll < 0.05:
        message = denied_message(job.session_arn, "cloudformation:UpdateStack", job.where.stack_arn)
        stack_error = ("AccessDenied", message)
    elif roll < 0.25:
        stack_error = ("ValidationError", "No updates are to be performed.")
    template = f"https://{job.c.artifacts}.s3.amazonaws.com/templates/{job.sha}.yaml"
    update_stack = {
        "stackName": "app-backend",
        "templateURL": template,
        "parameters": [{"parameterKey": "CodeVersion", "parameterValue": job.sha[:12]}],
        "capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    }
    return _api(
        job,
        "cloudformation",
        "UpdateStack",
        update_stack,
        read_only=False,
        error=stack_error,
        response=None if stack_error else {"stackId": job.where.stack_arn},
    )


def _canary(job: _Job) -> list[Step]:
    """Return the steps of creating a canary function, which needs ``iam:PassRole`` on the
    app role (refused, most times)."""
    s, c = job.s, job.c
    missing = ("ResourceNotFoundException", f"Function not found: {job.canary_arn}")
    steps = [
        _api(
            job,
            "lambda",
            "GetFunction20150331v2",
            {"functionName": "app-backend-canary"},
            error=missing,
        )
    ]
    create = {
        "functionName": "app-backend-canary",
        "runtime": "nodejs20.x",
        "role": c.app_role_arn,
        "handler": "index.handler",
        "code": job.code,
        "description": "canary",
        "timeout": 30,
        "memorySize": 1024,
        "publish": True,
        "packageType": "Zip",
        "architectures": ["arm64"],
    }
    if s.first(c, "PassRole-denied", 0.6):
        denied = denied_message(job.session_arn, "iam:PassRole", c.app_role_arn)
        steps.append(
            _api(
                job,
                "lambda",
                "CreateFunction20150331",
                create,
                read_only=False,
                error=("AccessDeniedException", denied),
            )
        )
    else:
        steps.append(_api(job, "lambda", "CreateFunction20150331", create, read_only=False))
    return steps
