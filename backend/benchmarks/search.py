"""Section 3: word and fragment search over the large data set, against an unindexed scan.

Queries (seeded):

* word search: single words drawn uniformly from the vocabulary (so mostly mid- and
  low-frequency words, as people search for the words they remember), typed vocalised as
  the source spells them; plus, reported apart, the 5 most frequent words (the worst case:
  each is in 4–18 % of all verses, and ranking reads every match);
* fragment search: two consecutive words cut from a random stored verse (a half-remembered
  fragment).

Subject: ``AnalysisRepository(db).search(q)`` / ``.search_fragment(q)``, one session per
query, limit 20. Anchor: the unindexed way to answer the same question — ``normalized_text
ILIKE '%q%' ORDER BY created_at DESC LIMIT 20`` with ``enable_indexscan``,
``enable_bitmapscan`` and ``enable_indexonlyscan`` off (a sequential scan, parallel workers
allowed), on a subset of the queries because each scan reads the whole table. Ratios compare
the two on that same subset.
"""

from __future__ import annotations

import random
import time
from typing import Any

from benchmarks import dataset
from benchmarks.context import Context
from benchmarks.report import Section, Table, Target, ms, times
from benchmarks.timing import Series, percentile
from benchmarks.words import vocabulary

WORD_P95_TARGET_MS = 20.0

_SCAN = (
    "SELECT id, original_text FROM analyses WHERE normalized_text ILIKE %s "
    "ORDER BY created_at DESC LIMIT 20"
)
_COUNT = (
    "SELECT count(*) FROM analyses "
    "WHERE search_vector @@ websearch_to_tsquery('arabic', bahr_search_fold(%s))"
)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _timed_search(fn: Any, queries: list[str], repeats: int) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {q: [] for q in queries}
    for _ in range(repeats):
        for q in queries:
            start = time.perf_counter_ns()
            fn(q)
            out[q].append(time.perf_counter_ns() - start)
    return out


def _scan(ctx: Context, queries: list[str]) -> dict[str, int]:
    from app.text.arabic import normalize

    out: dict[str, int] = {}
    # Session-level settings on an autocommit connection: a SET inside a transaction would
    # be undone by the transaction's rollback.
    with ctx.db.app_raw() as conn:
        for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
            conn.execute(f"SET {setting} = off")
        plan = conn.execute("EXPLAIN " + _SCAN, (_like(normalize(queries[0])),)).fetchall()
        if any("Index" in str(line[0]) for line in plan):
            raise AssertionError(f"the anchor is not a sequential scan: {plan}")
        conn.execute(_SCAN, (_like(normalize(queries[0])),)).fetchall()  # warm the cache
        for q in queries:
            start = time.perf_counter_ns()
            conn.execute(_SCAN, (_like(normalize(q)),)).fetchall()
            out[q] = time.perf_counter_ns() - start
    return out


def _plan_cache_modes(ctx: Context, queries: list[str]) -> dict[str, dict[str, int]]:
    """The repository's word-search statement, server-side prepared, under a custom plan
    (the tsquery folded to a constant) and a generic plan (what PostgreSQL may switch a
    prepared statement to after five runs: ``websearch_to_tsquery(bahr_search_fold($1))``
    is then evaluated for every matching row)."""
    from sqlalchemy import event

    from app.db.base import SessionLocal, engine
    from app.repositories.analysis_repository import AnalysisRepository

    captured: list[tuple[str, dict[str, Any]]] = []

    def listener(_c: Any, _cur: Any, statement: str, params: Any, *_a: Any) -> None:
        captured.append((statement, dict(params)))

    out: dict[str, dict[str, int]] = {}
    for q in queries:
        event.listen(engine, "before_cursor_execute", listener)
        try:
            with SessionLocal() as db:
                AnalysisRepository(db).search(q)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    for mode in ("force_custom_plan", "force_generic_plan"):
        times_ns: dict[str, int] = {}
        with ctx.db.app_raw() as conn:
            conn.execute(f"SET plan_cache_mode = {mode}")
            statement, params = captured[0]
            conn.execute(statement, params, prepare=True).fetchall()  # prepare once
            for q, (statement, params) in zip(queries, captured, strict=True):
                start = time.perf_counter_ns()
                conn.execute(statement, params, prepare=True).fetchall()
                times_ns[q] = time.perf_counter_ns() - start
        out[mode] = times_ns
    return out


