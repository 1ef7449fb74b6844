"""What ``bahr-db meters`` imports to answer (issue 20, item 11), checked by structure.

The time itself is measured by the benchmark suite (``benchmarks/startup.py``); these tests
fail when a change brings the heavy modules back onto the command's path: each runs the
console script's ``main()`` in a fresh interpreter and reads its ``sys.modules``. The
listing reads through :mod:`app.repositories.meter_catalog` (a Core statement); the last
tests prove it reads what :class:`MeterRepository` reads, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from app.models.analysis import Meter
from app.repositories import meter_catalog
from app.repositories.meter_catalog import MeterRow, list_meters
from app.repositories.meter_repository import MeterRepository

#: Not on the path of ``bahr-db meters``: the ORM models (and PyICU, which they import), the
#: schemas, the other repositories and commands, Alembic.
NOT_FOR_METERS = (
    "app.models",
    "app.schemas",
    "app.repositories.base",
    "app.repositories.meter_repository",
    "app.repositories.analysis_repository",
    "app.repositories.analysis_search",
    "app.repositories.user_repository",
    "app.data",
    "app.commands.data",
    "app.commands.db",
    "app.commands.demo",
    "icu",
    "alembic",
)
#: Not on the path of ``bahr-db meters --help``: nothing of the data layer at all.
NOT_FOR_HELP = (
    "sqlalchemy",
    "psycopg",
    "pydantic_settings",
    "prometheus_client",
    "alembic",
    "icu",
    "app.config",
    "app.db",
    "app.models",
    "app.repositories",
)

PROBE = """
import json, sys
out = sys.argv[1]
sys.argv = ["bahr-db", *sys.argv[2:]]
from app.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
with open(out, "w", encoding="utf-8") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def run(tmp_path: Path, *args: str, **env: str) -> tuple[int, list[str], str, str]:
    """``bahr-db ARGS`` through the console script's ``main()`` in a new interpreter:
    exit code, imported modules, stdout, stderr."""
    report = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), *args],
        env={**os.environ, "COLUMNS": "100", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    seen = json.loads(report.read_text(encoding="utf-8"))
    return seen["code"], seen["modules"], done.stdout, done.stderr


def among(modules: list[str], packages: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)]


def test_meters_imports_neither_the_models_nor_other_commands(
    migrated: URL, tmp_path: Path
) -> None:
    code, modules, out, err = run(tmp_path, "meters")
    assert (code, err) == (0, "")
    assert "الطويل" in out
    assert "app.repositories.meter_catalog" in modules  # it went through the data layer
    assert among(modules, NOT_FOR_METERS) == []


def test_meters_json_imports_neither_the_models_nor_other_commands(
    migrated: URL, tmp_path: Path
) -> None:
    code, modules, out, _ = run(tmp_path, "meters", "--json")
    assert code == 0
    assert len(json.loads(out)) == 16
    assert among(modules, NOT_FOR_METERS) == []


def test_a_command_help_imports_nothing_of_the_data_layer(tmp_path: Path) -> None:
    code, modules, out, _ = run(tmp_path, "meters", "--help")
    assert code == 0
    assert "--json" in out
    assert among(modules, NOT_FOR_HELP) == []


def test_meters_without_a_database_is_one_typed_line(tmp_path: Path) -> None:
    nowhere = "postgresql+psycopg://nobody@127.0.0.1:9/nothing_listens_here"
    code, _, out, err = run(tmp_path, "meters", DATABASE_URL=nowhere)
    assert (code, out) == (1, "")
    assert err.startswith("error: the database is unavailable:")
    assert "Traceback" not in err


def test_the_listing_names_only_columns_of_the_meter_model() -> None:
    listed = set(meter_catalog._METERS.c.keys())
    assert listed <= set(Meter.__table__.c.keys())
    # "metadata" is mapped as Meter.meta; MeterRow names it so.
    assert "metadata" in listed
    assert MeterRow._fields[-1] == "meta"


def test_the_listing_reads_what_the_repository_reads(db: Session) -> None:
    expected = [
        MeterRow(m.position, m.name_arabic, m.name_english, m.feet, m.pattern, m.meta)
        for m in MeterRepository(db).list_all()
    ]
    assert len(expected) == 16
    assert list_meters(db) == expected


def test_the_listing_follows_a_change_to_the_reference_data(owner_db: Session) -> None:
    # Rolled back at the end (owner_db): the listing is not a cached copy.
    first = MeterRepository(owner_db).list_all()[0]
    first.name_english = "al-Tawil (edited)"
    first.meta = {"circle": "edited"}
    owner_db.flush()
    row = list_meters(owner_db)[0]
    assert (row.name_english, row.meta) == ("al-Tawil (edited)", {"circle": "edited"})


def test_the_listing_keeps_the_canonical_order(db: Session) -> None:
    assert [r.position for r in list_meters(db)] == list(range(1, 17))
