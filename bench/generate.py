"""Benchmark: generate the policies of 1,000 principals.

The lake is built once from ``trailmin.synth.trail``: an organization of 150 accounts, each with the
generator's cast (application and CI roles, an Identity Center permission set, IAM users, root,
AWS services), two days of their calls; kept in ``bench/corpus/generate-<accounts>/lake``
(ignored by git) while its recipe holds.

Measured in a fresh process, sampled for peak RSS, best and median of ``--repeat`` runs:
``trailmin.generate(lake)`` (the usage query, then every proposal) and writing every proposal as
policy JSON files; the seconds of each step are reported too.

    .venv/bin/python bench/generate.py
    .venv/bin/python bench/generate.py --accounts 20 --json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import generator_version, run_measured  # shared with the ingest benchmark

ROOT = Path(__file__).resolve().parent.parent
CORPUS_ROOT = ROOT / "bench" / "corpus"


def build_lake(accounts: int) -> Path:
    """Return the lake of an organization of ``accounts`` accounts, built once."""
    import trailmin
    from trailmin.synth import trail as synth

    recipe = {
        "accounts": accounts,
        "days": 2,
        "per_day": 400,
        "seed": 31,
        "synth": generator_version(),
    }
    folder = CORPUS_ROOT / f"generate-{accounts}"
    marker = folder / "recipe.json"
    if marker.exists() and json.loads(marker.read_text()) == recipe:
        return folder / "lake"
    shutil.rmtree(folder, ignore_errors=True)
    began = time.perf_counter()
    synth.write_trail(
        folder / "trail",
        seed=31,
        start=date(2026, 3, 2),
        days=2,
        events_per_day=400,
        accounts=tuple(f"{200000000000 + n * 7919:012d}" for n in range(accounts)),
        regions=("us-east-1", "eu-west-1"),
        events_per_file=1000,
        digest=False,
    )
    summary = trailmin.ingest([folder / "trail"], lake=folder / "lake", workers=2)
    shutil.rmtree(folder / "trail")
    marker.write_text(json.dumps(recipe))
    print(
        f"lake: {summary.events:,} events of {accounts} accounts, built in "
        f"{time.perf_counter() - began:.0f} s",
        file=sys.stderr,
    )
    return folder / "lake"


RUN = """
import json, sys, time
began = time.perf_counter()
import trailmin
from trailmin import api
from trailmin.policy import generate as generation
imported = time.perf_counter()
frame = api.usage(sys.argv[1])
queried = time.perf_counter()
proposals = generation.generate(generation.used_from_frame(frame))
generated = time.perf_counter()
written = api.write_proposals(proposals, sys.argv[2], "json")
done = time.perf_counter()
print(json.dumps({
    "seconds": done - began, "import": imported - began, "usage": queried - imported,
    "generate": generated - queried, "write": done - generated,
    "principals": len(proposals), "proposed": sum(1 for p in proposals if p.policies),
    "policies": sum(len(p.policies) for p in proposals), "files": len(written),
    "usage_rows": len(frame),
}))
"""


def measure(lake: Path) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix="trailmin-bench-out-"))
    try:
        result, peak = run_measured([sys.executable, "-c", RUN, str(lake), str(out)], "generate")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    result["peak_rss_mib"] = round(peak / 2**20)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    import trailmin

    lake = build_lake(args.accounts)
    info = trailmin.lake_info(lake)
    runs = [measure(lake) for _ in range(args.repeat)]
    if args.json:
        print(json.dumps({"events": info.rows, "runs": runs}, indent=2))
        return
    first = runs[0]
    seconds = [r["seconds"] for r in runs]
    print(
        f"lake      {info.rows:,} events, {info.principals:,} principals, "
        f"{first['usage_rows']:,} usage rows"
    )
    print(
        f"generate  best {min(seconds):.2f} s  median {statistics.median(seconds):.2f} s  "
        f"peak RSS {max(r['peak_rss_mib'] for r in runs):,} MiB  "
        f"{first['principals']:,} principals, {first['proposed']:,} with policies, "
        f"{first['policies']:,} policies, {first['files']:,} files"
    )
    best = min(runs, key=lambda r: r["seconds"])
    print(
        "steps     "
        + "  ".join(f"{k} {best[k]:.2f} s" for k in ("import", "usage", "generate", "write"))
    )


if __name__ == "__main__":
    main()
