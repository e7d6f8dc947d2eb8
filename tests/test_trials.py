"""The trials of issue 14, CI-sized: kills, two writers, S3 faults, canary secrets, read-only calls.

Each trial runs trailmin as a user does, in a subprocess over real files, with AWS played by
moto's server on loopback, behind ``tests/s3_proxy.py``'s proxy where requests are to fail or be
counted (``FaultProxy``: a seeded rule over it). Kills and holds are planted from outside by
``tests/trial_wrapper.py``. ``bench/trials.py`` runs the same trials at the issue's counts, with
the functions here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import pyarrow.parquet as pq
import pytest

import trailmin
from tests import s3_proxy
from tests.conftest import log_name, make_record, write_delivery
from tests.trial_wrapper import PLAN_VARIABLE
from trailmin.aws import catalog
from trailmin.lake.store import Store

WRAPPER = Path(__file__).with_name("trial_wrapper.py")
ACCOUNT = "111122223333"
REGION = "us-east-1"
# `trailmin synth --days 2 --events-per-day 50 --region us-east-1`: 34 delivery files of 100
# events in two day partitions (and 49 digests, which ingest passes over).
START, DAYS, EVENTS_PER_DAY = date(2026, 10, 5), 2, 50
# Source bytes per ingest task in the kill trials: a run of several tasks, so several commits.
TASK_BYTES = 4096
RUN_TIMEOUT = 120


# --- the corpus and the lake ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Corpus:
    """A trail on disk in CloudTrail's S3 layout, and the event ids each of its log files holds."""

    root: Path
    ids_by_key: Mapping[str, tuple[str, ...]]  # key: the path under root, AWSLogs/…

    @property
    def ids(self) -> Counter[str]:
        return self.ids_without(())

    def ids_without(self, keys: Iterable[str]) -> Counter[str]:
        left_out = set(keys)
        return Counter(
            i for key, ids in self.ids_by_key.items() if key not in left_out for i in ids
        )


def write_corpus(root: Path, *, seed: int = 7) -> Corpus:
    """Return the corpus ``trailmin synth`` writes at ``root`` (digests included, as CloudTrail)."""
    from trailmin.synth.trail import write_trail

    write_trail(
        root, seed=seed, start=START, days=DAYS, events_per_day=EVENTS_PER_DAY, regions=(REGION,)
    )
    return read_corpus(root)


def read_corpus(root: Path) -> Corpus:
    """Return the log files under ``root`` with their records' event ids, read as trailmin won't."""
    ids_by_key = {}
    for path in sorted(root.rglob("*.json.gz")):
        key = path.relative_to(root).as_posix()
        if "/CloudTrail/" in key:
            records = json.loads(gzip.decompress(path.read_bytes()))["Records"]
            ids_by_key[key] = tuple(r["eventID"] for r in records)
    return Corpus(root, ids_by_key)


def parquet_ids(lake: Path) -> Counter[str]:
    """Return every event id in every Parquet file under the lake's events/ (DuckDB's glob: what
    an engine pointed at the folder reads, manifest or not), with how often it occurs."""
    import duckdb

    if not any((lake / "events").rglob("*.parquet")):
        return Counter()
    rows = duckdb.connect().execute(
        "SELECT event_id FROM read_parquet(?)", [f"{lake}/events/**/*.parquet"]
    )
    return Counter(row[0] for row in rows.fetchall())


def trailmin_ids(lake: Path) -> Counter[str]:
    """Return the event ids trailmin itself reads from the lake (through its manifest)."""
    if not (lake / "_trailmin" / "manifest.sqlite").exists():
        return Counter()
    frame = trailmin.read_events(lake, columns=["event_id"])
    return Counter(frame["event_id"])


def reader_problems(lake: Path, expected: Counter[str], *, exact: bool) -> list[str]:
    """Return what a reader finds wrong in a lake a killed writer left, before the next writer:
    through trailmin (the manifest's snapshot) and through a glob of events/, which the lake's
    docstring promises never shows a file no commit lists, nor a compaction's old files with the
    new. With ``exact`` (compaction, which only moves rows) the reader must see all of them."""
    problems = []
    try:
        through_trailmin = trailmin_ids(lake)
    except trailmin.LakeError as exc:
        # A kill within Store.create's first moments leaves a lake without its manifest's
        # tables: a reader is told so and how to finish it, which is no crash.
        if "was never finished" not in str(exc):
            problems.append(f"trailmin.read_events raised {exc!r}")
        through_trailmin = Counter()
    except Exception as exc:
        problems.append(f"trailmin.read_events raised {exc!r}")
        through_trailmin = Counter()
    for reader, ids in (("trailmin", through_trailmin), ("a glob of events/", parquet_ids(lake))):
        extra = ids - expected  # ids not in the corpus, or more often than once
        if extra:
            problems.append(
                f"{reader} saw {sum(extra.values())} extra rows, e.g. {sorted(extra)[:3]}"
            )
        if exact and ids != expected:
            problems.append(f"{reader} saw {sum(ids.values())} rows, not {sum(expected.values())}")
    return problems


def lake_problems(lake: Path, expected: Counter[str]) -> list[str]:
    """Return what is wrong with ``lake`` holding exactly ``expected``; empty when nothing is."""
    problems = []
    on_disk = parquet_ids(lake)
    if on_disk != expected:
        problems.append(
            f"Parquet files hold {sum(on_disk.values())} rows ({len(on_disk)} ids), expected "
            f"{sum(expected.values())}: missing {sorted(expected - on_disk)[:5]}, extra "
            f"{sorted(on_disk - expected)[:5]}"
        )
    if trailmin_ids(lake) != expected:
        problems.append("trailmin.read_events differs from the expected event set")
    the_lake = Store.open(lake)
    files = sorted(p.relative_to(lake).as_posix() for p in the_lake.iter_data_files())
    if files != the_lake.committed_paths():
        problems.append(f"files on disk {files} != committed {the_lake.committed_paths()}")
    staged = sorted(p.name for p in the_lake.staging_dir.rglob("*") if p.is_file())
    if staged:
        problems.append(f"staging holds {staged}")
    return problems


