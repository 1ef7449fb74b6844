"""Migrations are frozen. 0002 seeds the 16 meters exactly as it did when it still read them
from ``app.data.meters``, whatever the models and the reference module say today, and no
revision imports the application."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import BACKEND_DIR, make_alembic_config, migrated_database

VERSIONS = Path(BACKEND_DIR) / "alembic" / "versions"

#: md5 of every meters row (``m::text``, ``id`` included, in ``id`` order) as revision 0002
#: built it when it imported ``app.data.seed`` (commit 74f43a4, before it was frozen).
SEEDED_BY_THE_ORIGINAL_0002 = "f88b8f75cf5902584bd95181b4e902e8"

ROWS_DIGEST = "SELECT count(*), md5(string_agg(m::text, E'\\n' ORDER BY m.id)) FROM meters m"


def upgrade(eng: Engine, revision: str) -> None:
    from alembic import command

    with eng.begin() as conn:
        command.upgrade(make_alembic_config(conn), revision)


def downgrade(eng: Engine, revision: str) -> None:
    from alembic import command

    with eng.begin() as conn:
        command.downgrade(make_alembic_config(conn), revision)


@pytest.fixture
def at_0001() -> Iterator[Engine]:
    """A database of its own at revision 0001 (no meters yet), as the schema owner."""
    owner, _ = migrated_database("frozen_seed", "0001")
    eng = create_engine(owner, poolclass=NullPool)
    yield eng
    eng.dispose()


def digest(eng: Engine) -> tuple[int, str | None]:
    with eng.connect() as conn:
        count, value = conn.execute(text(ROWS_DIGEST)).one()
    return count, value


def test_0002_seeds_the_meters_byte_for_byte_as_the_original_revision(at_0001: Engine) -> None:
    upgrade(at_0001, "0002")
    assert digest(at_0001) == (16, SEEDED_BY_THE_ORIGINAL_0002)


def test_0002_links_analyses_stored_before_the_meters_by_any_accepted_spelling(
    at_0001: Engine,
) -> None:
    labels = {
        "الطويل": 1,
        "طويل": 1,
        "البحر الطويل": 1,
        "الطَّوِيلُ": 1,
        "al-Tawil": 1,
        "at-Ṭawīl": 1,
        "TAWIL": 1,
        "الخبب": 16,  # an alias of al-Mutadarik
        "ركض الخيل": 16,
        "Mutakarib": 15,
        "مجهول": None,  # not a meter: stays unlinked
    }
    with at_0001.begin() as conn:
        for label in labels:
            conn.execute(
                text(
                    "INSERT INTO analyses (original_text, normalized_text, pattern, "
                    "detected_meter) VALUES ('قفا نبك', 'قفا نبك', '//o', :label)"
                ),
                {"label": label},
            )
    upgrade(at_0001, "0002")
    with at_0001.connect() as conn:
        linked = dict(
            conn.execute(
                text(
                    "SELECT a.detected_meter, m.position FROM analyses a "
                    "LEFT JOIN meters m ON m.id = a.meter_id"
                )
            ).all()
        )
    assert linked == labels


def test_0002_downgrade_removes_exactly_the_reference_meters(at_0001: Engine) -> None:
    upgrade(at_0001, "0002")
    with at_0001.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO meters (name_arabic, position, feet, pattern) "
                "VALUES ('بحر تجريبي', 99, 'فعولن', '//o/o')"
            )
        )
    downgrade(at_0001, "0001")
    with at_0001.connect() as conn:
        assert conn.execute(text("SELECT name_arabic FROM meters")).scalars().all() == [
            "بحر تجريبي"
        ]
    upgrade(at_0001, "0002")  # and the seed comes back, the added meter untouched
    with at_0001.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM meters")).scalar_one() == 17


def _app_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [name for name in names if name == "app" or name.startswith("app.")]
    return found


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("0*.py")), ids=lambda p: p.name[:4])
def test_no_revision_imports_the_application(path: Path) -> None:
    """A revision carries its own SQL, data and table shapes (issue 17): importing today's
    models, reference data, DDL or roles would change what an old revision does."""
    assert _app_imports(path) == []
