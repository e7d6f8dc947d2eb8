"""A third party's weekly audit: the vendor's account assumes ``role/vendor-audit`` with an
external ID and session tags, then reads how the account is set up.

The vendor's account (``VENDOR_ACCOUNT``) has no logs here: the role's account sees its caller
only as ``type: AWSAccount``, the vendor's account and the caller's unique ID (CloudTrail user
guide, "CloudTrail userIdentity element"), and logs the call with a ``sharedEventID``, as both
accounts get it. Added after the rest of the cast, it draws from the aside stream
(``Shared.aside``), so that the other records stay as they were.
"""

from __future__ import annotations

from trailmin.synth.agents import UA_VENDOR
from trailmin.synth.cast import Caller, Cast, Role, Who
from trailmin.synth.emit import Synth
from trailmin.synth.values import (
    GLOBAL_REGION,
    MS_HOUR,
    Record,
    expiration,
    public_ip,
    random_id,
    resource_entry,
)

VENDOR_ACCOUNT = "999988887777"
# The external ID the vendor was given; examples/sample-auth.json's trust policy requires it.
EXTERNAL_ID = "acme-cloudaudit-7Qd2vX"
SESSION_TAGS = ({"key": "vendor", "value": "cloudaudit"}, {"key": "purpose", "value": "audit"})
SESSION_SECONDS = 3600


class Vendor:
    """The vendor as one account sees it: the role it assumes there, its scanner's unique ID
    and address (the same every week)."""

    __slots__ = ("caller", "ip", "role")

    def __init__(self, s: Synth, c: Cast) -> None:
        rng = s.rng
        self.role = Role(rng, c.account, "vendor-audit")
        # The scanner runs as a role session in the vendor's account: AROA…:<its session>.
        self.caller: Record = {
            "type": "AWSAccount",
            "principalId": f"AROA{random_id(rng, 17)}:cloudaudit-scanner",
            "accountId": VENDOR_ACCOUNT,
        }
        self.ip = public_ip(rng, (3, 35, 52))


# What the audit reads: (service, eventName, where: "global", "primary" or "each" region,
# request parameters).
_READS: tuple[tuple[str, str, str, Record | None], ...] = (
    ("iam", "GetAccountSummary", "global", None),
    ("iam", "GetAccountPasswordPolicy", "global", None),
    ("s3", "ListBuckets", "global", {"Host": f"s3.{GLOBAL_REGION}.amazonaws.com"}),
    ("cloudtrail", "DescribeTrails", "primary", {"includeShadowTrails": True}),
    ("config", "DescribeConfigRules", "each", None),
)


def ep_vendor_audit(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit the vendor's weekly audit, scheduled at ``t`` and starting within a quarter hour
    after: the AssumeRole in ``region``, then read-only calls; ``n`` calls at most."""
    if c.account == VENDOR_ACCOUNT:
        return
    with s.aside():
        vendor = s.vendors.get(c.index)
        if vendor is None:
            vendor = s.vendors[c.index] = Vendor(s, c)
        t += s.rng.randrange(MS_HOUR // 4)
        session = "cloudaudit-" + s.clock.stamp(t)[:10].replace("-", "")
        identity = vendor.role.session(s, session, t)
        _assume(s, c, vendor, region, t, session, identity)
        places = {"global": (GLOBAL_REGION,), "primary": (c.primary,), "each": tuple(c.regions)}
        calls = [
            (service, name, where, request)
            for service, name, place, request in _READS
            for where in places[place]
        ]
        callers: dict[str, Caller] = {}
        for service, name, where, request in calls[: n - 1]:
            t += s.rng.randrange(300, 3_000)
            caller = callers.get(where)
            if caller is None:
                caller = callers[where] = Caller(
                    identity, account=c.account, region=where, ip=vendor.ip, ua=UA_VENDOR
                )
            if service == "s3":
                _list_buckets(s, t, caller.who(s, "s3", f"s3.{where}.amazonaws.com"), request)
            else:
                s.call(t, caller.who(s, service), name, request, read_only=True)


def _assume(
    s: Synth, c: Cast, vendor: Vendor, region: str, t: int, session: str, identity: Record
) -> None:
    """Emit the vendor's AssumeRole, as the role's account logs it."""
    role = vendor.role
    who = Who(
        "sts",
        vendor.caller,
        account=c.account,
        region=region,
        ip=vendor.ip,
        ua=UA_VENDOR.format(service="sts"),
        tls=s.tls("sts", region),
    )
    s.call(
        t,
        who,
        "AssumeRole",
        {
            "roleArn": role.arn,
            "roleSessionName": session,
            "externalId": EXTERNAL_ID,
            "tags": list(SESSION_TAGS),
            "durationSeconds": SESSION_SECONDS,
        },
        response={
            "credentials": {
                "accessKeyId": identity["accessKeyId"],
                "sessionToken": s.token(),
                "expiration": expiration(t + SESSION_SECONDS * 1000),
            },
            "assumedRoleUser": {"assumedRoleId": identity["principalId"], "arn": identity["arn"]},
            "packedPolicySize": 3,  # the session tags' share of the packed size, in percent
        },
        read_only=True,
        resources=[resource_entry("AWS::IAM::Role", role.arn, c.account)],
        shared=True,
    )


def _list_buckets(s: Synth, t: int, who: Who, request: Record | None) -> None:
    """Emit S3's ListBuckets (a management event, with S3's additional data)."""
    s.call(
        t,
        who,
        "ListBuckets",
        request,
        read_only=True,
        extra={
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": s.amz_id_2(),
            "bytesTransferredOut": 1_800 + s.rng.randrange(600),
        },
        request_id=s.hex(16).upper(),
    )