def clean_ids(corpus: Corpus, lake: Path) -> Counter[str]:
    """Return the event set of a clean one-worker run (which must be the corpus's own ids)."""
    summary = trailmin.ingest([corpus.root], lake=lake, workers=1)
    assert summary.clean
    assert parquet_ids(lake) == corpus.ids
    return corpus.ids


# --- running trailmin -----------------------------------------------------------------------------


def trial_env(home: Path, **extra: str) -> dict[str, str]:
    """Return an environment with fake credentials and no AWS setting of the host's.

    Nothing from ``~/.aws`` is read (the files point into ``home``), proxies are off so loopback
    stays loopback, and the terminal is wide so no message is wrapped (a wrapped secret would
    escape a search for it).
    """
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and "PROXY" not in k.upper()
    }
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(home / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",  # no credential chain may reach past loopback
        NO_PROXY="127.0.0.1,localhost",
        COLUMNS="10000",
    )
    env.update(extra)
    return env


def command(args: Sequence[str], plan: Mapping[str, Any] | None) -> list[str]:
    """Return the argv running ``trailmin <args>``: plainly, or through the wrapper with a plan."""
    if plan is None:
        return [sys.executable, "-m", "trailmin", *args]
    return [sys.executable, str(WRAPPER), *args]


def plan_env(env: Mapping[str, str], plan: Mapping[str, Any] | None) -> dict[str, str]:
    return {**env, PLAN_VARIABLE: json.dumps(plan)} if plan is not None else dict(env)


