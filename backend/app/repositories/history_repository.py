"""The history of analyses' results (``analysis_history``): read-only.

Rows are written by the database's triggers on ``analyses`` and nobody else: the table is
append-only, and the application role may only read it. So this repository has no write
verbs at all.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.models.analysis import AnalysisHistory
from app.repositories.base import DEFAULT_LIMIT, Page, ReadRepositoryBase


class AnalysisHistoryRepository(ReadRepositoryBase[AnalysisHistory, int]):
    """``get`` and ``list`` (oldest first), and the events of one analysis or one user."""

    model = AnalysisHistory
    id_field = "history_id"

    def list_for_analysis(
        self, analysis_id: uuid.UUID, *, limit: int = DEFAULT_LIMIT, after: str | None = None
    ) -> Page[AnalysisHistory]:
        """Every recorded event of one analysis, oldest first (kept after its deletion)."""
        stmt = select(AnalysisHistory).where(AnalysisHistory.analysis_id == analysis_id)
        return self._page(stmt, limit=limit, after=after)

    def list_for_user(
        self, user_id: int, *, limit: int = DEFAULT_LIMIT, after: str | None = None
    ) -> Page[AnalysisHistory]:
        """Events of the analyses a user owned at the time, oldest first."""
        stmt = select(AnalysisHistory).where(AnalysisHistory.user_id == user_id)
        return self._page(stmt, limit=limit, after=after)