def _app_plan_counts() -> tuple[int, int] | None:
    """Generic and custom plans PostgreSQL used for the app's prepared search statement."""
    from sqlalchemy import text

    from app.db.base import SessionLocal

    with SessionLocal() as db:
        row = db.execute(
            text(
                "SELECT sum(generic_plans), sum(custom_plans) FROM pg_prepared_statements "
                "WHERE statement LIKE '%ts_rank_cd%'"
            )
        ).one()
    return None if row[0] is None else (int(row[0]), int(row[1]))


def _series(name: str, values: list[int]) -> Series:
    return Series(name, values)


def run(ctx: Context) -> Section:
    section = Section(
        key="search",
        title="3. Search over the large data set",
        method=(
            f"{ctx.sizes.search_rows:,} analyses of synthetic Arabic verse (see "
            "*Data set* below). Subject: `AnalysisRepository.search` / `search_fragment`, one "
            f"session per query, limit 20, each query {ctx.sizes.search_repeats}×. Anchor: "
            "`normalized_text ILIKE '%q%' ORDER BY created_at DESC LIMIT 20` with index and "
            f"bitmap scans off (a sequential scan), once for each of the first "
            f"{ctx.sizes.scan_queries} queries; ratios are taken on those same queries."
        ),
    )
    from app.db.base import SessionLocal
    from app.repositories.analysis_repository import AnalysisRepository

    vocab = vocabulary()
    rng = random.Random(3)
    words = [vocab.vocalised[rng.randrange(len(vocab))] for _ in range(ctx.sizes.word_queries)]
    frequent = list(vocab.vocalised[:5])
    fragments = []
    for (text,) in dataset.sample_rows(ctx, ctx.sizes.word_queries, seed=4):
        parts = text.split()
        start = rng.randrange(max(1, len(parts) - 1))
        fragments.append(" ".join(parts[start : start + 2]))

    def word(q: str) -> object:
        with SessionLocal() as db:
            return AnalysisRepository(db).search(q)

    def fragment(q: str) -> object:
        with SessionLocal() as db:
            return AnalysisRepository(db).search_fragment(q)

    with ctx.db.app_raw() as conn:
        matches = {q: int(conn.execute(_COUNT, (q,)).fetchone()[0]) for q in words + frequent}  # type: ignore[index]

    for q in words[:3] + fragments[:3]:  # warm-up
        word(q)
        fragment(q)
    ctx.log(f"search: {len(words)} word queries × {ctx.sizes.search_repeats}")
    word_t = _timed_search(word, words, ctx.sizes.search_repeats)
    freq_t = _timed_search(word, frequent, ctx.sizes.search_repeats)
    ctx.log(f"search: {len(fragments)} fragment queries × {ctx.sizes.search_repeats}")
    frag_t = _timed_search(fragment, fragments, ctx.sizes.search_repeats)
    plan_counts = _app_plan_counts()
    k = ctx.sizes.scan_queries
    ctx.log(f"search: custom vs generic plan for {k} word queries")
    modes = _plan_cache_modes(ctx, words[:k])
    ctx.log(f"search: unindexed scans for {k} word and {k} fragment queries")
    scan_words = _scan(ctx, words[:k])
    scan_frags = _scan(ctx, fragments[:k])

    def flat(t: dict[str, list[int]], keys: list[str] | None = None) -> list[int]:
        return [v for q, vs in t.items() if keys is None or q in keys for v in vs]

    all_words = _series("word", flat(word_t))
    rows = []
    for label, subject, scans in (
        ("word search", word_t, scan_words),
        ("fragment search", frag_t, scan_frags),
    ):
        every = _series(label, flat(subject))
        same = _series(label, flat(subject, list(scans)))
        anchor = _series("scan", list(scans.values()))
        rows.append(
            [
                label,
                f"{len(subject)} × {ctx.sizes.search_repeats}",
                ms(every.p50_ms),
                ms(every.p95_ms),
                ms(same.p50_ms),
                ms(anchor.p50_ms),
                ms(anchor.p95_ms),
                times(anchor.p50_ms / same.p50_ms),
            ]
        )
        section.data[label] = {
            "all": every.summary(),
            "subset": same.summary(),
            "scan": anchor.summary(),
            "queries": list(subject),
        }
    freq = _series("frequent", flat(freq_t))
    rows.append(
        [
            "word search, 5 most frequent words",
            f"5 × {ctx.sizes.search_repeats}",
            ms(freq.p50_ms),
            ms(freq.p95_ms),
            "",
            "",
            "",
            "",
        ]
    )
    section.data["frequent words"] = freq.summary()
    section.tables.append(
        Table(
            "Latency",
            [
                "query set",
                "queries × runs",
                "p50 ms",
                "p95 ms",
                "p50 ms on scanned subset",
                "scan p50 ms",
                "scan p95 ms",
                "speed-up (scan p50 / indexed p50)",
            ],
            rows,
        )
    )
    # Word search latency by how many rows match (ranking reads every match).
    bands = [(0, 1_000), (1_000, 5_000), (5_000, 20_000), (20_000, 10**12)]
    band_rows = []
    merged = {**word_t, **freq_t}
    for lo, hi in bands:
        qs = [q for q in merged if lo <= matches[q] < hi]
        if not qs:
            continue
        s = _series("band", flat(merged, qs))
        band_rows.append(
            [
                f"{lo:,}–{hi:,}" if hi < 10**12 else f"≥ {lo:,}",
                len(qs),
                ms(s.p50_ms),
                ms(s.p95_ms),
                ms(percentile(sorted(s.samples_ns), 1.0) / 1e6),
            ]
        )
    section.tables.append(
        Table(
            "Word search latency by number of matching rows",
            ["matching rows", "queries", "p50 ms", "p95 ms", "max ms"],
            band_rows,
            note=(
                "`search` ranks every matching row (`ts_rank_cd`) before it keeps 20, so its "
                "time grows with the number of matches; the GIN index only finds them."
            ),
        )
    )
    section.data["matches"] = matches
    custom = _series("custom", list(modes["force_custom_plan"].values()))
    generic = _series("generic", list(modes["force_generic_plan"].values()))
    section.data["plan_cache_modes"] = {"custom": custom.summary(), "generic": generic.summary()}
    section.data["app_prepared_plans"] = plan_counts
    used = (
        f"On the pooled connection that ran the searches above, PostgreSQL had used "
        f"{plan_counts[0]} generic and {plan_counts[1]} custom plans for the prepared "
        "statement (psycopg prepares a statement on its 6th run)."
        if plan_counts
        else "The pooled connection that ran the searches holds no prepared search statement."
    )
    section.notes.append(
        f"Prepared word-search statement, first {k} word queries: custom plan p50 "
        f"{ms(custom.p50_ms)} ms, generic plan p50 {ms(generic.p50_ms)} ms "
        f"({times(generic.p50_ms / custom.p50_ms)}). A generic plan cannot fold "
        "`websearch_to_tsquery('arabic', bahr_search_fold($1))` to a constant, so it is "
        f"evaluated for every matching row. {used}"
    )
    p95 = all_words.p95_ms
    met = p95 < WORD_P95_TARGET_MS
    why = ""
    if not met:
        slow = sorted(((max(v) / 1e6, q) for q, v in word_t.items()), reverse=True)[:3]
        why = (
            "the slowest queries are the most common words ("
            + ", ".join(f"{matches[q]:,} matches: {t:.0f} ms" for t, q in slow)
            + "); ranking reads every match"
        )
    section.targets.append(
        Target(
            name=f"word search at {ctx.sizes.search_rows:,} rows",
            goal=f"p95 < {WORD_P95_TARGET_MS:g} ms",
            measured=f"p95 {ms(p95)} ms (p50 {ms(all_words.p50_ms)} ms)",
            met=met,
            why=why,
        )
    )
    return section