def run_cli(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    plan: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Return the finished ``trailmin <args>`` (output captured, never checked here)."""
    return subprocess.run(
        command(args, plan),
        env=plan_env(env, plan),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=RUN_TIMEOUT,
    )


def start_cli(
    args: Sequence[str], *, env: Mapping[str, str], plan: Mapping[str, Any] | None = None
) -> subprocess.Popen[str]:
    """Return ``trailmin <args>`` started in the background, its output piped."""
    return subprocess.Popen(
        command(args, plan),
        env=plan_env(env, plan),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, process: subprocess.Popen[str], *, timeout: float = 60) -> bool:
    """Return whether ``path`` appeared before ``process`` ended (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            return path.exists()
        time.sleep(0.002)
    return True


def ingest_args(source: Path | str, lake: Path, *options: str) -> list[str]:
    return [
        "ingest",
        str(source),
        "--lake",
        str(lake),
        "--workers",
        "1",
        "--format",
        "json",
        *options,
    ]


def compact_args(lake: Path) -> list[str]:
    return ["lake", "compact", "--lake", str(lake), "--format", "json"]


# --- kills ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trial:
    """One trial: what was done, whether the kill landed (else the run finished first), and what
    was wrong afterwards (nothing, when the trial held)."""

    name: str
    killed: bool
    problems: tuple[str, ...] = ()
    known: tuple[str, ...] = ()  # problems of a finding already reported (an xfail test)

    @property
    def clean(self) -> bool:
        return not self.problems


# The exact points of a one-worker ingest: (point, when, nth) as trial_wrapper.py plants them.
INGEST_POINTS = (
    ("_connect", "after", 1),  # Store.create made the manifest file, not yet its tables
    ("begin_run", "after", 1),  # the run is recorded, nothing read yet
    ("replace", "before", 1),  # the first data file about to move into events/
    ("replace", "after", 1),  # the first data file just moved
    ("commit-sql", "before", 1),  # the first commit's rows written, its COMMIT not run
    ("commit-sql", "after", 1),  # the first commit durable, the rest of the run not
    ("commit", "after", 2),  # two tasks committed
    ("finish_run", "before", 1),  # every task committed, the run not marked finished
    ("finish_run", "after", 1),  # all done but the exit
)


def kill_plan(point: str, when: str, nth: int) -> dict[str, Any]:
    return {"point": point, "when": when, "nth": nth, "action": "kill", "task_bytes": TASK_BYTES}


def kill_ingest_at(
    corpus: Corpus, lake: Path, env: Mapping[str, str], plan: dict[str, Any]
) -> bool:
    """Return whether the ingest died at the plan's point (SIGKILL by its own hand)."""
    run = run_cli(ingest_args(corpus.root, lake), env=env, plan=plan)
    return run.returncode == -signal.SIGKILL


def kill_after(
    args: Sequence[str], env: Mapping[str, str], *, delay: float, ready: Path, plan: dict[str, Any]
) -> bool:
    """Return whether ``trailmin <args>`` was SIGKILLed ``delay`` s into its run (after its
    imports), rather than finishing first."""
    process = start_cli(args, env=env, plan={**plan, "ready": str(ready)})
    try:
        if wait_for(ready, process):
            time.sleep(delay)
        process.kill()  # SIGKILL, to this child only
        process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode == -signal.SIGKILL


def seconds_of_work(
    args: Sequence[str], env: Mapping[str, str], ready: Path, plan: dict[str, Any]
) -> float:
    """Return how long ``trailmin <args>`` runs once trailmin is imported (the kill window)."""
    process = start_cli(args, env=env, plan={**plan, "ready": str(ready)})
    assert wait_for(ready, process)
    began = time.monotonic()
    _, stderr = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 0, stderr
    ready.unlink()
    return time.monotonic() - began


def rerun_problems(rerun: Callable[[], object], lake: Path, expected: Counter[str]) -> list[str]:
    """Return what is wrong after ``rerun``, a clean run over ``lake`` (in this process: the
    library call the CLI makes, without the second of imports)."""
    try:
        summary = rerun()
    except Exception as exc:
        return [f"the re-run raised {exc!r}"]
    problems = []
    if isinstance(summary, trailmin.IngestSummary) and not summary.clean:
        problems.append(f"the re-run skipped {summary.skipped} {summary.record_problems}")
    return problems + lake_problems(lake, expected)


def ingest_kill_trial(
    corpus: Corpus,
    lake: Path,
    env: Mapping[str, str],
    expected: Counter[str],
    *,
    plan: dict[str, Any] | None = None,
    delay: float | None = None,
    task_bytes: int | None = TASK_BYTES,
    known: Sequence[str] = (),
) -> Trial:
    """Return the trial of an ingest killed at ``plan``'s point or ``delay`` s in, then re-run;
    problems holding one of ``known`` are set apart in ``Trial.known``."""
    if plan is not None:
        name = f"ingest killed {plan['when']} {plan['point']} #{plan['nth']}"
        killed = kill_ingest_at(corpus, lake, env, plan)
    else:
        assert delay is not None
        name = f"ingest killed {delay:.3f} s in" + (" (small tasks)" if task_bytes else "")
        ready = lake.with_name(lake.name + ".ready")
        killed = kill_after(
            ingest_args(corpus.root, lake),
            env,
            delay=delay,
            ready=ready,
            plan={"task_bytes": task_bytes},
        )
    seen = reader_problems(lake, expected, exact=False)
    problems = seen + rerun_problems(
        lambda: trailmin.ingest([corpus.root], lake=lake, workers=1), lake, expected
    )
    set_apart = tuple(p for p in problems if any(k in p for k in known))
    return Trial(name, killed, tuple(p for p in problems if p not in set_apart), set_apart)


def fragmented_lake(corpus: Corpus, lake: Path) -> Path:
    """Return a lake of many small files per partition, as incremental runs leave it."""
    trailmin.ingest([corpus.root], lake=lake, workers=1, task_bytes=TASK_BYTES)
    assert len(Store.open(lake).committed_paths()) > 2 * len(
        {k.split("/")[-2] for k in corpus.ids_by_key}
    )
    return lake


def compact_kill_trial(
    template: Path, lake: Path, env: Mapping[str, str], expected: Counter[str], *, delay: float
) -> Trial:
    """Return the trial of ``lake compact`` (on a copy of ``template``) killed ``delay`` s in,
    then run again: the same events, and no partition left in more than one file."""
    shutil.copytree(template, lake)
    ready = lake.with_name(lake.name + ".ready")
    killed = kill_after(compact_args(lake), env, delay=delay, ready=ready, plan={})
    seen = reader_problems(lake, expected, exact=True)
    problems = rerun_problems(lambda: trailmin.compact(lake), lake, expected)
    if not problems and Store.open(lake).small_partitions(min_files=2):
        problems.append("a partition is still in several files after the re-run")
    return Trial(f"compact killed {delay:.3f} s in", killed, (*seen, *problems))


# --- two writers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def held_writer(
    args: Sequence[str], env: Mapping[str, str], where: Path
) -> Iterator[subprocess.Popen[str]]:
    """Run ``trailmin <args>`` held just inside the lake's lock until the block ends."""
    held, release = where / "held", where / "release"
    plan = {"point": "recover", "when": "after", "nth": 1, "action": "hold"}
    process = start_cli(args, env=env, plan={**plan, "held": str(held), "release": str(release)})
    try:
        assert wait_for(held, process), process.communicate()
        yield process
    finally:
        release.touch()
        try:
            process.communicate(timeout=RUN_TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


# --- faults: tests/s3_proxy.py's proxy, with a seeded rule ----------------------------------------


@dataclass(frozen=True, slots=True)
class FaultRule:
    """Which requests fail, and how: ``fraction`` of the requests of ``operations`` (all, when
    None) get one of ``faults``, drawn from ``seed``, the request's URL and its attempt number (so
    the draw does not depend on the order threads send requests in)."""

    fraction: float = 0.0
    faults: tuple[str, ...] = ("500",)
    operations: frozenset[str] | None = None
    seed: int = 0

    def decide(self, operation: str, target: str, attempt: int) -> str:
        """Return "pass" or the fault for this attempt of the request."""
        if self.operations is not None and operation not in self.operations:
            return "pass"
        chance = random.Random(f"{self.seed}:{operation}:{target}:{attempt}")
        return chance.choice(self.faults) if chance.random() < self.fraction else "pass"


@dataclass(frozen=True, slots=True)
class Seen:
    """A request the proxy saw: its service and operation, the object key (for a listing, its
    prefix), and what was done to it: "pass" or the fault."""

    service: str
    operation: str
    key: str
    fault: str


_SIGNED = re.compile(r"SignedHeaders=(?P<names>[^,\s]+)")


def signature_refused(request: s3_proxy.Request) -> s3_proxy.Reply:
    """Return the SignatureDoesNotMatch AWS answers a bad secret key with, quoting the canonical
    request as AWS does (S3 in an element of its own; the SigV4 front end of the query APIs in
    the message: see amzn/selling-partner-api-models#1900): x-amz-security-token included."""
    signed = _SIGNED.search(request.headers.get("authorization", ""))
    names = signed["names"].split(";") if signed else []
    query = "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
    headers = [f"{n}:{request.headers.get(n, '')}" for n in names]
    canonical = "\n".join([request.method, request.path, query, *headers, "", ";".join(names)])
    message = "The request signature we calculated does not match the signature you provided."
    if request.service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>'
            f"<Message>{message} Check your key and signing method.</Message>"
            f"<CanonicalRequest>{xml_escape(canonical)}</CanonicalRequest></Error>"
        )
        return s3_proxy.Reply(403, body.encode())
    return s3_proxy.query_error(
        403,
        "SignatureDoesNotMatch",
        f"{message} Check your AWS Secret Access Key and signing method. Consult the service "
        f"documentation for details.\n\nThe Canonical String for this request should have been\n"
        f"'{canonical}'\n",
    )


def fault_reply(fault: str, request: s3_proxy.Request) -> s3_proxy.Action:
    """Return what the proxy does for ``fault``: pass, reset mid-body, or answer an error."""
    s3 = request.service == "s3"
    if fault in ("pass", "reset"):
        return s3_proxy.PASS if fault == "pass" else s3_proxy.RESET
    if fault == "500":
        internal = s3_proxy.query_error(500, "ServiceFailure", "Internal failure. Try again.")
        return s3_proxy.INTERNAL_ERROR if s3 else internal
    if fault == "403":
        denied = (s3_proxy.s3_error if s3 else s3_proxy.query_error)(
            403, "AccessDenied", "Access Denied"
        )
        return denied
    if fault == "signature":
        return signature_refused(request)
    raise ValueError(f"unknown fault {fault!r}")


class FaultProxy:
    """``tests/s3_proxy.py``'s proxy in front of moto's server on loopback: each request passes
    or fails as the current ``FaultRule`` says, and what was done to it is kept in ``seen``."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._lock = threading.Lock()
        self._rule = FaultRule()
        self._attempts: Counter[tuple[str, str]] = Counter()
        self.seen: list[Seen] = []
        self.url = ""

    def __enter__(self) -> FaultProxy:
        self._proxy = s3_proxy.start(self._target, self._decide)
        self.url = str(self._proxy)
        return self

    def __exit__(self, *exc: object) -> None:
        self._proxy.stop()

    def use(self, rule: FaultRule) -> None:
        """Apply ``rule`` from now on, with a fresh record."""
        with self._lock:
            self._rule = rule
            self._attempts.clear()
            self.seen = []

    def _decide(self, request: s3_proxy.Request) -> s3_proxy.Action:
        target = request.path + "?" + "&".join(f"{k}={v}" for k, v in sorted(request.query.items()))
        key = request.key or request.query.get("prefix", "")
        with self._lock:
            self._attempts[(request.operation, target)] += 1
            fault = self._rule.decide(
                request.operation, target, self._attempts[(request.operation, target)]
            )
            self.seen.append(Seen(request.service, request.operation, key, fault))
        return fault_reply(fault, request)

    def failed_keys(self, operation: str = "GetObject") -> set[str]:
        """Return the keys no request of ``operation`` passed for: those the run could not read."""
        with self._lock:
            tried = {s.key for s in self.seen if s.operation == operation}
            passed = {s.key for s in self.seen if s.operation == operation and s.fault == "pass"}
        return tried - passed


def upload(endpoint: str, bucket: str, corpus: Corpus) -> None:
    """Put the corpus (digests too) into a new bucket of moto's server, under the same keys."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=bucket)
    for path in sorted(corpus.root.rglob("*.json.gz")):
        s3.put_object(
            Bucket=bucket, Key=path.relative_to(corpus.root).as_posix(), Body=path.read_bytes()
        )


@dataclass(frozen=True, slots=True)
class FaultRun:
    """An ingest through the proxy under a rule, then a clean re-run: what each did and found."""

    rule: FaultRule
    exit_code: int
    injected: Counter[str]  # the faults the proxy injected, by kind
    failed_keys: frozenset[str]
    named: frozenset[str]  # the s3:// URIs the faulty run's summary lists as skipped
    problems: tuple[str, ...]


def fault_trial(
    corpus: Corpus,
    bucket: str,
    proxy: FaultProxy,
    direct: str,
    lake: Path,
    env: Mapping[str, str],
    rule: FaultRule,
) -> FaultRun:
    """Return the trial of an S3 ingest through ``proxy`` under ``rule``, then a clean re-run
    against moto directly: the faulty run names each key it could not read and the lake holds
    exactly the rest; the re-run reads only those keys and completes the lake."""
    proxy.use(rule)
    source = f"s3://{bucket}/AWSLogs/"
    faulty = run_cli(ingest_args(source, lake, "--endpoint-url", proxy.url), env=env)
    failed = frozenset(proxy.failed_keys())
    injected = Counter(s.fault for s in proxy.seen if s.fault != "pass")
    problems = []
    named: frozenset[str] = frozenset()
    if faulty.returncode == 2 and proxy.failed_keys("ListObjectsV2"):
        # A listing failed through botocore's retries: the run stops before reading anything,
        # naming where it was listing, and leaves no lake.
        if f"s3://{bucket}/AWSLogs/" not in faulty.stderr or lake.exists():
            problems.append(f"a failed listing said {faulty.stderr.strip()[-300:]!r}")
    elif faulty.returncode not in (0, 1):
        problems.append(
            f"the faulty run exited {faulty.returncode}: {faulty.stderr.strip()[-300:]}"
        )
    else:
        summary = json.loads(faulty.stdout)
        named = frozenset(s["source"] for s in summary["skipped"])
        if named != {f"s3://{bucket}/{k}" for k in failed}:
            problems.append(f"skipped {sorted(named)} but the proxy failed {sorted(failed)}")
        if faulty.returncode != (1 if failed else 0):
            problems.append(f"the faulty run exited {faulty.returncode} with {len(failed)} failed")
        if not all(s["reason"] for s in summary["skipped"]):
            problems.append("a skipped key has no reason")
        problems += lake_problems(lake, corpus.ids_without(failed))
    rerun = run_cli(ingest_args(source, lake, "--endpoint-url", direct), env=env)
    if rerun.returncode != 0:
        problems.append(f"the clean re-run exited {rerun.returncode}: {rerun.stderr[-300:]}")
    else:
        again = json.loads(rerun.stdout)
        read_again = len(corpus.ids_by_key) if faulty.returncode == 2 else len(failed)
        if again["sources_read"] != read_again:
            problems.append(f"the re-run read {again['sources_read']} sources, not {read_again}")
        problems += lake_problems(lake, corpus.ids)
    return FaultRun(rule, faulty.returncode, injected, failed, named, tuple(problems))


# --- canaries -------------------------------------------------------------------------------------


def _unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex + uuid.uuid4().hex[:8]


@dataclass(frozen=True, slots=True)
class Credentials:
    """Canary credentials, unique to one run: in the environment and in a profile ``canary``."""

    env_key_id: str = field(default_factory=lambda: "AKIA" + uuid.uuid4().hex[:16].upper())
    env_secret: str = field(default_factory=lambda: _unique("EnvSecret"))
    env_token: str = field(default_factory=lambda: _unique("EnvToken"))
    profile_key_id: str = field(default_factory=lambda: "AKIA" + uuid.uuid4().hex[:16].upper())
    profile_secret: str = field(default_factory=lambda: _unique("ProfileSecret"))
    profile_token: str = field(default_factory=lambda: _unique("ProfileToken"))

    def secrets(self) -> dict[str, str]:
        """Return the secret parts (key ids are not secret; they are not searched for)."""
        return {
            "the env's secret key": self.env_secret,
            "the env's session token": self.env_token,
            "the profile's secret key": self.profile_secret,
            "the profile's session token": self.profile_token,
        }

    def environment(self, home: Path, *, broken_file: bool = False, **extra: str) -> dict[str, str]:
        """Return ``trial_env`` holding these credentials, the profile's written under ``home``;
        with ``broken_file`` the credentials file has a line a hand edit broke."""
        env = trial_env(
            home,
            AWS_ACCESS_KEY_ID=self.env_key_id,
            AWS_SECRET_ACCESS_KEY=self.env_secret,
            AWS_SESSION_TOKEN=self.env_token,
            **extra,
        )
        separator = " " if broken_file else " = "
        (home / "credentials").write_text(
            f"[canary]\naws_access_key_id = {self.profile_key_id}\n"
            f"aws_secret_access_key{separator}{self.profile_secret}\n"
            f"aws_session_token = {self.profile_token}\n"
        )
        (home / "config").write_text("[profile canary]\nregion = us-east-1\n")
        return env


@dataclass(frozen=True, slots=True)
class RecordSecrets:
    """Secret-looking values inside log records, where CloudTrail does not put them."""

    password: str = field(default_factory=lambda: _unique("RequestPassword"))
    secret_string: str = field(default_factory=lambda: _unique("RequestSecretString"))
    response_secret: str = field(default_factory=lambda: _unique("ResponseSecretKey"))
    response_token: str = field(default_factory=lambda: _unique("ResponseToken"))

    def in_request(self) -> dict[str, str]:
        """Return the requestParameters values (the lake stores requestParameters as logged)."""
        return {"requestParameters.password": self.password, "…secretString": self.secret_string}

    def in_response(self) -> dict[str, str]:
        """Return the responseElements values (the lake keeps no responseElements)."""
        return {
            "responseElements…secretAccessKey": self.response_secret,
            "responseElements…sessionToken": self.response_token,
        }

    def write(self, root: Path) -> Path:
        """Write a delivery file of three records holding the values; return its path."""
        records = [
            make_record(
                n,
                eventID=str(uuid.uuid5(uuid.NAMESPACE_URL, f"canary-record-{n}")),
                eventTime=f"2026-10-05T11:5{n}:00Z",
                eventSource="secretsmanager.amazonaws.com",
                eventName="PutSecretValue",
                readOnly=False,
                requestParameters={
                    "secretId": "prod/app/db",
                    "secretString": self.secret_string,
                    "password": self.password,
                },
                responseElements={
                    "credentials": {
                        "accessKeyId": "ASIAEXAMPLEEXAMPLE00",
                        "secretAccessKey": self.response_secret,
                        "sessionToken": self.response_token,
                    }
                },
                recipientAccountId=ACCOUNT,
            )
            for n in range(3)
        ]
        folder = root / f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/10/05"
        name = log_name(ACCOUNT, REGION, "20261005T1200Z", "CanaryRecords000")
        return write_delivery(folder / name, records)


def searchable(data: bytes) -> str:
    """Return ``data`` as text without whitespace and box drawing (a wrapped value joins up)."""
    return re.sub(r"[\s│┃║╭╮╰╯─━]+", "", data.decode("utf-8", "replace"))


def file_text(path: Path) -> str:
    """Return what a file says: Parquet's values (its pages are compressed), gzip's content."""
    if path.suffix == ".parquet":
        return searchable(json.dumps(pq.read_table(path).to_pylist(), default=str).encode())
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        with contextlib.suppress(OSError, EOFError):
            data = gzip.decompress(data)
    return searchable(data)


def places_of(
    secrets: Mapping[str, str], outputs: Mapping[str, str], folders: Iterable[Path], *, skip: Path
) -> list[str]:
    """Return "<secret> in <place>" for each secret found in an output or a file of ``folders``
    (all of it, SQLite and Parquet included; ``skip`` is where the credentials files live)."""
    texts = {name: searchable(text.encode()) for name, text in outputs.items()}
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.exists() else ():
            if path.is_file() and not path.is_relative_to(skip):
                texts[str(path)] = file_text(path)
    return [
        f"{secret} in {place}"
        for secret, value in secrets.items()
        for place, text in texts.items()
        if value in text
    ]


@dataclass(frozen=True, slots=True)
class Scene:
    """What the canary commands run against: a trail with secret records on disk and in moto's
    S3, moto's IAM, a lake of that trail, a policy to verify; ``endpoint`` is the run's proxy."""

    trail: Path
    bucket: str
    moto: str
    lake: Path
    policy: Path
    records: RecordSecrets
    endpoint: str = ""

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/AWSLogs/"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A command a user runs, with what it needs: the wrapper's plan (a crash), the proxy's rule
    (AWS refusing), the endpoint in AWS_ENDPOINT_URL, a broken credentials file."""

    name: str
    args: Callable[[Scene, Path], list[str]]
    plan: dict[str, Any] | None = None
    rule: FaultRule | None = None
    endpoint_env: bool = False
    broken_file: bool = False


@dataclass(frozen=True, slots=True)
class CanaryRun:
    """One scenario run: its exit code and stderr, where a secret showed, and where the
    requestParameters secrets are (the lake keeps them as logged)."""

    name: str
    exit_code: int
    stderr: str
    leaks: tuple[str, ...]
    request_secrets_in: tuple[str, ...]

    @property
    def shown_request_secrets(self) -> list[str]:
        """Return the places holding a requestParameters secret other than a lake's rows."""
        return [
            p for p in self.request_secrets_in if not re.search(r"/lake/events/.*\.parquet$", p)
        ]


def _s3_ingest(*options: str) -> Callable[[Scene, Path], list[str]]:
    def args(scene: Scene, where: Path) -> list[str]:
        endpoint = () if "--endpoint-url" in options else ("--endpoint-url", scene.endpoint)
        return ingest_args(scene.source, where / "lake", *options, *endpoint)

    return args


def _read_iam(command_name: str) -> Callable[[Scene, Path], list[str]]:
    def args(scene: Scene, where: Path) -> list[str]:
        return [
            command_name,
            "--lake",
            str(scene.lake),
            "--from-aws",
            "--endpoint-url",
            scene.endpoint,
        ]

    return args


def _run(scene: Scene, where: Path) -> list[str]:
    out = ["--out", str(where / "out")]
    return ["run", scene.source, "--lake", str(where / "lake"), *out, "--from-aws"]


def _propose(scene: Scene, where: Path) -> list[str]:
    config = where / "trailmin.toml"
    config.write_text(
        f'[sources]\npaths = ["{scene.source}"]\nprofile = "canary"\n'
        f'endpoint_url = "{scene.endpoint}"\n[lake]\npath = "lake"\n'
        f'[policies]\nfrom_aws = true\nprofile = "canary"\nendpoint_url = "{scene.endpoint}"\n'
        '[output]\ndirectory = "out"\n'
    )
    return ["propose", "--config", str(config), "--format", "json"]


def _verify(scene: Scene, where: Path) -> list[str]:
    principal = f"arn:aws:iam::{ACCOUNT}:user/alice"
    return ["verify", str(scene.policy), "--lake", str(scene.lake), "--principal", principal]


def _ingest_folder(scene: Scene, where: Path) -> list[str]:
    return ingest_args(scene.trail, where / "lake")


SCENARIOS = (
    Scenario("ingest a folder", _ingest_folder),
    Scenario("ingest s3 --profile", _s3_ingest("--profile", "canary")),
    Scenario("run s3 --from-aws", _run, endpoint_env=True),
    Scenario("propose --config", _propose),
    Scenario("diff --from-aws", _read_iam("diff")),
    Scenario("audit --from-aws", _read_iam("audit")),
    Scenario("verify", _verify),
    Scenario("a profile not configured", _s3_ingest("--profile", "missing")),
    Scenario("a broken credentials file", _s3_ingest("--profile", "canary"), broken_file=True),
    Scenario("S3 refuses the signature", _s3_ingest(), rule=FaultRule(1.0, ("signature",))),
    Scenario(
        "S3 refuses each GetObject's signature",
        _s3_ingest(),
        rule=FaultRule(1.0, ("signature",), frozenset({"GetObject"})),
    ),
    Scenario("IAM refuses the signature", _read_iam("diff"), rule=FaultRule(1.0, ("signature",))),
    Scenario("IAM denies access", _read_iam("audit"), rule=FaultRule(1.0, ("403",))),
    Scenario(
        "a crash mid-ingest (traceback)",
        _s3_ingest("--profile", "canary"),
        plan={"point": "begin_run", "when": "after", "nth": 1, "action": "raise"},
    ),
)
# The scenarios CI runs (about 15 s); `run s3 --from-aws` is the operations test's, with canaries
# too. The bench runs them all.
BENCH_ONLY = {
    "ingest a folder",
    "ingest s3 --profile",
    "run s3 --from-aws",
    "diff --from-aws",
    "S3 refuses each GetObject's signature",
    "IAM denies access",
}
CI_SCENARIOS = tuple(s for s in SCENARIOS if s.name not in BENCH_ONLY)
# Bench only: botocore's ten attempts with back-off take about 30 s to give up on a closed port.
UNREACHABLE = Scenario(
    "an unreachable endpoint", _s3_ingest("--endpoint-url", "http://127.0.0.1:9")
)


def canary_run(scene: Scene, scenario: Scenario, where: Path) -> CanaryRun:
    """Return one run of ``scenario`` with fresh canary credentials and a proxy of its own, every
    output and every file it could have written (its folder, the shared lake) searched."""
    credentials = Credentials()
    where.mkdir(parents=True)
    home = where / "home"
    with FaultProxy(scene.moto) as proxy:
        proxy.use(scenario.rule or FaultRule())
        here = dataclasses.replace(scene, endpoint=proxy.url)
        extra = {"AWS_ENDPOINT_URL": proxy.url} if scenario.endpoint_env else {}
        env = credentials.environment(home, broken_file=scenario.broken_file, **extra)
        done = run_cli(scenario.args(here, where), env=env, plan=scenario.plan, cwd=where)
    outputs = {"stdout": done.stdout, "stderr": done.stderr}
    folders = [where, scene.lake]
    never = {**credentials.secrets(), **scene.records.in_response()}
    leaks = places_of(never, outputs, folders, skip=home)
    kept = places_of(scene.records.in_request(), outputs, folders, skip=home)
    return CanaryRun(scenario.name, done.returncode, done.stderr, tuple(leaks), tuple(kept))


def canary_runs(scene: Scene, scenarios: Sequence[Scenario], where: Path) -> list[CanaryRun]:
    """Return the runs of ``scenarios``, two at a time (each has its own proxy and folder)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(
            pool.map(
                lambda n_s: canary_run(scene, n_s[1], where / f"run{n_s[0]}"), enumerate(scenarios)
            )
        )


def make_scene(where: Path, corpus: Corpus, moto: str, bucket: str) -> Scene:
    """Return a scene: the corpus plus the secret records, uploaded and ingested; IAM filled."""
    trail = where / "trail"
    shutil.copytree(corpus.root, trail)
    records = RecordSecrets()
    records.write(trail)
    upload(moto, bucket, read_corpus(trail))
    fill_iam(moto)
    lake = where / "lake"
    trailmin.ingest([trail], lake=lake, workers=1)
    policy = where / "policy.json"
    statement = {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    return Scene(trail, bucket, moto, lake, policy, records)


def fill_iam(endpoint: str) -> None:
    """Give moto's IAM a user with a password and a key, a role and a policy (once)."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    iam = session.client("iam", endpoint_url=endpoint)
    if any(u["UserName"] == "alice" for u in iam.list_users()["Users"]):
        return
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Correct-horse-battery-9")
    iam.create_access_key(UserName="alice")
    ec2 = {"Service": "ec2.amazonaws.com"}
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": ec2, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(trust))
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    created = iam.create_policy(PolicyName="app-s3", PolicyDocument=json.dumps(allow))
    iam.attach_role_policy(RoleName="app", PolicyArn=created["Policy"]["Arn"])
    iam.attach_user_policy(UserName="alice", PolicyArn=created["Policy"]["Arn"])


# --- operations -----------------------------------------------------------------------------------

# The IAM action each S3 operation needs, as the Service Authorization Reference names it; an IAM
# or STS operation needs the action of its own name.
S3_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListBuckets": "s3:ListAllMyBuckets",
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "HeadBucket": "s3:ListBucket",
}


