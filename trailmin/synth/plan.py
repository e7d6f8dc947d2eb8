"""The plan of each day: which episodes happen when, and the records in time order."""

from __future__ import annotations

import gc
from bisect import bisect, bisect_left
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from trailmin.synth.access_keys import ep_batch, ep_export, ep_intruder, ep_key_check
from trailmin.synth.app import ep_app, ep_cold_start
from trailmin.synth.cast import Cast
from trailmin.synth.churn.api_function import ep_api
from trailmin.synth.churn.curious import ep_curious
from trailmin.synth.churn.fleet import ep_fleet_ops, ep_worker
from trailmin.synth.churn.pipeline import ep_pipeline
from trailmin.synth.churn.release import ep_release_api, ep_release_web
from trailmin.synth.churn.storefront import ep_storefront, ep_task_replaced
from trailmin.synth.ci import ep_ci
from trailmin.synth.emit import Synth
from trailmin.synth.services import ep_rotate_key, ep_trail_key
from trailmin.synth.sso import ep_sso
from trailmin.synth.users import ep_alice, ep_bob, ep_root
from trailmin.synth.values import GLOBAL_REGION, MS_DAY, MS_HOUR, Timed
from trailmin.synth.vendor import ep_vendor_audit

# Hourly weights (UTC): people in a European office, CI runs after their pushes, steady machines.
_HUMAN_HOURS = (
    0.05, 0.03, 0.03, 0.03, 0.05, 0.2, 0.8, 3, 6, 8, 8, 7,
    5, 7, 8, 7, 6, 4, 2, 1, 0.6, 0.4, 0.2, 0.1,
)  # fmt: skip
_CI_HOURS = (
    0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1, 3, 5, 6, 6, 6,
    5, 6, 7, 7, 6, 5, 3, 2, 1.5, 1, 0.6, 0.3,
)  # fmt: skip
_FLAT_HOURS = (1.0,) * 24


