"""Analyses: storage, a user's history, the history of each result, bulk import, stats.

Search lives in :mod:`app.repositories.analysis_search`; :class:`AnalysisRepository` exposes it
as :meth:`~AnalysisRepository.search` and :meth:`~AnalysisRepository.search_fragment`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from time import perf_counter_ns
from typing import Any, cast

import psycopg
from pydantic import ValidationError
from sqlalchemy import bindparam, delete, func, select, text, tuple_
from sqlalchemy.orm import Session

from app.db.errors import translate, translate_errors, translated
from app.db.ids import new_id
from app.errors import InvalidInput, NotFound
from app.metrics.database_metrics import record_statement
from app.models.analysis import Analysis, AnalysisHistory
from app.repositories.analysis_search import AnalysisSearchHit, search, search_fragment
from app.repositories.meter_repository import MeterRepository
from app.repositories.pagination import Page, decode_cursor, encode_cursor
from app.schemas.analysis import AnalysisCreate, AnalysisResultUpdate
from app.text.arabic import normalize

_BY_ID = select(Analysis).where(Analysis.id == bindparam("analysis_id"))
_HISTORY = (
    select(AnalysisHistory)
    .where(AnalysisHistory.analysis_id == bindparam("analysis_id"))
    .order_by(AnalysisHistory.id)
)
#: ``bulk_create`` streams its rows with COPY: the same triggers, CHECKs, FKs and indexes as
#: an INSERT, at close to COPY's own speed (docs/benchmarks.md, section 2).
COPY_COLUMNS = (
    "id",
    "user_id",
    "original_text",
    "normalized_text",
    "pattern",
    "detected_meter",
    "meter_id",
    "confidence",
    "syllable_count",
    "processing_time_ms",
    "metadata",
)
_COPY = f"COPY analyses ({', '.join(COPY_COLUMNS)}) FROM STDIN"


def _copy_values(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A ``_row`` in the order of ``COPY_COLUMNS``, the metadata as JSON text."""
    metadata = json.dumps(row["meta"] or {}, ensure_ascii=False)
    return (*(row[column] for column in COPY_COLUMNS[:-1]), metadata)


_STATS = text(
    """
SELECT m.name_arabic, CASE WHEN m.id IS NULL THEN a.detected_meter END AS label,
       count(*) AS n, avg(a.confidence) AS mean
  FROM analyses a LEFT JOIN meters m ON m.id = a.meter_id
 GROUP BY m.position, m.name_arabic, label
 ORDER BY m.position NULLS LAST, n DESC, label
"""
)


NewAnalysis = AnalysisCreate | Mapping[str, Any]


@dataclass(frozen=True)
class MeterStat:
    """Analyses of one meter: ``name`` is the meter's Arabic name, or the unknown label."""

    name: str | None
    known: bool
    count: int
    mean_confidence: Decimal | None


def as_uuid(value: uuid.UUID | str, field: str = "analysis_id") -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{field}: not a valid UUID", field=field, rule="uuid") from None


