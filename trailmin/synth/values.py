"""Small values of the synthetic trail: constants, times as CloudTrail writes them, random IDs,
identities, resources and messages; functions of their arguments (and of the ``random.Random``
given) only."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import msgspec

Record = dict[str, Any]
Timed = tuple[int, int, Record]  # (epoch ms, order of creation, record)

# A multi-region trail records global services (IAM, the STS global endpoint, sign-in, CloudFront,
# Organizations) in us-east-1, whatever region the caller works in.
GLOBAL_REGION = "us-east-1"
TRAIL_NAME = "acme-trail"
# CloudTrail's own deflate level is not documented. Level 1 makes files about 7x smaller than
# their JSON (level 6: about 9x) in half the time, and compression is write_trail's largest cost.
COMPRESSLEVEL = 1
DELIVERY_MS = 5 * 60 * 1000

MS_HOUR = 3_600_000
MS_DAY = 24 * MS_HOUR
_SECONDS = tuple(f"{s:02d}Z" for s in range(60))
ALNUM = string.ascii_letters + string.digits
_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}
ENCODE = msgspec.json.Encoder().encode

# A step of an episode: one call (or a few) at the time it is given.
Step = Callable[[int], None]


class Clock:
    """Formats epoch milliseconds as CloudTrail does, caching one prefix per minute."""

    __slots__ = ("_last", "_last_second", "_minutes")

    def __init__(self) -> None:
        self._minutes: dict[int, str] = {}
        self._last_second = -1
        self._last = ""

    def stamp(self, t: int) -> str:
        seconds = t // 1000
        if seconds == self._last_second:
            return self._last
        minute, second = divmod(seconds, 60)
        prefix = self._minutes.get(minute)
        if prefix is None:
            if len(self._minutes) > 4096:
                self._minutes.clear()
            prefix = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
            self._minutes[minute] = prefix
        self._last_second = seconds
        self._last = prefix + _SECONDS[second]
        return self._last


def expiration(t: int) -> str:
    """Return a credential expiry as STS logs it: ``Oct 5, 2026, 6:17:23 PM``."""
    moment = datetime.fromtimestamp(t // 1000, UTC)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{moment:%b} {moment.day}, {moment.year}, {hour}:{moment:%M:%S} {half}"


def epoch_ms(day: date) -> int:
    """Return the epoch milliseconds of ``day``'s midnight (UTC)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


def random_id(rng: random.Random, length: int) -> str:
    """Return ``length`` random characters of the alphabet of AWS unique IDs (AROA…, ASIA…)."""
    return "".join(rng.choices(_KEY_CHARS, k=length))


def random_uuid(rng: random.Random) -> str:
    """Return a random (version 4) UUID drawn from ``rng``."""
    h = rng.randbytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def public_ip(rng: random.Random, first: tuple[int, ...]) -> str:
    """Return a random public IPv4 address whose first byte is one of ``first``."""
    return f"{rng.choice(first)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def issuer(principal_id: str, arn: str, account: str, name: str) -> Record:
    """Return the ``sessionIssuer`` of a role's sessions."""
    return {
        "type": "Role",
        "principalId": principal_id,
        "arn": arn,
        "accountId": account,
        "userName": name,
    }


def key_user(rng: random.Random, account: str, name: str) -> Record:
    """Return the identity of an IAM user calling with its long-term (AKIA) access key."""
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + random_id(rng, 17),
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": "AKIA" + random_id(rng, 16),
        "userName": name,
    }


def resource_entry(kind: str, arn: str, account: str) -> Record:
    """Return an entry of a record's ``resources``."""
    return {"accountId": account, "type": kind, "ARN": arn}


def denied_message(caller: str, action: str, resource: str) -> str:
    """Return the message of an ``AccessDenied`` error, as IAM words it."""
    return (
        f"User: {caller} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


def service_identity(service: str) -> Record:
    """Return the identity of an AWS service calling on its own behalf (``invokedBy``)."""
    return {"type": "AWSService", "invokedBy": service}


def response_date(t: int) -> str:
    """Return a time as Step Functions and ECS write dates in responses: ``Oct 5, 2026, …``."""
    return expiration(t)
