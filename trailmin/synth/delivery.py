"""The delivery tree: log files and digest files laid out in S3 as CloudTrail delivers them."""

from __future__ import annotations

import gc
import gzip
import hashlib
import os
import random
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from trailmin.synth.values import (
    ALNUM,
    COMPRESSLEVEL,
    DELIVERY_MS,
    ENCODE,
    GLOBAL_REGION,
    MS_HOUR,
    TRAIL_NAME,
    Clock,
    Record,
    Timed,
)


@dataclass(slots=True)
class _Delivered:
    """A log file written: what a digest needs to list it."""

    delivered: int
    key: str
    sha256: str
    oldest: str
    newest: str


class _Stream:
    """One account and region: the log file being filled, and those already delivered."""

    __slots__ = ("delivered", "last_t", "phase", "prefix", "records", "window_end")

    def __init__(self, prefix: str, phase: int) -> None:
        self.prefix = prefix
        self.phase = phase
        self.records: list[Record] = []
        self.last_t = 0
        self.window_end = 0
        self.delivered: list[_Delivered] = []


class LogFiles:
    """A trail's log files under ``out_dir``, as CloudTrail delivers them to S3, and their digests.

    Per account and region, a file about every five minutes with at most ``events_per_file``
    records, named after its delivery time; ``rng`` draws the names and the delivery delays.
    """

    def __init__(
        self,
        out_dir: Path,
        rng: random.Random,
        *,
        root: str,
        accounts: tuple[str, ...],
        regions: tuple[str, ...],
        events_per_file: int,
    ) -> None:
        self.out_dir = out_dir
        self.rng = rng
        self.events_per_file = events_per_file
        self.streams: dict[tuple[str, str], _Stream] = {}
        for account in accounts:
            for region in dict.fromkeys((*regions, GLOBAL_REGION)):
                self.streams[(account, region)] = _Stream(
                    f"{root}{account}", rng.randrange(DELIVERY_MS)
                )
        self.made: set[Path] = set()
        self.names: dict[int, tuple[str, str]] = {}
        # What was written: files, events, their bytes gzipped and not.
        self.files = 0
        self.events = 0
        self.bytes = 0
        self.uncompressed_bytes = 0
        self.in_flight: deque[tuple[Future[tuple[int, str]], _Delivered]] = deque()

    def write(self, timed: Iterable[Timed]) -> None:
        """Write ``timed`` records, in time order, to log files, the last ones included."""
        # zlib and hashlib release the GIL: files are compressed, hashed and written by threads
        # while this one makes records. The bytes do not depend on which thread did what.
        pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
        streams = self.streams
        events_per_file = self.events_per_file
        # Records are short-lived and hold no cycles: the cyclic GC would only slow this loop down.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for t, _, record in timed:
                account, region = record["recipientAccountId"], record["awsRegion"]
                stream = streams[(account, region)]
                if stream.records and (
                    t >= stream.window_end or len(stream.records) >= events_per_file
                ):
                    self.deliver(pool, account, region, stream)
                if not stream.records:
                    phase = stream.phase
                    stream.window_end = phase + ((t - phase) // DELIVERY_MS + 1) * DELIVERY_MS
                stream.records.append(record)
                stream.last_t = t
            for (account, region), stream in streams.items():
                if stream.records:
                    self.deliver(pool, account, region, stream)
            self.settle(0)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if collecting:
                gc.enable()

    def settle(self, limit: int) -> None:
        """Wait for the files being written until at most ``limit`` are."""
        in_flight = self.in_flight
        while len(in_flight) > limit:
            future, done = in_flight.popleft()
            size, done.sha256 = future.result()
            self.bytes += size

    def deliver(self, pool: ThreadPoolExecutor, account: str, region: str, stream: _Stream) -> None:
        """Write the records ``stream`` holds to a log file (by a thread of ``pool``)."""
        rng = self.rng
        records = stream.records
        delivered = stream.last_t + rng.randrange(15_000, 110_000)
        minute = delivered // 60_000
        folder_stamp = self.names.get(minute)
        if folder_stamp is None:
            moment = datetime.fromtimestamp(minute * 60, UTC)
            folder_stamp = (moment.strftime("%Y/%m/%d"), moment.strftime("%Y%m%dT%H%MZ"))
            self.names[minute] = folder_stamp
        folder, stamp = folder_stamp
        suffix = "".join(rng.choices(ALNUM, k=16))
        key = (
            f"{stream.prefix}/CloudTrail/{region}/{folder}/"
            f"{account}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"
        )
        body = ENCODE({"Records": records})
        path = self.out_dir / key
        if path.parent not in self.made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.made.add(path.parent)
        entry = _Delivered(delivered, key, "", records[0]["eventTime"], records[-1]["eventTime"])
        stream.delivered.append(entry)
        self.in_flight.append((pool.submit(_pack, path, body), entry))
        self.settle(8)
        self.files += 1
        self.events += len(records)
        self.uncompressed_bytes += len(body)
        stream.records = []

    def write_digests(
        self, *, regions: tuple[str, ...], bucket: str, start_ms: int, end_ms: int
    ) -> int:
        """Write each account and region's chain of hourly digests, up to ``end_ms`` at least
        (regions the trail does not cover, only where files went); return how many."""
        digests = 0
        for (account, region), stream in self.streams.items():
            if region not in regions and not stream.delivered:
                continue
            last = max([end_ms, *(d.delivered for d in stream.delivered)])
            digests += _write_digests(
                self.out_dir,
                self.rng,
                stream,
                account=account,
                region=region,
                home=regions[0],
                bucket=bucket,
                start_ms=start_ms,
                end_ms=last,
            )
        return digests


def _pack(path: Path, body: bytes) -> tuple[int, str]:
    """Write ``body`` gzipped to ``path``; return the file's size and the body's SHA-256."""
    packed = gzip.compress(body, compresslevel=COMPRESSLEVEL, mtime=0)
    path.write_bytes(packed)
    return len(packed), hashlib.sha256(body).hexdigest()


def _write_digests(
    out_dir: Path,
    rng: random.Random,
    stream: _Stream,
    *,
    account: str,
    region: str,
    home: str,
    bucket: str,
    start_ms: int,
    end_ms: int,
) -> int:
    """Write one account and region's chain of hourly digests; return how many were written."""
    delivered = sorted(stream.delivered, key=lambda d: d.delivered)
    fingerprint = rng.randbytes(16).hex()
    clock = Clock()
    previous: tuple[str, str, str] | None = None  # key, SHA-256 of its JSON, its signature
    written = 0
    i = 0
    digest_end = start_ms + rng.randrange(60_000, 300_000)
    while True:
        files = []
        while i < len(delivered) and delivered[i].delivered < digest_end:
            files.append(delivered[i])
            i += 1
        moment = datetime.fromtimestamp(digest_end // 1000, UTC)
        key = (
            f"{stream.prefix}/CloudTrail-Digest/{region}/{moment:%Y/%m/%d}/{account}_CloudTrail-"
            f"Digest_{region}_{TRAIL_NAME}_{home}_{moment:%Y%m%dT%H%M%SZ}.json.gz"
        )
        content: Record = {
            "awsAccountId": account,
            "digestStartTime": clock.stamp(digest_end - MS_HOUR),
            "digestEndTime": clock.stamp(digest_end),
            "digestS3Bucket": bucket,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": fingerprint,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": max(f.newest for f in files) if files else None,
            "oldestEventTime": min(f.oldest for f in files) if files else None,
            "previousDigestS3Bucket": bucket if previous else None,
            "previousDigestS3Object": previous[0] if previous else None,
            "previousDigestHashValue": previous[1] if previous else None,
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": previous[2] if previous else None,
            "logFiles": [
                {
                    "s3Bucket": bucket,
                    "s3Object": f.key,
                    "hashValue": f.sha256,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": f.newest,
                    "oldestEventTime": f.oldest,
                }
                for f in files
            ],
        }
        body = ENCODE(content)
        path = out_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(body, compresslevel=COMPRESSLEVEL, mtime=0))
        written += 1
        # A digest's own RSA signature lives in its S3 object metadata; the next digest quotes it.
        previous = (key, hashlib.sha256(body).hexdigest(), rng.randbytes(256).hex())
        if digest_end >= end_ms and i >= len(delivered):
            return written
        digest_end += MS_HOUR
