"""The trials of issue 14 at the issue's counts: kills, two writers, S3 faults, canaries, calls.

The same trials as ``tests/test_trials.py`` (whose functions this runs), more of each:

- a one-worker ``trailmin ingest`` of a ``trailmin synth`` trail (about 40 files) SIGKILLed at
  each exact point (``tests/trial_wrapper.py`` plants the kill: before and after the SQLite
  COMMIT of the first three task commits, after each of those commits, around the first moves
  of a data file into ``events/``, after the run is recorded, around its finish) and at seeded
  random moments (after the imports), in runs of several tasks and in runs of one; each kill is
  followed by a clean re-run, and the lake must then hold exactly the clean run's event ids,
  once each (DuckDB over every Parquet file, and ``trailmin.read_events``), with no file the
  manifest does not list and nothing staged;
- ``lake compact`` of a lake of many small files, SIGKILLed at seeded random moments, then run
  again: the same events, one file per partition;
- a second writer (ingest or compact) while the first holds the lock: refused with its pid;
- an S3 ingest from moto's server through the fault-injecting proxy of ``tests/s3_proxy.py``:
  30 % of every request failing (500s and resets mid-body), 90 % of the GetObjects (500s,
  resets, access denied) and 90 % of every request, each with several seeds, then a clean
  re-run: every key that failed named, the lake complete and without duplicates;
- every canary scenario (ingest local and S3, run, propose, diff, audit, verify, a missing
  profile, a broken credentials file, refused signatures, a crash, an unreachable endpoint), with
  fresh canary credentials each run: no secret key or session token in any output or file;
- the operations a full ``run --from-aws`` and ``audit --from-aws`` make, with their access level.

It prints a table of counts (trials, kills landed, clean, failed) and then the failures, if any.
Nothing reaches AWS: moto's server and the proxy listen on 127.0.0.1. About six minutes::

    .venv/bin/python bench/trials.py
    .venv/bin/python bench/trials.py --ingest-kills 100 --json
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import test_trials as kit  # noqa: E402 - the trials' functions, shared with CI

# Exact points of the ingest kills: (point, when, nth), beyond the CI's.
EXACT_POINTS = tuple(
    dict.fromkeys(
        [
            *kit.INGEST_POINTS,
            *(
                (point, when, n)
                for point in ("commit-sql",)
                for when in ("before", "after")
                for n in (2, 3)
            ),
            *(("commit", "after", n) for n in (1, 3)),
            ("commit", "before", 1),
            ("replace", "before", 2),
            ("replace", "after", 2),
        ]
    )
)


@dataclass(slots=True)
class Row:
    """A line of the table: how many trials, how many kills landed, how many held."""

    trial: str
    trials: int = 0
    landed: int | None = None
    clean: int = 0
    notes: str = ""
    failures: list[str] = field(default_factory=list)

    def add(
        self, name: str, *, clean: bool, landed: bool | None = None, problems: Any = ()
    ) -> None:
        self.trials += 1
        if landed is not None:
            self.landed = (self.landed or 0) + int(landed)
        if clean:
            self.clean += 1
        else:
            self.failures.append(f"{name}: {list(problems)}")

    def fail(self, name: str, exc: Exception) -> None:
        """Count a trial that raised: a failed trial, not the end of the bench."""
        self.add(name, clean=False, problems=[f"raised {exc!r}"])


@contextmanager
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def add_trial(row: Row, name: str, run: Callable[[], kit.Trial]) -> None:
    try:
        trial = run()
    except Exception as exc:
        row.fail(name, exc)
        return
    row.add(trial.name, clean=trial.clean, landed=trial.killed, problems=trial.problems)


def ingest_kills(
    where: Path,
    corpus: kit.Corpus,
    expected: Counter[str],
    env: dict[str, str],
    count: int,
    seed: int,
) -> list[Row]:
    exact = Row("ingest SIGKILL at an exact point")
    at_random = Row("ingest SIGKILL at a random moment")
    for n, (point, when, nth) in enumerate(EXACT_POINTS[:count]):
        plan = kit.kill_plan(point, when, nth)
        lake = where / f"exact{n}"
        add_trial(
            exact,
            f"{when} {point} #{nth}",
            partial(kit.ingest_kill_trial, corpus, lake, env, expected, plan=plan),
        )
    works = {}
    for task_bytes in (kit.TASK_BYTES, None):
        timed = kit.ingest_args(corpus.root, where / f"timed-{task_bytes}")
        plan = {"task_bytes": task_bytes}
        works[task_bytes] = kit.seconds_of_work(timed, env, where / "ready", plan)
    chance = random.Random(seed)
    for n in range(max(0, count - len(EXACT_POINTS))):
        size = kit.TASK_BYTES if n % 2 == 0 else None  # several tasks, or one
        delay = chance.uniform(0, works[size])
        lake = where / f"random{n}"
        add_trial(
            at_random,
            f"random {n}",
            partial(
                kit.ingest_kill_trial, corpus, lake, env, expected, delay=delay, task_bytes=size
            ),
        )
    exact.notes = f"{len(EXACT_POINTS[:count])} points"
    at_random.notes = (
        f"delays in [0, run]; a run of {len(corpus.ids_by_key)} files takes "
        f"{works[kit.TASK_BYTES]:.2f} s in tasks of {kit.TASK_BYTES} B, {works[None]:.2f} s in one"
    )
    return [exact, at_random]


def compact_kills(
    where: Path, template: Path, expected: Counter[str], env: dict[str, str], count: int, seed: int
) -> Row:
    row = Row("lake compact SIGKILL at a random moment")
    shutil.copytree(template, where / "timed")
    work = kit.seconds_of_work(kit.compact_args(where / "timed"), env, where / "ready", {})
    chance = random.Random(seed)
    for n in range(count):
        delay = chance.uniform(0, work)
        lake = where / f"lake{n}"
        add_trial(
            row,
            f"compact {n}",
            partial(kit.compact_kill_trial, template, lake, env, expected, delay=delay),
        )
    files = len(kit.Store.open(template).committed_paths())
    row.notes = f"delays in [0, {work:.2f} s]; {files} files before"
    return row


def second_writer(
    folder: Path, holder: str, intruder: str, lake_args: dict[str, list[str]], env: dict[str, str]
) -> list[str]:
    """Return what was wrong when ``intruder`` came while ``holder`` held the lock."""
    with kit.held_writer(lake_args[holder], env, folder) as first:
        second = kit.run_cli(lake_args[intruder], env=env)
    problems = []
    if second.returncode != 2 or f"by pid {first.pid} since" not in second.stderr:
        problems.append(f"the second exited {second.returncode}: {second.stderr[-300:]}")
    if first.returncode != 0:
        problems.append(f"the first exited {first.returncode}")
    return problems


def two_writers(
    where: Path,
    corpus: kit.Corpus,
    template: Path,
    expected: Counter[str],
    env: dict[str, str],
    rounds: int,
) -> Row:
    row = Row("second writer refused, naming the first's pid")
    kinds = ("ingest", "compact")
    for n in range(rounds):
        for holder, intruder in ((h, i) for h in kinds for i in kinds):
            folder = where / f"{n}-{holder}-{intruder}"
            folder.mkdir(parents=True)
            lake = folder / "lake"
            if holder == "compact":
                shutil.copytree(template, lake)
            lake_args = {
                "ingest": kit.ingest_args(corpus.root, lake),
                "compact": kit.compact_args(lake),
            }
            name = f"{intruder} while {holder} holds"
            try:
                problems = second_writer(folder, holder, intruder, lake_args, env)
                problems += kit.lake_problems(lake, expected)
            except Exception as exc:
                row.fail(name, exc)
                continue
            row.add(name, clean=not problems, problems=problems)
    row.notes = "ingest or compact holding the lock, ingest or compact refused"
    return row


FAULTS = (
    ("S3, 30 % of every request fail (500, reset)", kit.FaultRule(0.3, ("500", "reset"))),
    (
        "S3, 90 % of GetObject fail (500, reset, 403)",
        kit.FaultRule(0.9, ("500", "reset", "403"), frozenset({"GetObject"})),
    ),
    (
        "S3, 90 % of every request fail (500, reset, 403)",
        kit.FaultRule(0.9, ("500", "reset", "403")),
    ),
)


def s3_faults(
    where: Path, corpus: kit.Corpus, moto: str, env: dict[str, str], seeds: int, seed: int
) -> list[Row]:
    bucket = "bench-trials"
    kit.upload(moto, bucket, corpus)
    rows = []
    with kit.FaultProxy(moto) as proxy:
        for number, (title, base) in enumerate(FAULTS):
            row = Row(title)
            injected: Counter[str] = Counter()
            failed = stopped = 0
            for n in range(seeds):
                rule = kit.FaultRule(base.fraction, base.faults, base.operations, seed=seed + n)
                lake = where / f"{number}-{n}" / "lake"
                try:
                    run = kit.fault_trial(corpus, bucket, proxy, moto, lake, env, rule)
                except Exception as exc:
                    row.fail(f"seed {rule.seed}", exc)
                    continue
                injected.update(run.injected)
                failed += len(run.failed_keys)
                stopped += int(run.exit_code == 2)
                row.add(f"seed {rule.seed}", clean=not run.problems, problems=run.problems)
            faults = ", ".join(f"{k} x{v}" for k, v in sorted(injected.items()))
            row.notes = f"faults injected: {faults}; keys failed, each named: {failed}"
            if stopped:
                row.notes += f"; runs stopped by a listing that failed (exit 2): {stopped}"
            rows.append(row)
    return rows


def canaries(where: Path, scene: kit.Scene, rounds: int) -> Row:
    row = Row("canary runs: no secret in output, file, traceback")
    runs = [
        run
        for n in range(rounds)
        for run in kit.canary_runs(scene, kit.SCENARIOS, where / f"round{n}")
    ]
    runs.append(kit.canary_run(scene, kit.UNREACHABLE, where / "unreachable"))
    codes: dict[str, set[int]] = {}
    for run in runs:
        codes.setdefault(run.name, set()).add(run.exit_code)
        problems = [*run.leaks, *run.shown_request_secrets]
        row.add(run.name, clean=not problems, problems=problems)
    kept = kit.places_of(scene.records.in_request(), {}, [scene.lake], skip=where)
    row.notes = (
        f"{len(kit.SCENARIOS)} scenarios x {rounds} rounds + an unreachable endpoint; "
        f"requestParameters secrets kept in lake rows ({len(kept)} places) and nowhere else; "
        "exit codes: " + ", ".join(f"{name} {sorted(c)}" for name, c in codes.items())
    )
    return row


def operations(where: Path, scene: kit.Scene) -> Row:
    row = Row("full run + audit: only Read/List operations")
    made, leaks = kit.operations_of_a_full_run(scene, where)
    writes = [name for name, (_, level) in made.items() if level not in ("Read", "List")]
    row.add("operations", clean=not writes and not leaks, problems=[*writes, *leaks])
    row.notes = ", ".join(f"{name} x{n} ({level})" for name, (n, level) in made.items())
    return row


def print_table(rows: list[Row], seconds: float) -> None:
    width = max(len(r.trial) for r in rows)
    print(f"{'trial':<{width}}  {'trials':>6}  {'killed':>6}  {'clean':>5}  {'failed':>6}")
    for r in rows:
        landed = "-" if r.landed is None else str(r.landed)
        print(
            f"{r.trial:<{width}}  {r.trials:>6}  {landed:>6}  {r.clean:>5}  {r.trials - r.clean:>6}"
        )
    print(f"\n{seconds:.0f} s in all. Notes:")
    for r in rows:
        if r.notes:
            print(f"- {r.trial}: {r.notes}")
    failures = [f for r in rows for f in r.failures]
    if failures:
        print("\nFailures:")
        for failure in failures:
            print(f"- {failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ingest-kills", type=int, default=58)
    parser.add_argument("--compact-kills", type=int, default=23)
    parser.add_argument("--fault-seeds", type=int, default=3, help="runs per fault rule")
    parser.add_argument("--canary-rounds", type=int, default=3, help="rounds of every scenario")
    parser.add_argument("--writer-rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--json", action="store_true", help="the table as JSON on stdout")
    options = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    began = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="trailmin-trials-") as tmp, moto_server() as moto:
        where = Path(tmp)
        env = kit.trial_env(where / "home")
        corpus = kit.write_corpus(where / "corpus")
        expected = kit.clean_ids(corpus, where / "clean")
        seed = options.seed
        rows += ingest_kills(where / "kills", corpus, expected, env, options.ingest_kills, seed)
        template = kit.fragmented_lake(corpus, where / "fragmented")
        rows.append(
            compact_kills(where / "compact", template, expected, env, options.compact_kills, seed)
        )
        rows.append(
            two_writers(where / "writers", corpus, template, expected, env, options.writer_rounds)
        )
        rows += s3_faults(where / "faults", corpus, moto, env, options.fault_seeds, seed)
        scene = kit.make_scene(where / "scene", corpus, moto, "bench-canary")
        rows.append(canaries(where / "canaries", scene, options.canary_rounds))
        rows.append(operations(where / "operations", scene))
    seconds = time.perf_counter() - began
    if options.json:
        print(json.dumps([{k: getattr(r, k) for k in Row.__slots__} for r in rows], indent=2))
    else:
        print_table(rows, seconds)
    sys.exit(0 if all(r.clean == r.trials for r in rows) else 1)


if __name__ == "__main__":
    main()