def _cumulative(weights: tuple[float, ...]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return out


_HUMAN_CUM = _cumulative(_HUMAN_HOURS)
_CI_CUM = _cumulative(_CI_HOURS)
_FLAT_CUM = _cumulative(_FLAT_HOURS)


_Builder = Callable[[Synth, Cast, str, int, int], None]


def _lambda_app(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    ep_app(s, c, region, t, n, "lambda")


def _ecs_app(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    ep_app(s, c, region, t, n, "ecs")


def _lambda_cold(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    ep_cold_start(s, c, region, t, n, "lambda")


def _ecs_cold(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    ep_cold_start(s, c, region, t, n, "ecs")


def _bob_failing(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    ep_bob(s, c, region, t, n, fail_first=True)


@dataclass(frozen=True, slots=True)
class _Kind:
    """A kind of episode: its share of weekday and weekend events, hours, sizes and place."""

    builder: _Builder
    weekday: float
    weekend: float
    hours: list[float]
    sizes: tuple[int, ...]
    where: str  # "any": any region, "primary", "trail": the first account's primary region only
    span_ms: int  # how long an episode can last


_KINDS = (
    _Kind(_lambda_app, 0.40, 0.46, _FLAT_CUM, (1, 1, 2, 2, 3, 4), "any", 2_000),
    _Kind(_ecs_app, 0.16, 0.20, _FLAT_CUM, (2, 3, 4, 4), "primary", 2_000),
    _Kind(ep_trail_key, 0.03, 0.04, _FLAT_CUM, (1, 1, 2), "trail", 60_000),
    _Kind(ep_ci, 0.08, 0.01, _CI_CUM, (9, 10, 11, 12, 13, 14, 16), "any", 400_000),
    _Kind(ep_sso, 0.13, 0.02, _HUMAN_CUM, (4, 6, 8, 10, 14, 18, 24), "primary", 1_200_000),
    _Kind(ep_alice, 0.08, 0.01, _HUMAN_CUM, (3, 5, 8, 12, 16), "primary", 800_000),
    _Kind(ep_bob, 0.05, 0.005, _HUMAN_CUM, (3, 4, 6, 8, 10), "primary", 500_000),
    _Kind(ep_batch, 0.07, 0.08, _FLAT_CUM, (4, 5, 6, 6, 7, 8), "primary", 30_000),
)


# The churning workloads' share of the day (as _KINDS); their scheduled runs are in _plan_churn.
_CHURN_KINDS = (
    _Kind(ep_storefront, 0.30, 0.34, _CI_CUM, (2, 3, 4, 5, 5), "primary", 3_000),
    _Kind(ep_api, 0.30, 0.30, _CI_CUM, (2, 3, 4, 5, 6), "primary", 5_000),
    _Kind(ep_worker, 0.08, 0.08, _FLAT_CUM, (2, 3, 4, 4), "primary", 4_000),
    _Kind(ep_curious, 0.02, 0.002, _HUMAN_CUM, (5, 7, 9, 12), "primary", 600_000),
)


def _plan_churn(
    s: Synth,
    c: Cast,
    day_start: int,
    weekend: bool,
    add: Callable[..., None],
    at: Callable[[list[float]], int],
) -> None:
    """Plan a day's scheduled runs of the churning workloads: patching at night, the pipeline
    every four hours, deploys on weekdays, a task failing its health checks now and then."""
    rng = s.rng
    region = c.primary
    t = day_start + 3 * MS_HOUR + rng.randrange(MS_HOUR // 6)
    add(t, ep_fleet_ops, c, region, rng.choice((12, 13, 14)), span=300_000)
    for hour in range(2, 24, 4):
        t = day_start + hour * MS_HOUR + rng.randrange(5 * 60_000)
        add(t, ep_pipeline, c, region, rng.choice((12, 13, 14)), span=1_000_000)
    if not weekend:
        if rng.random() < 0.75:
            add(at(_CI_CUM), ep_release_web, c, region, rng.choice((38, 40, 42)), span=1_200_000)
        if rng.random() < 0.75:
            add(at(_CI_CUM), ep_release_api, c, region, rng.choice((8, 9, 10)), span=250_000)
    if rng.random() < 0.4:
        add(at(_FLAT_CUM), ep_task_replaced, c, region, 7, span=30_000)


# An episode planned for a day: (start ms, order, builder, cast, region, events).
_Episode = tuple[int, int, _Builder, Cast, str, int]


def _plan_day(s: Synth, day_index: int) -> list[_Episode]:
    """Return a day's episodes, account by account: scheduled ones, then a weighted fill."""
    rng = s.rng
    day_start = s.start_ms + day_index * MS_DAY
    day_end = day_start + MS_DAY
    last_day = day_index == s.days - 1
    weekend = date.fromordinal(s.start.toordinal() + day_index).weekday() >= 5
    others = s.regions[1:]
    kinds = _KINDS if s.churn is None else _KINDS + _CHURN_KINDS
    plan: list[_Episode] = []
    budget = 0

    def add(t: int, builder: _Builder, c: Cast, region: str, n: int, *, span: int = 0) -> None:
        nonlocal budget
        n = min(n, budget)
        if n <= 0:
            return
        if last_day:  # keep the corpus inside its days
            t = min(t, day_end - span - 1)
        plan.append((t, len(plan), builder, c, region, n))
        budget -= n

    def aside(t: int, builder: _Builder, c: Cast, region: str, n: int) -> None:
        # An episode added after the rest of the cast: outside the day's budget, and drawing
        # from the aside stream (Shared.aside), so that the other records stay the same. A trail
        # of no events stays empty.
        if s.events_per_day > 0:
            plan.append((t, len(plan), builder, c, region, n))

    def at(cum: list[float]) -> int:
        hour = bisect(cum, rng.random() * cum[-1])
        return day_start + hour * MS_HOUR + int(rng.random() * MS_HOUR)

    for c in s.casts:
        budget = s.events_per_day
        # Rare and scheduled events first, so that even a small corpus shows each of them.
        if day_index % 30 == 0:
            add(at(_HUMAN_CUM), ep_root, c, GLOBAL_REGION, 3, span=100_000)
        if day_index % 365 == 0:
            for region in s.regions:
                t = day_start + rng.randrange(MS_HOUR, 5 * MS_HOUR)
                add(t, ep_rotate_key, c, region, 1)
        if day_index % 7 == 0:
            add(at(_HUMAN_CUM), _bob_failing, c, c.primary, 6, span=600_000)
        # Nightly jobs (legacy-batch also runs by hand now and then: see _KINDS), and on the
        # last day someone trying legacy-batch's leaked key: checking it while the nightly run
        # uses it, then back later to see what it can list.
        batch_at = day_start + MS_HOUR + rng.randrange(MS_HOUR // 6)
        batch_runs = budget > 0
        add(batch_at, ep_batch, c, c.primary, 6)
        add(
            day_start + 2 * MS_HOUR + rng.randrange(MS_HOUR // 6),
            ep_export,
            c,
            c.primary,
            3,
        )
        if last_day and s.days > 1:
            t = day_start + 3 * MS_HOUR + rng.randrange(2 * MS_HOUR)
            add(t, ep_intruder, c, c.primary, 9, span=90_000)
            if batch_runs:
                aside(batch_at, ep_key_check, c, c.primary, 1)
        # A vendor's audit, weekly, and on the trail's first day so that a short one shows it.
        if day_index % 7 == 3 or "vendor-audit" not in c.shown:
            c.shown.add("vendor-audit")
            aside(day_start + 6 * MS_HOUR, ep_vendor_audit, c, c.primary, 8)
        # The app's credentials rotate: each time, an AssumeRole by the service and a secret read.
        for (runtime, region), phase in c.app_phase.items():
            if runtime == "ecs" and region != c.primary:
                continue
            period = 8 * MS_HOUR if runtime == "lambda" else 12 * MS_HOUR
            first = phase - (phase - day_start) // period * period
            cold = _lambda_cold if runtime == "lambda" else _ecs_cold
            for t in range(first, day_end, period):
                add(t, cold, c, region, 3, span=2_000)
        if s.churn is not None:
            _plan_churn(s, c, day_start, weekend, add, at)
        # CloudTrail's own KMS calls belong to the account that owns the trail: the first.
        cum = _cumulative(
            tuple(
                (k.weekend if weekend else k.weekday) * len(k.sizes) / sum(k.sizes)
                if k.where != "trail" or c.index == 0
                else 0.0
                for k in kinds
            )
        )
        while budget > 0:
            kind = kinds[bisect(cum, rng.random() * cum[-1])]
            region = c.primary
            if kind.where == "any" and others and rng.random() < 0.4:
                region = rng.choice(others)
            add(at(kind.hours), kind.builder, c, region, rng.choice(kind.sizes), span=kind.span_ms)
    return plan


def iter_timed(s: Synth) -> Iterator[Timed]:
    """Yield (epoch ms, order, record) in time order, building one hour's episodes at a time."""
    carry: list[Timed] = []
    for day_index in range(s.days):
        with _no_gc():
            plan = _plan_day(s, day_index)
            plan.sort(key=lambda episode: (episode[0], episode[1]))
        day_start = s.start_ms + day_index * MS_DAY
        i = 0
        for hour in range(1, 25):
            until = day_start + hour * MS_HOUR
            with _no_gc():
                s.out = carry
                while i < len(plan) and plan[i][0] < until:
                    t, _, builder, c, region, n = plan[i]
                    builder(s, c, region, t, n)
                    i += 1
                pending = s.out
                # (time, order, record): the orders are unique, so records are never compared.
                pending.sort()
                cut = bisect_left(pending, (until,))
            yield from pending[:cut]
            carry = pending[cut:]
    carry.sort()
    yield from carry


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while records are built, restoring its state after.

    Building allocates many short dicts and no cycles: the collector would only spend time (about
    half of it) traversing them. The caller's code between yields runs with its GC as it was.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
