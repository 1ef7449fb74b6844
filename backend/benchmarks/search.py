"""Section 3: word and fragment search on a Zipfian corpus, at 10k, 100k and 1M rows.

The data set (:mod:`benchmarks.dataset`) grows in steps; at each size every query class runs
without a filter, with the user filter (the history user, who owns 5 % of the rows) and
with the meter filter (1/16 of the rows). Query classes (seeded, the same at every size):

* word search (``search``): the 5 commonest words (function words, each in most verses);
  20 mid-frequency words (ranks 100–1,000); 20 rare words (ranks 5,000–60,000); 20
  two-word phrases cut from stored verses, quoted; 20 ``a or b`` queries of mid words; 20
  ``common -mid`` queries;
* fragment search (``search_fragment``): 20 two-word fragments cut from stored verses; 20
  partial-word fragments (3–5 letters cut from inside a stored word); 20 two-word fragments
  with one letter replaced.

Words are typed vocalised, as the source spells them. Subject: ``analysis_search.search`` /
``search_fragment`` on a ``ReadSessionLocal`` session (as a read-only API request would),
one session per query, limit 20. Each class's p50 and p95 at each size go into the growth
table and ``docs/search-growth.png``; the targets are checked at the largest size.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import dataset
from benchmarks.context import Context
from benchmarks.report import Section, Table, Target, ms
from benchmarks.timing import Series
from benchmarks.words import corpus_vocabulary

WORD_P95_TARGET_MS = 20.0
FRAGMENT_P95_TARGET_MS = 100.0
PLOT = Path(__file__).resolve().parents[2] / "docs" / "search-growth.png"
WORD_CLASSES = ("common word", "mid word", "rare word", "quoted phrase", "a or b", "common -mid")
FRAGMENT_CLASSES = ("two-word fragment", "partial word", "misspelt fragment")
FILTERS = ("none", "user", "meter")
QUERIES_PER_CLASS = 20
_ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def _queries(ctx: Context, rng: random.Random, k: int) -> dict[str, list[str]]:
    vocab = corpus_vocabulary()
    v = vocab.vocalised
    mid = [v[rng.randrange(100, 1_000)] for _ in range(3 * k)]
    rows = [t for (t,) in dataset.sample_rows(ctx, 3 * k, seed=4) if t]
    pairs, partial, misspelt = [], [], []
    for i in range(k):
        words = rows[i % len(rows)].split()
        at = rng.randrange(max(1, len(words) - 1))
        pairs.append(" ".join(words[at : at + 2]))
        long_words = [w for w in rows[(i + k) % len(rows)].split() if len(w) >= 5] or words
        word = rng.choice(long_words)
        size = rng.randint(3, min(5, len(word)))
        start = rng.randrange(len(word) - size + 1)
        partial.append(word[start : start + size])
        words = rows[(i + 2 * k) % len(rows)].split()
        at = rng.randrange(max(1, len(words) - 1))
        frag = list(" ".join(words[at : at + 2]))
        spots = [j for j, ch in enumerate(frag) if ch != " "]
        j = rng.choice(spots)
        frag[j] = rng.choice([c for c in _ARABIC_LETTERS if c != frag[j]])
        misspelt.append("".join(frag))
    return {
        "common word": list(v[:5]),
        "mid word": mid[:k],
        "rare word": [v[rng.randrange(5_000, len(v))] for _ in range(k)],
        "quoted phrase": [f'"{p}"' for p in pairs],
        "a or b": [f"{mid[k + i]} or {mid[2 * k + i]}" for i in range(k)],
        "common -mid": [f"{v[i % 5]} -{mid[i]}" for i in range(k)],
        "two-word fragment": pairs,
        "partial word": partial,
        "misspelt fragment": misspelt,
    }


def _runner(kind: str, flt: str, meter_id: int) -> Callable[[str], Any]:
    from app.db.base import ReadSessionLocal
    from app.repositories import analysis_search

    fn = analysis_search.search if kind == "word" else analysis_search.search_fragment
    kw: dict[str, Any] = {"limit": 20}
    if flt == "user":
        kw["user_id"] = dataset.HEAVY_USER
    elif flt == "meter":
        kw["meter_id"] = meter_id

    def run(q: str) -> Any:
        with ReadSessionLocal() as db:
            return fn(db, q, **kw)

    return run


ANCHOR = "anchor: `SELECT 1` on a read session"
ANCHOR_SAMPLES = 200


def anchor() -> list[int]:
    """The floor under every search and a gauge of the machine's load: a ``SELECT 1`` on a
    ``ReadSessionLocal`` session (checkout, pre-ping, one statement), as each query runs."""
    from sqlalchemy import text

    from app.db.base import ReadSessionLocal

    samples = []
    for _ in range(ANCHOR_SAMPLES):
        start = time.perf_counter_ns()
        with ReadSessionLocal() as db:
            db.execute(text("SELECT 1"))
        samples.append(time.perf_counter_ns() - start)
    return samples


def _measure(
    ctx: Context,
    queries: dict[str, list[str]],
    meter_id: int,
    filters: tuple[str, ...] | list[str] = FILTERS,
) -> tuple[dict[str, dict[str, list[int]]], dict[str, Any]]:
    """{class: {filter: [ns, …]}}, and facts (errors, windowed pages, estimates)."""
    from app.errors import SearchTooBroad

    out: dict[str, dict[str, list[int]]] = {}
    facts: dict[str, Any] = {"too_broad": {}, "windowed": {}, "estimates": {}, "slowest": {}}
    for cls, qs in queries.items():
        kind = "word" if cls in WORD_CLASSES else "fragment"
        out[cls] = {}
        for flt in filters:
            run = _runner(kind, flt, meter_id)
            for q in qs[:2]:  # warm-up
                with contextlib.suppress(SearchTooBroad):
                    run(q)
            samples: list[int] = []
            broad = windowed = 0
            for _ in range(ctx.sizes.search_repeats):
                for q in qs:
                    start = time.perf_counter_ns()
                    try:
                        page = run(q)
                    except SearchTooBroad:
                        broad += 1
                        page = None
                    took = time.perf_counter_ns() - start
                    samples.append(took)
                    key = f"{cls}/{flt}"
                    if took > facts["slowest"].get(key, ("", 0))[1]:
                        facts["slowest"][key] = (q, took)
                    if page is not None and page.windowed:
                        windowed += 1
                        if cls == "common word" and flt == "none":
                            facts["estimates"][q] = page.estimated_total
            out[cls][flt] = samples
            facts["too_broad"][f"{cls}/{flt}"] = broad
            facts["windowed"][f"{cls}/{flt}"] = windowed
    return out, facts


def _exact_counts(ctx: Context, words: list[str]) -> dict[str, int]:
    sql = (
        "SELECT count(*) FROM analyses WHERE search_vector @@ "
        "websearch_to_tsquery('arabic', bahr_search_fold(%s))"
    )
    from app.text.arabic import normalize

    with ctx.db.owner() as conn:
        return {w: int(conn.execute(sql, (normalize(w),)).fetchone()[0]) for w in words}  # type: ignore[index]


def captured_run(run: Callable[[str], Any], query: str) -> tuple[float, list[tuple[str, Any]]]:
    """Run ``query`` once to warm up, then once more capturing every statement it sends on
    the table. Returns the client time of that run (ms), and its statements with their
    parameters (none when the search was refused as too broad)."""
    from sqlalchemy import event

    from app.db.base import read_engine
    from app.errors import SearchTooBroad

    captured: list[tuple[str, Any]] = []

    def listener(_c: Any, _cur: Any, statement: str, params: Any, *_a: Any) -> None:
        if "FROM analyses" in statement and "EXPLAIN" not in statement:
            captured.append((statement, params))

    with contextlib.suppress(SearchTooBroad):
        run(query)  # warm, as the measured runs were
    event.listen(read_engine, "before_cursor_execute", listener)
    start = time.perf_counter_ns()
    try:
        run(query)
    except SearchTooBroad:
        captured.clear()
    finally:
        client_ms = (time.perf_counter_ns() - start) / 1e6
        event.remove(read_engine, "before_cursor_execute", listener)
    return client_ms, captured


def _explained(ctx: Context, run: Callable[[str], Any], query: str) -> tuple[float, list[Any]]:
    """:func:`captured_run`, then EXPLAIN (ANALYZE, BUFFERS) of each statement as the
    application role: the client time (ms) and the EXPLAIN documents (``Plan``,
    ``Planning Time``, ``Execution Time``)."""
    client_ms, captured = captured_run(run, query)
    docs = []
    with ctx.db.app_raw() as conn:
        for statement, params in captured:
            row = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, params
            ).fetchone()
            if row:
                docs.append(row[0][0])
    return client_ms, docs


def _rows_read(plan: dict[str, Any]) -> int:
    """Rows that scan nodes returned (heap rows fetched), summed over the plan."""
    total = 0
    if "Scan" in plan.get("Node Type", ""):
        total += int(plan.get("Actual Rows", 0)) * int(plan.get("Actual Loops", 1))
        total += int(plan.get("Rows Removed by Index Recheck", 0))
        total += int(plan.get("Rows Removed by Filter", 0))
    for child in plan.get("Plans", []):
        total += _rows_read(child)
    return total


def _series(samples: list[int]) -> Series:
    return Series("s", samples)


def _plot(growth: dict[str, dict[int, tuple[float, float]]], sizes: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    for ax, classes, target, title in (
        (axes[0], WORD_CLASSES, WORD_P95_TARGET_MS, "word search (search)"),
        (axes[1], FRAGMENT_CLASSES, FRAGMENT_P95_TARGET_MS, "fragment search (search_fragment)"),
    ):
        for cls in classes:
            ys = [growth[cls][n][1] for n in sizes]
            ax.plot(sizes, ys, marker="o", label=cls)
        ax.axhline(target, color="red", linestyle="--", linewidth=1, label=f"target {target:g} ms")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("analyses (rows)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("p95 latency, ms (no filter)")
    fig.suptitle("Search latency as the table grows (Zipfian corpus, limit 20)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


#: How each class's cost grows past the sizes measured, read from the plans (the "work per
#: query" table) rather than extrapolated from latencies.
GROWTH_ARGUMENT = (
    "Growth from 100k to 1M to 10M rows, from the plans. *Windowed words* (past "
    "`COMMON_MATCHES` = 20,000 matches, or wherever walking is cheaper than ranking every "
    "match: `windowed_is_cheaper` compares the rows each way reads, from the planner's "
    "estimates) walk an index newest first until the rank window (500 matches): the rows "
    "read are about 500 / (share of the walked rows that match), the same at any table size "
    "for a word of the same share; only the btree descent grows (log N). The walk goes "
    "through the user's or the meter's (meter_id, created_at, id) index when filtered, the "
    "primary key otherwise. *Exactly ranked words* read every match from the table (ties go "
    "to the newer analysis, and RUM orders by its score only, so it reads them too). The "
    "switch between the two sits where both read about the same, √(500 × N / 5) rows: about "
    "10,000 at 1M, 32,000 at 10M, so the costliest word grows about 3× per 10× rows (√N), "
    "not 10×. *Quoted phrases* are estimated like their words anywhere in the verse, and the "
    "rows holding both words are rechecked: a rare phrase of two common words reads them "
    "all (× 10 per 10× rows; at 10M that is past the 1 s bound and ends in `SearchTooBroad` "
    "instead of holding the connection). *Fragments*: the phrase step walks newest first "
    "or reads the GIN candidates, whichever the estimate (taken as 10× too high) says is "
    "shorter; the substring and close steps pass at most 200 candidate rows, but the trigram "
    "bitmap they come from (posting lists of every trigram of the fragment, the article's "
    "among them) and the rows failing the recheck grow linearly with N: the class to watch "
    "at 10M. With a user or meter filter the close step tests that filter's newest 2,000 "
    "rows instead: flat."
)


def steps(rows: int) -> list[int]:
    """The sizes measured: a hundredth, a tenth and all of ``search_rows``."""
    return [rows // 100, rows // 10, rows]


def run(ctx: Context) -> Section:
    sizes = steps(ctx.sizes.search_rows)
    section = Section(
        key="search",
        title="3. Search over the large data set",
        method=(
            "Zipfian corpus (`benchmarks/words.py`, `benchmarks/dataset.py`): "
            f"{len(corpus_vocabulary()):,} distinct word forms, Zipf s = 1.0, 8–16 words per "
            "verse, function words at the head, grown to "
            + ", ".join(f"{n:,}" for n in sizes)
            + " rows. Subject: `analysis_search.search` / `search_fragment` on a "
            "`ReadSessionLocal` session, one session per query, limit 20, each query "
            f"{ctx.sizes.search_repeats}×, without a filter, with the user filter (the user "
            "who owns 5 % of rows) and with the meter filter (1/16 of rows)."
        ),
    )
    from app.repositories import analysis_search

    growth: dict[str, dict[int, tuple[float, float]]] = {
        c: {} for c in (*WORD_CLASSES, *FRAGMENT_CLASSES)
    }
    filtered: dict[str, dict[str, tuple[float, float]]] = {}
    rows_read: dict[str, dict[int, int]] = {}
    per_size: dict[int, Any] = {}
    for n in sizes:
        ctx.log(f"search: growing the data set to {n:,} rows")
        dataset.load(ctx, rows=n)
        with ctx.db.owner() as conn:
            meter_id = int(conn.execute("SELECT id FROM meters WHERE position = 1").fetchone()[0])  # type: ignore[index]
            rum = conn.execute(
                "SELECT to_regclass('ix_analyses_search_rum') IS NOT NULL"
            ).fetchone()[0]  # type: ignore[index]
        analysis_search.forget_rum_index()
        queries = _queries(ctx, random.Random(3), min(ctx.sizes.word_queries, QUERIES_PER_CLASS))
        ctx.log(f"search: {sum(len(q) for q in queries.values())} queries × 3 filters at {n:,}")
        floor = anchor()
        timed, facts = _measure(ctx, queries, meter_id)
        a = _series(floor + anchor())  # before and after the classes: load drifts
        facts["anchor"] = (a.p50_ms, a.p95_ms)
        facts["rum_index"] = bool(rum)
        facts["common_counts"] = _exact_counts(ctx, queries["common word"])
        for cls, by_filter in timed.items():
            s = _series(by_filter["none"])
            growth[cls][n] = (s.p50_ms, s.p95_ms)
            if n == sizes[-1]:
                for flt in ("user", "meter"):
                    f = _series(by_filter[flt])
                    filtered.setdefault(cls, {})[flt] = (f.p50_ms, f.p95_ms)
            kind = "word" if cls in WORD_CLASSES else "fragment"
            _, docs = _explained(ctx, _runner(kind, "none", meter_id), queries[cls][0])
            rows_read.setdefault(cls, {})[n] = sum(_rows_read(d["Plan"]) for d in docs)
        facts["queries"] = queries
        per_size[n] = facts
    section.data["growth"] = {c: {str(n): v for n, v in g.items()} for c, g in growth.items()}
    section.data["filtered"] = filtered
    section.data["rows_read"] = rows_read
    section.data["per_size"] = {str(n): f for n, f in per_size.items()}

    big = sizes[-1]
    cols = ["query class"]
    for n in sizes:
        cols += [f"p50 @ {n:,}", f"p95 @ {n:,}"]
    cols += [f"p95 user @ {big:,}", f"p95 meter @ {big:,}"]
    rows = [[ANCHOR] + [ms(v) for n in sizes for v in per_size[n]["anchor"]] + ["", ""]]
    for cls in (*WORD_CLASSES, *FRAGMENT_CLASSES):
        row: list[Any] = [cls]
        for n in sizes:
            row += [ms(growth[cls][n][0]), ms(growth[cls][n][1])]
        row += [ms(filtered[cls]["user"][1]), ms(filtered[cls]["meter"][1])]
        rows.append(row)
    section.tables.append(
        Table(
            "Growth: latency in ms by query class and table size (no filter unless named)",
            cols,
            rows,
            note="![search latency growth](search-growth.png)",
        )
    )
    read_cols = ["query class (first query)"] + [f"rows read @ {n:,}" for n in sizes]
    section.tables.append(
        Table(
            "Work per query: rows the statements' scan nodes returned or removed "
            "(EXPLAIN ANALYZE of the statements the app sent)",
            read_cols,
            [[cls] + [f"{rows_read[cls][n]:,}" for n in sizes] for cls in rows_read],
            note=(
                "Flat rows are bounded work: the rank window (newest "
                f"{analysis_search.RANK_WINDOW:,} matches) and the trigram candidate bound "
                f"({analysis_search.FRAGMENT_CANDIDATES:,} rows) cap them, whatever the "
                "table size. What still grows is the index descent and, for the GIN "
                "bitmap, the posting lists it reads (about 1 bit per matching row)."
            ),
        )
    )
    section.notes.append(GROWTH_ARGUMENT)
    last = per_size[big]
    common = [
        f"{q} in {last['common_counts'][q]:,} rows (estimate {last['estimates'].get(q, '–'):,})"
        if isinstance(last["estimates"].get(q), int)
        else f"{q} in {last['common_counts'][q]:,} rows"
        for q in last["queries"]["common word"]
    ]
    section.notes.append(
        f"At {big:,} rows the 5 commonest words: " + "; ".join(common) + ". Their pages are "
        f"ranked among the newest {analysis_search.RANK_WINDOW:,} matches and flagged "
        "`windowed`, with the planner's estimate of all matches."
    )
    section.notes.append(
        f"RUM index present: {last['rum_index']}. Searches refused as too broad "
        f"(`SearchTooBroad`, search_timeout_ms): {sum(last['too_broad'].values())} at {big:,} rows."
    )
    try:
        # A smoke run checks the drawing but leaves docs/ alone.
        plot_dir = ctx.state.get("plot_dir")
        path = Path(plot_dir) / PLOT.name if plot_dir else PLOT
        _plot(growth, sizes, path)
        section.notes.append(f"Plot written to `{path if ctx.smoke else 'docs/' + PLOT.name}`.")
    except ImportError as error:  # matplotlib is a dev dependency
        section.notes.append(f"No plot: {error}.")

    for classes, goal_ms, label in (
        (WORD_CLASSES, WORD_P95_TARGET_MS, "word search"),
        (FRAGMENT_CLASSES, FRAGMENT_P95_TARGET_MS, "fragment search"),
    ):
        for cls in classes:
            for flt in FILTERS:
                p50, p95 = growth[cls][big] if flt == "none" else filtered[cls][flt]
                met = p95 <= goal_ms
                section.targets.append(
                    Target(
                        name=f"{label}, {cls}"
                        + ("" if flt == "none" else f", {flt} filter")
                        + f" at {big:,} rows",
                        goal=f"p95 ≤ {goal_ms:g} ms",
                        measured=f"p95 {ms(p95)} ms (p50 {ms(p50)} ms)",
                        met=met,
                        why=""
                        if met
                        else _why(
                            cls,
                            flt,
                            rows_read.get(cls, {}).get(big),
                            last["slowest"].get(f"{cls}/{flt}"),
                            last["too_broad"].get(f"{cls}/{flt}", 0),
                            share=_server_share(ctx, cls, flt, meter_id, last["slowest"]),
                        ),
                    )
                )
    return section


def _server_share(
    ctx: Context, cls: str, flt: str, meter_id: int, slowest: dict[str, tuple[str, int]]
) -> tuple[float, float, int] | None:
    """Where the slowest query of a class spends its time: its client time when run again
    alone, against the server's planning and execution of every statement it sent.
    Returns (client ms, server ms, statements), None without a slowest query."""
    if f"{cls}/{flt}" not in slowest:
        return None
    run = _runner("word" if cls in WORD_CLASSES else "fragment", flt, meter_id)
    client_ms, docs = _explained(ctx, run, slowest[f"{cls}/{flt}"][0])
    server_ms = sum(
        float(d.get("Planning Time", 0)) + float(d.get("Execution Time", 0)) for d in docs
    )
    return client_ms, server_ms, len(docs)


def _why(
    cls: str,
    flt: str,
    read: int | None,
    slowest: tuple[str, int] | None,
    broad: int,
    *,
    share: tuple[float, float, int] | None = None,
) -> str:
    parts = []
    if slowest is not None:
        parts.append(f"slowest query {slowest[0]!r}: {slowest[1] / 1e6:.0f} ms")
    if share is not None:
        client_ms, server_ms, statements = share
        parts.append(
            f"run again alone it took {client_ms:.0f} ms, of which the server spent "
            f"{server_ms:.1f} ms planning and executing its {statements} "
            f"{'query' if statements == 1 else 'queries'} (EXPLAIN ANALYZE); the rest is "
            "round trips and Python (ORM loading, page assembly)"
        )
    if read is not None:
        parts.append(f"the statements read {read:,} rows for the class's first query")
    if broad:
        parts.append(f"{broad} refused as too broad")
    return f"{cls} ({flt} filter): " + "; ".join(parts)
