"""The generator's random stream and the values it shares between records: IDs cut from pools of
random bytes, TLS details, nested values encoded once."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

from trailmin.synth.values import ENCODE, Record

_BASE32HEX = bytes(b"0123456789ABCDEFGHIJKLMNOPQRSTUV"[b & 31] for b in range(256))
# Byte maps that set a random UUID's version (4) and variant (RFC 4122) bits.
_UUID_VERSION = bytes((b & 0x0F) | 0x40 for b in range(256))
_UUID_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))

# What the random stream is: the generator and the pools of IDs cut from it (see Shared.aside).
_STREAM = ("rng", "hex_pool", "hex_at", "b64_pool", "b64_at", "uuids", "b32_pool", "b32_at")

# Services whose endpoint has no region in its name.
_GLOBAL_HOSTS = {
    "iam": "iam.amazonaws.com",
    "cloudfront": "cloudfront.amazonaws.com",
    "organizations": "organizations.us-east-1.amazonaws.com",
    "ce": "ce.us-east-1.amazonaws.com",
    "health": "health.us-east-1.amazonaws.com",
    "signin": "signin.aws.amazon.com",
    "sts-global": "sts.amazonaws.com",
}


class Shared:
    """One random stream, and values made from it or kept once to be shared between records.

    Everything random in a trail's records comes from ``rng``, in the order the records are
    built: a change in what draws from it, or when, changes every record after it. Episodes
    added to the cast later draw from a stream of their own instead (``aside``): adding them
    adds records and changes none of the others.
    """

    def __init__(self, seed: int, *, raw: bool) -> None:
        self.rng = random.Random(seed)
        # Pools of random hex, base64 and UUIDs, cut into IDs: far cheaper than a call per ID.
        self.hex_pool = ""
        self.hex_at = 0
        self.b64_pool = ""
        self.b64_at = 0
        self.uuids: list[str] = []
        self.b32_pool = ""
        self.b32_at = 0
        self.tls_cache: dict[tuple[str, bool], Record] = {}
        # With ``raw``, shared nested values go into records as pre-encoded JSON (write_trail
        # encodes them once, not once per record); iter_records keeps plain dicts.
        self.raw = raw
        self.raw_cache: dict[int, tuple[Record, msgspec.Raw]] = {}
        # The aside stream and its pools, swapped in by ``aside``; seeded by name from ``seed``.
        self._other: dict[str, Any] = {
            "rng": random.Random(f"trailmin.synth.aside:{seed}"),
            "hex_pool": "",
            "hex_at": 0,
            "b64_pool": "",
            "b64_at": 0,
            "uuids": [],
            "b32_pool": "",
            "b32_at": 0,
        }
        self._aside = False

    @contextmanager
    def aside(self) -> Iterator[None]:
        """Return a context in which every draw is from the aside stream (its own generator
        and ID pools, seeded from the main seed by name).

        What is built inside draws nothing from the main stream, so the records built outside
        are the same whether or not the block runs. Nested blocks stay on the aside stream.
        """
        if self._aside:
            yield
            return
        self._swap()
        self._aside = True
        try:
            yield
        finally:
            self._aside = False
            self._swap()

    def _swap(self) -> None:
        other = self._other
        for name in _STREAM:
            mine = getattr(self, name)
            setattr(self, name, other[name])
            other[name] = mine

    def hex(self, length: int) -> str:
        """Return ``length`` random lowercase hex digits."""
        at = self.hex_at
        end = at + length
        if end > len(self.hex_pool):
            self.hex_pool = self.rng.randbytes(4096).hex()
            at, end = 0, length
        self.hex_at = end
        return self.hex_pool[at:end]

    def uuid(self) -> str:
        """Return a random (version 4) UUID."""
        uuids = self.uuids
        if not uuids:
            self.more_uuids()
        return uuids.pop()

    def more_uuids(self) -> None:
        """Refill the pool of UUIDs, a thousand at a time, with C-level byte work."""
        raw = bytearray(self.rng.randbytes(16 * 1024))
        raw[6::16] = raw[6::16].translate(_UUID_VERSION)
        raw[8::16] = raw[8::16].translate(_UUID_VARIANT)
        h = raw.hex()
        self.uuids.extend(
            [
                f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-"
                + h[i + 20 : i + 32]
                for i in range(0, len(h), 32)
            ]
        )

    def dynamodb_request_id(self) -> str:
        """Return a request ID as DynamoDB writes them: 52 characters of base32hex."""
        at = self.b32_at
        if at + 52 > len(self.b32_pool):
            self.b32_pool = self.rng.randbytes(52 * 64).translate(_BASE32HEX).decode()
            at = 0
        self.b32_at = at + 52
        return self.b32_pool[at : at + 52]

    def frozen(self, value: Record) -> Any:
        """Return ``value``, pre-encoded once when records are made for write_trail."""
        if not self.raw:
            return value
        key = id(value)
        found = self.raw_cache.get(key)
        if found is None or found[0] is not value:
            if len(self.raw_cache) > 50_000:
                self.raw_cache.clear()
            found = (value, msgspec.Raw(ENCODE(value)))
            self.raw_cache[key] = found
        return found[1]

    def amz_id_2(self) -> str:
        """Return a made-up S3 ``x-amz-id-2`` (base64 of 56 bytes)."""
        at = self.b64_at
        if at + 75 > len(self.b64_pool):
            self.b64_pool = base64.b64encode(self.rng.randbytes(57 * 128)).decode()
            at = 0
        self.b64_at = at + 76
        return self.b64_pool[at : at + 75] + "="

    def token(self) -> str:
        """Return a made-up STS session token, as long as real ones are."""
        return "IQoJb3JpZ2luX2Vj" + base64.b64encode(self.rng.randbytes(540)).decode()

    def tls(self, service: str, region: str, *, tls13: bool = True) -> Record:
        """Return the (shared) tlsDetails of a call to ``service``'s endpoint in ``region``."""
        host = _GLOBAL_HOSTS.get(service)
        if host is None:
            prefix = "api.ecr" if service == "ecr" else service
            host = f"{prefix}.{region}.amazonaws.com"
        return self.tls_host(host, tls13=tls13)

    def tls_host(self, host: str, *, tls13: bool = True) -> Record:
        """Return the (shared) tlsDetails of a call to ``host``."""
        key = (host, tls13)
        found = self.tls_cache.get(key)
        if found is None:
            found = {
                "tlsVersion": "TLSv1.3" if tls13 else "TLSv1.2",
                "cipherSuite": "TLS_AES_128_GCM_SHA256" if tls13 else "ECDHE-RSA-AES128-GCM-SHA256",
                "clientProvidedHostHeader": host,
            }
            if len(self.tls_cache) > 10_000:
                self.tls_cache.clear()
            self.tls_cache[key] = found
        return found
