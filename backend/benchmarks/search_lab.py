"""A kept 1M-row search database for working on search: build it once, measure many times.

``make bench BENCH_ARGS="--only search"`` builds its corpus on a throwaway cluster (about 7
minutes for 1M rows) and removes it at the end. While changing search, that is too slow a
loop, so this keeps the same data set in a cluster of its own that survives between runs::

    python -m benchmarks.search_lab build [--rows 1000000]   # once: cluster, migrate, corpus
    python -m benchmarks.search_lab migrate                   # after adding a migration
    python -m benchmarks.search_lab measure [--class "mid word"] [--filter user] [--repeats 3]
    python -m benchmarks.search_lab explain word "قال"        # EXPLAIN (ANALYZE, BUFFERS)
    python -m benchmarks.search_lab url                       # app/owner URLs for psql
    python -m benchmarks.search_lab stop | destroy

The cluster lives in ``$BAHR_SEARCH_LAB`` (default ``/var/tmp/bahr-search-lab``), is never
started with a watchdog (it outlives the command) and is never the project's own ``.bahr``
cluster. ``measure`` runs exactly the benchmark's query classes (:mod:`benchmarks.search`)
at the size loaded and prints p50/p95 per class and filter, with a ``SELECT 1`` round trip
as the anchor for machine load. Nothing here writes ``docs/``: the figures there come from
``make bench`` only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import random
import sys
from pathlib import Path

from benchmarks import database
from benchmarks.context import FULL, Context

DEFAULT_ROOT = Path(os.environ.get("BAHR_SEARCH_LAB", "/var/tmp/bahr-search-lab"))  # noqa: S108


def _open(root: Path, *, create: bool) -> database.BenchDatabase:
    """Start (or reuse) the kept cluster and point the app's settings at it."""
    from app.db.server import EmbeddedCluster

    cluster = EmbeddedCluster(root)
    if not cluster.initialized and not create:
        raise SystemExit(f"no search lab in {root}: run `python -m benchmarks.search_lab build`")
    cluster.start(database=database.DATABASE)
    logging.getLogger("bahr.db.slow").disabled = True  # the measured queries, not news
    return database.attach(cluster)


def _context(db: database.BenchDatabase) -> Context:
    ctx = Context(db=db, sizes=FULL, smoke=False)
    with db.owner() as conn:
        row = conn.execute("SELECT count(*) FROM analyses").fetchone()
    ctx.state["loaded_rows"] = int(row[0]) if row else 0
    return ctx


def build(root: Path, rows: int) -> None:
    db = _open(root, create=True)
    ctx = Context(db=db, sizes=FULL, smoke=False)
    db.install_rum()
    db.migrate()
    from benchmarks import dataset, lookups

    with db.owner() as conn:
        row = conn.execute("SELECT count(*) FROM users").fetchone()
    if not row or not row[0]:
        lookups.seed_users(ctx)
    with db.owner() as conn:
        row = conn.execute("SELECT count(*) FROM analyses").fetchone()
    ctx.state["loaded_rows"] = int(row[0]) if row else 0
    if ctx.state["loaded_rows"] and ctx.state["loaded_rows"] != rows:
        ctx.state["loaded_rows"] = 0  # a different size: start again from an empty table
    if ctx.state["loaded_rows"] != rows:
        facts = dataset.load(ctx, rows=rows)
        ctx.log(f"loaded: {json.dumps(facts, default=str)}")
    ctx.log(f"search lab ready in {root} ({rows:,} rows)")


