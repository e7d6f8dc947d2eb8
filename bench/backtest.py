"""Benchmark: breakage and leakage of proposals made from 60 days, replayed on the next 30.

The trail is ``trailmin synth --churn``: an organization whose workloads churn as real ones do
(new object keys, log streams, instances, task-definition revisions, Lambda versions, Step
Functions executions every day, stable tables, queues and secrets), written once into
``bench/corpus/backtest-<days>/`` (ignored by git) while its recipe holds.

For each way of writing the policies it runs ``trailmin.backtest`` (proposals from the first
two thirds of the window, the last third replayed) and reports, for workloads and for people
apart:

- breakage: the share of the later part's authorized calls the proposal refuses;
- leakage: the share of probes it allows (its actions on resources of the account it never
  touched, other actions of the services it used).

The ways: each ``--generalize`` level (``churn`` is the default), and for scale two that are not
trailmin's: every used action on ``*`` (what action-level generation gives) and whole services
(``s3:*`` on ``*``).

    .venv/bin/python bench/backtest.py
    .venv/bin/python bench/backtest.py --days 90 --per-day 2000 --json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import generator_version  # shared with the ingest benchmark

ROOT = Path(__file__).resolve().parent.parent
CORPUS_ROOT = ROOT / "bench" / "corpus"
START = date(2026, 7, 1)


def build_lake(days: int, per_day: int) -> Path:
    """Return the lake of a churning trail of ``days`` days, built once."""
    import trailmin
    from trailmin.synth import trail as synth

    recipe = {"days": days, "per_day": per_day, "seed": 13, "synth": generator_version()}
    folder = CORPUS_ROOT / f"backtest-{days}-{per_day}"
    marker = folder / "recipe.json"
    if marker.exists() and json.loads(marker.read_text()) == recipe:
        trailmin.remap(folder / "lake")  # the events stay; their permissions follow the mapping
        return folder / "lake"
    shutil.rmtree(folder, ignore_errors=True)
    began = time.perf_counter()
    synth.write_trail(
        folder / "trail", seed=13, start=START, days=days, events_per_day=per_day, churn=True
    )
    trailmin.ingest([folder / "trail"], lake=folder / "lake")
    shutil.rmtree(folder / "trail")
    marker.write_text(json.dumps(recipe))
    print(f"built the corpus in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return folder / "lake"


def on_star(proposal: Any) -> Any:
    """Return the proposal with every statement's resources replaced by ``*``."""
    from trailmin.policy.generate import Policy, Statement

    actions = sorted({a for p in proposal.policies for s in p.statements for a in s.actions})
    policy = Policy(proposal.policies[0].name, (Statement("All", tuple(actions), ("*",)),))
    return dataclasses.replace(proposal, policies=(policy,))


def whole_services(proposal: Any) -> Any:
    """Return the proposal granting every action of each service it used, on ``*``."""
    from trailmin.policy.generate import Policy, Statement

    services = sorted(
        {a.split(":", 1)[0] for p in proposal.policies for s in p.statements for a in s.actions}
    )
    statement = Statement("Services", tuple(f"{s}:*" for s in services), ("*",))
    return dataclasses.replace(
        proposal, policies=(Policy(proposal.policies[0].name, (statement,)),)
    )


def measure(lake: Path) -> list[dict[str, Any]]:
    """Return the figures of every way of writing the policies."""
    import trailmin
    from trailmin.policy.generate import GENERALIZE_LEVELS, Options

    ways: list[tuple[str, Options, Any]] = [
        (level, Options(generalize=level), None) for level in GENERALIZE_LEVELS
    ]
    ways.append(("every used action on *", Options(generalize="exact"), on_star))
    ways.append(("whole services", Options(generalize="exact"), whole_services))
    rows = []
    for name, options, rewrite in ways:
        began = time.perf_counter()
        result = trailmin.backtest(lake, options=options, rewrite=rewrite)
        seconds = time.perf_counter() - began
        workloads, people = result.workloads, result.people
        unproposed = [r.principal for r in result.results if not r.proposed and not r.human]
        rows.append(
            {
                "way": name,
                "seconds": round(seconds, 1),
                "workloads": workloads.to_dict(),
                "people": people.to_dict(),
                "workloads_without_proposal": unproposed,
                "worst": [
                    {
                        "principal": r.principal,
                        "breakage": r.breakage,
                        "leakage": r.leakage,
                        "broken": [b.to_dict() for b in r.broken[:3]],
                    }
                    for r in sorted(
                        (r for r in result.results if r.proposed and not r.human),
                        key=lambda r: -(r.breakage or 0),
                    )[:3]
                ],
            }
        )
    return rows


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90, help="days of trail (split at 2/3)")
    parser.add_argument("--per-day", type=int, default=2000, help="events per day")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    lake = build_lake(args.days, args.per_day)
    rows = measure(lake)
    if args.json:
        print(json.dumps({"days": args.days, "per_day": args.per_day, "ways": rows}, indent=2))
        return
    print(f"{args.days} days x {args.per_day:,} events/day, proposals from the first 2/3")
    print(
        f"{'way':<24} {'workload breakage':>18} {'leakage':>8} {'people breakage':>16} "
        f"{'leakage':>8} {'s':>6}"
    )
    for row in rows:
        w, p = row["workloads"], row["people"]
        print(
            f"{row['way']:<24} {_share(w['breakage']):>18} {_share(w['leakage']):>8} "
            f"{_share(p['breakage']):>16} {_share(p['leakage']):>8} {row['seconds']:>6}"
        )
        if row["workloads_without_proposal"]:
            print(f"    no proposal: {', '.join(row['workloads_without_proposal'])}")
        for worst in row["worst"]:
            if worst["breakage"]:
                print(f"    {worst['principal']}: {_share(worst['breakage'])}")
                for broken in worst["broken"]:
                    print(f"      {broken['cause']}: {broken['action']} {broken['resource']}")


if __name__ == "__main__":
    main()
