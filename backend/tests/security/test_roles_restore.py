"""What the application role may do is decided by ``roles setup`` and the migrations, and by
nothing else (issue 16: 2, and the TEMPORARY question of 3).

* A restore (``bahr-db restore``, run as ``bahr_owner``) leaves ``bahr_app`` with exactly the
  privileges of a database built by ``roles setup`` + migrations, read with
  ``has_*_privilege`` on every table, sequence, function, the schema and the database.
* ``bahr_app`` has no TEMPORARY privilege: it never needs a temporary table, and one is what
  an attacker would use to shadow a table inside a definer function.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from app.cli import app
from app.config import libpq_url
from app.db import roles
from tests.conftest import ADMIN_URL, fresh_database, migrated_database

#: Every privilege bahr_app holds or lacks on the objects of the database, as rows
#: (kind, object, privilege, held).
PRIVILEGES = """
SELECT 'table', c.relname, p, has_table_privilege('bahr_app', c.oid, p)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
       unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) p
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
UNION ALL
SELECT 'sequence', c.relname, p, has_sequence_privilege('bahr_app', c.oid, p)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
       unnest(ARRAY['USAGE','SELECT','UPDATE']) p
 WHERE n.nspname = 'public' AND c.relkind = 'S'
UNION ALL
SELECT 'function', p.oid::regprocedure::text, 'EXECUTE',
       has_function_privilege('bahr_app', p.oid, 'EXECUTE')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public'
UNION ALL
SELECT 'schema', 'public', p, has_schema_privilege('bahr_app', 'public', p)
  FROM unnest(ARRAY['USAGE','CREATE']) p
UNION ALL
SELECT 'database', '', p, has_database_privilege('bahr_app', current_database(), p)
  FROM unnest(ARRAY['CONNECT','CREATE','TEMPORARY']) p
ORDER BY 1, 2, 3
"""


def privileges(url: URL) -> list[tuple[str, str, str, bool]]:
    with psycopg.connect(libpq_url(url)) as conn:
        return [tuple(row) for row in conn.execute(PRIVILEGES).fetchall()]  # type: ignore[misc]


def test_a_restore_gives_the_app_role_exactly_the_grants_of_setup_and_migrations(
    tmp_path: Path, use_database: Callable[[URL, URL], None]
) -> None:
    source, source_app = migrated_database("sec_grants_src")
    expected = privileges(source)
    dump = tmp_path / "bahr.dump"
    runner = CliRunner()
    use_database(source, source_app)
    assert runner.invoke(app, ["backup", str(dump)]).exit_code == 0

    target, target_app = fresh_database(f"{ADMIN_URL.database}_sec_grants_dst")
    use_database(target, target_app)
    for args in (["restore", str(dump)], ["restore", str(dump), "--force"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        after = privileges(target)
        assert after == expected
        held = {(kind, name, p) for kind, name, p, ok in after if ok}
        for table in ("meters", "analysis_history", "alembic_version"):
            for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
                assert ("table", table, privilege) not in held
        assert ("table", "alembic_version", "SELECT") not in held
        assert ("table", "analyses", "INSERT") in held


def test_the_app_role_has_no_temporary_privilege(migrated: URL) -> None:
    assert ("database", "", "TEMPORARY", False) in privileges(migrated)


def test_the_app_role_cannot_create_a_temporary_table(database_url: URL, migrated: URL) -> None:
    with psycopg.connect(libpq_url(database_url)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (roles.APP,)
        with pytest.raises(pg.InsufficientPrivilege):
            conn.execute("CREATE TEMP TABLE analysis_history (id int)")


def test_a_broken_dump_changes_nothing(
    tmp_path: Path, use_database: Callable[[URL, URL], None]
) -> None:
    """pg_restore failing half-way never lets psql commit what it had received."""
    owner, app_url = migrated_database("sec_broken_restore")
    with psycopg.connect(libpq_url(owner)) as conn:
        conn.execute(
            "INSERT INTO analyses (original_text, normalized_text, pattern) "
            "VALUES ('قفا نبك', 'قفا نبك', '//o/o')"
        )
    expected = privileges(owner)
    dump = tmp_path / "bahr.dump"
    use_database(owner, app_url)
    runner = CliRunner()
    assert runner.invoke(app, ["backup", str(dump)]).exit_code == 0
    broken = tmp_path / "broken.dump"
    data = dump.read_bytes()
    broken.write_bytes(data[: len(data) * 2 // 3])
    result = runner.invoke(app, ["restore", str(broken), "--force"])
    assert result.exit_code == 1
    assert "pg_restore failed" in result.stderr
    with psycopg.connect(libpq_url(owner)) as conn:
        assert conn.execute("SELECT count(*) FROM analyses").fetchone() == (1,)
    assert privileges(owner) == expected
