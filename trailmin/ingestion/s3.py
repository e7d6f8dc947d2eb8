"""S3 as a source of CloudTrail log objects: URIs, clients, layout-aware listing and fetching.

CloudTrail writes each log file to

    [<custom prefix>/]AWSLogs/[o-<org id>/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<file>

``list_cloudtrail_objects`` walks that tree down from wherever the given prefix stops. It lists a
level (``Delimiter="/"``) only where its children are unknown, builds the prefixes it is told
(accounts, regions, one per day of a window), and never lists beyond the selection. Digests,
Insights and foreign objects it meets are recorded in ``Listing.ignored``, never returned.
``iter_s3_bodies`` then reads the objects with a bounded number of requests in flight.
"""

from __future__ import annotations

import http.client
import random
import re
import time
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    IncompleteReadError,
    ProfileNotFound,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import ProtocolError

from trailmin.errors import (
    SourceError,
    SourceReadError,
    TrailminError,
    UsageError,
    credentials_error,
)
from trailmin.ingestion.sources import (
    DELIVERY_SLACK,
    Listing,
    SourceObject,
    is_digest,
    stamp_of_name,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_T = TypeVar("_T")
_R = TypeVar("_R")

# A record reaches S3 in a file delivered up to about 15 minutes after the call it logs, so a file
# delivered just after the window's end can still hold calls made before it. An hour leaves room.

LAYOUT = "[<prefix>/]AWSLogs/[o-<org>/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/"
LOG_SUFFIXES = (".json.gz", ".json")

_URI = re.compile(r"^s3://(?P<bucket>[^/]*)(?:/(?P<prefix>.*))?$", re.DOTALL)
# Lower-case names are the rule since 2018; older us-east-1 buckets may hold capitals and '_'.
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$")
_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z0-9]+)+$")
_YEAR = re.compile(r"^\d{4}$")
_MONTH = re.compile(r"^(?:0[1-9]|1[0-2])$")
_DAY = re.compile(r"^(?:0[1-9]|[12]\d|3[01])$")

_DENIED = {"AccessDenied", "AllAccessDisabled", "403"}
# botocore retries a GetObject request, not the reading of its body: a body that breaks off is
# fetched again here, this many times in all, after 0.25, 0.5, 1 s (halved at random at most).
READ_ATTEMPTS = 4
_READ_BACKOFF_SECONDS = 0.25
_BROKEN_READ = (
    IncompleteReadError,
    ResponseStreamingError,
    ReadTimeoutError,
    ProtocolError,
    ConnectionError,
    http.client.IncompleteRead,
)
# The profile each client of make_client was made with, for messages about its credentials.
_PROFILES: weakref.WeakKeyDictionary[S3Client, str | None] = weakref.WeakKeyDictionary()


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Return the bucket and the key prefix (possibly empty) that an ``s3://`` URI names."""
    match = _URI.match(uri)
    if match is None:
        raise UsageError(f"{uri!r} is not an S3 URI; write it as s3://<bucket>[/<prefix>]")
    bucket, prefix = match["bucket"], match["prefix"] or ""
    if not bucket:
        raise UsageError(f"{uri!r} names no bucket; write it as s3://<bucket>[/<prefix>]")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise UsageError(
            f"{bucket!r} in {uri!r} is not a valid bucket name; use 3-255 letters, digits, "
            "'.', '-' or '_', as in s3://my-trail-bucket/AWSLogs/"
        )
    return bucket, prefix


def make_client(
    *,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    max_pool_connections: int = 64,
) -> S3Client:
    """Return an S3 client using boto3's credential chain, pooled and retrying for many threads.

    With no ``endpoint_url``, boto3 still honours ``AWS_ENDPOINT_URL_S3`` and ``AWS_ENDPOINT_URL``.
    """
    config = Config(
        max_pool_connections=max_pool_connections,
        # Standard mode backs off on throttling (503 SlowDown) and transient errors; adaptive mode
        # adds a client-side rate limiter that is documented as experimental and would throttle
        # every thread sharing this client after a single slow-down.
        retries={"mode": "standard", "max_attempts": 10},
        user_agent_extra="trailmin",
    )
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
        client = session.client("s3", endpoint_url=endpoint_url, config=config)
    except ProfileNotFound as exc:
        raise UsageError(
            f"AWS profile {exc.kwargs.get('profile')!r} is not configured; "
            "check --profile, AWS_PROFILE and ~/.aws/config"
        ) from exc
    except BotoCoreError as exc:
        problem = credentials_error(exc, doing="setting up the S3 client", profile=profile)
        if problem is None:
            raise
        raise problem from exc
    _PROFILES[client] = profile
    return client


