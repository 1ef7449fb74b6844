"""Section 4: a user's history, page 1 against a deep page, by keyset cursors.

Two users own ``heavy_user_rows`` analyses each (50,000 in the full run) in the large data
set: one spread over the whole time range, one whose analyses are all among the oldest (the
case where an index on ``created_at`` alone would have to skip almost the whole table).
Pages of 20 come from ``AnalysisRepository.list_for_user(user, limit=20, before=cursor)``,
one session per page (one request per page). The cursor of the deep page is reached the way
a client would reach it: page 1, then following ``next_cursor`` page after page (that walk
is timed too). Then page 1 (anchor) and the deep page of both users are fetched alternately,
``page_samples`` times each, and both queries are EXPLAINed.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import event

from benchmarks import dataset
from benchmarks.context import Context
from benchmarks.report import Section, Table, Target, ms, times
from benchmarks.timing import Series, interleaved

RATIO_TARGET = 1.5


def _plan(ctx: Context, statement: str, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.db.app_raw() as conn:
        row = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, params
        ).fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    return plan[0]  # type: ignore[no-any-return]


def _index_node(node: dict[str, Any]) -> dict[str, Any]:
    if "Index Name" in node:
        return node
    for child in node.get("Plans", []):
        found = _index_node(child)
        if found:
            return found
    return {}


def _shape(node: dict[str, Any]) -> str:
    """``Limit → Index Scan Backward`` for a plan tree (first child at each level)."""
    names = []
    while node:
        scan = node["Node Type"]
        if node.get("Scan Direction") == "Backward":
            scan += " Backward"
        names.append(scan)
        node = (node.get("Plans") or [{}])[0]
    return " → ".join(names)


def _walk(page: Any, depth: int) -> tuple[str | None, list[int]]:
    """Follow ``next_cursor`` from page 1; the cursor of page ``depth`` and each page's time."""
    walk_ns: list[int] = []
    cursor: str | None = None
    cursors: list[str | None] = []
    for _ in range(depth):
        cursors.append(cursor)
        start = time.perf_counter_ns()
        result = page(cursor)
        walk_ns.append(time.perf_counter_ns() - start)
        assert len(result.items) == 20, "the history user has too few analyses"
        cursor = result.next_cursor
    return cursors[-1], walk_ns


def _deep_plan(ctx: Context, page: Any, cursor: str | None) -> dict[str, Any]:
    from app.db.base import engine

    captured: list[tuple[str, Any]] = []

    def listener(_c: Any, _cur: Any, statement: str, params: Any, *_a: Any) -> None:
        captured.append((statement, dict(params)))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        page(cursor)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    statement, params = captured[-1]
    plan = _plan(ctx, statement, params)
    top = plan["Plan"]
    node = _index_node(top)
    return {
        "plan": _shape(top),
        "index": node.get("Index Name"),
        "index_cond": node.get("Index Cond"),
        "filter": node.get("Filter"),
        "rows_removed_by_filter": node.get("Rows Removed by Filter"),
        "shared_hit_blocks": top.get("Shared Hit Blocks"),
        "shared_read_blocks": top.get("Shared Read Blocks"),
        "execution_ms": plan.get("Execution Time"),
    }


def _plan_text(depth_label: str, p: dict[str, Any]) -> str:
    filtered = (
        f", Filter `{p['filter']}` ({p['rows_removed_by_filter']} rows removed)"
        if p["filter"]
        else ""
    )
    return (
        f"{depth_label}: {p['plan']} on `{p['index']}`, Index Cond `{p['index_cond']}`"
        f"{filtered}; {p['shared_hit_blocks']} buffers hit, {p['shared_read_blocks']} read, "
        f"{p['execution_ms']} ms in the server"
    )


