"""Benchmark: how many resource-taking permissions the mapping scopes, on the real logs.

Each log set of ``../shared/real_logs/`` (awsdocs, invictus-ir, otrf, trailscraper,
zmallen-malformed) is ingested into its own temporary lake; then the lake's permissions column
is unnested and, of the (event, action, resource) rows whose action takes a resource (the
derivation is not "no resource type"), the script counts those scoped to an ARN or a pattern
(the resource is not ``*``), those left at ``*``, and those holding an unresolved ``${…}``
template variable (which must be none). Distinct (action, resource) pairs are counted too.

    .venv/bin/python bench/scoping.py                       # the code in this checkout
    PYTHONPATH=/tmp/base .venv/bin/python bench/scoping.py  # another checkout's trailmin
    .venv/bin/python bench/scoping.py --json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT.parent / "shared" / "real_logs"
SETS = ("awsdocs", "invictus-ir", "otrf", "trailscraper", "zmallen-malformed")

# Over the unnested permissions of resource-taking actions.
_SQL = """
WITH p AS (
    SELECT unnest(permissions) AS p FROM events
), taking AS (
    SELECT p.action AS action, p.resource AS resource FROM p
    WHERE p.derivation NOT LIKE '%no resource type%'
)
SELECT
    count(*),
    count(*) FILTER (WHERE resource <> '*'),
    count(*) FILTER (WHERE resource = '*'),
    count(*) FILTER (WHERE contains(resource, '${')),
    count(DISTINCT (action, resource)),
    count(DISTINCT (action, resource)) FILTER (WHERE resource <> '*')
FROM taking
"""


def measure(name: str) -> dict[str, Any]:
    """Return the scoping figures of one log set, ingested into a temporary lake."""
    from trailmin import api
    from trailmin.ingestion.pipeline import ingest

    with tempfile.TemporaryDirectory(prefix=f"scoping-{name}-") as folder:
        lake = Path(folder) / "lake"
        ingest([LOGS / name], lake=lake, workers=1)
        with contextlib.closing(api.connect(lake)) as db:
            row = db.sql(_SQL).fetchall()[0]
    assert row is not None
    rows, scoped, unscoped, variables, pairs, scoped_pairs = row
    return {
        "set": name,
        "rows": rows,
        "scoped": scoped,
        "scoped_share": round(scoped / rows, 4) if rows else None,
        "unscoped": unscoped,
        "with_variable": variables,
        "pairs": pairs,
        "scoped_pairs": scoped_pairs,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the table (or JSON) of every log set; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("sets", nargs="*", default=list(SETS), help="log sets to measure")
    options = parser.parse_args(argv)
    import trailmin

    results = [measure(name) for name in options.sets]
    if options.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"trailmin from {Path(trailmin.__file__).parent}")
    header = (
        f"{'set':<18} {'rows':>6} {'scoped':>7} {'share':>7} {'unscoped':>9} {'${':>4}"
        f" {'pairs':>6} {'scoped pairs':>13}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        share = f"{r['scoped_share']:.1%}" if r["scoped_share"] is not None else "-"
        print(
            f"{r['set']:<18} {r['rows']:>6} {r['scoped']:>7} {share:>7} {r['unscoped']:>9}"
            f" {r['with_variable']:>4} {r['pairs']:>6} {r['scoped_pairs']:>13}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
