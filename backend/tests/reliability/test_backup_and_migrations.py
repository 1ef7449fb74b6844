"""Data survives: a backup/restore round trip, and migrations run down and up with rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from alembic import command
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import app
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.user_repository import UserRepository
from tests.conftest import ADMIN_URL, fresh_database, make_alembic_config, migrated_database
from tests.reliability.report import record

TABLES = ("users", "user_profiles", "meters", "analyses", "analysis_history")
VERSES = [
    "قِفا نَبْكِ مِنْ ذِكْرى حَبيبٍ وَمَنْزِلِ ... بِسِقْطِ اللِّوى بَيْنَ الدَّخولِ فَحَوْمَلِ",
    "الخَيْلُ وَاللّيْلُ وَالبَيْداءُ تَعرِفُني ... وَالسّيفُ وَالرّمحُ وَالقرْطاسُ وَالقَلَمُ",
    "ﻻ تَسـقِني\u200f ماءَ الحَياةِ بِذِلَّةٍ ١٢٣",
]


def snapshot(conn: Connection, tables: tuple[str, ...] = TABLES) -> dict[str, list[bytes]]:
    """Every row of every table as the UTF-8 bytes of its JSON, sorted."""
    return {
        t: sorted(
            conn.execute(
                text(f"SELECT convert_to(row_to_json(x)::text, 'UTF8') FROM {t} x")
            ).scalars()
        )
        for t in tables
    }


def fill(engine: Engine) -> None:
    with Session(engine) as session:
        users = UserRepository(session)
        analyses = AnalysisRepository(session)
        for i, verse in enumerate(VERSES):
            user = users.register(
                {
                    "username": f"شاعر_{i}",
                    "email": f"poet{i}@example.com",
                    "password": "a long password",
                    "full_name": f"شاعِر {i}",
                }
            )
            users.update_profile(user.id, {"bio": verse[:40], "theme": "dark"})
            users.add_xp(user.id, 150 * (i + 1))
            created = analyses.create(
                {
                    "original_text": verse,
                    "pattern": "//o/o",
                    "detected_meter": ["طويل", "Basit", "غريب"][i],
                    "metadata": {"poet": "امرؤ القيس", "n": i},
                },
                user_id=user.id,
            )
            analyses.update_result(created.id, {"confidence": "0.75"})


def test_backup_restore_keeps_every_row_and_every_arabic_byte(
    tmp_path: Path, use_database: Callable[[URL, URL], None]
) -> None:
    source_owner, source_app = migrated_database("rel_backup_src")
    owner = create_engine(source_owner)
    app_engine = create_engine(source_app)
    fill(app_engine)
    app_engine.dispose()
    with owner.connect() as conn:
        before = snapshot(conn)
    owner.dispose()

    dump = tmp_path / "bahr.dump"
    runner = CliRunner()
    use_database(source_owner, source_app)
    assert runner.invoke(app, ["backup", str(dump)]).exit_code == 0
    target_owner, target_app = fresh_database(f"{ADMIN_URL.database}_rel_backup_dst")
    use_database(target_owner, target_app)
    result = runner.invoke(app, ["restore", str(dump)])
    assert result.exit_code == 0, result.output

    target = create_engine(target_owner)
    with target.connect() as conn:
        after = snapshot(conn)
    target.dispose()
    assert after == before
    record(
        "backup_restore",
        rows_checked=sum(len(v) for v in before.values()),
        tables=len(TABLES),
        identical=True,
    )


def test_migrations_down_and_up_with_rows_present() -> None:
    owner_url, app_url = migrated_database("rel_migrate", revision="0001")
    owner = create_engine(owner_url)
    app_engine = create_engine(app_url)
    try:
        with owner.begin() as conn:
            # Rows written at the first revision, before any meter exists.
            conn.execute(
                text(
                    "INSERT INTO users (username, email, password_hash, full_name) "
                    "VALUES ('early_bird', 'early@example.com', 'h', 'أحمد')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO analyses (user_id, original_text, normalized_text, pattern, "
                    "detected_meter) SELECT id, :t, 'قفا نبك', '//o/o', 'الطويل' FROM users"
                ),
                {"t": VERSES[0]},
            )
        with owner.begin() as conn:
            command.upgrade(make_alembic_config(conn), "head")
        fill(app_engine)
        with owner.connect() as conn:
            first = snapshot(conn, ("users", "user_profiles", "analyses"))
            linked = conn.execute(
                text(
                    "SELECT count(*) FROM analyses a JOIN meters m ON m.id = a.meter_id "
                    "WHERE a.detected_meter = 'الطويل'"
                )
            ).scalar_one()
        assert linked == 1  # the early row was linked to its meter by the upgrade
        with owner.begin() as conn:
            command.downgrade(make_alembic_config(conn), "0001")
            command.upgrade(make_alembic_config(conn), "head")
        with owner.connect() as conn:
            again = snapshot(conn, ("users", "user_profiles", "analyses"))
            meters = conn.execute(text("SELECT name_arabic, m.id FROM meters m")).all()
        ids = dict(meters)
        # The meters were re-seeded with new ids; every analysis points at the same meter
        # by name as before.
        assert len(ids) == 16
        assert {t: _without_meter_id(rows) for t, rows in again.items()} == {
            t: _without_meter_id(rows) for t, rows in first.items()
        }
        with owner.connect() as conn:
            relinked = conn.execute(
                text("SELECT count(*) FROM analyses a JOIN meters m ON m.id = a.meter_id")
            ).scalar_one()
        assert relinked == 3  # الطويل twice (early row and a filled one) and البسيط
        record(
            "migrations_with_data",
            rows_checked=sum(len(v) for v in again.values()),
            downgrade_to="0001",
            intact=True,
        )
    finally:
        owner.dispose()
        app_engine.dispose()


def _without_meter_id(rows: list[bytes]) -> list[str]:
    out = []
    for raw in rows:
        row = json.loads(raw)
        row.pop("meter_id", None)
        out.append(json.dumps(row, ensure_ascii=False, sort_keys=True))
    return sorted(out)
