"""The record itself: the generator's state and the calls that emit CloudTrail records."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from trailmin.synth.cast import Cast, Who
from trailmin.synth.shared import Shared
from trailmin.synth.values import Clock, Record, Timed, epoch_ms, resource_entry

if TYPE_CHECKING:
    from trailmin.synth.app import AppSession
    from trailmin.synth.churn.state import Churn
    from trailmin.synth.vendor import Vendor

# eventVersion by service: the data planes and newer APIs write 1.09, the rest 1.08.
_VERSION_109 = frozenset({"s3", "dynamodb", "sqs", "lambda", "cloudformation", "cloudtrail"})


class Synth(Shared):
    """The generator's state: the random stream, the casts, the records made so far, caches."""

    def __init__(
        self,
        *,
        seed: int,
        start: date,
        days: int,
        events_per_day: int,
        accounts: tuple[str, ...],
        regions: tuple[str, ...],
        raw: bool = False,
    ) -> None:
        super().__init__(seed, raw=raw)
        self.clock = Clock()
        self.start = start
        self.start_ms = epoch_ms(start)
        self.days = days
        self.events_per_day = events_per_day
        self.regions = regions
        self.casts = [Cast(self.rng, i, a, regions) for i, a in enumerate(accounts)]
        self.sessions: dict[tuple[int, str, str, int], AppSession] = {}
        self.console_templates: dict[tuple[int, str, str], tuple[Record, Record]] = {}
        self.trail_templates: dict[tuple[int, str], Record] = {}
        # The third party auditing each cast's account (vendor.py), by cast index.
        self.vendors: dict[int, Vendor] = {}
        self.out: list[Timed] = []
        self.seq = 0
        # The workloads whose resources churn, one per cast, when asked for (trail._new_synth).
        self.churn: list[Churn] | None = None

    def first(self, c: Cast, case: str, probability: float) -> bool:
        """Return whether a rare case happens: always the first time in an account, then by chance.

        Forcing the first time makes even a small corpus show every case.
        """
        if case not in c.shown:
            c.shown.add(case)
            return True
        return self.rng.random() < probability

    def call(
        self,
        t: int,
        who: Who,
        name: str,
        request: Record | None,
        *,
        response: Record | None = None,
        read_only: bool,
        error: tuple[str, str] | None = None,
        extra: Record | None = None,
        request_id: str | None = "",
        resources: list[Record] | None = None,
        event_type: str = "AwsApiCall",
        api_version: str | None = None,
        data: bool = False,
        shared: bool = False,
        details: Record | None = None,
        console: bool = False,
        template: bool = False,
    ) -> Record:
        """Emit one record, its keys in the order CloudTrail writes them, and return it.

        ``error`` is (errorCode, errorMessage); an empty code is left out, as for a failed
        sign-in. ``request_id`` "" makes a UUID, None leaves the key out. A ``template`` is
        returned with empty times and IDs, not emitted: ``fill`` copies it for each event.
        """
        r: Record = {
            "eventVersion": "1.09" if who.service in _VERSION_109 else "1.08",
            "userIdentity": self.frozen(who.identity),
            "eventTime": "" if template else self.clock.stamp(t),
            "eventSource": f"{who.service}.amazonaws.com",
            "eventName": name,
            "awsRegion": who.region,
            "sourceIPAddress": who.ip,
            "userAgent": who.ua,
        }
        if error is not None:
            if error[0]:
                r["errorCode"] = error[0]
            r["errorMessage"] = error[1]
        r["requestParameters"] = request
        r["responseElements"] = response
        if extra is not None:
            r["additionalEventData"] = extra
        if request_id is not None:
            r["requestID"] = request_id or ("" if template else self.uuid())
        r["eventID"] = "" if template else self.uuid()
        r["readOnly"] = read_only
        if resources is not None:
            r["resources"] = resources
        r["eventType"] = event_type
        if api_version is not None:
            r["apiVersion"] = api_version
        r["managementEvent"] = not data
        r["recipientAccountId"] = who.account
        if shared:
            r["sharedEventID"] = "" if template else self.uuid()
        if who.vpce is not None:
            r["vpcEndpointId"] = who.vpce
        if details is not None:
            r["serviceEventDetails"] = details
        r["eventCategory"] = "Data" if data else "Management"
        if who.tls is not None:
            r["tlsDetails"] = self.frozen(who.tls)
        if console:
            r["sessionCredentialFromConsole"] = "true"
        if not template:
            self.out.append((t, self.seq, r))
            self.seq += 1
        return r

    def fill(
        self, t: int, template: Record, request: Record | None, request_id: str = ""
    ) -> Record:
        """Emit a copy of ``template`` at ``t`` with ``request`` and new IDs; return it."""
        r = template.copy()
        r["eventTime"] = self.clock.stamp(t)
        r["requestParameters"] = request
        uuids = self.uuids
        if len(uuids) < 2:
            self.more_uuids()
        r["requestID"] = request_id or uuids.pop()
        r["eventID"] = uuids.pop()
        if "sharedEventID" in r:
            r["sharedEventID"] = self.uuid()
        self.out.append((t, self.seq, r))
        self.seq += 1
        return r


def emit_s3_object(
    s: Synth,
    t: int,
    who: Who,
    name: str,
    key: str,
    *,
    bucket: str,
    size: int,
    kms_arn: str | None = None,
    error: tuple[str, str] | None = None,
) -> None:
    """Emit an S3 object data event (GetObject, PutObject) as CloudTrail logs it."""
    put = name == "PutObject"
    template = who.templates.get(name) if error is None else None
    if template is None:
        response = None
        if put and kms_arn is not None:  # the bucket encrypts with its default KMS key
            response = {
                "x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": kms_arn,
                "x-amz-server-side-encryption-bucket-key-enabled": "true",
            }
        elif put:
            response = {"x-amz-server-side-encryption": "AES256"}
        sse = ("SSE_KMS" if kms_arn else "Default_SSE_S3") if put else "Default_SSE_S3"
        template = s.call(
            t,
            who,
            name,
            None,
            response=None if error else response,
            read_only=not put,
            error=error,
            extra={
                "SignatureVersion": "SigV4",
                "CipherSuite": "TLS_AES_128_GCM_SHA256",
                "bytesTransferredIn": 0,
                "SSEApplied": sse,
                "AuthenticationMethod": "AuthHeader",
                "x-amz-id-2": "",
                "bytesTransferredOut": 0,
            },
            resources=[],
            data=True,
            template=True,
        )
        if error is None:
            who.templates[name] = template
    r = s.fill(
        t,
        template,
        {"bucketName": bucket, "Host": f"{bucket}.s3.{who.region}.amazonaws.com", "key": key},
        s.hex(16).upper(),
    )
    extra = r["additionalEventData"].copy()
    extra["x-amz-id-2"] = s.amz_id_2()
    if put:
        extra["bytesTransferredIn"] = size
    else:
        extra["bytesTransferredOut"] = 243 if error else size
    r["additionalEventData"] = extra
    r["resources"] = [
        {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
        resource_entry("AWS::S3::Bucket", f"arn:aws:s3:::{bucket}", who.account),
    ]
