"""Ingest from S3 with network latency: how much keeping many GetObject requests in flight buys.

What it measures
    moto's S3 server runs in its own process on loopback, behind a tiny WSGI middleware that sleeps
    ``--delay-ms`` (default 20 ms) before answering EVERY request, listing included: a stand-in
    for the round trip to S3 from outside its region. ``--objects`` (default 2,000) small gzipped
    CloudTrail delivery files, two to six records each, are put into it before the delay is
    switched on, through moto's own WSGI app inside the server process (no HTTP, no boto3: about
    4 ms each). Then ``trailmin.ingest(["s3://bench/AWSLogs/"], ...)`` runs into a fresh lake:

    * ``workers=1, max_in_flight=1``: one request at a time, the latency paid once per object;
    * ``workers=1`` with the default ``max_in_flight``;
    * ``workers=2`` with the default ``max_in_flight``, as a user would call it (a run this small
      stays in one process: it is under ``ingestion.SMALL_RUN_BYTES``);
    * ``workers=2`` with ``SMALL_RUN_BYTES`` set to 0, so the process pool is really used.

    Each row gives seconds (wall clock around the call), objects/s, events/s, and the CPU seconds
    the server processes and this side (this process and its finished children) spent: a server
    whose CPU seconds come close to the wall clock is saturated. The last line gives the speed-up
    of the default window over one request in flight.

    Probe rows give the ceilings any pipeline faces here: bare boto3 GetObject calls (no decode,
    no lake) with 1 thread and with as many threads as the default window, with the delay and
    without it, on a subset of ``--probe-objects``; and the same files ingested from local disk
    (no S3 at all) with one worker.

How to run it (from the project root; about two and a half minutes with the defaults)::

    .venv/bin/python bench/ingest_s3.py
    .venv/bin/python bench/ingest_s3.py --delay-ms 100 --objects 1000 --json
    .venv/bin/python bench/ingest_s3.py --servers 2   # two moto processes on one port

``--servers N`` starts N moto processes sharing the port (``SO_REUSEPORT``, the kernel spreads the
connections), each loaded with the same objects, to tell the server's limit from trailmin's.
Fake AWS credentials are set in this process's environment; nothing reaches AWS. The temporary
lakes and files are deleted and the server processes stopped on the way out, error or not.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import queue
import random
import resource
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Before boto3 is imported anywhere, here and in every process this one starts.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
    os.environ.pop(_name, None)

import boto3  # noqa: E402 - the credentials above must be in place first
from botocore.config import Config  # noqa: E402

from trailmin.ingestion import pipeline as ingestion  # noqa: E402

BUCKET = "bench"
ACCOUNTS = ("111122223333", "444455556666")
REGIONS = ("us-east-1", "eu-west-1")
FIRST_DAY = datetime(2026, 10, 1, tzinfo=UTC)
SEED = 7


# --- the data ------------------------------------------------------------------------------------

_CALLS = (
    ("s3.amazonaws.com", "GetObject", True, {"bucketName": "app-data", "key": "in/{n}.csv"}),
    ("s3.amazonaws.com", "PutObject", False, {"bucketName": "app-data", "key": "out/{n}.csv"}),
    ("dynamodb.amazonaws.com", "GetItem", True, {"tableName": "orders"}),
    ("sts.amazonaws.com", "AssumeRole", True, {"roleArn": "arn:aws:iam::{a}:role/deploy"}),
    ("ec2.amazonaws.com", "DescribeInstances", True, {"maxResults": 100}),
    ("kms.amazonaws.com", "Decrypt", True, {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
    ("lambda.amazonaws.com", "Invoke", False, {"functionName": "resize-{n}"}),
)


def _record(rng: random.Random, account: str, region: str, moment: datetime) -> dict[str, Any]:
    source, name, read_only, params = rng.choice(_CALLS)
    n = rng.randrange(10_000)
    role = rng.choice(("app-backend", "etl-nightly", "AWSReservedSSO_Admin_0a1b2c3d4e5f6789"))
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE{n:05d}:session-{n}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/session-{n}",
            "accountId": account,
            "accessKeyId": f"ASIAEXAMPLE{n:09d}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLE",
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "attributes": {
                    "creationDate": f"{moment - timedelta(minutes=30):%Y-%m-%dT%H:%M:%SZ}",
                    "mfaAuthenticated": "false",
                },
            },
        },
        "eventTime": f"{moment:%Y-%m-%dT%H:%M:%SZ}",
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": f"198.51.100.{n % 250}",
        "userAgent": "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1 lang/python#3.11.7",
        "requestParameters": {
            k: v.format(n=n, a=account) if isinstance(v, str) else v for k, v in params.items()
        },
        "responseElements": None,
        "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventID": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": source != "s3.amazonaws.com",
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com",
        },
    }


def deliveries(count: int) -> Iterator[tuple[str, bytes, int]]:
    """Yield (key, gzipped body, records) of ``count`` delivery files, the same on every call."""
    rng = random.Random(SEED)
    streams = [(a, r) for a in ACCOUNTS for r in REGIONS]
    for i in range(count):
        account, region = streams[i % len(streams)]
        stamp = FIRST_DAY + timedelta(minutes=5 * (i // len(streams)))
        records = [
            _record(rng, account, region, stamp - timedelta(seconds=rng.randrange(60, 900)))
            for _ in range(rng.randint(2, 6))
        ]
        name = (
            f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_"
            f"{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}.json.gz"
        )
        key = f"AWSLogs/{account}/CloudTrail/{region}/{stamp:%Y/%m/%d}/{name}"
        body = gzip.compress(json.dumps({"Records": records}).encode(), mtime=0)
        yield key, body, len(records)


# --- the server: moto behind a delay, in processes of its own ------------------------------------


class _Delayed:
    """WSGI middleware: sleep ``delay.value`` seconds, then let moto answer."""

    def __init__(self, app: Any, delay: Any) -> None:
        self.app = app
        self.delay = delay

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        seconds = self.delay.value
        if seconds > 0:
            time.sleep(seconds)
        return self.app(environ, start_response)


def _load(app: Any, count: int) -> None:
    """Put the bench objects into this process's moto through its WSGI app (no HTTP)."""
    from werkzeug.test import Client

    client = Client(app)
    headers = {
        "Host": "127.0.0.1",
        # moto picks the service from the signature's credential scope; it checks nothing else.
        "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20261001/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    for path, body in [
        (f"/{BUCKET}", b""),
        *((f"/{BUCKET}/{k}", b) for k, b, _ in deliveries(count)),
    ]:
        response = client.put(path, data=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"loading {path} into moto failed: {response.status}")