def list_cloudtrail_objects(
    client: S3Client,
    bucket: str,
    prefix: str,
    *,
    accounts: Collection[str] | None = None,
    regions: Collection[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    max_workers: int = 32,
) -> Listing:
    """Return the CloudTrail log objects under ``s3://bucket/prefix`` in the selection, by key.

    ``prefix`` may stop at any level of the layout, with or without a trailing ``/``; a prefix
    without an ``AWSLogs`` folder is taken as the trail's custom prefix (empty for the bucket root).
    ``accounts`` and ``regions`` (empty means all) and the window keep only the prefixes that can
    hold matching files. Naive datetimes are taken as UTC. A file is in the window when its
    delivery time is in ``[start, end + 1 hour)``; one without a time in its name is kept when its
    day folder is in the window. Nothing matching gives an empty listing; a missing or unreadable
    bucket raises ``SourceError``, credentials AWS refuses or cannot find ``CredentialsError``.
    """
    scope = _parse_layout(bucket, prefix)
    window = _Window.of(start, end)
    account_filter = _checked(accounts, _ACCOUNT, "a 12-digit account id", "--account")
    region_filter = _checked(regions, _REGION, "an AWS region such as eu-west-1", "--region")
    if max_workers < 1:
        raise UsageError(f"max_workers must be at least 1, not {max_workers}")

    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="trailmin-s3-list") as pool:
        walk = _Walk(client=client, bucket=bucket, pool=pool)
        account_prefixes = walk.accounts(scope, account_filter)
        cloudtrail_prefixes = walk.cloudtrail_folders(scope, account_prefixes)
        region_prefixes = walk.regions(scope, cloudtrail_prefixes, region_filter)
        leaves = walk.leaves(scope, region_prefixes, window)
        walk.read_leaves(leaves, window)

    walk.listing.objects.sort(key=lambda obj: obj.uri)
    walk.listing.ignored.sort()
    return walk.listing


def iter_s3_bodies(
    client: S3Client,
    objects: Sequence[SourceObject],
    *,
    max_in_flight: int = 32,
) -> Iterator[tuple[SourceObject, bytes | Exception]]:
    """Return an iterator of (object, its bytes or the error that stopped reading it) pairs.

    Pairs come as the bodies arrive, in no set order, one for every object. At most
    ``max_in_flight`` GetObject requests run at once, and at most twice that many bodies are held,
    whatever the consumer's pace. An object whose ETag changed since it was listed comes with a
    ``SourceError`` saying so; a body that kept breaking off while read (``READ_ATTEMPTS``
    attempts) with a ``SourceReadError``; refused credentials with a ``CredentialsError``; other
    errors come after botocore's retries.
    """
    if max_in_flight < 1:
        raise UsageError(f"max_in_flight must be at least 1, not {max_in_flight}")
    return _iter_bodies(client, objects, max_in_flight)


def _iter_bodies(
    client: S3Client, objects: Sequence[SourceObject], max_in_flight: int
) -> Iterator[tuple[SourceObject, bytes | Exception]]:
    queue = iter(objects)
    pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="trailmin-s3-get")
    pending: set[Future[tuple[SourceObject, bytes | Exception]]] = {
        pool.submit(_fetch, client, obj) for obj in islice(queue, max_in_flight)
    }
    try:
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            # Refill the window before handing anything over: the consumer may decode for a
            # while, and the threads should be fetching meanwhile rather than waiting for it.
            pending.update(pool.submit(_fetch, client, obj) for obj in islice(queue, len(done)))
            for future in done:
                yield future.result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _fetch(client: S3Client, obj: SourceObject) -> tuple[SourceObject, bytes | Exception]:
    try:
        bucket, key = parse_s3_uri(obj.uri)
        for attempt in range(1, READ_ATTEMPTS + 1):
            if obj.etag is None:
                response = client.get_object(Bucket=bucket, Key=key)
            else:  # a retry reads the copy that was listed, or learns that it changed
                response = client.get_object(Bucket=bucket, Key=key, IfMatch=f'"{obj.etag}"')
            try:
                with response["Body"] as body:
                    return obj, body.read()
            except _BROKEN_READ as exc:
                if attempt == READ_ATTEMPTS:
                    return obj, _broken_read_error(obj, exc, attempt)
                backoff = _READ_BACKOFF_SECONDS * 2 ** (attempt - 1)
                time.sleep(random.uniform(backoff / 2, backoff))
        raise AssertionError("unreachable: the last attempt returns")  # pragma: no cover
    except (ClientError, BotoCoreError) as exc:
        return obj, _read_error(obj, exc, _PROFILES.get(client))
    except Exception as exc:  # every failure is reported with its object, the run goes on
        return obj, exc


