"""Synthetic CloudTrail logs: seeded, deterministic records and S3 trees shaped like real ones.

``iter_records`` yields CloudTrail records in time order for the cast of a fictional organization
(Acme), repeated in every account given:

- ``role/service/app-backend`` (a role with a path), assumed by Lambda and ECS: S3 object data
  events, DynamoDB items, SQS messages, KMS data keys, Secrets Manager secrets, a few errors;
- ``role/ci-deploy``, assumed by GitHub Actions through OIDC: Lambda deploys, CloudFormation,
  ECR, artifacts in S3, an ``iam:PassRole`` refused now and then;
- ``AWSReservedSSO_AdministratorAccess_<hash>``, the IAM Identity Center permission set role, used
  from the console by people signed in with their email address;
- the IAM users ``alice`` (console, MFA), ``bob`` (console, no MFA, a failed sign-in),
  ``legacy-batch`` (a long-term access key used by a nightly script on an EC2 instance; on the
  last day, someone else tries the key from their own machine: who am I, then what can it list,
  most of it refused, in a region the script never uses, after checking the key while the script
  ran with it) and ``export-job`` (a user's access key used by a Lambda function, instead of its
  execution role);
- ``role/vendor-audit``, assumed every week by a third party's account (``999988887777``, no logs
  of its own) with an external ID and session tags, for a few read-only calls;
- the root user, rarely; AWS services acting on their own (``AwsServiceEvent``) or for a principal
  (``AWSService`` identities, ``invokedBy``).

``write_trail`` lays them out as CloudTrail delivers them to S3: gzipped ``{"Records": [...]}``
files about every five minutes per account and region, and hourly digest files.

Deterministic: everything random comes from ``random.Random`` seeded with ``seed``; no clock, no
``uuid4``, no time in gzip headers. The same arguments give byte-identical files. Episodes added
after the rest (the vendor's audit, the leaked key's first check) draw from a stream of their own
seeded from ``seed`` (``Shared.aside``) and lie outside ``events_per_day``: they add their few
records (the audit's 7 a week per account with two regions, the check's one) and leave the others
as they were.

Records share nested values (identities, TLS details, constant request parameters) so that corpora
of millions of events are quick to make: treat them as read-only, copy before changing one.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from trailmin.errors import UsageError
from trailmin.synth.churn.state import Churn
from trailmin.synth.delivery import LogFiles
from trailmin.synth.emit import Synth
from trailmin.synth.plan import iter_timed
from trailmin.synth.values import (
    COMPRESSLEVEL,
    DELIVERY_MS,
    GLOBAL_REGION,
    MS_DAY,
    TRAIL_NAME,
    Record,
)

__all__ = [
    "CHURN_MIN_EVENTS_PER_DAY",
    "COMPRESSLEVEL",
    "DELIVERY_MS",
    "GLOBAL_REGION",
    "TRAIL_NAME",
    "Record",
    "SynthSummary",
    "iter_records",
    "write_trail",
]

# Churn trails need room in each day for the scheduled runs (deploys, the pipeline, patching)
# besides the rest of the cast.
CHURN_MIN_EVENTS_PER_DAY = 500

_ACCOUNT = re.compile(r"^\d{12}$")
_ORG_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


@dataclass(frozen=True, slots=True)
class SynthSummary:
    """What ``write_trail`` wrote: file counts, events, and the log files' sizes."""

    files: int
    digest_files: int
    events: int
    bytes: int
    uncompressed_bytes: int


def _check(
    *,
    days: int,
    events_per_day: int,
    accounts: tuple[str, ...],
    regions: tuple[str, ...],
    churn: bool = False,
) -> None:
    if days < 1:
        raise UsageError(f"days must be at least 1, not {days}.")
    if events_per_day < 0:
        raise UsageError(f"events_per_day must be 0 or more, not {events_per_day}.")
    if churn and events_per_day < CHURN_MIN_EVENTS_PER_DAY:
        raise UsageError(
            f"events_per_day must be at least {CHURN_MIN_EVENTS_PER_DAY} with churn (its deploys, "
            f"pipeline runs and patching take about 200 a day), not {events_per_day}."
        )
    if not accounts or not all(_ACCOUNT.match(a) for a in accounts):
        raise UsageError(f"accounts must be 12-digit AWS account IDs, not {accounts!r}.")
    if len(set(accounts)) != len(accounts):
        raise UsageError(f"accounts must be distinct, not {accounts!r}.")
    if not regions or not all(_REGION.match(r) for r in regions):
        raise UsageError(f"regions must be AWS region names such as us-east-1, not {regions!r}.")
    if len(set(regions)) != len(regions):
        raise UsageError(f"regions must be distinct, not {regions!r}.")