def access_level(service: str, operation: str) -> str:
    """Return the catalog's access level of the action an operation needs ("unknown": none)."""
    name = S3_ACTIONS.get(operation) if service == "s3" else f"{service}:{operation}"
    action = catalog.action(name) if name else None
    return action.access_level if action else "unknown"


def operations_of_a_full_run(
    scene: Scene, where: Path
) -> tuple[dict[str, tuple[int, str]], list[str]]:
    """Return each operation a full ``run s3://… --from-aws`` and an ``audit --from-aws`` (which
    fetches the credential report) made, with its count and its action's access level; and
    where canary credentials in the environment showed (nowhere, when all is well)."""
    credentials = Credentials()
    with FaultProxy(scene.moto) as proxy:
        env = credentials.environment(where / "home", AWS_ENDPOINT_URL=proxy.url)
        lake, out = str(where / "lake"), str(where / "out")
        full = run_cli(["run", scene.source, "--lake", lake, "--out", out, "--from-aws"], env=env)
        assert full.returncode in (0, 3), full.stderr
        checklist = run_cli(["audit", "--lake", lake, "--from-aws", "--format", "json"], env=env)
        assert checklist.returncode == 0, checklist.stderr
        made = Counter((s.service, s.operation) for s in proxy.seen)
    outputs = {
        "run's stdout": full.stdout,
        "run's stderr": full.stderr,
        "audit's stdout": checklist.stdout,
        "audit's stderr": checklist.stderr,
    }
    leaks = places_of(credentials.secrets(), outputs, [where], skip=where / "home")
    operations = {
        f"{service}:{operation}": (n, access_level(service, operation))
        for (service, operation), n in sorted(made.items())
    }
    return operations, leaks


