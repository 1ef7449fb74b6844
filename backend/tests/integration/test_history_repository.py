"""AnalysisHistoryRepository: read-only access to the trigger-written history."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.models.analysis import AnalysisEvent
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.history_repository import AnalysisHistoryRepository
from tests.factories import make_user

VERSE = "قفا نبك من ذكرى حبيب ومنزل"


def _analysed_twice(db: Session) -> tuple[int, object]:
    user = make_user(db)
    repo = AnalysisRepository(db)
    analysis = repo.create(
        {"original_text": VERSE, "pattern": "//o/o", "detected_meter": "الطويل"},
        user_id=user.id,
    )
    repo.update_result(analysis.id, {"pattern": "//o/o/o", "detected_meter": "البسيط"})
    return user.id, analysis.id


def test_get_and_list_for_analysis_oldest_first(db: Session) -> None:
    _, analysis_id = _analysed_twice(db)
    repo = AnalysisHistoryRepository(db)
    page = repo.list_for_analysis(analysis_id)  # type: ignore[arg-type]
    assert [e.event for e in page.items] == [AnalysisEvent.CREATED, AnalysisEvent.UPDATED]
    assert page.items[1].old_pattern == "//o/o"
    assert page.items[1].new_pattern == "//o/o/o"
    assert page.next_cursor is None
    assert repo.get(page.items[0].id) is page.items[0]


def test_list_for_analysis_pages_with_a_cursor(db: Session) -> None:
    _, analysis_id = _analysed_twice(db)
    repo = AnalysisHistoryRepository(db)
    first = repo.list_for_analysis(analysis_id, limit=1)  # type: ignore[arg-type]
    assert first.next_cursor is not None
    second = repo.list_for_analysis(analysis_id, limit=1, after=first.next_cursor)  # type: ignore[arg-type]
    assert [e.event for e in (*first.items, *second.items)] == [
        AnalysisEvent.CREATED,
        AnalysisEvent.UPDATED,
    ]
    assert second.next_cursor is None


def test_list_for_user_and_list(db: Session) -> None:
    user_id, analysis_id = _analysed_twice(db)
    repo = AnalysisHistoryRepository(db)
    mine = repo.list_for_user(user_id).items
    assert {e.analysis_id for e in mine} == {analysis_id}
    assert len(mine) == 2
    ids = [e.id for e in repo.list(limit=100).items]
    assert ids == sorted(ids)


def test_history_outlives_the_analysis(db: Session) -> None:
    _, analysis_id = _analysed_twice(db)
    AnalysisRepository(db).delete(analysis_id)  # type: ignore[arg-type]
    events = AnalysisHistoryRepository(db).list_for_analysis(analysis_id).items  # type: ignore[arg-type]
    assert [e.event for e in events][-1] == AnalysisEvent.DELETED


def test_require_names_the_history_id(db: Session) -> None:
    with pytest.raises(NotFound) as info:
        AnalysisHistoryRepository(db)._require(-1)
    assert (info.value.field, info.value.rule) == ("history_id", "exists")


def test_a_foreign_cursor_is_refused(db: Session) -> None:
    with pytest.raises(InvalidInput) as info:
        AnalysisHistoryRepository(db).list(after="bm90IGEgY3Vyc29y")
    assert info.value.field == "after"


def test_the_repository_has_no_write_verbs() -> None:
    for verb in ("create", "update", "delete"):
        assert not hasattr(AnalysisHistoryRepository, verb)
