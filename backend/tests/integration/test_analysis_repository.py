"""AnalysisRepository against PostgreSQL: storage, history, pagination, bulk import, stats."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.models.analysis import Analysis, AnalysisEvent, AnalysisHistory
from app.repositories.analysis_repository import AnalysisRepository
from app.schemas.analysis import AnalysisCreate, AnalysisRead
from tests.factories import make_user

IMRU = "قِفا نَبْكِ مِنْ ذِكْرى حَبيبٍ وَمَنْزِلِ ... بِسِقْطِ اللِّوى بَيْنَ الدَّخولِ فَحَوْمَلِ"
TAWIL = "//o/o //o/o/o //o/o //o/o/o"


def item(**change: Any) -> dict[str, Any]:
    return {
        "original_text": IMRU,
        "pattern": TAWIL,
        "detected_meter": "الطويل",
        "confidence": "0.9731",
        "syllable_count": 30,
        "processing_time_ms": 12,
        "metadata": {"engine_version": "1.0"},
        **change,
    }


def test_create_normalises_and_resolves_the_meter(db: Session) -> None:
    repo = AnalysisRepository(db)
    analysis = repo.create(item(detected_meter="Ṭawīl"))
    assert analysis.normalized_text == (
        "قفا نبك من ذكري حبيب ومنزل ... بسقط اللوي بين الدخول فحومل"
    )
    assert analysis.meter_id == repo.meters.get_by_name("الطويل").id  # type: ignore[union-attr]
    assert analysis.detected_meter == "Ṭawīl"
    assert analysis.confidence == Decimal("0.9731")
    assert repo.get(analysis.id) is analysis
    assert repo.get(str(analysis.id)) is analysis
    read = AnalysisRead.model_validate(analysis)
    assert read.metadata == {"engine_version": "1.0"}


def test_an_unknown_meter_label_is_kept_with_no_meter_id(db: Session) -> None:
    analysis = AnalysisRepository(db).create(item(detected_meter="مجزوء غريب"))
    assert (analysis.detected_meter, analysis.meter_id) == ("مجزوء غريب", None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"original_text": ""}, "original_text"),
        ({"original_text": "   "}, "original_text"),
        ({"original_text": "only latin text"}, "original_text"),
        ({"original_text": "ب" * 10_001}, "original_text"),
        ({"original_text": "قفا\x00نبك"}, "original_text"),
        ({"original_text": "قفا\ud800"}, "original_text"),
        ({"pattern": "//x/o"}, "pattern"),
        ({"pattern": ""}, "pattern"),
        ({"confidence": "1.5"}, "confidence"),
        ({"confidence": "-0.1"}, "confidence"),
        ({"confidence": "0.12345"}, "confidence"),
        ({"confidence": "NaN"}, "confidence"),
        ({"confidence": float("inf")}, "confidence"),
        ({"syllable_count": -1}, "syllable_count"),
        ({"processing_time_ms": -1}, "processing_time_ms"),
        ({"metadata": [1, 2]}, "metadata"),
        ({"metadata": {"x": "a" * 20_000}}, "metadata"),
        ({"metadata": {"x": "\x00"}}, "metadata"),
        ({"metadata": {"x": float("nan")}}, "metadata"),
        ({"detected_meter": "x" * 51}, "detected_meter"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_create_rejects_bad_input_naming_the_field(
    db: Session, change: dict[str, Any], field: str
) -> None:
    repo = AnalysisRepository(db)
    before = repo.count()
    with pytest.raises(ValidationError) as info:
        repo.create(item(**change))
    assert info.value.errors()[0]["loc"][0] == field
    assert repo.count() == before


def test_deeply_nested_metadata_is_rejected(db: Session) -> None:
    nested: dict[str, Any] = {}
    inner = nested
    for _ in range(20):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(ValidationError) as info:
        AnalysisRepository(db).create(item(metadata=nested))
    assert info.value.errors()[0]["loc"][0] == "metadata"


def test_unknown_owner_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound) as info:
        AnalysisRepository(db).create(item(), user_id=999_999)
    assert info.value.field == "user_id"


def test_invalid_uuid_is_a_typed_error(db: Session) -> None:
    with pytest.raises(InvalidInput) as info:
        AnalysisRepository(db).get("not-a-uuid")
    assert info.value.field == "analysis_id"


def test_update_result_records_before_and_after(db: Session) -> None:
    repo = AnalysisRepository(db)
    analysis = repo.create(item(detected_meter="البسيط", confidence="0.5"))
    repo.update_result(
        analysis.id,
        {"detected_meter": "الطويل", "confidence": "0.99", "metadata": {"engine_version": "2.0"}},
    )
    events = repo.history(analysis.id)
    assert [e.event for e in events] == [AnalysisEvent.CREATED, AnalysisEvent.UPDATED]
    update = events[1]
    assert (update.old_detected_meter, update.new_detected_meter) == ("البسيط", "الطويل")
    assert (update.old_confidence, update.new_confidence) == (Decimal("0.5"), Decimal("0.99"))
    assert (update.old_engine_version, update.new_engine_version) == ("1.0", "2.0")
    assert update.old_meter_id != update.new_meter_id
    assert analysis.meter_id == update.new_meter_id


def test_update_result_by_another_user_is_not_found(db: Session) -> None:
    owner, other = make_user(db), make_user(db)
    repo = AnalysisRepository(db)
    analysis = repo.create(item(), user_id=owner.id)
    with pytest.raises(NotFound):
        repo.update_result(analysis.id, {"pattern": "//o/o"}, user_id=other.id)
    with pytest.raises(ValidationError):
        repo.update_result(analysis.id, {"original_text": "تغيير"})


def test_delete_leaves_a_deleted_event_and_no_text(db: Session) -> None:
    owner, other = make_user(db), make_user(db)
    repo = AnalysisRepository(db)
    analysis = repo.create(item(), user_id=owner.id)
    assert repo.delete(analysis.id, user_id=other.id) is False
    assert repo.delete(analysis.id, user_id=owner.id) is True
    assert repo.delete(analysis.id) is False
    assert repo.get(analysis.id) is None
    events = repo.history(analysis.id)
    assert [e.event for e in events] == [AnalysisEvent.CREATED, AnalysisEvent.DELETED]
    assert events[-1].user_id == owner.id
    stored = db.execute(
        text(
            "SELECT count(*) FROM analysis_history h WHERE h.analysis_id = :id "
            "AND row_to_json(h)::text LIKE '%' || :word || '%'"
        ),
        {"id": analysis.id, "word": "نبك"},
    ).scalar_one()
    assert stored == 0


def _at(db: Session, user_id: int, when: dt.datetime) -> Analysis:
    analysis = Analysis(
        user_id=user_id, original_text="بيت", normalized_text="بيت", pattern="/o/o", created_at=when
    )
    db.add(analysis)
    db.flush()
    return analysis


def test_list_for_user_pages_newest_first_and_stays_stable_under_inserts(db: Session) -> None:
    user = make_user(db)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    made = [_at(db, user.id, start + dt.timedelta(minutes=i)) for i in range(23)]
    # Two rows share a timestamp: the id breaks the tie.
    made.append(_at(db, user.id, start + dt.timedelta(minutes=5)))
    expected = sorted(made, key=lambda a: (a.created_at, a.id), reverse=True)
    repo = AnalysisRepository(db)
    seen: list[uuid.UUID] = []
    cursor = None
    pages = 0
    while True:
        page = repo.list_for_user(user.id, limit=10, before=cursor)
        seen += [a.id for a in page.items]
        pages += 1
        # Newer rows arriving between pages must not shift what follows.
        _at(db, user.id, start + dt.timedelta(days=pages))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 3
    assert seen == [a.id for a in expected]


def test_list_for_user_rejects_bad_cursor_and_limit(db: Session) -> None:
    repo = AnalysisRepository(db)
    with pytest.raises(InvalidInput) as info:
        repo.list_for_user(1, before="garbage!")
    assert info.value.field == "before"
    with pytest.raises(InvalidInput):
        repo.list_for_user(1, limit=0)


def test_bulk_create_is_one_transaction_with_history(db: Session) -> None:
    repo = AnalysisRepository(db)
    user = make_user(db)
    rows = [
        item(original_text=f"بيت رقم {i}", detected_meter="kamil" if i % 2 else None)
        for i in range(1, 2_501)
    ]
    ids = repo.bulk_create(rows, user_id=user.id, batch_size=1_000)
    assert len(ids) == 2_500
    stored = db.execute(
        select(Analysis.normalized_text, Analysis.meter_id, Analysis.meta).where(
            Analysis.id == ids[0]
        )
    ).one()
    assert stored.normalized_text == "بيت رقم 1"
    assert stored.meter_id == repo.meters.get_by_name("الكامل").id  # type: ignore[union-attr]
    assert stored.meta == {"engine_version": "1.0"}
    assert (
        db.scalar(
            select(func.count())
            .select_from(AnalysisHistory)
            .where(AnalysisHistory.analysis_id.in_(ids))
        )
        == 2_500
    )


def test_bulk_create_with_a_bad_item_writes_nothing(db: Session) -> None:
    repo = AnalysisRepository(db)
    before = repo.count()
    rows = [item(), item(), item(pattern="bad"), item()]
    with pytest.raises(InvalidInput) as info:
        repo.bulk_create(rows, batch_size=2)
    assert "items[2].pattern" in str(info.value)
    assert repo.count() == before


def test_bulk_create_with_an_unknown_owner_is_not_found_and_writes_nothing(db: Session) -> None:
    """A rule only the database checks (the FK) fails the COPY: typed error, nothing kept."""
    repo = AnalysisRepository(db)
    before = repo.count()
    with pytest.raises(NotFound) as info:
        repo.bulk_create([item(), item()], user_id=2_000_000_000)
    assert info.value.field == "user_id"
    assert repo.count() == before


def test_bulk_create_accepts_validated_models(db: Session) -> None:
    repo = AnalysisRepository(db)
    ids = repo.bulk_create([AnalysisCreate.model_validate(item()) for _ in range(3)])
    assert len(set(ids)) == 3


def test_meter_stats(db: Session) -> None:
    repo = AnalysisRepository(db)
    db.execute(text("DELETE FROM analyses"))
    repo.bulk_create(
        [
            item(confidence="0.9"),
            item(confidence="0.7"),
            item(detected_meter="wafir", confidence=None),
            item(detected_meter="غريب", confidence="0.1"),
            item(detected_meter=None, confidence=None),
        ]
    )
    stats = {(s.name, s.known): (s.count, s.mean_confidence) for s in repo.meter_stats()}
    assert stats == {
        ("الطويل", True): (2, Decimal("0.8000")),
        ("الوافر", True): (1, None),
        ("غريب", False): (1, Decimal("0.1000")),
        (None, False): (1, None),
    }
