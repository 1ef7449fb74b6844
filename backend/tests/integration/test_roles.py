"""Least privilege: what the application role can and cannot do, enforced by PostgreSQL."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.migration import MigrationContext
from alembic.operations import Operations
from psycopg import errors as pg
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import app
from app.db import roles
from app.repositories.analysis_repository import AnalysisRepository
from tests.conftest import ADMIN_URL, fresh_database, make_alembic_config


def refused(conn: Connection, statement: str) -> None:
    nested = conn.begin_nested()
    with pytest.raises(DBAPIError) as info:
        conn.execute(text(statement))
    nested.rollback()
    assert isinstance(info.value.orig, pg.InsufficientPrivilege), info.value.orig


def test_the_suite_runs_as_the_application_role(db: Session, connection: Connection) -> None:
    row = connection.execute(
        text(
            "SELECT current_user, rolsuper, pg_has_role(current_user, 'bahr_owner', 'MEMBER') "
            "FROM pg_roles WHERE rolname = current_user"
        )
    ).one()
    assert tuple(row) == (roles.APP, False, False)
    assert db.execute(text("SELECT current_user")).scalar_one() == roles.APP


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (x int)",
        "DROP TABLE users",
        "TRUNCATE analyses",
        "ALTER TABLE users ADD COLUMN extra int",
        "CREATE INDEX ix_intruder ON analyses (pattern)",
        "UPDATE analysis_history SET user_id = NULL",
        "DELETE FROM analysis_history",
        "TRUNCATE analysis_history",
        "INSERT INTO analysis_history (analysis_id, event) VALUES (gen_random_uuid(), 'deleted')",
        "INSERT INTO meters (name_arabic, position, feet, pattern) "
        "VALUES ('x', 90, 'فعولن', '//o/o')",
        "UPDATE meters SET description = 'changed'",
        "DELETE FROM meters",
        "SET ROLE bahr_owner",
        "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    ],
)
def test_the_application_role_is_refused(connection: Connection, statement: str) -> None:
    refused(connection, statement)


def test_history_still_arrives_through_the_trigger(db: Session) -> None:
    repo = AnalysisRepository(db)
    analysis = repo.create({"original_text": "قفا نبك", "pattern": "//o/o"})
    repo.delete(analysis.id)
    assert [e.event.value for e in repo.history(analysis.id)] == ["created", "deleted"]


def test_history_is_append_only_even_with_an_explicit_grant() -> None:
    """A grant given by mistake does not open the history: the trigger still refuses."""
    admin = create_engine(ADMIN_URL)
    with admin.connect() as conn:
        conn.begin()
        _append_only_despite_grant(conn)
        conn.rollback()
    admin.dispose()


def _append_only_despite_grant(conn: Connection) -> None:
    conn.execute(text("GRANT UPDATE, DELETE ON analysis_history TO bahr_app"))
    conn.execute(
        text(
            "INSERT INTO analyses (original_text, normalized_text, pattern) "
            "VALUES ('بيت', 'بيت', '/o')"
        )
    )
    conn.execute(text("SET LOCAL ROLE bahr_app"))
    refused(conn, "UPDATE analysis_history SET user_id = 1")
    refused(conn, "DELETE FROM analysis_history")
    conn.execute(text("SET LOCAL ROLE bahr_owner"))
    # The owner itself may (it runs the migrations that would ever need to).
    conn.execute(text("DELETE FROM analysis_history"))


def test_owner_migrates_down_and_up_and_new_tables_reach_the_app_role() -> None:
    owner_url, app_url = fresh_database(f"{ADMIN_URL.database}_roles")
    owner = create_engine(owner_url)
    app_engine = create_engine(app_url)
    try:
        with owner.begin() as conn:
            command.upgrade(make_alembic_config(conn), "head")
            command.downgrade(make_alembic_config(conn), "base")
            command.upgrade(make_alembic_config(conn), "head")
            # What a future migration does: create a table, as the owner.
            Operations(MigrationContext.configure(conn)).create_table(
                "future_table",
                sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
                sa.Column("note", sa.Text),
            )
        with app_engine.begin() as conn:
            conn.execute(text("INSERT INTO future_table (note) VALUES ('بحر')"))
            assert conn.execute(text("SELECT note FROM future_table")).scalar_one() == "بحر"
            assert conn.execute(text("SELECT count(*) FROM meters")).scalar_one() == 16
            refused(conn, "DROP TABLE future_table")
            refused(conn, "TRUNCATE future_table")
    finally:
        owner.dispose()
        app_engine.dispose()


def test_setup_is_idempotent(owner_connection: Connection) -> None:
    admin = create_engine(ADMIN_URL)
    try:
        for _ in range(2):
            with admin.begin() as conn:
                for statement in roles.setup_statements(ADMIN_URL.database or ""):
                    conn.execute(text(statement))
    finally:
        admin.dispose()
    privileges = owner_connection.execute(
        text(
            "SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) "
            "FROM information_schema.role_table_grants WHERE grantee = 'bahr_app' "
            "GROUP BY table_name ORDER BY table_name"
        )
    ).all()
    assert [tuple(p) for p in privileges] == [
        ("analyses", "DELETE,INSERT,SELECT,UPDATE"),
        ("analysis_history", "SELECT"),
        ("meters", "SELECT"),
        ("user_profiles", "DELETE,INSERT,SELECT,UPDATE"),
        ("users", "DELETE,INSERT,SELECT,UPDATE"),
    ]


def test_roles_setup_print_shows_the_sql_without_passwords() -> None:
    result = CliRunner().invoke(
        app,
        ["roles", "setup", "--print", "--database", "bahr"],
        env={"BAHR_APP_PASSWORD": "s3cret-pw"},
    )
    assert result.exit_code == 0
    assert 'CREATE ROLE "bahr_app"' in result.stdout
    assert "ALTER DEFAULT PRIVILEGES FOR ROLE bahr_owner" in result.stdout
    assert "s3cret-pw" not in result.stdout


def test_roles_setup_applies_through_the_cli() -> None:
    _, app_url = fresh_database(f"{ADMIN_URL.database}_roles_cli")
    result = CliRunner().invoke(
        app,
        [
            "roles",
            "setup",
            "--database",
            app_url.database or "",
            "--admin-url",
            ADMIN_URL.render_as_string(hide_password=False),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "are set up" in result.stdout


def test_doctor_warns_when_the_app_connects_as_the_owner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.config import get_settings

    runner = CliRunner()
    ok = json.loads(runner.invoke(app, ["doctor", "--json"]).stdout)
    assert ok[-1]["ok"] is True
    monkeypatch.setenv(
        "DATABASE_URL", get_settings().migration_url().render_as_string(hide_password=False)
    )
    get_settings.cache_clear()
    from app.db import base

    monkeypatch.setattr(base, "engine", base.make_engine(get_settings().app_url()))
    try:
        result = runner.invoke(app, ["doctor", "--json"])
        assert result.exit_code == 0  # a warning, not a failure
        last = json.loads(result.stdout)[-1]
        assert last["ok"] is False
        assert last["warning"] is True
        assert "owner" in last["found"]
    finally:
        base.engine.dispose()
        monkeypatch.undo()
        get_settings.cache_clear()
