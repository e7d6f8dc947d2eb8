"""Deploys by ``role/release`` from GitHub Actions: the storefront's image, the api function."""

from __future__ import annotations

import base64
from typing import Any

from trailmin.synth.agents import UA_GITHUB
from trailmin.synth.cast import Caller, Cast, Who
from trailmin.synth.churn import bodies
from trailmin.synth.churn.calls import emit_steps
from trailmin.synth.churn.state import NEVER, Churn, churn_of
from trailmin.synth.churn.storefront import task_start
from trailmin.synth.emit import Synth, emit_s3_object
from trailmin.synth.values import MS_HOUR, Record, Step, expiration, public_ip, resource_entry


def _release_session(s: Synth, ch: Churn, t: int, repository: str) -> tuple[Caller, Step]:
    """Return a GitHub Actions job's session of ``role/release`` and the step that gets it."""
    rng = s.rng
    ip = public_ip(rng, (4, 13, 20, 40, 52))
    subject = f"repo:{repository}:environment:production"
    web = {"federatedProvider": ch.oidc_arn, "attributes": {}}
    identity = ch.release_role.session(s, "GitHubActions", t, web=web)
    caller = Caller(identity, account=ch.account, region=ch.region, ip=ip, ua=UA_GITHUB)

    def assume(at: int) -> None:
        web_user = {
            "type": "WebIdentityUser",
            "principalId": f"{ch.oidc_arn}:sts.amazonaws.com:{subject}",
            "userName": subject,
            "identityProvider": ch.oidc_arn,
        }
        credentials = {
            "accessKeyId": identity["accessKeyId"],
            "sessionToken": s.token(),
            "expiration": expiration(at + MS_HOUR),
        }
        who = Who(
            "sts",
            web_user,
            account=ch.account,
            region=ch.region,
            ip=ip,
            ua=UA_GITHUB.format(service="sts"),
            tls=s.tls("sts", ch.region),
        )
        s.call(
            at,
            who,
            "AssumeRoleWithWebIdentity",
            {
                "roleArn": ch.release_role.arn,
                "roleSessionName": "GitHubActions",
                "durationSeconds": 3600,
            },
            response={
                "credentials": credentials,
                "subjectFromWebIdentityToken": subject,
                "assumedRoleUser": {
                    "assumedRoleId": identity["principalId"],
                    "arn": identity["arn"],
                },
                "provider": ch.oidc_arn,
                "audience": "sts.amazonaws.com",
            },
            read_only=True,
            extra={"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
            resources=[resource_entry("AWS::IAM::Role", ch.release_role.arn, ch.account)],
        )

    return caller, assume


def ep_release_web(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit a storefront deploy: push the image, register the task definition's next revision,
    run the migrations as a one-off task of it, then roll the service onto it, task by task."""
    ch = churn_of(s, c)
    rng = s.rng
    a = ch.account
    caller, assume = _release_session(s, ch, t, "acme/storefront")
    tag = rng.randbytes(20).hex()[:12]
    migration = ch.new_task(s, NEVER)
    group = "sg-0" + rng.randbytes(8).hex()[:16]

    def ecs(at: int, name: str, request: Record, response: Record | None = None) -> None:
        s.call(
            at, caller.who(s, "ecs"), name, request, response=response, read_only=response is None
        )

    def token(at: int) -> None:
        request = {"registryIds": [a]}
        s.call(at, caller.who(s, "ecr"), "GetAuthorizationToken", request, read_only=True)

    def push(at: int) -> None:
        ch.image = tag
        media = "application/vnd.oci.image.manifest.v1+json"
        digest = "sha256:" + s.hex(64)
        s.call(
            at,
            caller.who(s, "ecr"),
            "PutImage",
            {
                "repositoryName": "storefront-web",
                "imageTag": tag,
                "imageManifestMediaType": media,
                "registryId": a,
            },
            response={
                "image": {
                    "registryId": a,
                    "repositoryName": "storefront-web",
                    "imageId": {"imageDigest": digest, "imageTag": tag},
                    "imageManifestMediaType": media,
                }
            },
            read_only=False,
            resources=[{"accountId": a, "ARN": ch.repository_arn}],
        )

    def current(at: int) -> None:
        ecs(at, "DescribeTaskDefinition", {"taskDefinition": "web"})

    def register(at: int) -> None:
        ch.revision += 1
        request = bodies.task_definition_request(ch, tag)
        definition = bodies.task_definition(
            ch, request, at=at, registered_by=caller.identity["arn"]
        )
        ecs(at, "RegisterTaskDefinition", request, {"taskDefinition": definition})

    def run_task(at: int) -> None:
        request = bodies.migration_request(ch, group)
        task = bodies.provisioning_task(ch, migration.arn, at)
        ecs(at, "RunTask", request, {"tasks": [task], "failures": []})

    def poll(at: int) -> None:
        ecs(at, "DescribeTasks", {"cluster": "storefront", "tasks": [migration.arn]})

    def update(at: int) -> None:
        service = bodies.web_service(ch, f"ecs-svc/{rng.randrange(10**18, 10**19)}")
        request = {
            "cluster": "storefront",
            "service": "web",
            "taskDefinition": f"web:{ch.revision}",
            "forceNewDeployment": False,
        }
        ecs(at, "UpdateService", request, {"service": service})

    def settled(at: int) -> None:
        ecs(at, "DescribeServices", {"cluster": "storefront", "services": ["web"]})

    # The rolling update: a new task for each running one, which drains once the new is up.
    rolling: list[Step] = []
    for old in (ch.running(t) or ch.tasks[-3:])[:3]:
        task = ch.new_task(s, NEVER)
        ch.tasks.append(task)
        rolling.extend(task_start(s, ch, task, stops=old))
    migrate = task_start(s, ch, migration)
    migrate.pop(3)  # the image's layers were just pulled: cached
    steps: list[Step] = [
        assume,
        token,
        push,
        current,
        register,
        run_task,
        *migrate,
        poll,
        update,
        *rolling,
        settled,
    ]
    emit_steps(s, t, n, steps, poll, pad_at=6 + len(migrate), gap=(800, 25_000))


def ep_release_api(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit a deploy of the ``api`` function: upload the code, publish a version and point the
    alias ``live`` at it (a publish too soon after the update is refused, now and then)."""
    ch = churn_of(s, c)
    rng = s.rng
    r = ch.region
    caller, assume = _release_session(s, ch, t, "acme/api")
    sha = rng.randbytes(20).hex()
    key = f"builds/api/{sha}.zip"
    code_sha = base64.b64encode(rng.randbytes(32)).decode()
    published: list[int] = []

    def config(at: int, version: str, status: str) -> Record:
        arn = ch.function_arn if version == "$LATEST" else f"{ch.function_arn}:{version}"
        return {
            "functionName": "api",
            "functionArn": arn,
            "runtime": "nodejs20.x",
            "role": ch.api_role.arn,
            "handler": "index.handler",
            "codeSize": rng.randrange(1_000_000, 6_000_000),
            "description": sha[:12],
            "timeout": 15,
            "memorySize": 512,
            "lastModified": s.clock.stamp(at)[:-1] + ".000+0000",
            "codeSha256": code_sha,
            "version": version,
            "tracingConfig": {"mode": "PassThrough"},
            "revisionId": s.uuid(),
            "state": "Active",
            "lastUpdateStatus": status,
            "packageType": "Zip",
            "architectures": ["arm64"],
            "ephemeralStorage": {"size": 512},
            "loggingConfig": {"logFormat": "Text", "logGroup": ch.api.log_group},
        }

    def lambda_call(at: int, name: str, request: Record, **options: Any) -> None:
        opts: dict[str, Any] = {"read_only": True, "api_version": "2015-03-31", **options}
        s.call(at, caller.who(s, "lambda"), name, request, **opts)

    def upload(at: int) -> None:
        host = f"{ch.artifacts}.s3.{r}.amazonaws.com"
        size = rng.randrange(1_000_000, 6_000_000)
        emit_s3_object(
            s, at, caller.who(s, "s3", host), "PutObject", key, bucket=ch.artifacts, size=size
        )

    def update(at: int) -> None:
        request = {
            "functionName": "api",
            "s3Bucket": ch.artifacts,
            "s3Key": key,
            "publish": False,
            "dryRun": False,
        }
        response = config(at, "$LATEST", "InProgress")
        lambda_call(at, "UpdateFunctionCode20150331v2", request, read_only=False, response=response)

    def wait(at: int) -> None:
        lambda_call(at, "GetFunctionConfiguration20150331v2", {"functionName": "api"})

    publish_request = {"functionName": "api", "codeSha256": code_sha, "description": sha[:12]}

    def too_soon(at: int) -> None:
        message = (
            "The operation cannot be performed at this time. An update is in progress for "
            f"resource: {ch.function_arn}"
        )
        lambda_call(
            at,
            "PublishVersion20150331",
            publish_request,
            read_only=False,
            error=("ResourceConflictException", message),
        )

    def publish(at: int) -> None:
        ch.published += 1
        published.append(ch.published)
        response = config(at, str(ch.published), "Successful")
        lambda_call(
            at, "PublishVersion20150331", publish_request, read_only=False, response=response
        )

    def point(at: int) -> None:
        version = str(published[0])
        ch.aliases.append((at, published[0]))
        request = {"functionName": "api", "name": "live", "functionVersion": version}
        response = {
            "aliasArn": f"{ch.function_arn}:live",
            "name": "live",
            "functionVersion": version,
            "description": "",
            "revisionId": s.uuid(),
        }
        lambda_call(at, "UpdateAlias20150331", request, read_only=False, response=response)

    def check(at: int) -> None:
        lambda_call(at, "GetAlias20150331", {"functionName": "api", "name": "live"})

    steps: list[Step] = [assume, upload, update]
    if s.first(ch.cast, "publish-too-soon", 0.1):
        steps.append(too_soon)
    steps += [publish, point, check]
    emit_steps(s, t, n, steps, wait, pad_at=3, gap=(800, 20_000))
