"""Trigger functions cannot be steered by the caller's temporary objects (issue 16, 3 and 4).

Each attack runs as ``bahr_app`` inside a transaction of a superuser connection that is rolled
back, and first grants whatever the attack needs (TEMPORARY, or UPDATE/DELETE "by mistake"),
so that the trigger functions themselves are what is tested, not the missing privilege.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg import errors as pg
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import ADMIN_URL

DATABASE = ADMIN_URL.database


@pytest.fixture
def as_admin(migrated: object) -> Iterator[Connection]:
    admin = create_engine(ADMIN_URL)
    with admin.connect() as conn:
        conn.begin()
        conn.execute(text(f'GRANT TEMPORARY ON DATABASE "{DATABASE}" TO bahr_app'))
        try:
            yield conn
        finally:
            conn.rollback()
    admin.dispose()


def _new_analysis(conn: Connection) -> object:
    return conn.execute(
        text(
            "INSERT INTO analyses (original_text, normalized_text, pattern) "
            "VALUES ('قفا نبك', 'قفا نبك', '//o/o') RETURNING id"
        )
    ).scalar_one()


def test_a_temporary_analysis_history_does_not_capture_the_history(
    as_admin: Connection,
) -> None:
    conn = as_admin
    conn.execute(text("SET LOCAL ROLE bahr_app"))
    conn.execute(
        text(
            "CREATE TEMP TABLE analysis_history AS "
            "SELECT * FROM public.analysis_history WITH NO DATA"
        )
    )
    analysis_id = _new_analysis(conn)

    captured = conn.execute(text("SELECT count(*) FROM pg_temp.analysis_history")).scalar_one()
    recorded = conn.execute(
        text("SELECT event::text FROM public.analysis_history WHERE analysis_id = :id"),
        {"id": analysis_id},
    ).scalars()
    assert captured == 0
    assert list(recorded) == ["created"]


def test_a_temporary_pg_class_does_not_open_the_history(as_admin: Connection) -> None:
    conn = as_admin
    conn.execute(text("GRANT UPDATE, DELETE ON analysis_history TO bahr_app"))
    _new_analysis(conn)
    conn.execute(text("SET LOCAL ROLE bahr_app"))
    # The forged catalog claims that bahr_app owns analysis_history.
    conn.execute(text("CREATE TEMP TABLE pg_class (oid oid, relowner oid)"))
    conn.execute(
        text(
            "INSERT INTO pg_temp.pg_class SELECT 'public.analysis_history'::regclass, "
            "(SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'bahr_app')"
        )
    )
    before = conn.execute(text("SELECT count(*) FROM public.analysis_history")).scalar_one()

    nested = conn.begin_nested()
    with pytest.raises(DBAPIError) as info:
        conn.execute(text("DELETE FROM public.analysis_history"))
    nested.rollback()

    assert isinstance(info.value.orig, pg.InsufficientPrivilege), info.value.orig
    assert conn.execute(text("SELECT count(*) FROM public.analysis_history")).scalar_one() == before
    assert before > 0


@pytest.mark.parametrize(
    "function",
    ["bahr_record_analysis_history", "bahr_history_append_only", "bahr_resolve_meter"],
)
def test_functions_that_touch_tables_pin_their_search_path_with_pg_temp_last(
    as_admin: Connection, function: str
) -> None:
    config = as_admin.execute(
        text("SELECT proconfig FROM pg_catalog.pg_proc WHERE proname = :name"),
        {"name": function},
    ).scalar_one()
    assert config == ["search_path=pg_catalog, public, pg_temp"]


def test_every_security_definer_function_pins_its_search_path(as_admin: Connection) -> None:
    unpinned = as_admin.execute(
        text(
            "SELECT p.proname FROM pg_catalog.pg_proc p "
            "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND p.prosecdef AND NOT coalesce("
            "  'search_path=pg_catalog, public, pg_temp' = ANY (p.proconfig), false)"
        )
    ).scalars()
    assert list(unpinned) == []
