"""The command line's start and end as a new user meets them (issue 20, items 9 and 11).

``--help`` and ``--version`` import none of the heavy modules (their speed is measured by the
benchmark suite, ``benchmarks/startup.py``); the command list agrees with the modules; Alembic's
INFO lines show only with ``-v``; ``run`` ends with what to do next.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import pytest
from typer.core import TyperGroup

from app.commands.catalog import COMMANDS, load
from app.commands.guide import meters_line
from app.data.seed import SeedResult
from tests.integration.conftest import Invoke

HEAVY = (
    "sqlalchemy",
    "pydantic",
    "pydantic_settings",
    "alembic",
    "psycopg",
    "prometheus_client",
    "icu",
    "rich",
    "app.config",
    "app.db",
    "app.models",
    "app.repositories",
)
PROBE = """
import json, sys
from typer.testing import CliRunner
from app.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.startswith({heavy!r}))
print(json.dumps({{"code": result.exit_code, "out": result.output, "heavy": heavy}}))
"""


def probe(*args: str) -> dict[str, object]:
    """Run the CLI in a fresh interpreter; report what it printed and the heavy modules it
    imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("args", [("--help",), ("--version",), ()])
def test_help_and_version_import_nothing_heavy(args: tuple[str, ...]) -> None:
    seen = probe(*args)
    assert seen["heavy"] == []
    if args != ("--version",):
        assert "meters" in str(seen["out"])


def test_version_is_the_package_version() -> None:
    seen = probe("--version")
    assert (seen["code"], seen["out"]) == (0, f"bahr-db {version('bahr-db')}\n")


def test_the_catalog_lists_every_command_with_its_own_help() -> None:
    listed: dict[str, str] = {}
    for target in sorted({entry.target for entry in COMMANDS}):
        group = load(target)
        for name, command in group.commands.items():
            listed[name] = (command.help or "").strip().splitlines()[0]
    assert listed == {entry.name: entry.summary for entry in COMMANDS}


def test_a_subcommand_group_still_works(cli: Invoke) -> None:
    result = cli("db", "--help")
    assert result.exit_code == 0
    assert "status" in result.stdout
    assert isinstance(load("app.commands.db"), TyperGroup)


def test_alembic_info_lines_show_only_with_verbose(cli: Invoke) -> None:
    quiet = cli("migrate")
    assert quiet.exit_code == 0, quiet.output
    assert "Context impl" not in quiet.output
    verbose = cli("-v", "migrate")
    assert verbose.exit_code == 0, verbose.output
    assert "Context impl PostgresqlImpl" in verbose.stderr
    assert "Context impl" not in cli("migrate").output


def test_run_ends_with_what_to_do_next(cli: Invoke) -> None:
    result = cli("run")
    assert result.exit_code == 0, result.output
    end = result.stdout[result.stdout.index("what now") :]
    for command in ("search الليل", "history demo_poet", "serve", "--help"):
        assert f"backend/.venv/bin/bahr-db {command}" in end
    assert "data:" in end
    assert "(up to date)" in end
    assert "DATABASE_URL" in end  # the tests run against a server of their own
    assert "INFO" not in result.output


def test_a_first_run_says_the_migration_seeded_the_meters() -> None:
    assert meters_line(SeedResult(0, 0, 16), first_run=True) == (
        "meters: all 16 seeded by the migration"
    )
    assert meters_line(SeedResult(0, 0, 16), first_run=False) == (
        "meters: 0 inserted, 0 updated, 16 unchanged"
    )


def test_a_mistyped_command_gets_a_suggestion(cli: Invoke) -> None:
    result = cli("serch", "الليل")
    assert result.exit_code == 2
    assert "Did you mean 'search'" in result.output
