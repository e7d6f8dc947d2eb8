"""AWS services on their own: CloudTrail's data keys, KMS rotating a key."""

from __future__ import annotations

from trailmin.synth.agents import INTERNAL
from trailmin.synth.cast import Cast, Who
from trailmin.synth.emit import Synth
from trailmin.synth.values import resource_entry, service_identity


def ep_trail_key(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit CloudTrail asking KMS for data keys to encrypt the log files it delivers."""
    template = s.trail_templates.get((c.index, region))
    if template is None:
        aws = Who(
            "kms",
            service_identity("cloudtrail.amazonaws.com"),
            account=c.account,
            region=region,
            ip="cloudtrail.amazonaws.com",
            ua="cloudtrail.amazonaws.com",
        )
        request = {
            "keyId": c.trail_key_arn,
            "encryptionContext": {"aws:cloudtrail:arn": c.trail_arn},
            "keySpec": "AES_256",
        }
        template = s.trail_templates[(c.index, region)] = s.call(
            t,
            aws,
            "GenerateDataKey",
            request,
            read_only=True,
            resources=[resource_entry("AWS::KMS::Key", c.trail_key_arn, c.account)],
            shared=True,
            template=True,
        )
    for _ in range(n):
        s.fill(t, template, template["requestParameters"])
        t += s.rng.randrange(1_000, 30_000)


def ep_rotate_key(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit KMS rotating the app's key on its own: an ``AwsServiceEvent``."""
    where = c.regions[region]
    aws = Who(
        "kms",
        {"accountId": c.account, "invokedBy": INTERNAL},
        account=c.account,
        region=region,
        ip=INTERNAL,
        ua=INTERNAL,
    )
    s.call(
        t,
        aws,
        "RotateKey",
        None,
        read_only=False,
        request_id=None,
        resources=[resource_entry("AWS::KMS::Key", where.kms_arn, c.account)],
        event_type="AwsServiceEvent",
        details={"keyId": where.kms_id},
    )