def _new_synth(
    *,
    seed: int,
    start: date,
    days: int,
    events_per_day: int,
    accounts: tuple[str, ...],
    regions: tuple[str, ...],
    raw: bool = False,
    churn: bool = False,
) -> Synth:
    """Return a generator's state, with the churning workloads when ``churn``."""
    synth = Synth(
        seed=seed,
        start=start,
        days=days,
        events_per_day=events_per_day,
        accounts=accounts,
        regions=regions,
        raw=raw,
    )
    # The workloads whose resources churn, one per cast, are made after the casts so that a trail
    # without them draws the same random numbers as before they existed.
    if churn:
        synth.churn = [Churn(synth, c) for c in synth.casts]
    return synth


def iter_records(
    *,
    seed: int = 7,
    start: date,
    days: int,
    events_per_day: int,
    accounts: tuple[str, ...] = ("111122223333",),
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1"),
    churn: bool = False,
) -> Iterator[Record]:
    """Yield ``days * events_per_day * len(accounts)`` CloudTrail records in time order, and the
    few of the episodes added later (see the module docstring).

    The same arguments give the same records. ``events_per_day`` is per account. The first region
    is where the organization mostly works; global services are recorded in us-east-1, as
    CloudTrail does. With ``churn``, each account also runs workloads whose resources keep
    changing (new object keys, log streams, instances, task definition revisions, Lambda
    versions, Step Functions executions) in its first region, in the same number of records a
    day (at least CHURN_MIN_EVENTS_PER_DAY); without it the records are those of before churn.
    Nested values are shared between records: do not mutate them.
    """
    _check(
        days=days, events_per_day=events_per_day, accounts=accounts, regions=regions, churn=churn
    )
    synth = _new_synth(
        seed=seed,
        start=start,
        days=days,
        events_per_day=events_per_day,
        accounts=accounts,
        regions=regions,
        churn=churn,
    )
    for _, _, record in iter_timed(synth):
        yield record


def write_trail(
    out_dir: Path,
    *,
    seed: int = 7,
    start: date,
    days: int,
    events_per_day: int,
    accounts: tuple[str, ...] = ("111122223333",),
    org_id: str | None = None,
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1"),
    events_per_file: int = 100,
    digest: bool = True,
    churn: bool = False,
) -> SynthSummary:
    """Return what was written: ``iter_records`` laid out under ``out_dir`` as CloudTrail does.

    Log files go to ``AWSLogs/[<org_id>/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/``, one
    about every five minutes per account and region with at most ``events_per_file`` records,
    named after their delivery time. With ``digest``, hourly digest files go to
    ``CloudTrail-Digest/`` beside them, chained, each listing the SHA-256 of the log files
    delivered in its hour (of their uncompressed content, as CloudTrail computes it). Files
    already in ``out_dir`` are left alone. ``churn`` adds the churning workloads (see
    ``iter_records``).
    """
    _check(
        days=days, events_per_day=events_per_day, accounts=accounts, regions=regions, churn=churn
    )
    if events_per_file < 1:
        raise UsageError(f"events_per_file must be at least 1, not {events_per_file}.")
    if org_id is not None and not _ORG_ID.match(org_id):
        raise UsageError(f"org_id must look like o-a1b2c3d4e5, not {org_id!r}.")
    synth = _new_synth(
        seed=seed,
        start=start,
        days=days,
        events_per_day=events_per_day,
        accounts=accounts,
        regions=regions,
        raw=True,
        churn=churn,
    )
    # Names and delivery delays have their own random stream, so that the records do not depend
    # on how they are cut into files.
    rng = random.Random(f"trailmin.synth.files:{seed}")  # the seed's name, kept for the same bytes
    root = "AWSLogs/" + (f"{org_id}/" if org_id else "")
    files = LogFiles(
        out_dir,
        rng,
        root=root,
        accounts=accounts,
        regions=regions,
        events_per_file=events_per_file,
    )
    files.write(iter_timed(synth))
    digests = 0
    if digest:
        digests = files.write_digests(
            regions=regions,
            bucket=synth.casts[0].trail_bucket,
            start_ms=synth.start_ms,
            end_ms=synth.start_ms + days * MS_DAY,
        )
    return SynthSummary(
        files=files.files,
        digest_files=digests,
        events=files.events,
        bytes=files.bytes,
        uncompressed_bytes=files.uncompressed_bytes,
    )