def measure(
    root: Path, classes: list[str], filters: list[str], repeats: int, window: int | None
) -> None:
    from benchmarks import search
    from benchmarks.timing import Series

    db = _open(root, create=False)
    ctx = _context(db)
    from app.repositories import analysis_search

    analysis_search.forget_rum_index()
    if window is not None:  # trying another trade-off; the code's own is the default
        analysis_search.RANK_WINDOW = window
    with db.owner() as conn:
        meter = conn.execute("SELECT id FROM meters WHERE position = 1").fetchone()
    assert meter is not None
    queries = search._queries(ctx, random.Random(3), search.QUERIES_PER_CLASS)
    if classes:
        queries = {c: q for c, q in queries.items() if c in classes}
    a = Series("anchor", search.anchor())
    print(
        f"rows {ctx.state['loaded_rows']:,}; load {os.getloadavg()[0]:.2f}; "
        f"{search.ANCHOR} p50 {a.p50_ms:.2f} ms p95 {a.p95_ms:.2f} ms"
    )
    ctx.sizes = dataclasses.replace(ctx.sizes, search_repeats=repeats)
    timed, facts = search._measure(ctx, queries, int(meter[0]), filters=filters)
    for cls, by_filter in timed.items():
        for flt, samples in by_filter.items():
            s = Series(cls, samples)
            slow = facts["slowest"].get(f"{cls}/{flt}", ("", 0))
            print(
                f"{cls:18} {flt:6} p50 {s.p50_ms:8.2f}  p95 {s.p95_ms:8.2f}  "
                f"windowed {facts['windowed'][f'{cls}/{flt}']:3}  "
                f"broad {facts['too_broad'][f'{cls}/{flt}']}  "
                f"slowest {slow[1] / 1e6:7.1f} ms {slow[0]!r}"
            )


def explain(root: Path, kind: str, query: str, flt: str) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement the search sends for ``query``."""
    from benchmarks import search

    db = _open(root, create=False)
    with db.owner() as conn:
        row = conn.execute("SELECT id FROM meters WHERE position = 1").fetchone()
    assert row is not None
    run = search._runner(kind, flt, int(row[0]))
    client_ms, captured = search.captured_run(run, query)
    print(f"{client_ms:.1f} ms on the client" if captured else "SearchTooBroad")
    with db.app_raw() as conn:
        conn.execute("SET plan_cache_mode = force_custom_plan")
        for statement, params in captured:
            print("-" * 100)
            print(statement.strip())
            rows = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS, SETTINGS) " + statement, params
            ).fetchall()
            print("\n".join(r[0] for r in rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search_lab", description=__doc__)
    parser.add_argument("--dir", type=Path, default=DEFAULT_ROOT, help="the cluster's folder")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="create the cluster and load the corpus (kept)")
    b.add_argument("--rows", type=int, default=FULL.search_rows)
    sub.add_parser("migrate", help="alembic upgrade head on the kept database")
    m = sub.add_parser("measure", help="p50/p95 of the benchmark's query classes")
    m.add_argument("--class", dest="classes", action="append", default=[])
    m.add_argument("--filter", dest="filters", action="append", default=[])
    m.add_argument("--repeats", type=int, default=3)
    m.add_argument("--rank-window", type=int, default=None, help="try another RANK_WINDOW")
    e = sub.add_parser("explain", help="EXPLAIN (ANALYZE, BUFFERS) of one search")
    e.add_argument("kind", choices=("word", "fragment"))
    e.add_argument("query")
    e.add_argument("--filter", default="none", choices=search_filters())
    sub.add_parser("url", help="print the owner's libpq URL (for psql)")
    sub.add_parser("stop", help="stop the server, keep the data")
    sub.add_parser("destroy", help="stop the server and remove the folder")
    args = parser.parse_args(argv)
    root: Path = args.dir
    if args.command == "build":
        build(root, args.rows)
    elif args.command == "migrate":
        _open(root, create=False).migrate()
    elif args.command == "measure":
        filters = args.filters or list(search_filters())
        measure(root, args.classes, filters, args.repeats, args.rank_window)
    elif args.command == "explain":
        explain(root, args.kind, args.query, args.filter)
    elif args.command == "url":
        print(_open(root, create=False).owner_dsn)
    else:
        from app.db.server import EmbeddedCluster

        cluster = EmbeddedCluster(root)
        cluster.destroy() if args.command == "destroy" else cluster.stop()
    return 0


def search_filters() -> tuple[str, ...]:
    return ("none", "user", "meter")


if __name__ == "__main__":
    sys.exit(main())
