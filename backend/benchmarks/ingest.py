"""Section 2: bulk ingest of analyses, against PostgreSQL COPY of the same rows.

The rows are generated once (seeded): synthetic vocalised verses (:mod:`benchmarks.words`),
a meter's name and pattern, a confidence, counts and a small metadata object. Every method
loads the same rows into an empty ``analyses`` table (``TRUNCATE analyses, analysis_history``
before each run), so each pays the same statement-level history trigger, generated
``tsvector`` column, GIN (fastupdate) and btree indexes:

* ``COPY`` (anchor): psycopg ``cursor.copy`` of the final column values, prepared before the
  clock starts (``normalized_text``, ``meter_id`` and ids included, the ids monotonic
  uuid7 as the application makes them): the floor for putting these rows into this table;
* ``AnalysisRepository.bulk_create``: the list of input dicts, as an API would receive them
  (validation, normalisation, meter resolution and one COPY per batch, commit);
* ``bahr-db import``: ``app.commands.jsonl.import_lines(db, path, strict=False)`` on a JSONL
  file written beforehand (parsing included);
* ``COPY`` with random (v4) ids, with plain uuid7 ids (:func:`app.db.ids.uuid7`), and with
  no id (the column default, ``bahr_uuid7()``), to compare random and time-ordered primary
  keys: rows/s and the size of ``pk_analyses`` right after the load.

Runs are repeated ``ingest_rounds`` times, rotating the order; the median is reported.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event

from app.db.ids import MonotonicUuid7, uuid7
from app.repositories.analysis_repository import COPY_COLUMNS
from benchmarks.context import Context
from benchmarks.report import Section, Table, Target, mib, pct, rate
from benchmarks.words import verse, vocabulary

COPY_V4 = "COPY, uuid4 ids (random, before)"
BULK = "AnalysisRepository.bulk_create"
IMPORT = "bahr-db import (import_lines)"
COPY_V7 = "COPY, uuid7 ids"
COPY_V7M = "COPY, monotonic uuid7 ids (anchor: the shipped ids)"
COPY_DEFAULT = "COPY, id from the server default bahr_uuid7()"
TARGET_SHARE = 0.5
#: The columns COPY fills, in the repository's own order (the anchor writes what it writes).
COLUMNS = COPY_COLUMNS


def make_inputs(n: int, seed: int = 2) -> list[dict[str, Any]]:
    """``n`` analyses in ``AnalysisCreate`` input shape (plain dicts, as JSON would give)."""
    from app.data.meters import METERS

    rng = random.Random(seed)
    vocab = vocabulary()
    meters = [(m.name_arabic, m.pattern) for m in METERS]
    items = []
    for _ in range(n):
        vocal, _norm = verse(rng, vocab)
        name, pattern = meters[rng.randrange(len(meters))]
        items.append(
            {
                "original_text": vocal,
                "pattern": pattern,
                "detected_meter": name,
                "confidence": str(Decimal(rng.randint(5000, 10000)) / 10000),
                "syllable_count": rng.randint(20, 40),
                "processing_time_ms": rng.randint(1, 60),
                "metadata": {"engine_version": "1.0.0", "source": "benchmark"},
            }
        )
    return items


def _meter_ids(ctx: Context) -> dict[str, int]:
    with ctx.db.owner() as conn:
        return dict(conn.execute("SELECT name_arabic, id FROM meters").fetchall())


def _copy_rows(
    items: list[dict[str, Any]], meter_ids: dict[str, int], user_id: int, ids: list[Any]
) -> list[tuple[Any, ...]]:
    from app.text.arabic import normalize

    return [
        (
            ids[i],
            user_id,
            it["original_text"],
            normalize(it["original_text"]),
            it["pattern"],
            it["detected_meter"],
            meter_ids[it["detected_meter"]],
            Decimal(it["confidence"]),
            it["syllable_count"],
            it["processing_time_ms"],
            json.dumps(it["metadata"], ensure_ascii=False),
        )
        for i, it in enumerate(items)
    ]


def _truncate(ctx: Context) -> None:
    with ctx.db.owner() as conn:
        conn.execute("TRUNCATE analyses, analysis_history")
    with ctx.db.admin() as conn:
        conn.execute("CHECKPOINT")


def _pk_size(ctx: Context) -> tuple[int, int]:
    with ctx.db.owner() as conn:
        row = conn.execute(
            "SELECT pg_relation_size('pk_analyses'), count(*) FROM analyses"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def run(ctx: Context) -> Section:
    n = ctx.sizes.ingest_rows
    section = Section(
        key="ingest",
        title="2. Bulk ingest of analyses vs COPY",
        method=(
            f"{n:,} rows per run into an empty `analyses` table (truncated before each run), "
            f"{ctx.sizes.ingest_rounds} round(s) in rotating order, median reported. COPY "
            "gets the final column values prepared before the clock starts; `bulk_create` "
            "gets the input dicts; `import_lines` gets a JSONL file. Every method pays the "
            "same triggers, generated `tsvector` and indexes. See `benchmarks/ingest.py`."
        ),
    )
    from app.commands.jsonl import import_lines
    from app.db.base import SessionLocal, engine
    from app.repositories.analysis_repository import AnalysisRepository
    from app.schemas.analysis import AnalysisCreate
    from app.text.arabic import normalize

    ctx.log(f"ingest: generating {n:,} rows")
    items = make_inputs(n)
    meter_ids = _meter_ids(ctx)
    user_id, username = 1, "bench_user_1"
    v4 = [uuid.uuid4() for _ in range(n)]
    v7 = [uuid7() for _ in range(n)]
    monotonic = MonotonicUuid7()
    v7m = [monotonic() for _ in range(n)]
    rows_v4 = _copy_rows(items, meter_ids, user_id, v4)
    rows_v7 = _copy_rows(items, meter_ids, user_id, v7)
    rows_v7m = _copy_rows(items, meter_ids, user_id, v7m)
    tmp = Path(tempfile.mkdtemp(prefix="bahr-bench-"))
    jsonl = tmp / "analyses.jsonl"
    with jsonl.open("w", encoding="utf-8") as out:
        for it in items:
            out.write(json.dumps({**it, "username": username}, ensure_ascii=False) + "\n")

    def copy(rows: list[tuple[Any, ...]], with_id: bool = True) -> Callable[[], None]:
        cols = COLUMNS if with_id else COLUMNS[1:]

        def go() -> None:
            with ctx.db.app_raw(autocommit=False) as conn:
                start = time.perf_counter_ns()
                with (
                    conn.cursor() as cur,
                    cur.copy(f"COPY analyses ({', '.join(cols)}) FROM STDIN") as cp,
                ):
                    for row in rows:
                        cp.write_row(row if with_id else row[1:])
                conn.commit()
                timings.append(time.perf_counter_ns() - start)

        return go

    db_ns: list[int] = []

    def bulk() -> None:
        with SessionLocal() as db:
            start = time.perf_counter_ns()
            ids = AnalysisRepository(db).bulk_create(items, user_id=user_id)
            timings.append(time.perf_counter_ns() - start)
        assert len(ids) == n

    def importer() -> None:
        with SessionLocal() as db:
            start = time.perf_counter_ns()
            report = import_lines(db, jsonl, strict=False)
            timings.append(time.perf_counter_ns() - start)
        assert report.stored == n, report.errors[:3]

    methods: dict[str, Callable[[], None]] = {
        COPY_V7M: copy(rows_v7m),
        BULK: bulk,
        IMPORT: importer,
        COPY_V4: copy(rows_v4),
        COPY_V7: copy(rows_v7),
        COPY_DEFAULT: copy(rows_v4, with_id=False),
    }
    seconds: dict[str, list[float]] = {k: [] for k in methods}
    pk: dict[str, list[int]] = {k: [] for k in methods}
    in_db: dict[str, list[float]] = {BULK: [], IMPORT: []}

    def before(_c: Any, _cur: Any, _s: str, _p: Any, context: Any, _m: bool) -> None:
        context._bench_start = time.perf_counter_ns()

    def after(_c: Any, _cur: Any, _s: str, _p: Any, context: Any, _m: bool) -> None:
        db_ns.append(time.perf_counter_ns() - context._bench_start)

    # bulk_create's COPY goes through the driver, past the cursor events above: time it too.
    original_copy = AnalysisRepository._copy

    def timed_copy(self: Any, rows: Any) -> Any:
        start = time.perf_counter_ns()
        try:
            return original_copy(self, rows)
        finally:
            db_ns.append(time.perf_counter_ns() - start)

    AnalysisRepository._copy = timed_copy  # type: ignore[method-assign]
    names = list(methods)
    try:
        for r in range(ctx.sizes.ingest_rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                _truncate(ctx)
                ctx.log(f"ingest: round {r + 1}, {name}")
                timings: list[int] = []
                db_ns.clear()
                event.listen(engine, "before_cursor_execute", before)
                event.listen(engine, "after_cursor_execute", after)
                try:
                    methods[name]()
                finally:
                    event.remove(engine, "before_cursor_execute", before)
                    event.remove(engine, "after_cursor_execute", after)
                seconds[name].append(timings[0] / 1e9)
                if name in in_db:
                    in_db[name].append(sum(db_ns) / 1e9)
                size, count = _pk_size(ctx)
                assert count == n, (name, count)
                pk[name].append(size)
    finally:
        AnalysisRepository._copy = original_copy  # type: ignore[method-assign]
        for path in tmp.iterdir():
            path.unlink()
        tmp.rmdir()
        _truncate(ctx)

    # Python-side work of the repository path alone, no database: validation + normalisation.
    start = time.perf_counter_ns()
    for it in items:
        AnalysisCreate.model_validate(it)
        normalize(it["original_text"])
    python_s = (time.perf_counter_ns() - start) / 1e9

    median = {k: statistics.median(v) for k, v in seconds.items()}
    rows_s = {k: n / v for k, v in median.items()}
    anchor = rows_s[COPY_V7M]
    table_rows = []
    for name in names:
        extra = ""
        if name in in_db:
            db_s = statistics.median(in_db[name])
            extra = (
                f"{db_s:.1f} s in the database (COPY and lookups), "
                f"{median[name] - db_s:.1f} s in Python"
            )
        table_rows.append(
            [
                name,
                f"{median[name]:.2f}",
                rate(rows_s[name]),
                pct(rows_s[name] / anchor),
                mib(statistics.median(pk[name])),
                extra,
            ]
        )
    section.tables.append(
        Table(
            f"{n:,} rows",
            [
                "method",
                "seconds",
                "rows/s",
                "share of COPY",
                "pk_analyses size",
                "where the time goes",
            ],
            table_rows,
            note=(
                f"Validating {n:,} inputs with `AnalysisCreate.model_validate` and normalising "
                f"their text, with no database at all, takes {python_s:.2f} s "
                f"({rate(n / python_s)} rows/s) on this machine."
            ),
        )
    )
    section.data = {
        "rows": n,
        "seconds": seconds,
        "rows_per_s": rows_s,
        "pk_bytes": pk,
        "sql_seconds": in_db,
        "python_validation_s": python_s,
    }
    for name in (BULK, IMPORT):
        share = rows_s[name] / anchor
        met = share >= TARGET_SHARE
        why = ""
        if not met:
            db_s = statistics.median(in_db[name])
            why = (
                f"{db_s:.1f} s of {median[name]:.1f} s are spent in the database "
                f"(COPY: {median[COPY_V7M]:.1f} s); validation + normalisation alone take "
                f"{python_s:.1f} s"
            )
        section.targets.append(
            Target(
                name=f"ingest: {name}",
                goal=f"≥ {TARGET_SHARE:.0%} of COPY rows/s at {n:,} rows",
                measured=f"{rate(rows_s[name])} rows/s = {pct(share)} of COPY "
                f"({rate(anchor)} rows/s)",
                met=met,
                why=why,
            )
        )
    pk_of = {k: statistics.median(v) for k, v in pk.items()}
    section.notes.append(
        "Primary keys (same rows, COPY): "
        + "; ".join(
            f"{k.removeprefix('COPY, ')}: {rate(rows_s[k])} rows/s "
            f"({rows_s[k] / rows_s[COPY_V4]:.2f}× uuid4), pk_analyses {mib(pk_of[k])} "
            f"({pk_of[k] / pk_of[COPY_V4]:.2f}× uuid4)"
            for k in (COPY_V7, COPY_V7M, COPY_DEFAULT)
        )
        + ". A plain uuid7 is ordered only between milliseconds: the thousands of ids made in "
        "one millisecond of a bulk load are random among themselves. The monotonic variant "
        "(a counter within the millisecond) is ordered throughout."
    )
    section.data["pk_bytes_median"] = pk_of
    return section
