"""The trailmin CLI with an action planted at a named point: how the trials pick a moment.

Run as ``python tests/trial_wrapper.py <trailmin arguments>``, with the plan as JSON in the
``TRAILMIN_TRIAL`` environment variable::

    {"point": "commit", "when": "after", "nth": 1, "action": "kill"}

``point`` is where, counted from the process start (``nth`` call, 1-based):

* ``begin_run``, ``commit``, ``replace_files``, ``finish_run``, ``recover``, ``_connect``: the
  ``Store`` methods (``recover`` runs once the write lock is held; the first ``_connect`` of an
  ingest is ``Store.create``'s, which makes the manifest file);
* ``replace``: ``os.replace`` of a data file into ``events/`` (staged file moved into place);
* ``commit-sql``: the SQLite ``COMMIT`` statement of the ``nth`` ``Store.commit`` (its rows are
  inserted, the transaction is not yet durable before it, is after it).

``when`` is ``before`` or ``after`` the call. ``action`` is ``kill`` (SIGKILL to itself: no
handler, no ``finally``, nothing flushed), ``hold`` (touch the file ``held``, then wait until the
file ``release`` exists, at most a minute) or ``raise`` (a ``RuntimeError``: an unexpected crash).
Other keys: ``ready`` (a file touched just before the CLI starts, once trailmin is imported, so
that a random kill from outside lands in the run, not in the imports) and ``task_bytes`` (ingest's
task size, which the CLI does not expose: small tasks give a run several commits).

Nothing here changes what trailmin does between the planted points.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PLAN_VARIABLE = "TRAILMIN_TRIAL"
LAKE_METHODS = ("begin_run", "commit", "replace_files", "finish_run", "recover", "_connect")


def act(plan: dict[str, Any]) -> None:
    """Do the plan's action, where the plan's point was reached."""
    action = plan.get("action", "kill")
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "hold":
        Path(plan["held"]).touch()
        deadline = time.monotonic() + 60
        while not Path(plan["release"]).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    elif action == "raise":
        raise RuntimeError(f"injected crash at {plan['point']}")
    else:
        raise ValueError(f"unknown action {action!r}")


def planted(
    original: Callable[..., Any], *, when: str, nth: int, hit: Callable[[], None]
) -> Callable[..., Any]:
    """Return ``original`` calling ``hit`` before or after its ``nth`` call."""
    calls = 0

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == nth and when == "before":
            hit()
        result = original(*args, **kwargs)
        if calls == nth and when == "after":
            hit()
        return result

    return wrapper


class _PlantedConnection:
    """A SQLite connection whose ``COMMIT`` statement reaches the planted point."""

    def __init__(self, db: Any, *, when: str, hit: Callable[[], None]) -> None:
        self._db = db
        self._when = when
        self._hit = hit

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT" and self._when == "before":
            self._hit()
        result = self._db.execute(sql, *args)
        if sql == "COMMIT" and self._when == "after":
            self._hit()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def install(plan: dict[str, Any]) -> None:
    """Plant the plan's action in trailmin (imported here, before the CLI parses anything)."""
    from trailmin import api
    from trailmin.ingestion import pipeline as ingestion
    from trailmin.lake.store import Store

    if plan.get("task_bytes"):
        api.ingest = functools.partial(ingestion.ingest, task_bytes=plan["task_bytes"])  # type: ignore[assignment]
    point = plan.get("point")
    if point is None:
        return
    when, nth = plan.get("when", "before"), int(plan.get("nth", 1))

    def hit() -> None:
        act(plan)

    if point in LAKE_METHODS:
        setattr(Store, point, planted(getattr(Store, point), when=when, nth=nth, hit=hit))
    elif point == "replace":
        original_replace = os.replace
        counted = planted(original_replace, when=when, nth=nth, hit=hit)

        def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            moving = counted if "/events/" in str(dst) else original_replace
            moving(src, dst, *args, **kwargs)

        os.replace = replace
    elif point == "commit-sql":
        original_commit = Store.commit
        commits = 0

        def commit(self: Store, *args: Any, **kwargs: Any) -> None:
            nonlocal commits
            commits += 1
            if commits == nth:
                connect = Store._connect
                self._connect = lambda: _PlantedConnection(connect(self), when=when, hit=hit)  # type: ignore[method-assign]
            original_commit(self, *args, **kwargs)

        Store.commit = commit  # type: ignore[method-assign]
    else:
        raise ValueError(f"unknown point {point!r}")


def main() -> None:
    """Install the plan from the environment, then run the trailmin CLI on this argv."""
    plan = json.loads(os.environ.get(PLAN_VARIABLE) or "{}")
    install(plan)
    from trailmin.cli import main as trailmin_main

    if plan.get("ready"):
        Path(plan["ready"]).touch()
    sys.argv = ["trailmin", *sys.argv[1:]]
    trailmin_main()


if __name__ == "__main__":
    main()