@translate_errors
class AnalysisRepository:
    """Repository for analyses and their result history."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self.meters = MeterRepository(db)
        self._meter_ids: dict[str, int | None] = {}

    # -- writing --------------------------------------------------------------------------
    def create(
        self, data: AnalysisCreate | Mapping[str, Any], *, user_id: int | None = None
    ) -> Analysis:
        """Store one analysis: ``normalized_text`` and ``meter_id`` are derived here."""
        data = data if isinstance(data, AnalysisCreate) else AnalysisCreate.model_validate(data)
        analysis = Analysis(**self._row(data, user_id))
        with translated(self.db):
            self.db.add(analysis)
            self.db.commit()
        return analysis

    def bulk_create(
        self,
        items: Iterable[NewAnalysis | tuple[NewAnalysis, int | None]],
        *,
        user_id: int | None = None,
        batch_size: int = 5_000,
    ) -> list[uuid.UUID]:
        """Store many analyses in one transaction; all or nothing.

        Items are validated and normalised in batches of ``batch_size``, each batch streamed
        to PostgreSQL by one ``COPY`` on the session's own connection: every database rule
        holds as for INSERT, at close to COPY's own speed. ``items`` is consumed lazily, so
        memory stays bounded by the batch. An item may be a ``(data, owner_id)`` pair to set
        its owner; otherwise ``user_id`` applies. A bad item raises :class:`InvalidInput`
        naming its index and field, and nothing is stored.
        """
        batch: list[dict[str, Any]] = []
        ids: list[uuid.UUID] = []
        with translated(self.db):
            for index, entry in enumerate(items):
                data, owner = entry if isinstance(entry, tuple) else (entry, user_id)
                # Meter names are resolved here, between COPYs: a COPY in progress holds
                # the connection.
                batch.append(self._row(self._validated(data, index), owner))
                if len(batch) >= batch_size:
                    ids.extend(self._copy(batch))
                    batch = []
            if batch:
                ids.extend(self._copy(batch))
            self.db.commit()
        return ids

    def update_result(
        self,
        analysis_id: uuid.UUID | str,
        data: AnalysisResultUpdate | Mapping[str, Any],
        *,
        user_id: int | None = None,
    ) -> Analysis:
        """Apply a re-run or a correction; the database records before and after."""
        if not isinstance(data, AnalysisResultUpdate):
            data = AnalysisResultUpdate.model_validate(data)
        analysis = self._require(analysis_id, user_id)
        changes = data.model_dump(exclude_unset=True)
        if "detected_meter" in changes:
            changes["meter_id"] = self._meter_id(changes["detected_meter"])
        if "metadata" in changes:
            changes["meta"] = changes.pop("metadata") or {}
        for key, value in changes.items():
            setattr(analysis, key, value)
        with translated(self.db):
            self.db.commit()
        return analysis

    def delete(self, analysis_id: uuid.UUID | str, *, user_id: int | None = None) -> bool:
        """Delete an analysis (with ``user_id``: only if that user owns it).

        Returns False when there is no such analysis, or it belongs to someone else. The
        text is gone for good; the history keeps a 'deleted' event without it.
        """
        stmt = delete(Analysis).where(Analysis.id == as_uuid(analysis_id))
        if user_id is not None:
            stmt = stmt.where(Analysis.user_id == user_id)
        with translated(self.db):
            deleted = self.db.execute(stmt.returning(Analysis.id)).first() is not None
            self.db.commit()
        return deleted

    # -- reading --------------------------------------------------------------------------
    def get(self, analysis_id: uuid.UUID | str) -> Analysis | None:
        params = {"analysis_id": as_uuid(analysis_id)}
        return self.db.execute(_BY_ID, params).scalar_one_or_none()

    def list_for_user(
        self, user_id: int, *, limit: int = 20, before: str | None = None
    ) -> Page[Analysis]:
        """A user's analyses, newest first, keyset-paginated on ``(created_at, id)``."""
        if not 1 <= limit <= 200:
            raise InvalidInput("limit: must be between 1 and 200", field="limit", rule="range")
        stmt = (
            select(Analysis)
            .where(Analysis.user_id == user_id)
            .order_by(Analysis.created_at.desc(), Analysis.id.desc())
            .limit(limit + 1)
        )
        if before is not None:
            created_at, row_id = decode_cursor(before)
            stmt = stmt.where(tuple_(Analysis.created_at, Analysis.id) < tuple_(created_at, row_id))
        rows = list(self.db.scalars(stmt))
        items = rows[:limit]
        cursor = None
        if len(rows) > limit:
            cursor = encode_cursor(items[-1].created_at, items[-1].id)
        return Page(items=items, next_cursor=cursor)

    def history(self, analysis_id: uuid.UUID | str) -> list[AnalysisHistory]:
        """Every recorded event of an analysis's result, oldest first (kept after delete)."""
        params = {"analysis_id": as_uuid(analysis_id)}
        return list(self.db.execute(_HISTORY, params).scalars())

    def meter_stats(self) -> list[MeterStat]:
        """Count and mean confidence per meter; unknown labels are listed on their own."""
        return [
            MeterStat(
                name=known if known is not None else label,
                known=known is not None,
                count=int(n),
                mean_confidence=None if mean is None else Decimal(mean).quantize(Decimal("0.0001")),
            )
            for known, label, n, mean in self.db.execute(_STATS)
        ]

    def count(self) -> int:
        return int(self.db.execute(select(func.count()).select_from(Analysis)).scalar_one())

    # -- search ---------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        limit: int = 20,
        user_id: int | None = None,
        meter: str | None = None,
    ) -> list[AnalysisSearchHit]:
        """Ranked Arabic word search; see :func:`app.repositories.analysis_search.search`."""
        meter_id = None
        if meter is not None:
            found = self.meters.get_by_name(meter)
            if found is None:
                raise InvalidInput(
                    f"meter: unknown meter {meter!r}", field="meter", rule="known_meter"
                )
            meter_id = found.id
        return search(self.db, query, limit=limit, user_id=user_id, meter_id=meter_id)

    def search_fragment(self, query: str, *, limit: int = 20) -> list[AnalysisSearchHit]:
        """Substring or fuzzy search for a half-remembered fragment (trigram index)."""
        return search_fragment(self.db, query, limit=limit)

    # -- helpers --------------------------------------------------------------------------
    def _validated(self, item: NewAnalysis, index: int) -> AnalysisCreate:
        if isinstance(item, AnalysisCreate):
            return item
        try:
            return AnalysisCreate.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "item"
            raise InvalidInput(
                f"items[{index}].{field}: {first['msg']}", field=field, rule=first["type"]
            ) from exc

    def _meter_id(self, label: str | None) -> int | None:
        if label is None:
            return None
        if label not in self._meter_ids:
            meter = self.meters.get_by_name(label)
            self._meter_ids[label] = None if meter is None else meter.id
        return self._meter_ids[label]

    def _row(self, data: AnalysisCreate, user_id: int | None) -> dict[str, Any]:
        return {
            "id": new_id(),
            "user_id": user_id,
            "original_text": data.original_text,
            "normalized_text": normalize(data.original_text),
            "pattern": data.pattern,
            "detected_meter": data.detected_meter,
            "meter_id": self._meter_id(data.detected_meter),
            "confidence": data.confidence,
            "syllable_count": data.syllable_count,
            "processing_time_ms": data.processing_time_ms,
            "meta": data.metadata,
        }

    def _copy(self, rows: Sequence[Mapping[str, Any]]) -> list[uuid.UUID]:
        connection = self.db.connection()
        dbapi = cast("psycopg.Connection[Any]", connection.connection.dbapi_connection)
        start = perf_counter_ns()
        try:
            with dbapi.cursor() as cursor, cursor.copy(_COPY) as copy:
                for row in rows:
                    copy.write_row(_copy_values(row))
        except psycopg.Error as error:  # the driver's own: SQLAlchemy never saw this COPY
            raise translate(error) from error
        elapsed = perf_counter_ns() - start
        record_statement(connection.engine, _COPY, elapsed, operation="INSERT", table="analyses")
        return [row["id"] for row in rows]

    def _require(self, analysis_id: uuid.UUID | str, user_id: int | None) -> Analysis:
        analysis = self.get(analysis_id)
        if analysis is None or (user_id is not None and analysis.user_id != user_id):
            raise NotFound(
                f"analysis_id: no analysis {analysis_id}", field="analysis_id", rule="exists"
            )
        return analysis


__all__ = ["AnalysisRepository", "AnalysisSearchHit", "MeterStat", "Page"]
