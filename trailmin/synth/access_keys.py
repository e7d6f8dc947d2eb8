"""IAM users' long-term access keys: ``legacy-batch``'s nightly script, ``export-job``'s Lambda
function, and someone trying the leaked key of the first (checking it first while the script
runs with it)."""

from __future__ import annotations

import base64

from trailmin.synth.agents import UA_BATCH, UA_EXPORT, UA_INTRUDER
from trailmin.synth.cast import Cast, Who
from trailmin.synth.emit import Synth, emit_s3_object
from trailmin.synth.values import GLOBAL_REGION, Record, denied_message, resource_entry


def ep_batch(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit a run of the ``legacy-batch`` script with its long-term access key."""
    rng = s.rng
    account = c.account
    region = c.primary
    bucket = c.reports
    prefix = "reports/daily/"
    day = s.clock.stamp(t)[:10]

    def by(service: str, *, where: str = region, tls: Record | None = None) -> Who:
        return Who(
            service,
            c.batch_identity,
            account=account,
            region=where,
            ip=c.batch_ip,
            ua=UA_BATCH,
            tls=tls or s.tls(service, where),
        )

    parameter = {"name": "/legacy/batch/db-password", "withDecryption": True}
    done = 0
    while done < n:
        stage = done % 6
        if stage in (0, 5):
            # boto3 1.34 still calls the STS global endpoint, recorded in us-east-1.
            sts = by("sts", where=GLOBAL_REGION, tls=s.tls("sts-global", GLOBAL_REGION))
            s.call(t, sts, "GetCallerIdentity", None, read_only=True)
        elif stage == 1:
            s3 = by("s3", tls=s.tls_host(f"{bucket}.s3.{region}.amazonaws.com", tls13=False))
            extra = {
                "SignatureVersion": "SigV4",
                "CipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
                "bytesTransferredIn": 0,
                "AuthenticationMethod": "AuthHeader",
                "x-amz-id-2": base64.b64encode(rng.randbytes(56)).decode(),
                "bytesTransferredOut": rng.randrange(600, 9_000),
            }
            s.call(
                t,
                s3,
                "ListObjects",
                {
                    "list-type": "2",
                    "bucketName": bucket,
                    "encoding-type": "url",
                    "prefix": prefix,
                    "Host": f"{bucket}.s3.{region}.amazonaws.com",
                },
                read_only=True,
                extra=extra,
                request_id=rng.randbytes(8).hex().upper(),
                resources=[
                    {"type": "AWS::S3::Object", "ARNPrefix": f"arn:aws:s3:::{bucket}/{prefix}"},
                    resource_entry("AWS::S3::Bucket", f"arn:aws:s3:::{bucket}", account),
                ],
                data=True,
            )
        elif stage == 2:
            s3 = by("s3", tls=s.tls_host(f"{bucket}.s3.{region}.amazonaws.com", tls13=False))
            size = rng.randrange(50_000, 400_000)
            emit_s3_object(s, t, s3, "GetObject", f"{prefix}{day}.csv", bucket=bucket, size=size)
        elif stage == 3:
            batch_tag = {"name": "tag:Role", "valueSet": {"items": [{"value": "batch"}]}}
            request = {"instancesSet": {}, "filterSet": {"items": [batch_tag]}}
            s.call(t, by("ec2"), "DescribeInstances", request, read_only=True)
        else:
            if s.first(c, "ThrottlingException", 0.1):
                throttled = ("ThrottlingException", "Rate exceeded")
                s.call(t, by("ssm"), "GetParameter", parameter, read_only=True, error=throttled)
                done += 1
                t += rng.randrange(300, 2_000)
                if done >= n:
                    break
            s.call(t, by("ssm"), "GetParameter", parameter, read_only=True)
        done += 1
        t += rng.randrange(150, 3_000)


def ep_export(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit the nightly export: a Lambda function (in a VPC, behind a NAT gateway) that calls
    with the ``export-job`` user's access key instead of its execution role."""
    rng = s.rng
    region = c.primary
    where = c.regions[region]
    ua = UA_EXPORT

    def by(service: str, host: str | None = None) -> Who:
        return Who(
            service,
            c.export_identity,
            account=c.account,
            region=region,
            ip=c.export_ip,
            ua=ua,
            tls=s.tls_host(host) if host else s.tls(service, region),
        )

    day = s.clock.stamp(t)[:10]
    for step in range(n):
        if step % 3 == 0:
            request = {"name": "/export-job/config", "withDecryption": False}
            s.call(t, by("ssm"), "GetParameter", request, read_only=True)
        elif step % 3 == 1:
            s.call(
                t,
                by("dynamodb"),
                "Query",
                None,
                read_only=True,
                resources=[resource_entry("AWS::DynamoDB::Table", where.table_arn, c.account)],
                api_version="2012-08-10",
                data=True,
            )
        else:
            host = f"{c.exports}.s3.{region}.amazonaws.com"
            s3 = by("s3", host)
            size = rng.randrange(20_000, 200_000)
            emit_s3_object(
                s, t, s3, "PutObject", f"orders/{day}.csv.gz", bucket=c.exports, size=size
            )
        t += rng.randrange(200, 4_000)


def ep_intruder(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit someone trying legacy-batch's leaked key from their own machine: who am I, then
    what can this key list, most of it refused; a run of ``n`` calls."""
    account = c.account
    user_arn = c.batch_identity["arn"]
    other = next((name for name in c.regions if name != c.primary), c.primary)
    iam = f"arn:aws:iam::{account}:"
    # (service, CLI command, eventName, request, region, refused (action, resource, code))
    steps: tuple[tuple[str, str, str, Record | None, str, tuple[str, str, str] | None], ...] = (
        ("sts", "sts.get-caller-identity", "GetCallerIdentity", None, GLOBAL_REGION, None),
        ("iam", "iam.list-users", "ListUsers", None, GLOBAL_REGION,
         ("iam:ListUsers", iam + "user/", "AccessDenied")),
        ("iam", "iam.list-roles", "ListRoles", None, GLOBAL_REGION,
         ("iam:ListRoles", iam + "role/", "AccessDenied")),
        ("iam", "iam.list-attached-user-policies", "ListAttachedUserPolicies",
         {"userName": "legacy-batch"}, GLOBAL_REGION,
         ("iam:ListAttachedUserPolicies", user_arn, "AccessDenied")),
        ("iam", "iam.get-account-authorization-details", "GetAccountAuthorizationDetails",
         None, GLOBAL_REGION, ("iam:GetAccountAuthorizationDetails", "*", "AccessDenied")),
        ("secretsmanager", "secretsmanager.list-secrets", "ListSecrets", None, c.primary,
         ("secretsmanager:ListSecrets", "*", "AccessDeniedException")),
        ("lambda", "lambda.list-functions", "ListFunctions20150331", None, c.primary,
         ("lambda:ListFunctions", "*", "AccessDeniedException")),
        ("organizations", "organizations.describe-organization", "DescribeOrganization",
         None, GLOBAL_REGION,
         ("organizations:DescribeOrganization", "*", "AccessDeniedException")),
        ("ec2", "ec2.describe-instances", "DescribeInstances",
         {"instancesSet": {}, "filterSet": {}}, other, None),
    )  # fmt: skip
    for service, command, name, request, where, refused in steps[:n]:
        who = Who(
            service,
            c.batch_identity,
            account=account,
            region=where,
            ip=c.intruder_ip,
            ua=UA_INTRUDER.format(command=command),
            tls=s.tls(service, where),
        )
        error = None
        if refused is not None:
            action, resource, code = refused
            error = (code, denied_message(user_arn, action, resource))
        s.call(t, who, name, request, read_only=True, error=error)
        t += s.rng.randrange(1_500, 9_000)


def ep_key_check(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit someone checking legacy-batch's leaked key (who am I) from their own machine, less
    than a second after the nightly script started with it at ``t``: one key used from two
    places at once. Added after the rest, on the aside stream (``Shared.aside``)."""
    with s.aside():
        ep_intruder(s, c, region, t + s.rng.randrange(200, 700), min(n, 1))
