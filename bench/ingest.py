"""Benchmark: local ingest throughput against the decode floor, with 1 and 2 workers.

What it measures, on a corpus written by ``trailmin.synth.trail`` (CloudTrail's S3 layout, gzipped
delivery files of realistic records, about 1.4 KB each uncompressed):

- the **floor**: read every file, gunzip it and decode it with msgspec into trailmin's typed
  structs, nothing else (no normalization, no Arrow, no Parquet, no manifest). Also reported: the
  typed decode alone on bytes already gunzipped in memory.
- **ingest** with ``--workers 1`` and ``--workers 2``, end to end (listing, manifest, decoding,
  normalization, mapping to permissions, Parquet writing, commits) into a fresh lake: events/s,
  MB/s of source bytes (compressed and not) and peak RSS of the whole process tree, sampled from
  /proc; and the same without mapping (``--no-map``).
- **flatness**: the same ingests over the first quarter, half and all of the corpus (selected with
  ``--end``), to show peak RSS does not grow with the corpus.

Each ingest runs in a fresh Python process, so one run's memory cannot flatter the next.

    .venv/bin/python bench/ingest.py                 # 1,000,000 events (default)
    .venv/bin/python bench/ingest.py --events 200000 --json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS_ROOT = ROOT / "bench" / "corpus"


def generator_version() -> str:
    """Return a digest of the generator's source: a corpus is rebuilt when the generator changes."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "trailmin" / "synth").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


START = date(2026, 1, 5)
DAYS = 8


def build_corpus(events: int) -> Path:
    """Return a corpus of ``events`` events, written once and reused while its recipe holds."""
    from trailmin.synth import trail as synth

    recipe = {
        "events": events,
        "days": DAYS,
        "start": START.isoformat(),
        "seed": 11,
        "synth": generator_version(),
    }
    folder = CORPUS_ROOT / f"ingest-{events}"
    marker = folder / "recipe.json"
    if marker.exists() and json.loads(marker.read_text()) == recipe:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    began = time.perf_counter()
    summary = synth.write_trail(
        folder / "trail",
        seed=11,
        start=START,
        days=DAYS,
        events_per_day=events // DAYS,
        accounts=("111122223333",),
        regions=("us-east-1", "eu-west-1"),
        events_per_file=1000,
        digest=False,
    )
    marker.write_text(json.dumps(recipe))
    print(
        f"corpus: {summary.events:,} events in {summary.files:,} files, "
        f"{summary.bytes / 1e6:,.0f} MB gzipped, {summary.uncompressed_bytes / 1e6:,.0f} MB raw, "
        f"written in {time.perf_counter() - began:.0f} s",
        file=sys.stderr,
    )
    return folder


def log_files(corpus: Path) -> list[Path]:
    return sorted(p for p in (corpus / "trail").rglob("*.json.gz") if "Digest" not in p.name)


def measure_floor(files: list[Path]) -> dict[str, Any]:
    """Return the floor: read, gunzip and typed-decode every file (and decode alone)."""
    import gc

    from trailmin.ingestion.decode import _DELIVERY  # the structs ingest decodes into

    gc.disable()
    events = raw_bytes = 0
    began = time.perf_counter()
    for path in files:
        text = gzip.decompress(path.read_bytes())
        raw_bytes += len(text)
        events += len(_DELIVERY.decode(text).Records or ())
    full = time.perf_counter() - began
    # Decode alone, on bytes already in memory, in slices so memory stays small.
    decode_only = 0.0
    for first in range(0, len(files), 200):
        texts = [gzip.decompress(p.read_bytes()) for p in files[first : first + 200]]
        began = time.perf_counter()
        for text in texts:
            _DELIVERY.decode(text)
        decode_only += time.perf_counter() - began
    gc.enable()
    compressed = sum(p.stat().st_size for p in files)
    return {
        "events": events,
        "seconds": round(full, 3),
        "events_per_s": round(events / full),
        "mb_per_s_compressed": round(compressed / full / 1e6, 1),
        "mb_per_s_raw": round(raw_bytes / full / 1e6, 1),
        "decode_only_events_per_s": round(events / decode_only),
        "raw_bytes": raw_bytes,
        "compressed_bytes": compressed,
    }