def run(ctx: Context) -> Section:
    depth = ctx.sizes.page_depth
    section = Section(
        key="history",
        title=f"4. History pagination: page 1 vs page {depth:,}",
        method=(
            f"Two users with {ctx.sizes.heavy_user_rows:,} analyses each among "
            f"{ctx.sizes.search_rows:,}: one whose analyses are spread over the whole time "
            "range, one whose analyses are all among the oldest. Pages of 20 from "
            "`list_for_user(user_id, limit=20, before=cursor)`, one session per page. Page "
            f"{depth:,} is reached by following `next_cursor` from page 1 (that walk is timed "
            f"too); then page 1 (anchor) and page {depth:,} of both users are fetched "
            f"alternately, {ctx.sizes.page_samples} times each."
        ),
    )
    from app.db.base import SessionLocal
    from app.repositories.analysis_repository import AnalysisRepository

    users = {
        "spread-out user": dataset.HEAVY_USER,
        "user with only old analyses": dataset.CLUSTERED_USER,
    }

    def pager(user: int) -> Any:
        def page(cursor: str | None) -> Any:
            with SessionLocal() as db:
                return AnalysisRepository(db).list_for_user(user, limit=20, before=cursor)

        return page

    variants: dict[str, Any] = {}
    walks: dict[str, list[int]] = {}
    deep: dict[str, str | None] = {}
    for label, user in users.items():
        page = pager(user)
        ctx.log(f"history: {label}, walking {depth:,} pages by cursor")
        deep[label], walks[label] = _walk(page, depth)
        first_ids = {a.id for a in page(None).items}
        assert first_ids.isdisjoint(a.id for a in page(deep[label]).items)
        cursor = deep[label]
        variants[f"{label}: page 1"] = lambda _i, page=page: page(None)
        variants[f"{label}: page {depth:,}"] = lambda _i, page=page, c=cursor: page(c)

    ctx.log(f"history: page 1 vs page {depth:,}, {ctx.sizes.page_samples} times each")
    series = interleaved(variants, n=ctx.sizes.page_samples, block=10, warmup=5)
    rows = []
    for label, user in users.items():
        first = series[f"{label}: page 1"]
        last = series[f"{label}: page {depth:,}"]
        walk = Series("walk", walks[label])
        plans = {
            "page 1": _deep_plan(ctx, pager(user), None),
            f"page {depth:,}": _deep_plan(ctx, pager(user), deep[label]),
        }
        section.data[label] = {
            "user_id": user,
            "page_1": first.summary(),
            "page_deep": last.summary(),
            "walk": walk.summary(),
            "plans": plans,
        }
        rows += [
            [f"{label}: page 1 (anchor)", ms(first.p50_ms), ms(first.p95_ms), "1.00×", "1.00×"],
            [
                f"{label}: page {depth:,}",
                ms(last.p50_ms),
                ms(last.p95_ms),
                times(last.p50_ms / first.p50_ms),
                times(last.p95_ms / first.p95_ms),
            ],
            [
                f"{label}: the walk, pages 1–{depth:,}",
                ms(walk.p50_ms),
                ms(walk.p95_ms),
                times(walk.p50_ms / first.p50_ms),
                times(walk.p95_ms / first.p95_ms),
            ],
        ]
        section.notes.append(
            f"Plans for the {label} (EXPLAIN ANALYZE): "
            + "; ".join(_plan_text(k, v) for k, v in plans.items())
            + "."
        )
        ratio = last.p50_ms / first.p50_ms
        met = ratio <= RATIO_TARGET
        section.targets.append(
            Target(
                name=f"history page {depth:,} vs page 1, {label}",
                goal=f"p50 ratio ≤ {RATIO_TARGET}",
                measured=f"{times(ratio)} ({ms(last.p50_ms)} vs {ms(first.p50_ms)} ms)",
                met=met,
                why="" if met else "; ".join(_plan_text(k, v) for k, v in plans.items()),
            )
        )
    section.tables.append(
        Table(
            "Latency (one session per page)",
            ["page", "p50 ms", "p95 ms", "p50 ratio", "p95 ratio"],
            rows,
        )
    )
    return section
