"""Analyses: storage, a user's history, the history of each result, bulk import, stats.

Search lives in :mod:`app.repositories.analysis_search`; :class:`AnalysisRepository` exposes it
as :meth:`~AnalysisRepository.search` and :meth:`~AnalysisRepository.search_fragment`.

Built on :class:`app.repositories.base.RepositoryBase`: writes flush inside a unit of work
(which commits once) and commit on any other session; errors are translated once, by the base.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from time import perf_counter_ns
from typing import Any, TypeVar, cast

import psycopg
from pydantic import BaseModel
from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db.database import in_unit_of_work, mark_failed
from app.db.ids import new_id
from app.errors import BahrDataError, InvalidInput, NotFound
from app.metrics.database_metrics import record_statement
from app.models.analysis import Analysis, AnalysisHistory
from app.repositories.analysis_search import AnalysisSearchHit, SearchPage, search, search_fragment
from app.repositories.base import DEFAULT_LIMIT, RepositoryBase, validated
from app.repositories.meter_repository import MeterRepository
from app.repositories.pagination import Page
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
SchemaT = TypeVar("SchemaT", bound=BaseModel)


def _as(schema: type[SchemaT], data: SchemaT | Mapping[str, Any]) -> SchemaT:
    # create and update_result raise pydantic's own ValidationError, as they always have
    # (the API reports it field by field); bulk_create raises InvalidInput naming the item.
    return data if isinstance(data, schema) else schema.model_validate(data)


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


def copy_rows(db: Session, statement: str, rows: Iterable[Sequence[Any]]) -> None:
    """Stream ``rows`` into ``analyses`` by ``statement`` (a COPY … FROM STDIN) on the
    session's connection, so every rule and trigger applies as for INSERT. Counted by the
    metrics as INSERT on analyses; a driver error is wrapped as SQLAlchemy would wrap it,
    so the caller's translation (the base's, or ``translated``) handles it once."""
    connection = db.connection()
    dbapi = cast("psycopg.Connection[Any]", connection.connection.dbapi_connection)
    start = perf_counter_ns()
    try:
        with dbapi.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as error:  # the driver's own: SQLAlchemy never saw this COPY
        raise DBAPIError.instance(statement, None, error, psycopg.Error) from error
    elapsed = perf_counter_ns() - start
    record_statement(connection.engine, statement, elapsed, operation="INSERT", table="analyses")


class AnalysisRepository(RepositoryBase[Analysis, uuid.UUID]):
    """Repository for analyses and their result history."""

    model = Analysis
    create_schema = AnalysisCreate
    update_schema = AnalysisResultUpdate
    id_field = "analysis_id"
    keyset = ("created_at", "id")

    def __init__(self, db: Session) -> None:
        super().__init__(db)
        self.meters = MeterRepository(db)
        self._meter_ids: dict[str, int | None] = {}

    # -- writing --------------------------------------------------------------------------
    def create(  # type: ignore[override]
        self, data: AnalysisCreate | Mapping[str, Any], /, *, user_id: int | None = None
    ) -> Analysis:
        """Store one analysis: ``normalized_text`` and ``meter_id`` are derived here."""
        analysis = Analysis(**self._row(_as(AnalysisCreate, data), user_id))
        self.db.add(analysis)
        self._save()
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
        try:
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
        except BahrDataError:
            # A bad item after some batches were streamed: none of them may be kept, here
            # or by a unit of work that caught the error (it then refuses to commit).
            self._abandon()
            raise
        self._save()
        return ids

    def update_result(
        self,
        analysis_id: uuid.UUID | str,
        data: AnalysisResultUpdate | Mapping[str, Any],
        *,
        user_id: int | None = None,
    ) -> Analysis:
        """Apply a re-run or a correction; the database records before and after."""
        changes = self._values(_as(AnalysisResultUpdate, data), partial=True)
        analysis = self._require(analysis_id, user_id)
        for key, value in changes.items():
            setattr(analysis, key, value)
        self._save()
        return analysis

    def delete(self, analysis_id: uuid.UUID | str, *, user_id: int | None = None) -> bool:
        """Delete an analysis (with ``user_id``: only if that user owns it).

        Returns False when there is no such analysis, or it belongs to someone else. The
        text is gone for good; the history keeps a 'deleted' event without it.
        """
        stmt = delete(Analysis).where(Analysis.id == as_uuid(analysis_id))
        if user_id is not None:
            stmt = stmt.where(Analysis.user_id == user_id)
        deleted = self.db.execute(stmt.returning(Analysis.id)).first() is not None
        self._save()
        return deleted

    # -- reading --------------------------------------------------------------------------
    def get(self, analysis_id: uuid.UUID | str, /) -> Analysis | None:
        params = {"analysis_id": as_uuid(analysis_id)}
        return self.db.execute(_BY_ID, params).scalar_one_or_none()

    def list_for_user(
        self, user_id: int, *, limit: int = DEFAULT_LIMIT, before: str | None = None
    ) -> Page[Analysis]:
        """A user's analyses, newest first, keyset-paginated on ``(created_at, id)``;
        ``limit`` from 1 to 100 (the base's one rule)."""
        stmt = select(Analysis).where(Analysis.user_id == user_id)
        try:
            return self._page(stmt, limit=limit, after=before, descending=True)
        except InvalidInput as exc:
            if exc.field != "after":
                raise
            raise InvalidInput(
                "before: not a cursor returned by this API", field="before", rule="cursor"
            ) from None

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
        after: str | None = None,
    ) -> SearchPage:
        """Ranked Arabic word search, one page; see
        :func:`app.repositories.analysis_search.search`."""
        return search(
            self.db,
            query,
            limit=limit,
            user_id=user_id,
            meter_id=self._search_meter(meter),
            after=after,
        )

    def search_fragment(
        self,
        query: str,
        *,
        limit: int = 20,
        user_id: int | None = None,
        meter: str | None = None,
        after: str | None = None,
    ) -> SearchPage:
        """A half-remembered fragment, one page; see
        :func:`app.repositories.analysis_search.search_fragment`."""
        return search_fragment(
            self.db,
            query,
            limit=limit,
            user_id=user_id,
            meter_id=self._search_meter(meter),
            after=after,
        )

    def _search_meter(self, meter: str | None) -> int | None:
        """The id of a meter filter; an unknown meter is refused, not ignored."""
        if meter is None:
            return None
        meter_id = self.meter_id(meter)
        if meter_id is None:
            raise InvalidInput(f"meter: unknown meter {meter!r}", field="meter", rule="known_meter")
        return meter_id

    # -- helpers --------------------------------------------------------------------------
    def _validated(self, item: NewAnalysis, index: int) -> AnalysisCreate:
        try:
            return validated(AnalysisCreate, item)
        except InvalidInput as exc:
            field = exc.field or "item"
            detail = exc.message.removeprefix(f"{exc.field}: ")
            raise InvalidInput(
                f"items[{index}].{field}: {detail}", field=field, rule=exc.rule
            ) from exc

    def _abandon(self) -> None:
        """Undo this session's work after a failure that no database error reported."""
        if in_unit_of_work(self.db):
            mark_failed(self.db)
        else:
            self.db.rollback()

    def meter_id(self, label: str | None) -> int | None:
        """The id of the meter ``label`` names in any accepted form, or None; cached per
        repository (the meters are reference data)."""
        if label is None:
            return None
        if label not in self._meter_ids:
            meter = self.meters.get_by_name(label)
            self._meter_ids[label] = None if meter is None else meter.id
        return self._meter_ids[label]

    def _values(self, data: BaseModel, *, partial: bool) -> dict[str, Any]:
        """The base's column values, plus the derived ones: ``normalized_text`` from the
        text, ``meter_id`` from the label; no metadata is stored as ``{}``."""
        values = super()._values(data, partial=partial)
        if "original_text" in values:
            values["normalized_text"] = normalize(values["original_text"])
        if "detected_meter" in values:
            values["meter_id"] = self.meter_id(values["detected_meter"])
        if "meta" in values:
            values["meta"] = values["meta"] or {}
        return values

    def _row(self, data: AnalysisCreate, user_id: int | None) -> dict[str, Any]:
        return {"id": new_id(), "user_id": user_id, **self._values(data, partial=False)}

    def _copy(self, rows: Sequence[Mapping[str, Any]]) -> list[uuid.UUID]:
        copy_rows(self.db, _COPY, (_copy_values(row) for row in rows))
        return [row["id"] for row in rows]

    def _require(self, analysis_id: uuid.UUID | str, user_id: int | None = None) -> Analysis:
        analysis = self.get(analysis_id)
        if analysis is None or (user_id is not None and analysis.user_id != user_id):
            raise NotFound(
                f"analysis_id: no analysis {analysis_id}", field="analysis_id", rule="exists"
            )
        return analysis


__all__ = ["AnalysisRepository", "AnalysisSearchHit", "MeterStat", "Page"]