class TreeRss:
    """Samples the resident memory of a process and all its descendants (Linux /proc)."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(_rss(p) for p in _tree(self.pid)))
            time.sleep(self.interval)


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def run_measured(command: list[str], what: str) -> tuple[dict[str, Any], int]:
    """Return the JSON ``command`` prints and the peak RSS (bytes) of its process tree."""
    with (
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process,
        TreeRss(process.pid) as rss,
    ):
        output, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"{what} failed with exit code {process.returncode}")
    found: dict[str, Any] = json.loads(output)
    return found, rss.peak


INGEST = """
import json, sys, trailmin
from trailmin.ingestion import pipeline as ingestion
summary = trailmin.ingest(
    [sys.argv[1]], lake=sys.argv[2], workers=int(sys.argv[3]),
    end=trailmin.parse_time(sys.argv[4]) if sys.argv[4] != "-" else None,
    map_permissions=sys.argv[5] == "map",
)
print(json.dumps(summary.to_dict()))
"""


def measure_ingest(
    corpus: Path, workers: int, end: date | None, *, mapping: bool = True
) -> dict[str, Any]:
    """Return events/s, MB/s and the peak RSS of one ingest in a fresh process."""
    lake = Path(tempfile.mkdtemp(prefix="trailmin-bench-lake-"))
    try:
        command = [
            sys.executable,
            "-c",
            INGEST,
            str(corpus / "trail"),
            str(lake / "lake"),
            str(workers),
            end.isoformat() if end else "-",
            "map" if mapping else "no-map",
        ]
        began = time.perf_counter()
        summary, peak = run_measured(command, "ingest")
        wall = time.perf_counter() - began
        parquet = sum(p.stat().st_size for p in (lake / "lake" / "events").rglob("*.parquet"))
    finally:
        shutil.rmtree(lake, ignore_errors=True)
    seconds = summary["seconds"]
    return {
        "workers": workers,
        "mapping": mapping,
        "events": summary["events"],
        "files": summary["sources_read"],
        "seconds": seconds,
        "wall_seconds_with_interpreter_start": round(wall, 3),
        "events_per_s": round(summary["events"] / seconds),
        "mb_per_s_compressed": round(summary["bytes_read"] / seconds / 1e6, 1),
        "peak_rss_mib": round(peak / 2**20),
        "parquet_mb": round(parquet / 1e6, 1),
        "data_files": summary["files_written"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--no-flatness", action="store_true", help="skip the growth runs")
    args = parser.parse_args()

    corpus = build_corpus(args.events)
    files = log_files(corpus)
    floor = measure_floor(files)
    runs = [measure_ingest(corpus, workers, None) for workers in (1, 2)]
    unmapped = [measure_ingest(corpus, workers, None, mapping=False) for workers in (1, 2)]
    growth = []
    if not args.no_flatness:
        for fraction in (4, 2):
            end = START + timedelta(days=DAYS // fraction)
            growth += [measure_ingest(corpus, workers, end) for workers in (1, 2)]
    raw_per_event = floor["raw_bytes"] / floor["events"]
    results = {
        "corpus": {
            "events": floor["events"],
            "files": len(files),
            "bytes_per_event_raw": round(raw_per_event),
            "gzip_mb": round(floor["compressed_bytes"] / 1e6),
        },
        "floor": floor,
        "ingest": runs,
        "ingest_without_mapping": unmapped,
        "growth": growth,
        "ratio_1_worker_to_floor": round(runs[0]["events_per_s"] / floor["events_per_s"], 2),
        "speedup_2_workers": round(runs[1]["events_per_s"] / runs[0]["events_per_s"], 2),
        "ratio_1_worker_to_floor_without_mapping": round(
            unmapped[0]["events_per_s"] / floor["events_per_s"], 2
        ),
        "speedup_2_workers_without_mapping": round(
            unmapped[1]["events_per_s"] / unmapped[0]["events_per_s"], 2
        ),
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    c = results["corpus"]
    print(
        f"corpus      {c['events']:>10,} events  {c['files']:,} files  "
        f"{c['bytes_per_event_raw']} B/event raw  {c['gzip_mb']} MB gzipped"
    )
    print(
        f"floor       {floor['events_per_s']:>10,} events/s  "
        f"{floor['mb_per_s_compressed']:>6} MB/s gz  {floor['mb_per_s_raw']:>6} MB/s raw   "
        f"(read + gunzip + typed decode; decode alone {floor['decode_only_events_per_s']:,}/s)"
    )
    for run in [*runs, *unmapped, *growth]:
        label = "map   " if run["mapping"] else "no-map"
        print(
            f"ingest {label} w={run['workers']}  {run['events_per_s']:>10,} events/s  "
            f"{run['mb_per_s_compressed']:>6} MB/s gz  "
            f"{run['events']:>9,} events in {run['seconds']:6.1f} s  "
            f"peak RSS {run['peak_rss_mib']:>5} MiB  "
            f"{run['data_files']} Parquet files, {run['parquet_mb']} MB"
        )
    print(
        f"with mapping:    1 worker / floor = {results['ratio_1_worker_to_floor']}   "
        f"2 workers / 1 worker = {results['speedup_2_workers']}"
    )
    print(
        "without mapping: 1 worker / floor = "
        f"{results['ratio_1_worker_to_floor_without_mapping']}   "
        f"2 workers / 1 worker = {results['speedup_2_workers_without_mapping']}"
    )


if __name__ == "__main__":
    main()
