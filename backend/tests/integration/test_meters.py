"""The 16 meters as seeded by the migration, their lookups and the idempotent seed."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, create_engine, func, select, text, update
from sqlalchemy.orm import Session

from app.data.meters import METERS, derive_pattern
from app.data.seed import seed_meters
from app.models.analysis import Analysis, Meter
from app.repositories.meter_repository import MeterRepository
from tests.conftest import ADMIN_URL, fresh_database, make_alembic_config
from tests.unit.test_meters_data import CANONICAL_ORDER


def test_sixteen_meters_in_canonical_order(db: Session) -> None:
    meters = MeterRepository(db).list_all()
    assert [m.name_arabic for m in meters] == list(CANONICAL_ORDER)
    assert len({m.name_english for m in meters}) == 16


def test_every_stored_pattern_is_derived_from_its_feet(db: Session) -> None:
    for meter in MeterRepository(db).list_all():
        assert meter.pattern == derive_pattern(meter.feet), meter.name_arabic
        assert meter.meta["circle_pattern"] == derive_pattern(meter.meta["circle_feet"])
        assert isinstance(meter.meta["majzu_only"], bool)
        assert meter.description


@pytest.mark.parametrize(
    "form", ["الطويل", "طويل", "الطَّوِيل", "Tawil", "al-Tawil", "tawil", "Ṭawīl", "AL-TAWIL"]
)
def test_get_by_name_accepts_every_typed_form(db: Session, form: str) -> None:
    meter = MeterRepository(db).get_by_name(form)
    assert meter is not None
    assert meter.name_arabic == "الطويل"


@pytest.mark.parametrize("form", ["الطويلة", "xyz", "", "   ", "بحر"])
def test_get_by_name_returns_none_for_unknown_names(db: Session, form: str) -> None:
    assert MeterRepository(db).get_by_name(form) is None


def test_get_by_name_finds_a_meter_added_outside_the_reference_data(owner_db: Session) -> None:
    db = owner_db  # meters are read-only for the application
    db.add(
        Meter(
            name_arabic="المستطيل",
            name_english="al-Mustatil",
            position=17,
            feet="مفاعيلن فعولن",
            pattern=derive_pattern("مفاعيلن فعولن"),
        )
    )
    db.flush()
    found = MeterRepository(db).get_by_name("AL-MUSTATIL")
    assert found is not None
    assert found.name_arabic == "المستطيل"


def test_get_by_id(db: Session) -> None:
    repo = MeterRepository(db)
    first = repo.list_all()[0]
    assert repo.get(first.id) is first
    assert repo.get(-1) is None


def test_seed_is_idempotent_and_updates_in_place(owner_connection: Connection) -> None:
    connection = owner_connection  # the reference data is the owner's to write
    assert seed_meters(connection).inserted == 0
    result = seed_meters(connection)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 16)
    connection.execute(
        update(Meter).where(Meter.name_arabic == "الكامل").values(description="stale")
    )
    before_id = connection.execute(
        select(Meter.id).where(Meter.name_arabic == "الكامل")
    ).scalar_one()
    result = seed_meters(connection)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 15)
    row = connection.execute(
        select(Meter.id, Meter.description).where(Meter.name_arabic == "الكامل")
    ).one()
    assert row.id == before_id
    assert row.description == next(m.description for m in METERS if m.name_arabic == "الكامل")


def test_analysis_counts(db: Session) -> None:
    repo = MeterRepository(db)
    tawil = repo.get_by_name("tawil")
    assert tawil is not None
    for _ in range(3):
        db.add(
            Analysis(
                original_text="قفا نبك",
                normalized_text="قفا نبك",
                pattern="//o/o",
                detected_meter="الطويل",
                meter_id=tawil.id,
            )
        )
    db.flush()
    counts = {m.name_arabic: n for m, n in repo.analysis_counts()}
    assert counts["الطويل"] == 3
    assert counts["المديد"] == 0
    assert len(counts) == 16


def test_downgrade_removes_exactly_the_seed_and_upgrade_restores_it() -> None:
    url, _ = fresh_database(f"{ADMIN_URL.database}_seed")
    eng: Engine = create_engine(url)
    try:
        with eng.begin() as conn:
            command.upgrade(make_alembic_config(conn), "head")
            conn.execute(
                text(
                    "INSERT INTO meters (name_arabic, position, feet, pattern) "
                    "VALUES ('محدث', 40, 'فعولن', '//o/o')"
                )
            )
            command.downgrade(make_alembic_config(conn), "0001")
            names = conn.execute(select(Meter.name_arabic)).scalars().all()
            assert names == ["محدث"]
            command.upgrade(make_alembic_config(conn), "head")
            assert conn.execute(select(func.count()).select_from(Meter)).scalar_one() == 17
            reference = [m.name_arabic for m in METERS]
            assert (
                conn.execute(
                    select(func.count()).where(Meter.name_arabic.in_(reference))
                ).scalar_one()
                == 16
            )
    finally:
        eng.dispose()
