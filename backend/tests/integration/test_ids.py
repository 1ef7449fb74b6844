"""``analyses.id`` is a UUID v7 whichever way a row arrives: ORM, bulk, or raw SQL."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db.ids import timestamp_ms
from app.repositories.analysis_repository import AnalysisRepository


def _is_recent_v7(value: uuid.UUID) -> bool:
    now_ms = time.time_ns() // 1_000_000
    return value.version == 7 and abs(timestamp_ms(value) - now_ms) < 60_000


def test_orm_and_bulk_ids_are_uuid7(db: Session) -> None:
    repo = AnalysisRepository(db)
    created = repo.create({"original_text": "قفا نبك", "pattern": "//o/o"})
    assert _is_recent_v7(created.id)
    ids = repo.bulk_create([{"original_text": "قفا نبك", "pattern": "//o"}] * 3)
    assert all(_is_recent_v7(i) for i in ids)
    assert ids == sorted(ids)


def test_the_server_default_is_uuid7_for_raw_sql(db: Session) -> None:
    """The application role may call the default's function (bahr_uuid7) too."""
    new = db.execute(
        text(
            "INSERT INTO analyses (original_text, normalized_text, pattern) "
            "VALUES ('قفا نبك', 'قفا نبك', '//o') RETURNING id"
        )
    ).scalar_one()
    assert _is_recent_v7(new)
    assert new.variant == uuid.RFC_4122
