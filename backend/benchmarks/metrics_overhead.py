"""Section 6: the cost of the database metrics (``app.metrics.database_metrics.instrument``).

Two engines built alike by ``app.db.base.make_engine``, one instrumented and one never
instrumented (removing listeners later would leave SQLAlchemy's event flag set, so toggling
one engine would not give a clean "off"). ``UserRepository.get_by_id`` runs through both,
interleaved, in one session and one session per lookup.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from benchmarks import engines
from benchmarks.context import Context
from benchmarks.report import Section, Table, Target, ms, times
from benchmarks.timing import interleaved

OFF = "metrics off (anchor)"
EMPTY = "listeners that do nothing"
TARGET_OVERHEAD = 0.05
ON = "metrics on"


def run(ctx: Context) -> Section:
    section = Section(
        key="metrics",
        title="6. Metrics overhead",
        method=(
            "`UserRepository.get_by_id` through two engines built alike by `make_engine`, one "
            "instrumented with `app.metrics.database_metrics.instrument(engine)` and one never "
            f"instrumented, interleaved ({ctx.sizes.metrics_lookups:,} lookups each, distinct "
            "ids). As shipped, `app.db.base` instruments the application's engine when "
            "`METRICS_ENABLED` is true (the default)."
        ),
    )
    from app.metrics.database_metrics import is_instrumented
    from app.repositories.user_repository import UserRepository

    n = ctx.sizes.metrics_lookups
    rng = random.Random(6)
    population = range(1, ctx.sizes.users + 1)
    total = n + ctx.sizes.warmup
    ids = [rng.choice(population) for _ in range(total)]
    on = engines.make(instrumented=True)
    off = engines.make(instrumented=False)
    # The floor of any statement-level instrumentation: SQLAlchemy's own cost of having
    # cursor-execute listeners at all, measured with listeners that do nothing.
    empty = engines.make(instrumented=False)
    event.listen(empty, "before_cursor_execute", _pass_through, retval=True)
    event.listen(empty, "after_cursor_execute", _nothing)
    opened: list[Session] = []
    try:
        if not is_instrumented(on) or is_instrumented(off) or is_instrumented(empty):
            raise RuntimeError("instrument() did not instrument exactly the 'on' engine")

        def within(engine: Any) -> Callable[[int], object]:
            db = engines.sessions(engine)()
            opened.append(db)
            return lambda i: UserRepository(db).get_by_id(ids[i])

        def per(engine: Any) -> Callable[[int], object]:
            factory = engines.sessions(engine)

            def call(i: int) -> object:
                with factory() as db:
                    return UserRepository(db).get_by_id(ids[i])

            return call

        rows = []
        for mode, make in (("one session", within), ("one session per lookup", per)):
            ctx.log(f"metrics: {mode}")
            series = interleaved(
                {OFF: make(off), EMPTY: make(empty), ON: make(on)},
                n=n,
                block=ctx.sizes.block,
                warmup=ctx.sizes.warmup,
            )
            a, s, e = series[OFF], series[ON], series[EMPTY]
            section.data[mode] = {k: v.summary() for k, v in series.items()}
            ratio = s.p50_ms / a.p50_ms
            section.targets.append(
                Target(
                    name=f"metrics overhead on get_by_id, {mode}",
                    goal=f"p50 with metrics ≤ {1 + TARGET_OVERHEAD:.2f}× without",
                    measured=f"{times(ratio)} ({ms(s.p50_ms)} vs {ms(a.p50_ms)} ms, "
                    f"{(s.p50_ms - a.p50_ms) * 1000:+.0f} µs)",
                    met=ratio <= 1 + TARGET_OVERHEAD,
                    why=""
                    if ratio <= 1 + TARGET_OVERHEAD
                    else (
                        "SQLAlchemy's cost of having cursor-execute listeners at all, "
                        f"measured with listeners that do nothing: {times(e.p50_ms / a.p50_ms)} "
                        f"({(e.p50_ms - a.p50_ms) * 1000:+.0f} µs); the rest is this module's "
                        "own work (a clock read, a cached label lookup, a counter and a "
                        "histogram update)"
                    ),
                )
            )
            rows.append(
                [
                    mode,
                    ms(a.p50_ms),
                    ms(s.p50_ms),
                    f"{(s.p50_ms - a.p50_ms) * 1000:+.0f} µs",
                    times(s.p50_ms / a.p50_ms),
                    f"{ms(e.p50_ms)} ({times(e.p50_ms / a.p50_ms)})",
                    ms(a.p95_ms),
                    ms(s.p95_ms),
                    times(s.p95_ms / a.p95_ms),
                ]
            )
        section.tables.append(
            Table(
                "get_by_id with and without metrics",
                [
                    "mode",
                    "p50 off ms",
                    "p50 on ms",
                    "p50 difference",
                    "p50 ratio",
                    "p50 ms, listeners that do nothing",
                    "p95 off ms",
                    "p95 on ms",
                    "p95 ratio",
                ],
                rows,
                note=(
                    "As shipped, `get_by_id` sends 1 statement (the user and its profile by a "
                    "join), so the difference is the cost of one timed statement. Differences of "
                    "a few µs are within the run-to-run noise of this machine."
                ),
            )
        )
    finally:
        for db in opened:
            db.close()
        engines.dispose(on)
        engines.dispose(off)
        engines.dispose(empty)
    return section


def _pass_through(*args: Any) -> tuple[Any, Any]:
    return args[2], args[3]  # statement, parameters


def _nothing(*_args: Any) -> None:
    return None