def _broken_read_error(obj: SourceObject, exc: BaseException, attempts: int) -> SourceReadError:
    if _caused_by(exc, ConnectionResetError):
        what = "the connection was reset"
    elif _caused_by(exc, TimeoutError) or isinstance(exc, ReadTimeoutError):
        what = "the connection timed out"
    elif isinstance(exc, IncompleteReadError | http.client.IncompleteRead):
        what = "the connection closed before the whole body came"
    else:
        what = f"the download broke off ({type(exc).__name__})"
    error = SourceReadError(
        f"{what} while reading {obj.uri} ({attempts} attempts); run ingest again to retry"
    )
    error.__cause__ = exc
    return error


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Return whether ``kind`` is ``exc``, its cause or context, or an argument of one of them
    (urllib3 carries the socket's error as an argument of its ProtocolError)."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, kind):
            return True
        todo.extend([item.__cause__, item.__context__, *item.args, getattr(item, "error", None)])
    return False


def _read_error(
    obj: SourceObject, exc: ClientError | BotoCoreError, profile: str | None
) -> TrailminError:
    problem = credentials_error(exc, doing=f"reading {obj.uri}", profile=profile)
    if problem is not None:
        problem.__cause__ = exc
        return problem
    if isinstance(exc, BotoCoreError):
        error: TrailminError = SourceReadError(
            f"Reading {obj.uri} failed after botocore's retries: {exc}; check the network and "
            "the endpoint (--endpoint-url, AWS_ENDPOINT_URL_S3), then run ingest again"
        )
        error.__cause__ = exc
        return error
    code = _code(exc)
    if code in {"PreconditionFailed", "412"}:
        message = (
            f"{obj.uri} changed since it was listed (its ETag is no longer {obj.etag}); "
            "list the source again to read the new copy"
        )
    elif code in {"NoSuchKey", "404"}:
        message = f"{obj.uri} was deleted since it was listed; list the source again"
    elif code in _DENIED:
        bucket, key = parse_s3_uri(obj.uri)
        message = (
            f"Access denied reading {obj.uri}; check that the credentials allow s3:GetObject on "
            f"arn:aws:s3:::{bucket}/{key} (and kms:Decrypt on the trail's key if it is SSE-KMS)"
        )
    else:
        message = f"Reading {obj.uri} failed: {code}: {_text(exc)}; run ingest again to retry"
    error = SourceError(message)
    error.__cause__ = exc
    return error


# Listing ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scope:
    """Where a prefix stops in the layout: each level it fixes, from the AWSLogs folder down."""

    logs: str  # "<custom prefix>/AWSLogs/", or "AWSLogs/"
    org: str | None = None
    account: str | None = None
    cloudtrail: bool = False
    region: str | None = None
    dates: tuple[str, ...] = ()  # yyyy, mm, dd: as many as the prefix gives
    below_day: str | None = None  # the whole prefix, when it reaches into a day folder's names


@dataclass(frozen=True, slots=True)
class _Window:
    """The delivery times and day folders that can hold records of the requested window."""

    start: datetime | None = None
    upper: datetime | None = None  # end + DELIVERY_SLACK, excluded

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None) -> _Window:
        start, end = _utc(start), _utc(end)
        if start is not None and end is not None and start > end:
            raise UsageError(
                f"The window starts ({start:%Y-%m-%dT%H:%MZ}) after it ends "
                f"({end:%Y-%m-%dT%H:%MZ}); check start and end"
            )
        return cls(start=start, upper=None if end is None else end + DELIVERY_SLACK)

    @property
    def first_day(self) -> date:
        return date.min if self.start is None else self.start.date()

    @property
    def last_day(self) -> date:
        return date.max if self.upper is None else (self.upper - timedelta(microseconds=1)).date()

    @property
    def bounded(self) -> bool:
        return self.start is not None and self.upper is not None

    @property
    def unbounded(self) -> bool:
        return self.start is None and self.upper is None

    def overlaps(self, first: date, last: date) -> bool:
        return first <= self.last_day and self.first_day <= last

    def keeps(self, day: date, name: str) -> bool:
        stamp = stamp_of_name(name)
        if stamp is None:
            return self.overlaps(day, day)
        return (self.start is None or self.start <= stamp) and (
            self.upper is None or stamp < self.upper
        )


