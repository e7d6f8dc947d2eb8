"""Benchmark: the usage aggregation over a lake of 10 million generated events.

The lake is built once from ``trailmin.synth.trail``: the ingest benchmark's trail (8 days of one
account's workload, two regions) run in ten accounts, each with its own account id throughout,
ingested by trailmin with two workers and compacted, then kept in
``bench/corpus/usage-<events>/lake`` (ignored by git) while its recipe holds; the copied trail is
deleted once ingested, to spare the disk. Building it takes about ten minutes on 2 cores.

Each measurement runs in a fresh Python process, sampled for the peak resident memory of the
process tree, and is repeated (``--repeat``); the best and the median are reported:

- ``usage``: ``trailmin.usage(lake)``, every (principal, action, resource) over all events,
  into a pandas DataFrame;
- ``usage, one principal``: the same for the busiest role, by exact ARN;
- ``principals``: the per-principal summary over all events.

    .venv/bin/python bench/usage.py                     # 10,000,000 events (default)
    .venv/bin/python bench/usage.py --events 1000000 --json
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import (  # shared with the ingest benchmark
    build_corpus,
    generator_version,
    log_files,
    run_measured,
)

ROOT = Path(__file__).resolve().parent.parent
CORPUS_ROOT = ROOT / "bench" / "corpus"
COPIES = 10
BASE_ACCOUNT = b"111122223333"


def account_of_copy(copy: int) -> bytes:
    """Return the account id of the ``copy``-th organization account: 010101010101, …"""
    return f"{copy + 1:02d}".encode() * 6


def _copy_file(job: tuple[Path, Path, int]) -> int:
    """Write one delivery file of the base trail as the ``copy``-th account's; return its size."""
    source, target, copy = job
    text = gzip.decompress(source.read_bytes())
    text = text.replace(BASE_ACCOUNT, account_of_copy(copy))
    text = text.replace(b'"eventID":"', b'"eventID":"%02d-' % copy)  # still unique
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(gzip.compress(text, compresslevel=1, mtime=0))
    return len(text)


def build_lake(events: int) -> Path:
    """Return a lake of ``events`` generated events, built once and kept while its recipe holds.

    The generator writes a trail of ``events / COPIES`` events for one account (the ingest
    benchmark's corpus); the organization is that account's workload run in ``COPIES`` accounts,
    each copy with its own account id in every ARN, resource and partition (so ten times the
    principals and resources, not ten times the same ones), and its own event ids. The copies are
    ingested by trailmin like any trail and compacted.
    """
    import trailmin

    recipe = {"events": events, "copies": COPIES, "v": 2, "synth": generator_version()}
    folder = CORPUS_ROOT / f"usage-{events}"
    marker = folder / "recipe.json"
    if marker.exists() and json.loads(marker.read_text()) == recipe:
        return folder / "lake"
    shutil.rmtree(folder, ignore_errors=True)
    began = time.perf_counter()
    base = build_corpus(events // COPIES)
    files = log_files(base)
    jobs = []
    for copy in range(COPIES):
        account = account_of_copy(copy).decode()
        for path in files:
            relative = str(path.relative_to(base / "trail")).replace(BASE_ACCOUNT.decode(), account)
            jobs.append((path, folder / "trail" / relative, copy))
    with ProcessPoolExecutor(max_workers=2) as pool:
        raw = sum(pool.map(_copy_file, jobs, chunksize=64))
    copied = time.perf_counter() - began
    ingested = trailmin.ingest([folder / "trail"], lake=folder / "lake", workers=2)
    compacted = trailmin.compact(folder / "lake")
    shutil.rmtree(folder / "trail")
    marker.write_text(json.dumps(recipe))
    print(
        f"lake: {ingested.events:,} events ({raw / 1e9:,.1f} GB of JSON in {len(jobs):,} files) "
        f"written in {copied:.0f} s, ingested and compacted into {compacted.files_after:,} files "
        f"in {time.perf_counter() - began - copied:.0f} s",
        file=sys.stderr,
    )
    return folder / "lake"


RUN = """
import json, sys, time
began = time.perf_counter()
import trailmin
kind, lake, principal = sys.argv[1], sys.argv[2], sys.argv[3]
options = {"principals": [principal]} if principal != "-" else {}
frame = getattr(trailmin, kind)(lake, **options)
print(json.dumps({"rows": len(frame), "seconds": time.perf_counter() - began,
                  "calls": int(frame["calls"].sum())}))
"""


def measure(kind: str, lake: Path, principal: str | None) -> dict[str, Any]:
    """Return the seconds (import included), rows and peak RSS of one query in a fresh process."""
    command = [sys.executable, "-c", RUN, kind, str(lake), principal or "-"]
    result, peak = run_measured(command, kind)
    result["peak_rss_mib"] = round(peak / 2**20)
    return result


def busiest_role(lake: Path) -> str:
    import trailmin

    frame = trailmin.principals(lake)
    roles = frame[frame["principal_type"] == "Role"]
    return str(roles["principal"].iloc[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    import trailmin

    lake = build_lake(args.events)
    info = trailmin.lake_info(lake)
    role = busiest_role(lake)
    runs: dict[str, list[dict[str, Any]]] = {}
    for label, kind, principal in (
        ("usage", "usage", None),
        ("usage, one principal", "usage", role),
        ("principals", "principals", None),
    ):
        runs[label] = [measure(kind, lake, principal) for _ in range(args.repeat)]
    results = {
        "events": info.rows,
        "files": info.files,
        "lake_mb": round(info.bytes / 1e6),
        "principal": role,
        "runs": runs,
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"lake       {info.rows:,} events  {info.files:,} files  {info.bytes / 1e6:,.0f} MB  "
        f"{info.principals:,} principals  {info.first_event} .. {info.last_event}"
    )
    for label, measured in runs.items():
        seconds = [m["seconds"] for m in measured]
        print(
            f"{label:22} best {min(seconds):6.2f} s  median {statistics.median(seconds):6.2f} s  "
            f"peak RSS {max(m['peak_rss_mib'] for m in measured):5,} MiB  "
            f"{measured[0]['rows']:,} rows, {measured[0]['calls']:,} calls"
        )
    print(f"one principal: {role}")


if __name__ == "__main__":
    main()
