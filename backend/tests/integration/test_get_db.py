"""``get_db`` and ``get_read_db``: one session per request, rolled back on error, always
closed; a read session reads in autocommit and refuses writes, in Python and in the server."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from app.db.base import ReadSessionLocal, get_db, get_read_db, read_engine
from app.db.errors import translated
from app.errors import ReadOnlySession
from app.repositories.meter_repository import MeterRepository
from app.repositories.user_repository import UserRepository
from tests.factories import user_create


def _count(engine: Engine, username: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM users WHERE username = :u"), {"u": username}
            ).scalar_one()
        )


def test_get_db_rolls_back_and_closes_on_error(engine: Engine) -> None:
    gen = get_db()
    session = next(gen)
    session.execute(
        text(
            "INSERT INTO users (username, email, password_hash, full_name) "
            "VALUES ('get_db_probe', 'probe@example.com', 'x', 'Probe')"
        )
    )
    assert session.in_transaction()
    with pytest.raises(RuntimeError):
        gen.throw(RuntimeError("request failed"))
    assert not session.in_transaction()
    assert _count(engine, "get_db_probe") == 0


def test_get_db_closes_after_a_normal_request(engine: Engine) -> None:
    gen = get_db()
    session = next(gen)
    assert session.execute(text("SELECT 1")).scalar_one() == 1
    with pytest.raises(StopIteration):
        next(gen)
    assert not session.in_transaction()
    # The connection went back to the pool.
    assert session.get_bind().pool.checkedout() == 0  # type: ignore[union-attr]


def test_get_read_db_reads_in_autocommit_and_closes(engine: Engine) -> None:
    gen = get_read_db()
    session = next(gen)
    meter = MeterRepository(session).get_by_name("طويل")
    assert meter is not None
    assert meter.name_arabic == "الطويل"
    # No transaction was opened around the read: the driver connection is in autocommit,
    # and the server would refuse a write on it.
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    assert dbapi.autocommit is True
    assert session.execute(text("SHOW default_transaction_read_only")).scalar_one() == "on"
    with pytest.raises(StopIteration):
        next(gen)
    assert read_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_read_session_refuses_orm_writes_and_writes_nothing(engine: Engine) -> None:
    with ReadSessionLocal() as session, pytest.raises(ReadOnlySession) as info:
        UserRepository(session).register(user_create(username="read_only_probe"))
    assert info.value.rule == "read_only"
    assert _count(engine, "read_only_probe") == 0


def test_the_server_refuses_raw_sql_writes_in_a_read_session(engine: Engine) -> None:
    with ReadSessionLocal() as session, pytest.raises(ReadOnlySession), translated(session):
        session.execute(
            text(
                "INSERT INTO users (username, email, password_hash, full_name) "
                "VALUES ('read_only_raw', 'raw@example.com', 'x', 'Raw')"
            )
        )
    assert _count(engine, "read_only_raw") == 0


def test_get_read_db_closes_on_error() -> None:
    gen = get_read_db()
    session = next(gen)
    session.execute(text("SELECT 1"))
    with pytest.raises(RuntimeError):
        gen.throw(RuntimeError("request failed"))
    assert read_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