def _serve(port: int, count: int, delay: Any, ready: Any, stop: Any) -> None:
    """Load the objects, then serve them on ``port`` (shared: SO_REUSEPORT) until ``stop``."""
    # Imported here, in the spawned server: the parent's ingest workers re-import this module.
    import logging
    import threading

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )
    from moto.server import MotoRequestHandler
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on stderr
    moto_app = DomainDispatcherApplication(create_backend_app)
    _load(moto_app, count)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    server = make_server(
        "127.0.0.1",
        listener.getsockname()[1],
        _Delayed(moto_app, delay),
        threaded=True,  # a thread per connection, HTTP/1.1 keep-alive
        request_handler=MotoRequestHandler,
        fd=listener.fileno(),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ready.put(port)
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        listener.close()
        thread.join(timeout=10)


@dataclass
class Servers:
    """The running server processes: their endpoint and the delay (seconds) they add."""

    endpoint: str
    delay: Any
    processes: list[Any] = field(default_factory=list)

    def set_delay_ms(self, ms: float) -> None:
        self.delay.value = ms / 1000

    def cpu_seconds(self) -> float | None:
        """Return the CPU seconds the server processes have used so far (Linux), else None."""
        total = 0.0
        for process in self.processes:
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


def _wait_until_ready(ready: Any, processes: list[Any]) -> None:
    deadline = time.monotonic() + 300
    waiting = len(processes)
    while waiting:
        try:
            ready.get(timeout=1)
            waiting -= 1
        except queue.Empty:
            for process in processes:
                if not process.is_alive():
                    raise SystemExit(
                        f"{process.name} died (exit code {process.exitcode})"
                    ) from None
            if time.monotonic() > deadline:
                raise SystemExit("the moto servers did not start within 300 s") from None


@contextmanager
def moto_servers(count: int, objects: int) -> Iterator[Servers]:
    context = multiprocessing.get_context("spawn")
    delay = context.Value("d", 0.0)
    ready = context.Queue()
    stop = context.Event()
    processes: list[Any] = []
    # Hold a free port (bound, not listening: it takes no connection) while the servers, which
    # load their objects at the same time, bind it too.
    reserved = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        for n in range(count):
            process = context.Process(
                target=_serve, args=(port, objects, delay, ready, stop), name=f"bench-moto-{n}"
            )
            process.start()
            processes.append(process)
        _wait_until_ready(ready, processes)
        reserved.close()
        yield Servers(endpoint=f"http://127.0.0.1:{port}", delay=delay, processes=processes)
    finally:
        reserved.close()
        stop.set()
        for process in processes:
            process.join(timeout=15)
            if process.is_alive():
                process.terminate()  # this one process, started above
                process.join(timeout=5)
        ready.close()


# --- the runs ------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    workers: int | None
    max_in_flight: int | None
    seconds: float
    objects: int
    events: int | None
    server_cpu: float | None = None
    client_cpu: float | None = None
    pool_used: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("seconds", "server_cpu", "client_cpu"):
            data[key] = None if data[key] is None else round(data[key], 2)
        data["objects_per_s"] = round(self.objects / self.seconds, 1)
        data["events_per_s"] = None if self.events is None else round(self.events / self.seconds)
        return data


def _own_cpu() -> float:
    """Return the CPU seconds of this process and of its children that have been waited for."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def _measured(servers: Servers | None) -> Iterator[dict[str, float | None]]:
    figures: dict[str, float | None] = {}
    server_before = servers.cpu_seconds() if servers else None
    client_before = _own_cpu()
    began = time.perf_counter()
    try:
        yield figures
    finally:
        figures["seconds"] = time.perf_counter() - began
        figures["client_cpu"] = _own_cpu() - client_before
        server_after = servers.cpu_seconds() if servers else None
        if server_before is not None and server_after is not None:
            figures["server_cpu"] = server_after - server_before


@contextmanager
def _small_run_bytes(value: int | None) -> Iterator[list[int]]:
    """Optionally set ``SMALL_RUN_BYTES``; always count the runs that start the process pool."""
    saved_small, saved_pool = ingestion.SMALL_RUN_BYTES, ingestion._run_pool
    pools: list[int] = []

    def counting_pool(tasks: list[Any], *args: Any, **kwargs: Any) -> None:
        pools.append(len(tasks))
        saved_pool(tasks, *args, **kwargs)

    ingestion._run_pool = counting_pool
    if value is not None:
        ingestion.SMALL_RUN_BYTES = value
    try:
        yield pools
    finally:
        ingestion.SMALL_RUN_BYTES, ingestion._run_pool = saved_small, saved_pool


def ingest_row(
    name: str,
    source: str,
    expected: tuple[int, int],
    servers: Servers | None,
    *,
    workers: int,
    max_in_flight: int | None = None,
    small_run_bytes: int | None = None,
) -> Row:
    options: dict[str, Any] = {"workers": workers}
    if servers is not None:
        options["endpoint_url"] = servers.endpoint
    if max_in_flight is not None:
        options["max_in_flight"] = max_in_flight
    with (
        tempfile.TemporaryDirectory(prefix="trailmin-bench-s3-") as scratch,
        _small_run_bytes(small_run_bytes) as pools,
        _measured(servers) as figures,
    ):
        summary = ingestion.ingest([source], lake=Path(scratch) / "lake", **options)
    if (summary.sources_read, summary.events) != expected or not summary.clean:
        raise SystemExit(
            f"{name}: read {summary.sources_read} objects and {summary.events} events "
            f"(clean: {summary.clean}), expected {expected[0]} and {expected[1]}"
        )
    return Row(
        name,
        workers,
        (max_in_flight or ingestion.DEFAULT_IN_FLIGHT) if servers else None,
        figures["seconds"] or 0.0,
        summary.sources_read,
        summary.events,
        server_cpu=figures.get("server_cpu"),
        client_cpu=figures.get("client_cpu"),
        pool_used=bool(pools),
    )


def _client(endpoint: str, pool: int) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(max_pool_connections=pool, retries={"mode": "standard"}),
    )


def probe_row(name: str, servers: Servers, keys: list[str], threads: int) -> Row:
    """Time bare GetObject calls from ``threads`` threads: the ceiling of server and boto3."""
    client = _client(servers.endpoint, max(10, threads))
    client.head_bucket(Bucket=BUCKET)  # one connection open before the clock starts

    def get(key: str) -> int:
        return len(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    with _measured(servers) as figures, ThreadPoolExecutor(threads) as pool:
        list(pool.map(get, keys))
    return Row(
        name,
        None,
        threads,
        figures["seconds"] or 0.0,
        len(keys),
        None,
        server_cpu=figures.get("server_cpu"),
        client_cpu=figures.get("client_cpu"),
    )


def local_row(files: list[tuple[str, bytes, int]], expected: tuple[int, int]) -> Row:
    """Ingest the same files from local disk, one worker: trailmin's ceiling without S3."""
    with tempfile.TemporaryDirectory(prefix="trailmin-bench-s3-files-") as scratch:
        for key, body, _ in files:
            path = Path(scratch) / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        return ingest_row("local files, no S3", scratch, expected, None, workers=1)


def run(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    default = ingestion.DEFAULT_IN_FLIGHT
    files = list(deliveries(args.objects))
    keys = [key for key, _, _ in files]
    records = sum(n for _, _, n in files)
    size = sum(len(body) for _, body, _ in files)
    expected = (len(files), records)
    source = f"s3://{BUCKET}/AWSLogs/"
    rows: list[Row] = []

    def add(row: Row) -> None:
        rows.append(row)
        say(f"  {row.name}: {row.seconds:.1f} s")

    began = time.perf_counter()
    with moto_servers(args.servers, args.objects) as servers:
        say(
            f"{args.servers} moto server(s) at {servers.endpoint} loaded with {len(files):,} "
            f"objects ({records:,} records, {size / 1e6:.1f} MB gzipped) in "
            f"{time.perf_counter() - began:.1f} s; every request now waits {args.delay_ms} ms"
        )
        servers.set_delay_ms(args.delay_ms)
        add(ingest_row("ingest 1 in flight", source, expected, servers, workers=1, max_in_flight=1))
        add(ingest_row("ingest default", source, expected, servers, workers=1))
        add(ingest_row("ingest 2 workers", source, expected, servers, workers=2))
        add(
            ingest_row(
                "ingest 2 workers, pool forced",
                source,
                expected,
                servers,
                workers=2,
                small_run_bytes=0,
            )
        )
        if not args.no_probe:
            subset = keys[: args.probe_objects]
            add(probe_row("raw GET, 1 thread", servers, subset[: max(1, len(subset) // 10)], 1))
            add(probe_row(f"raw GET, {default} threads", servers, subset, default))
            servers.set_delay_ms(0)
            add(probe_row(f"raw GET, {default} threads, 0 ms", servers, subset, default))
    if not args.no_probe:
        add(local_row(files, expected))
    one, many = rows[0], rows[1]
    return {
        "delay_ms": args.delay_ms,
        "objects": len(files),
        "records": records,
        "gzipped_bytes": size,
        "servers": args.servers,
        "default_max_in_flight": default,
        "small_run_bytes": ingestion.SMALL_RUN_BYTES,
        "cpus": os.cpu_count(),
        "speedup_default_over_1_in_flight": round(one.seconds / many.seconds, 2),
        "runs": [row.to_dict() for row in rows],
    }


def table(result: dict[str, Any]) -> str:
    def cell(value: Any, spec: str = "") -> str:
        return "" if value is None else format(value, spec)

    header = (
        f"{'run':32} {'workers':>7} {'in flight':>9} {'seconds':>8} {'objects/s':>9} "
        f"{'events/s':>8} {'server CPU s':>12} {'client CPU s':>12} {'pool':>4}"
    )
    pools = {None: "", True: "yes", False: "no"}
    lines = [header, "-" * len(header)]
    lines.extend(
        f"{row['name']:32} {cell(row['workers']):>7} {cell(row['max_in_flight']):>9} "
        f"{row['seconds']:>8.2f} {row['objects_per_s']:>9,.1f} "
        f"{cell(row['events_per_s'], ','):>8} {cell(row['server_cpu'], '.2f'):>12} "
        f"{cell(row['client_cpu'], '.2f'):>12} {pools[row['pool_used']]:>4}"
        for row in result["runs"]
    )
    lines.append(
        f"speed-up of the default ({result['default_max_in_flight']} in flight) over 1 in flight: "
        f"{result['speedup_default_over_1_in_flight']}x  ({result['objects']:,} objects, "
        f"{result['delay_ms']:g} ms a request, {result['servers']} server process(es), "
        f"{result['cpus']} CPUs)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=2000, help="delivery files to serve")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="added to every request")
    parser.add_argument("--servers", type=int, default=1, help="moto processes on the port")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-probe", action="store_true", help="only the four ingest runs")
    parser.add_argument(
        "--probe-objects", type=int, default=500, help="objects the GetObject probes read"
    )
    args = parser.parse_args(argv)
    if args.objects < 1 or args.delay_ms < 0 or args.servers < 1 or args.probe_objects < 1:
        parser.error("--objects, --servers and --probe-objects must be positive, --delay-ms >= 0")

    def say(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    result = run(args, say)
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