@dataclass(frozen=True, slots=True)
class _Level:
    """What one ListObjectsV2 walk of a prefix returned."""

    objects: list[tuple[str, int, str]] = field(default_factory=list)  # key, size, etag
    folders: list[str] = field(default_factory=list)  # CommonPrefixes


@dataclass(frozen=True, slots=True)
class _Leaf:
    """A prefix to list in full, and the region folder its keys are relative to."""

    region_prefix: str
    prefix: str


@dataclass(slots=True)
class _Walk:
    """One listing under way: where it lists, the pool its requests share, what it has found."""

    client: S3Client
    bucket: str
    pool: ThreadPoolExecutor
    listing: Listing = field(default_factory=Listing)

    def accounts(self, scope: _Scope, wanted: frozenset[str] | None) -> list[str]:
        """Return the account folders in scope, listing the levels whose children are unknown."""
        base = scope.logs + (f"{scope.org}/" if scope.org else "")
        if scope.account is not None:
            return [f"{base}{scope.account}/"] if _allows(wanted, scope.account) else []
        orgs = [base] if scope.org else []
        found: list[str] = []
        if not scope.org:
            for name in self._children(scope.logs, self._list_all([scope.logs], "/")[0]):
                if _ACCOUNT.match(name):
                    if _allows(wanted, name):
                        found.append(f"{scope.logs}{name}/")
                elif _ORG.match(name):
                    orgs.append(f"{scope.logs}{name}/")
                else:
                    self._ignore(f"{scope.logs}{name}/")
        if wanted is not None:
            # Accounts named: build their folders under each organization rather than list it.
            return found + [f"{org}{account}/" for org in orgs for account in sorted(wanted)]
        for org, level in zip(orgs, self._list_all(orgs, "/"), strict=True):
            for name in self._children(org, level):
                if _ACCOUNT.match(name):
                    found.append(f"{org}{name}/")
                else:
                    self._ignore(f"{org}{name}/")
        return found

    def cloudtrail_folders(self, scope: _Scope, account_prefixes: list[str]) -> list[str]:
        """Return the ``CloudTrail/`` folders that exist under the account folders."""
        if scope.cloudtrail:
            return [f"{prefix}CloudTrail/" for prefix in account_prefixes]
        # One delimited listing per account: it shows the CloudTrail folder exists (an account
        # named but absent costs one request, not one per day and region) and which sibling
        # folders, CloudTrail-Digest and CloudTrail-Insight among them, are passed over.
        found: list[str] = []
        levels = self._list_all(account_prefixes, "/")
        for prefix, level in zip(account_prefixes, levels, strict=True):
            for name in self._children(prefix, level):
                if name == "CloudTrail":
                    found.append(f"{prefix}CloudTrail/")
                else:
                    self._ignore(f"{prefix}{name}/")
        return found

    def regions(
        self, scope: _Scope, cloudtrail_prefixes: list[str], wanted: frozenset[str] | None
    ) -> list[str]:
        """Return the region folders in scope under the CloudTrail folders."""
        if scope.region is not None:
            if not _allows(wanted, scope.region):
                return []
            return [f"{prefix}{scope.region}/" for prefix in cloudtrail_prefixes]
        if wanted is not None:
            return [
                f"{prefix}{region}/" for prefix in cloudtrail_prefixes for region in sorted(wanted)
            ]
        found: list[str] = []
        levels = self._list_all(cloudtrail_prefixes, "/")
        for prefix, level in zip(cloudtrail_prefixes, levels, strict=True):
            for name in self._children(prefix, level):
                if _REGION.match(name):
                    found.append(f"{prefix}{name}/")
                else:
                    self._ignore(f"{prefix}{name}/")
        return found

    def leaves(self, scope: _Scope, region_prefixes: list[str], window: _Window) -> list[_Leaf]:
        """Return the prefixes to list in full: a region, a date folder, or one per window day."""
        first, last = _date_range(scope.dates)
        if not window.overlaps(first, last):
            return []
        if scope.below_day is not None:
            return [_Leaf(region, scope.below_day) for region in region_prefixes]
        dated = "".join(f"{part}/" for part in scope.dates)
        if window.unbounded:
            return [_Leaf(region, region + dated) for region in region_prefixes]
        if window.bounded:
            days = _days(max(first, window.first_day), min(last, window.last_day))
            return [
                _Leaf(region, f"{region}{day:%Y/%m/%d}/")
                for region in region_prefixes
                for day in days
            ]
        # Only one bound: the days on the open side are unknown, so walk the date folders down,
        # keeping those that overlap the window.
        nodes = [(region, dated, scope.dates) for region in region_prefixes]
        for depth, pattern in enumerate((_YEAR, _MONTH, _DAY)):
            if depth < len(scope.dates):
                continue
            levels = self._list_all([region + path for region, path, _ in nodes], "/")
            deeper: list[tuple[str, str, tuple[str, ...]]] = []
            for (region, path, parts), level in zip(nodes, levels, strict=True):
                for name in self._children(region + path, level):
                    child = (*parts, name)
                    if pattern.match(name) and _valid_date(child):
                        if window.overlaps(*_date_range(child)):
                            deeper.append((region, f"{path}{name}/", child))
                    else:
                        self._ignore(f"{region}{path}{name}/")
            nodes = deeper
        return [_Leaf(region, region + path) for region, path, _ in nodes]

    def read_leaves(self, leaves: list[_Leaf], window: _Window) -> None:
        """Keep the log files under each leaf that fall in the window; record foreign objects."""
        levels = self._list_all([leaf.prefix for leaf in leaves], None)
        for leaf, level in zip(leaves, levels, strict=True):
            for key, size, etag in level.objects:
                day = _day_of(key[len(leaf.region_prefix) :])
                name = key.rsplit("/", 1)[-1]
                if day is None or is_digest(name) or not name.endswith(LOG_SUFFIXES):
                    self._ignore(key)
                elif window.keeps(day, name):
                    uri = f"s3://{self.bucket}/{key}"
                    self.listing.objects.append(SourceObject(uri=uri, size=size, etag=etag))

    def _children(self, prefix: str, level: _Level) -> list[str]:
        """Return the child folder names of a delimited listing; its loose objects are foreign."""
        for key, _size, _etag in level.objects:
            self._ignore(key)
        return [folder[len(prefix) :].rstrip("/") for folder in level.folders]

    def _ignore(self, key: str) -> None:
        self.listing.ignored.append(f"s3://{self.bucket}/{key}")

    def _list_all(self, prefixes: list[str], delimiter: str | None) -> list[_Level]:
        """Return the listing of each prefix, listed concurrently, in the order given."""
        levels = _map_concurrently(
            self.pool, lambda prefix: _list(self.client, self.bucket, prefix, delimiter), prefixes
        )
        self.listing.listed += sum(len(level.objects) for level in levels)
        return levels


