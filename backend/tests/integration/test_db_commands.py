"""``bahr-db db …`` on the embedded path, and the migration commands on a scratch database."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from typer.testing import CliRunner, Result

from app.cli import app
from app.commands.db import alembic_config
from app.config import get_settings
from app.db.server import EmbeddedCluster
from tests.conftest import ADMIN_URL, fresh_database

Bahr = Callable[..., Result]


@pytest.fixture
def with_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Bahr]]:
    """Run ``bahr-db`` in-process with some environment variables changed."""

    def configure(**env: str) -> Bahr:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        runner = CliRunner()
        return lambda *args: runner.invoke(app, list(args), catch_exceptions=False)

    yield configure
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedCluster]:
    cluster = EmbeddedCluster.persistent(tmp_path / "bahr")
    yield cluster
    cluster.destroy()


def test_embedded_cluster_commands(
    with_env: Callable[..., Bahr], embedded: EmbeddedCluster
) -> None:
    bahr = with_env(DATABASE_URL="", MIGRATION_DATABASE_URL="", EMBEDDED_DIR=str(embedded.root))
    # A command that needs the database starts the cluster and stops it again afterwards.
    first = bahr("current", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["current"] is None
    assert not embedded.is_running()

    started = bahr("db", "start")
    assert started.exit_code == 0, started.output
    assert "started" in started.stdout
    assert "already running" in bahr("db", "start").stdout
    status = json.loads(bahr("db", "status", "--json").stdout)
    assert status["running"] is True
    assert status["root"] == str(embedded.root)
    # Two URLs, each saying whose it is (issue 20, item 10).
    assert status["superuser_url"].startswith("postgresql+psycopg://bahr@")
    assert status["app_url"] == bahr("db", "url").stdout.strip()
    assert "what `db url` prints" in bahr("db", "status").stdout
    assert bahr("db", "url").stdout.startswith("postgresql+psycopg://bahr_app@/bahr?host=")
    # A cluster started with `db start` is left running by other commands.
    bahr("current")
    assert embedded.is_running()
    assert "stopped" in bahr("db", "stop").stdout
    assert "not running" in bahr("db", "stop").stdout
    assert not embedded.is_running()


def test_db_commands_refuse_when_database_url_is_set() -> None:
    result = CliRunner().invoke(app, ["db", "start"])
    assert result.exit_code == 1
    assert "DATABASE_URL is set" in result.stderr


def test_migrate_check_downgrade(with_env: Callable[..., Bahr]) -> None:
    owner, app_url = fresh_database(f"{ADMIN_URL.database}_cli_migrate")
    bahr = with_env(
        DATABASE_URL=app_url.render_as_string(hide_password=False),
        MIGRATION_DATABASE_URL=owner.render_as_string(hide_password=False),
    )
    assert bahr("migrate").exit_code == 0
    current = json.loads(bahr("current", "--json").stdout)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current == {"current": head, "head": head, "up_to_date": True}
    check = bahr("check")
    assert check.exit_code == 0, check.output
    assert bahr("downgrade", "0002").exit_code == 0
    assert "behind" in bahr("current").stdout
    assert bahr("downgrade", "base").exit_code == 0
    assert json.loads(bahr("current", "--json").stdout)["current"] is None
    bad = bahr("downgrade", "no-such-revision")
    assert bad.exit_code == 1
    assert "alembic" in bad.stderr
