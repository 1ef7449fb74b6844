"""Meters' create, update and delete: through the owner (admin) path they work, with the
pattern derived from the feet; as the application role the database refuses them, typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.data.meters import derive_pattern
from app.db.database import Database
from app.errors import AlreadyExists, BahrDataError, InvalidInput
from app.models.analysis import Meter
from app.repositories.meter_repository import MeterRepository
from app.schemas.meter import MeterCreate

FEET = "مفاعيلن فعولن"


def _new_meter(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name_arabic": "المستطيل",
        "name_english": "al-Mustatil",
        "position": 17,
        "feet": FEET,
        "description": "بحر مهمل",
        "examples": [{"text": "شطر ... شطر", "poet": "مجهول", "source": "مثال"}],
        "metadata": {"circle": "دائرة المختلف"},
    }
    fields.update(overrides)
    return fields


def _meter_count(db: Session) -> int:
    return int(db.execute(select(func.count()).select_from(Meter)).scalar_one())


def test_admin_creates_a_meter_with_the_pattern_derived(owner_db: Session) -> None:
    repo = MeterRepository(owner_db)
    meter = repo.create(_new_meter())
    assert meter.id is not None
    assert meter.pattern == derive_pattern(FEET)
    assert meter.examples == [{"text": "شطر ... شطر", "poet": "مجهول", "source": "مثال"}]
    assert meter.meta == {"circle": "دائرة المختلف"}
    assert repo.get_by_name("AL-MUSTATIL") is meter


def test_admin_corrects_a_description_and_examples(owner_db: Session) -> None:
    repo = MeterRepository(owner_db)
    tawil = repo.get_by_name("الطويل")
    assert tawil is not None
    before = (tawil.feet, tawil.pattern, tawil.name_english)
    example = {"text": "قفا نبك ... بسقط اللوى", "poet": "امرؤ القيس", "source": "المعلقة"}
    repo.update(tawil.id, {"description": "وصف مصحح", "examples": [example]})
    owner_db.expire_all()
    stored = repo.get(tawil.id)
    assert stored is not None
    assert stored.description == "وصف مصحح"
    assert stored.examples == [example]
    assert (stored.feet, stored.pattern, stored.name_english) == before


def test_changing_the_feet_re_derives_the_pattern(owner_db: Session) -> None:
    repo = MeterRepository(owner_db)
    meter = repo.create(_new_meter())
    assert repo.update(meter.id, {"feet": "فعولن فعولن"}).pattern == "//o/o //o/o"


def test_admin_deletes_a_meter(owner_db: Session) -> None:
    repo = MeterRepository(owner_db)
    meter = repo.create(_new_meter())
    count = _meter_count(owner_db)
    assert repo.delete(meter.id) is True
    assert _meter_count(owner_db) == count - 1
    assert repo.delete(meter.id) is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"feet": "مفاعيلن فعلاتك"}, "feet"),  # an unknown foot
        ({"name_arabic": "  "}, "name_arabic"),
        ({"name_arabic": "ب" * 51}, "name_arabic"),
        ({"position": 0}, "position"),
        ({"pattern": "//o"}, "pattern"),  # never given: derived
        ({"examples": [{"text": "بيت"}]}, "examples.0.poet"),
        ({"description": "a\x00b"}, "description"),
    ],
)
def test_bad_meter_input_is_refused_naming_the_field(
    owner_db: Session, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        MeterRepository(owner_db).create(_new_meter(**overrides))
    assert info.value.field == field


def test_a_duplicate_name_is_already_exists(owner_db: Session) -> None:
    with pytest.raises(AlreadyExists) as info:
        MeterRepository(owner_db).create(_new_meter(name_arabic="الطويل"))
    assert info.value.field == "name_arabic"


def _as_app(db: Session) -> list[Callable[[MeterRepository], object]]:
    tawil = MeterRepository(db).get_by_name("الطويل")
    assert tawil is not None
    return [
        lambda repo: repo.create(MeterCreate.model_validate(_new_meter())),
        lambda repo: repo.update(tawil.id, {"description": "مخترق"}),
        lambda repo: repo.delete(tawil.id),
    ]


@pytest.mark.parametrize("verb", [0, 1, 2], ids=["create", "update", "delete"])
def test_the_application_role_is_refused_every_meter_write(db: Session, verb: int) -> None:
    before = [(m.id, m.description) for m in MeterRepository(db).list_all()]
    action = _as_app(db)[verb]
    with pytest.raises(BahrDataError) as info:
        action(MeterRepository(db))
    assert info.value.rule == "permission"
    assert isinstance(info.value.__cause__, DBAPIError)
    db.expire_all()
    assert [(m.id, m.description) for m in MeterRepository(db).list_all()] == before


def test_the_owner_database_is_the_admin_path_end_to_end(engine: Engine) -> None:
    owner = Database.for_owner()
    meter_id: int | None = None
    try:
        with owner.transaction() as session:
            meter_id = MeterRepository(session).create(_new_meter(name_arabic="المتئد")).id
        with owner.transaction() as session:
            MeterRepository(session).update(meter_id, {"description": "مصحح"})
        with engine.connect() as conn:  # another connection, as the application role
            row = conn.execute(
                text("SELECT description FROM meters WHERE id = :id"), {"id": meter_id}
            ).scalar_one()
        assert row == "مصحح"
    finally:
        if meter_id is not None:
            with owner.transaction() as session:
                assert MeterRepository(session).delete(meter_id)
        owner.dispose()
    with engine.connect() as conn:
        gone = conn.execute(text("SELECT count(*) FROM meters WHERE id = :id"), {"id": meter_id})
        assert gone.scalar_one() == 0