# --- the tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    made = write_corpus(tmp_path_factory.mktemp("corpus") / "trail")
    assert 20 <= len(made.ids_by_key) <= 50
    return made


@pytest.fixture(scope="module")
def expected(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Counter[str]:
    return clean_ids(corpus, tmp_path_factory.mktemp("clean") / "lake")


@pytest.fixture(scope="module")
def fragmented(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fragmented_lake(corpus, tmp_path_factory.mktemp("fragmented") / "lake")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return trial_env(tmp_path / "home")


@pytest.fixture(scope="module")
def proxy(moto_server: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_server) as running:
        yield running


@pytest.fixture(scope="module")
def bucket(moto_server: str, corpus: Corpus) -> str:
    upload(moto_server, "trials-trail", corpus)
    return "trials-trail"


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, corpus: Corpus, moto_server: str) -> Scene:
    return make_scene(tmp_path_factory.mktemp("scene"), corpus, moto_server, "trials-canary")


# Points where a trial finds what the lead must fix in trailmin (none open).
KNOWN: dict[tuple[str, str, int], str] = {}


@pytest.mark.parametrize(
    ("point", "when", "nth"),
    [
        pytest.param(*p, marks=pytest.mark.xfail(strict=True, reason=KNOWN[p])) if p in KNOWN else p
        for p in INGEST_POINTS
    ],
    ids=[f"{w}-{p}-{n}" for p, w, n in INGEST_POINTS],
)
def test_an_ingest_killed_at_a_commit_point_is_completed_exactly_by_a_rerun(
    corpus: Corpus,
    expected: Counter[str],
    env: dict[str, str],
    tmp_path: Path,
    point: str,
    when: str,
    nth: int,
) -> None:
    """SIGKILL at the point: a reader sees no row twice nor one not committed; then a clean
    re-run: exactly the clean run's events, once each, and no file the manifest does not list."""
    plan = kill_plan(point, when, nth)

    trial = ingest_kill_trial(corpus, tmp_path / "lake", env, expected, plan=plan)

    assert trial.killed, "the planted kill was not reached"
    assert trial.problems == ()


def test_ingests_killed_at_random_moments_are_completed_exactly_by_a_rerun(
    corpus: Corpus, expected: Counter[str], env: dict[str, str], tmp_path: Path
) -> None:
    """Three SIGKILLs at seeded moments of a run of several commits, each then re-run."""
    chance = random.Random(14)
    timed = ingest_args(corpus.root, tmp_path / "timed")
    work = seconds_of_work(timed, env, tmp_path / "ready", {"task_bytes": TASK_BYTES})

    delays = [chance.uniform(0, 0.8 * work) for _ in range(3)]
    trials = [
        ingest_kill_trial(corpus, tmp_path / f"lake{n}", env, expected, delay=delay)
        for n, delay in enumerate(delays)
    ]

    assert [t.problems for t in trials] == [(), (), ()]
    assert any(t.killed for t in trials)


def test_compactions_killed_at_random_moments_are_completed_by_a_rerun(
    fragmented: Path, expected: Counter[str], env: dict[str, str], tmp_path: Path
) -> None:
    """Three SIGKILLs of `lake compact` at seeded moments; a re-run leaves the same events, each
    partition in one file, and no leftover."""
    chance = random.Random(23)
    shutil.copytree(fragmented, tmp_path / "timed")
    work = seconds_of_work(compact_args(tmp_path / "timed"), env, tmp_path / "ready", {})

    trials = [
        compact_kill_trial(
            fragmented, tmp_path / f"lake{n}", env, expected, delay=chance.uniform(0, 0.8 * work)
        )
        for n in range(3)
    ]

    assert [t.problems for t in trials] == [(), (), ()]
    assert any(t.killed for t in trials)


@pytest.mark.parametrize(
    ("holder", "intruder"), [("ingest", "ingest"), ("ingest", "compact"), ("compact", "ingest")]
)
def test_a_second_writer_is_refused_with_the_pid_of_the_first(
    corpus: Corpus,
    expected: Counter[str],
    fragmented: Path,
    env: dict[str, str],
    tmp_path: Path,
    holder: str,
    intruder: str,
) -> None:
    """While one writer holds the lake's lock, another exits 2 naming the holder's pid, and
    changes nothing: the holder then finishes to exactly the clean event set."""
    lake = tmp_path / "lake"
    if holder == "compact":
        shutil.copytree(fragmented, lake)
    args = {"ingest": ingest_args(corpus.root, lake), "compact": compact_args(lake)}

    with held_writer(args[holder], env, tmp_path) as first:
        second = run_cli(args[intruder], env=env)

    assert second.returncode == 2
    assert f"is being written by pid {first.pid} since" in second.stderr
    assert first.returncode == 0
    assert lake_problems(lake, expected) == []


S3_RULES = [
    pytest.param(FaultRule(0.3, ("500", "reset"), seed=30), id="30%-of-all-requests"),
    pytest.param(
        FaultRule(0.9, ("500", "reset", "403"), frozenset({"GetObject"}), seed=90),
        id="90%-of-GetObject",
    ),
]


@pytest.mark.parametrize("rule", S3_RULES)
def test_s3_faults_name_every_failed_key_and_a_clean_rerun_completes_the_lake(
    corpus: Corpus,
    bucket: str,
    proxy: FaultProxy,
    moto_server: str,
    env: dict[str, str],
    tmp_path: Path,
    rule: FaultRule,
) -> None:
    """Through the proxy the run skips exactly the keys whose every read failed (at 30 % the
    retries leave none), each named with a reason, and lands the rest once; a clean re-run reads
    only those and completes the lake."""
    run = fault_trial(corpus, bucket, proxy, moto_server, tmp_path / "lake", env, rule)

    assert run.problems == ()
    assert sum(run.injected.values()) >= 10, "the rule should have failed many requests"
    if rule.fraction > 0.5:
        assert len(run.named) == len(run.failed_keys) > 0


def test_a_listing_refused_is_an_error_naming_the_prefix_and_leaves_no_lake(
    bucket: str, proxy: FaultProxy, env: dict[str, str], tmp_path: Path
) -> None:
    """A listing AWS refuses stops the run before anything is read: exit 2, no lake made."""
    proxy.use(FaultRule(1.0, ("403",), frozenset({"ListObjectsV2"})))
    lake = tmp_path / "lake"

    refused = run_cli(
        ingest_args(f"s3://{bucket}/AWSLogs/", lake, "--endpoint-url", proxy.url), env=env
    )

    assert refused.returncode == 2
    assert f"error: Access denied listing s3://{bucket}/AWSLogs/" in refused.stderr
    assert not lake.exists()


def test_canary_secrets_appear_in_no_output_file_or_traceback(scene: Scene, tmp_path: Path) -> None:
    """Each command a user runs, error paths and a crash included, with canary credentials in
    the environment and in a profile: no secret key or session token (nor a responseElements
    secret of the records) in stdout, stderr, the lake, the proposals or the folder run in. The
    requestParameters secrets are kept in the lake's rows, as logged, and shown nowhere else."""
    runs = canary_runs(scene, CI_SCENARIOS, tmp_path)

    assert {r.name: r.leaks for r in runs} == {s.name: () for s in CI_SCENARIOS}
    assert {r.name: r.shown_request_secrets for r in runs} == {s.name: [] for s in CI_SCENARIOS}
    # Not redacted: a lake holds requestParameters as CloudTrail logged them.
    kept = places_of(scene.records.in_request(), {}, [scene.lake], skip=tmp_path)
    assert {place.split(" in ")[0] for place in kept} == set(scene.records.in_request())


def test_a_broken_credentials_file_is_an_error_not_a_crash(scene: Scene, tmp_path: Path) -> None:
    """A hand-edited ~/.aws/credentials that botocore cannot parse is the user's to fix: exit 2
    with a message naming the file, not a traceback."""
    (run,) = canary_runs(scene, [s for s in SCENARIOS if s.broken_file], tmp_path)

    assert run.exit_code == 2
    assert "Traceback" not in run.stderr
    assert "The AWS configuration cannot be read" in run.stderr
    assert "Unable to parse config file" in run.stderr


def test_a_full_run_makes_only_read_calls_and_shows_no_secret(scene: Scene, tmp_path: Path) -> None:
    """`run s3://… --from-aws` and `audit --from-aws` through the recording proxy, with canary
    credentials: every operation made needs an action of the Read or List access level (the
    catalog says so of GenerateCredentialReport too), and no secret shows."""
    made, leaks = operations_of_a_full_run(scene, tmp_path)

    assert {name for name, (_, level) in made.items() if level not in ("Read", "List")} == set()
    assert set(made) == {
        "s3:ListObjectsV2",
        "s3:GetObject",
        "iam:GetAccountAuthorizationDetails",
        "iam:GenerateCredentialReport",
        "iam:GetCredentialReport",
        "iam:GetAccountPasswordPolicy",  # audit --from-aws reads the password policy too
    }
    assert leaks == []