def _list(client: S3Client, bucket: str, prefix: str, delimiter: str | None) -> _Level:
    level = _Level()
    paginator = client.get_paginator("list_objects_v2")
    try:
        if delimiter is None:
            pages = paginator.paginate(Bucket=bucket, Prefix=prefix)
        else:
            pages = paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter=delimiter)
        for page in pages:
            level.folders.extend(
                p["Prefix"] for p in page.get("CommonPrefixes", []) if "Prefix" in p
            )
            level.objects.extend(
                (item["Key"], item.get("Size", 0), item.get("ETag", "").strip('"'))
                for item in page.get("Contents", [])
                if "Key" in item
            )
    except (ClientError, BotoCoreError) as exc:
        doing = f"listing s3://{bucket}/{prefix}"
        problem = credentials_error(exc, doing=doing, profile=_PROFILES.get(client))
        if problem is not None:
            raise problem from exc
        if isinstance(exc, ClientError):
            raise _list_error(bucket, prefix, exc) from exc
        raise SourceError(
            f"Cannot list s3://{bucket}/{prefix}: {exc}; check the network, --region and the "
            "endpoint (AWS_ENDPOINT_URL_S3)"
        ) from exc
    return level


def _list_error(bucket: str, prefix: str, exc: ClientError) -> SourceError:
    code = _code(exc)
    where = f"s3://{bucket}/{prefix}"
    if code in {"NoSuchBucket", "404"}:
        return SourceError(
            f"Bucket {bucket} does not exist (listing {where}); check the bucket name and --profile"
        )
    if code in _DENIED:
        return SourceError(
            f"Access denied listing {where}; check --profile/credentials and that they allow "
            f"s3:ListBucket on arn:aws:s3:::{bucket}"
        )
    return SourceError(f"Listing {where} failed: {code}: {_text(exc)}")


