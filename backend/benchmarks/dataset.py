"""The large data set for search, history pagination and export (sections 3–5).

``search_rows`` analyses (1,000,000 in the full run) of synthetic Arabic verse are generated
*in SQL* with ``generate_series``, from the vocabulary of :mod:`benchmarks.words` copied
into a scratch table: each verse takes 8–12 words, a word's rank is
``1 + floor(random()^2 * N)`` (the same skew as the Python generator), ``setseed`` makes the
text the same in every run. Both the vocalised ``original_text`` and the ``normalized_text``
are built from the word list's two spellings (joining normalised words equals normalising
the joined text, :func:`benchmarks.words.check_vocabulary`), and a sample of rows is checked
against :func:`app.text.arabic.normalize` after the load.

Two users own ``heavy_user_rows`` analyses each (section 4): user 1 every
``N / heavy_user_rows``-th row (spread over the whole time range), user 2 every other row of
the oldest ``2 × heavy_user_rows`` (all their analyses are old). One row in ten is anonymous;
the rest are spread over the other users. ``created_at`` is one
minute apart per row, ids come from the column default (``gen_random_uuid()``), meters
cycle through the 16 meters.

Loading is set-up, not measured: the secondary indexes are dropped, the rows inserted in
chunks (the history trigger and the generated ``tsvector`` run as usual), the indexes rebuilt
from their own definitions (``pg_get_indexdef``) with a larger ``maintenance_work_mem``, then
``VACUUM (ANALYZE)`` — so no GIN pending list is left and the planner has statistics.
"""

from __future__ import annotations

import random
import time
from typing import Any

from benchmarks.context import Context
from benchmarks.words import check_vocabulary, vocabulary

HEAVY_USER = 1
CLUSTERED_USER = 2
BASE_TIME = "2020-01-01 00:00:00+00"

_CHUNK = """
INSERT INTO analyses (user_id, original_text, normalized_text, pattern, detected_meter,
                      meter_id, confidence, syllable_count, processing_time_ms, metadata,
                      created_at)
SELECT CASE WHEN mod(v.g, %(every)s) = 0 THEN %(heavy)s
            WHEN v.g <= %(span)s AND mod(v.g, 2) = 1 THEN %(clustered)s
            WHEN mod(v.g, 10) = 1 THEN NULL
            ELSE 3 + mod(v.g, %(others)s) END,
       v.orig, v.norm, m.pattern, m.name_arabic, m.id,
       round((0.5 + random() / 2)::numeric, 4), 20 + mod(v.g, 21), 1 + mod(v.g, 60),
       '{"engine_version": "1.0.0", "source": "benchmark"}'::jsonb,
       %(base)s::timestamptz + v.g * interval '1 minute'
  FROM (SELECT p.g,
               string_agg(w.orig, ' ' ORDER BY p.k) AS orig,
               string_agg(w.norm, ' ' ORDER BY p.k) AS norm
          FROM (SELECT g, k, 1 + floor(power(random(), 2.0) * %(n)s)::int AS idx
                  FROM generate_series(%(lo)s::int, %(hi)s::int) AS g,
                       generate_series(1, 8 + mod(g, 5)) AS k) AS p
          JOIN bench_words w ON w.idx = p.idx
         GROUP BY p.g) AS v
  JOIN meters m ON m.position = 1 + mod(v.g, 16)
"""


def load(ctx: Context) -> dict[str, Any]:
    """Fill ``analyses`` with the data set; returns facts about it (sizes, timings)."""
    from app.text.arabic import normalize

    n = ctx.sizes.search_rows
    heavy = ctx.sizes.heavy_user_rows
    every = max(1, n // heavy)
    vocab = vocabulary()
    check_vocabulary(vocab)
    started = time.monotonic()
    with ctx.db.owner() as conn:
        conn.execute("TRUNCATE analyses, analysis_history")
        conn.execute(
            "CREATE UNLOGGED TABLE bench_words (idx int PRIMARY KEY, orig text, norm text)"
        )
        with conn.cursor().copy("COPY bench_words (idx, orig, norm) FROM STDIN") as copy:
            for i, (orig, norm) in enumerate(zip(vocab.vocalised, vocab.normalised, strict=True)):
                copy.write_row((i + 1, orig, norm))
        conn.execute("ANALYZE bench_words")
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename = 'analyses' AND indexname <> 'pk_analyses' ORDER BY indexname"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute("SELECT setseed(0.4242)")
        for lo in range(1, n + 1, ctx.sizes.load_chunk):
            hi = min(n, lo + ctx.sizes.load_chunk - 1)
            conn.execute(
                _CHUNK,
                {
                    "every": every,
                    "heavy": HEAVY_USER,
                    "span": 2 * heavy,
                    "clustered": CLUSTERED_USER,
                    "others": max(1, ctx.sizes.users - 2),
                    "base": BASE_TIME,
                    "n": len(vocab),
                    "lo": lo,
                    "hi": hi,
                },
            )
            ctx.log(f"data set: {hi:,} / {n:,} rows inserted")
        inserted_s = time.monotonic() - started
        conn.execute("SET maintenance_work_mem = '1GB'")
        for name, definition in indexes:
            t = time.monotonic()
            conn.execute(definition)
            ctx.log(f"data set: index {name} built in {time.monotonic() - t:.0f} s")
        conn.execute("DROP TABLE bench_words")
        conn.execute("VACUUM (ANALYZE) analyses")
        conn.execute("VACUUM (ANALYZE) analysis_history")
        facts = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE user_id = %s), "
            "count(*) FILTER (WHERE user_id = %s), "
            "pg_total_relation_size('analyses'), pg_relation_size('analyses'), "
            "avg(char_length(original_text)) FROM analyses",
            (HEAVY_USER, CLUSTERED_USER),
        ).fetchone()
        sample = conn.execute(
            "SELECT original_text, normalized_text FROM analyses TABLESAMPLE SYSTEM (1) LIMIT 500"
        ).fetchall()
    assert facts is not None
    for original, normalized in sample:
        if normalize(original) != normalized:
            raise AssertionError(f"normalize({original!r}) != {normalized!r}")
    total_s = time.monotonic() - started
    return {
        "rows": int(facts[0]),
        "heavy_user_rows": int(facts[1]),
        "clustered_user_rows": int(facts[2]),
        "total_bytes": int(facts[3]),
        "heap_bytes": int(facts[4]),
        "avg_chars": float(facts[5] or 0),
        "vocabulary": len(vocab),
        "insert_s": round(inserted_s, 1),
        "load_s": round(total_s, 1),
        "indexes_rebuilt": [name for name, _ in indexes],
    }


def sample_rows(ctx: Context, k: int, seed: int) -> list[tuple[Any, ...]]:
    """``k`` rows picked by their (unique, indexed) ``created_at``: (normalized_text,)."""
    rng = random.Random(seed)
    n = ctx.sizes.search_rows
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
