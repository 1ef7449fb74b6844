"""The large data set for search, history pagination and export (sections 3–5).

Verses are drawn from :func:`benchmarks.words.corpus_vocabulary` (60,000 distinct forms,
function words first) with a Zipf law (``s = 1.0``) and 8–16 words each, by a seeded
:class:`benchmarks.words.ZipfSampler`, so the corpus has what real text has: a handful of
words in most verses, a long tail of rare ones. Both the vocalised ``original_text`` and the
``normalized_text`` come from the word list's two spellings (joining normalised words equals
normalising the joined text, :func:`benchmarks.words.check_vocabulary`); a sample of rows is
checked against :func:`app.text.arabic.normalize` after each load.

The set grows in steps (:func:`load` with ``rows``): the search section measures at 10k,
100k and 1M rows by appending to the same table, so each size is a prefix of the next.
Row ``g`` (1-based) always gets the same text, owner, meter and ``created_at``
(``BASE_TIME + g minutes``: a higher ``g`` is newer). Two users own ``heavy_user_rows``
analyses each at the full size (section 4): user 1 every ``N / heavy_user_rows``-th row,
user 2 every other row of the oldest ``2 × heavy_user_rows``. One row in ten is anonymous;
the rest are spread over the other users; meters cycle through the 16 meters. Ids come from
the column default (``bahr_uuid7()``, in row order).

Loading is set-up, not measured: the secondary indexes are dropped, the rows streamed with
``COPY`` (the history trigger and the generated ``tsvector`` run as usual), the indexes
rebuilt from their own definitions (``pg_get_indexdef``) with a larger
``maintenance_work_mem``, then ``VACUUM (ANALYZE)`` — so no GIN pending list is left and the
planner has statistics.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from typing import Any

from benchmarks.context import Context
from benchmarks.words import ZipfSampler, corpus_vocabulary

HEAVY_USER = 1
CLUSTERED_USER = 2
BASE_TIME = "2020-01-01 00:00:00+00"
_BASE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
_COPY = (
    "COPY analyses (user_id, original_text, normalized_text, pattern, detected_meter, "
    "meter_id, confidence, syllable_count, processing_time_ms, metadata, created_at) "
    "FROM STDIN"
)
_METADATA = json.dumps({"engine_version": "1.0.0", "source": "benchmark"})


def _owner(g: int, n: int, heavy: int, users: int) -> int | None:
    if g % max(1, n // heavy) == 0:
        return HEAVY_USER
    if g <= 2 * heavy and g % 2 == 1:
        return CLUSTERED_USER
    if g % 10 == 1:
        return None
    return 3 + g % max(1, users - 2)


def _sampler(ctx: Context) -> ZipfSampler:
    sampler = ctx.state.get("zipf_sampler")
    if sampler is None:
        sampler = ZipfSampler(len(corpus_vocabulary()))
        ctx.state["zipf_sampler"] = sampler
    assert isinstance(sampler, ZipfSampler)
    return sampler


def load(ctx: Context, rows: int | None = None) -> dict[str, Any]:
    """Grow ``analyses`` to ``rows`` rows (default: the full size); returns facts about it.

    Idempotent: a size already loaded returns the facts of the last load.
    """
    n_final = ctx.sizes.search_rows
    target = n_final if rows is None else rows
    loaded = int(ctx.state.get("loaded_rows", 0))
    if loaded >= target and "data_set" in ctx.state:
        facts: dict[str, Any] = ctx.state["data_set"]
        return facts
    from app.text.arabic import normalize

    heavy = ctx.sizes.heavy_user_rows
    vocab = corpus_vocabulary()
    sampler = _sampler(ctx)
    started = time.monotonic()
    with ctx.db.owner() as conn:
        if loaded == 0:
            conn.execute("TRUNCATE analyses, analysis_history")
        meters = conn.execute(
            "SELECT position, id, name_arabic, pattern FROM meters ORDER BY position"
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename = 'analyses' AND indexname <> 'pk_analyses' ORDER BY indexname"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        words_v, words_n = vocab.vocalised, vocab.normalised
        with conn.cursor().copy(_COPY) as copy:
            for g in range(loaded + 1, target + 1):
                picks = sampler.verse()
                _, meter_id, meter_name, pattern = meters[g % len(meters)]
                copy.write_row(
                    (
                        _owner(g, n_final, heavy, ctx.sizes.users),
                        " ".join(words_v[i] for i in picks),
                        " ".join(words_n[i] for i in picks),
                        pattern,
                        meter_name,
                        meter_id,
                        f"{0.5 + (g % 5000) / 10000:.4f}",
                        20 + g % 21,
                        1 + g % 60,
                        _METADATA,
                        _BASE + dt.timedelta(minutes=g),
                    )
                )
                if g % 200_000 == 0:
                    ctx.log(f"data set: {g:,} / {target:,} rows streamed")
        inserted_s = time.monotonic() - started
        conn.execute("SET maintenance_work_mem = '1GB'")
        built: dict[str, float] = {}
        for name, definition in indexes:
            t = time.monotonic()
            conn.execute(definition)
            built[name] = round(time.monotonic() - t, 1)
            ctx.log(f"data set: index {name} built in {built[name]:.0f} s")
        conn.execute("VACUUM (ANALYZE) analyses")
        conn.execute("VACUUM (ANALYZE) analysis_history")
        facts_row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE user_id = %s), "
            "count(*) FILTER (WHERE user_id = %s), "
            "pg_total_relation_size('analyses'), pg_relation_size('analyses'), "
            "avg(char_length(original_text)) FROM analyses",
            (HEAVY_USER, CLUSTERED_USER),
        ).fetchone()
        sizes = dict(
            conn.execute(
                "SELECT indexname, pg_relation_size(quote_ident(indexname)::regclass) "
                "FROM pg_indexes WHERE tablename = 'analyses'"
            ).fetchall()
        )
        sample = conn.execute(
            "SELECT original_text, normalized_text FROM analyses TABLESAMPLE SYSTEM (1) LIMIT 500"
        ).fetchall()
    assert facts_row is not None
    for original, normalized in sample:
        if normalize(original) != normalized:
            raise AssertionError(f"normalize({original!r}) != {normalized!r}")
    facts = {
        "rows": int(facts_row[0]),
        "heavy_user_rows": int(facts_row[1]),
        "clustered_user_rows": int(facts_row[2]),
        "total_bytes": int(facts_row[3]),
        "heap_bytes": int(facts_row[4]),
        "index_bytes": {k: int(v) for k, v in sizes.items()},
        "avg_chars": float(facts_row[5] or 0),
        "vocabulary": len(vocab),
        "zipf_s": sampler.s,
        "insert_s": round(inserted_s, 1),
        "load_s": round(time.monotonic() - started, 1),
        "index_build_s": built,
        "indexes_rebuilt": [name for name, _ in indexes],
    }
    ctx.state["loaded_rows"] = target
    ctx.state["data_set"] = facts
    return facts


def sample_rows(ctx: Context, k: int, seed: int) -> list[tuple[Any, ...]]:
    """``k`` rows of the loaded set, picked by their ``created_at``: (normalized_text,)."""
    rng = random.Random(seed)
    n = int(ctx.state.get("loaded_rows", ctx.sizes.search_rows))
    picks = [rng.randint(1, n) for _ in range(k)]
    with ctx.db.owner() as conn:
        return [
            tuple(
                conn.execute(
                    "SELECT normalized_text FROM analyses "
                    "WHERE created_at = %s::timestamptz + %s * interval '1 minute'",
                    (BASE_TIME, g),
                ).fetchone()
                or ("",)
            )
            for g in picks
        ]