def _map_concurrently(
    pool: ThreadPoolExecutor, fn: Callable[[_T], _R], items: Iterable[_T]
) -> list[_R]:
    """Return ``fn`` of each item, run on the pool, in the items' order; the first error raises."""
    futures = [pool.submit(fn, item) for item in items]
    try:
        return [future.result() for future in futures]
    finally:
        for future in futures:
            future.cancel()  # no-op for those done; spares the rest after an error


def _parse_layout(bucket: str, prefix: str) -> _Scope:
    """Return where ``prefix`` stops in the CloudTrail layout, or raise ``UsageError``."""
    parts = prefix.split("/")
    if parts[-1] == "":
        parts.pop()
    if "AWSLogs" not in parts:
        return _Scope(logs="/".join([*parts, "AWSLogs/"]))
    at = len(parts) - 1 - parts[::-1].index("AWSLogs")
    logs = "/".join(parts[: at + 1]) + "/"
    rest = parts[at + 1 :]

    def bad(segment: str, what: str) -> UsageError:
        return UsageError(
            f"s3://{bucket}/{prefix}: {segment!r} is not {what}; CloudTrail writes {LAYOUT}, "
            "give a prefix that stops at one of those folders"
        )

    org = rest.pop(0) if rest and _ORG.match(rest[0]) else None
    account = rest.pop(0) if rest else None
    if account is not None and not _ACCOUNT.match(account):
        raise bad(account, "an organization id (o-…) or a 12-digit account id")
    cloudtrail = bool(rest)
    if rest and (folder := rest.pop(0)) != "CloudTrail":
        raise bad(folder, "the CloudTrail folder, the only one that holds log files")
    region = rest.pop(0) if rest else None
    if region is not None and not _REGION.match(region):
        raise bad(region, "an AWS region such as eu-west-1")
    dates: list[str] = []
    for pattern, what in ((_YEAR, "a year (yyyy)"), (_MONTH, "a month (mm)"), (_DAY, "a day (dd)")):
        if rest:
            if not pattern.match(rest[0]):
                raise bad(rest[0], what)
            dates.append(rest.pop(0))
    if not _valid_date(tuple(dates)):
        raise bad("/".join(dates), "a calendar date")
    return _Scope(
        logs=logs,
        org=org,
        account=account,
        cloudtrail=cloudtrail,
        region=region,
        dates=tuple(dates),
        below_day=prefix if rest else None,
    )


def _checked(
    values: Collection[str] | None, pattern: re.Pattern[str], what: str, option: str
) -> frozenset[str] | None:
    """Return the values as a set (None for none given), or raise ``UsageError`` on a bad one."""
    if not values:
        return None
    if isinstance(values, str):  # one value given bare, not a string of characters to check
        values = [values]
    for value in values:
        if not pattern.match(value):
            raise UsageError(f"{value!r} is not {what}; check {option}")
    return frozenset(values)


def _allows(wanted: frozenset[str] | None, value: str) -> bool:
    return wanted is None or value in wanted


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _valid_date(parts: tuple[str, ...]) -> bool:
    try:
        _date_range(parts)
    except ValueError:
        return False
    return True


def _date_range(parts: tuple[str, ...]) -> tuple[date, date]:
    """Return the first and last day a date folder (nothing, yyyy, yyyy/mm or yyyy/mm/dd) covers."""
    if not parts:
        return date.min, date.max
    year = int(parts[0])
    if len(parts) == 1:
        return date(year, 1, 1), date(year, 12, 31)
    month = int(parts[1])
    if len(parts) == 2:
        following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return date(year, month, 1), following - timedelta(days=1)
    day = date(year, month, int(parts[2]))
    return day, day


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _day_of(relative_key: str) -> date | None:
    """Return the day folder of a key below its region folder (``yyyy/mm/dd/<name>``), if any."""
    parts = relative_key.split("/")
    if len(parts) != 4 or not (
        _YEAR.match(parts[0]) and _MONTH.match(parts[1]) and _DAY.match(parts[2])
    ):
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _text(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
