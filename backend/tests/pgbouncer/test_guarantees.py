"""What must hold behind a transaction-pooling PgBouncer without startup options (issue 18):
no server-side prepared statements, timeouts, read-only sessions, and no session state
passed from one client to the next.

Each guarantee is checked next to its control: the same thing done without
``DATABASE_POOLER=transaction``'s measures does break through this PgBouncer, so the tests
can fail.
"""

from __future__ import annotations

import psycopg
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import roles
from app.db.errors import translated
from app.errors import DatabaseUnavailable
from app.repositories.user_repository import UserRepository
from tests.factories import user_create
from tests.pgbouncer.conftest import LOCK_TIMEOUT_MS, STATEMENT_TIMEOUT_MS, Pooled
from tests.reliability.test_pool_and_timeouts import (
    assert_a_held_lock_ends_in_lock_timeout,
    assert_a_slow_statement_is_cancelled,
)

INSERT_USER = (
    "INSERT INTO users (username, email, password_hash, full_name) "
    "VALUES (:name, :email, 'x', 'Probe')"
)


def _backend(session: Session) -> int:
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_options_are_refused_by_the_pooler_and_never_sent(pooled: Pooled) -> None:
    """The control of the whole suite: a client that sends ``options`` cannot even connect
    (the harness does not ignore the parameter), so every engine test that passes here
    passes without startup options."""
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter: options"):
        psycopg.connect(
            pooled.bouncer.conninfo(pooled.database, roles.APP),
            options="-c statement_timeout=1000",
        )
    engine = pooled.engine()
    try:
        with Session(engine) as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_repeated_statements_from_many_clients_prepare_nothing(pooled: Pooled) -> None:
    """Two clients share one server connection and run the same statement more often than
    psycopg's prepare threshold: no "prepared statement … already exists / does not exist".

    Each transaction commits: psycopg forgets its statement counts on a rollback, so
    transactions that only roll back (the pool's reset) would never prepare anything."""
    engines = [pooled.engine(single=True) for _ in range(2)]
    try:
        for _ in range(8):
            for engine in engines:
                with Session(engine) as session:
                    found = UserRepository(session).get_by_username("nobody_here")
                    assert found is None
                    session.commit()
    finally:
        for engine in engines:
            engine.dispose()


def test_control_psycopg_default_prepare_breaks_behind_the_pooler(pooled: Pooled) -> None:
    """Without ``prepare_threshold=None``, the second client to reach the prepare threshold
    on the same server connection collides with the first one's prepared statement."""
    conninfo = pooled.bouncer.conninfo(pooled.single, roles.APP)

    def run_in_turns() -> None:
        with (
            psycopg.connect(conninfo) as first,
            psycopg.connect(conninfo) as second,
        ):
            for _ in range(8):
                for conn in (first, second):
                    conn.execute("SELECT count(*) FROM meters WHERE id > %s", (0,))
                    conn.commit()

    with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
        run_in_turns()


@pytest.mark.parametrize("read_only", [False, True], ids=["write", "read"])
def test_a_slow_statement_is_cancelled_by_statement_timeout(
    pooled: Pooled, read_only: bool
) -> None:
    engine = pooled.engine(read_only=read_only)
    try:
        with Session(engine) as session:
            assert session.execute(text("SHOW statement_timeout")).scalar() == (
                f"{STATEMENT_TIMEOUT_MS}ms"
            )
            assert_a_slow_statement_is_cancelled(session)
    finally:
        engine.dispose()


def test_a_held_row_lock_ends_in_lock_timeout(pooled: Pooled) -> None:
    engine = pooled.engine()
    try:
        with Session(engine, expire_on_commit=False) as setup:
            user = UserRepository(setup).register(
                user_create(username="pgb_locked", email="pgb_locked@example.com")
            )
        with Session(engine) as first, Session(engine) as second:
            # Checked first: without a lock timeout the update below would wait forever.
            assert second.execute(text("SHOW lock_timeout")).scalar() == f"{LOCK_TIMEOUT_MS}ms"
            assert_a_held_lock_ends_in_lock_timeout(first, second, user.id)
    finally:
        engine.dispose()


def test_a_read_session_refuses_a_write_at_the_server(pooled: Pooled) -> None:
    database = pooled.database_object()
    try:
        with database.read_session() as session:
            assert session.execute(text("SHOW transaction_read_only")).scalar() == "on"
            with pytest.raises(DBAPIError) as info:
                session.execute(
                    text(INSERT_USER), {"name": "pgb_ro_probe", "email": "ro@example.com"}
                )
            assert isinstance(info.value.orig, psycopg.errors.ReadOnlySqlTransaction)
    finally:
        database.dispose()


def _leak_control(pooled: Pooled, setting: str) -> str:
    """What a plain client (no per-transaction settings) sees on the one-connection pool."""
    with psycopg.connect(
        pooled.bouncer.conninfo(pooled.single, roles.APP), prepare_threshold=None
    ) as conn:
        value = conn.execute(f"SHOW {setting}").fetchone()
        conn.rollback()
    assert value is not None
    return str(value[0])


@pytest.mark.parametrize(
    "switch",
    ["SET statement_timeout = 0", "SET lock_timeout = 0", "RESET ALL"],
)
def test_a_timeout_switched_off_by_one_client_does_not_reach_the_next(
    pooled: Pooled, switch: str
) -> None:
    # RESET ALL drops the timeouts too, when they were only startup options.
    engines: list[Engine] = [pooled.engine(single=True) for _ in range(2)]
    try:
        with Session(engines[0]) as careless:
            careless.execute(text("SET statement_timeout = 0"))
            careless.execute(text(switch))
            pid = _backend(careless)
            careless.commit()
        # The switch stays on the server connection: a client without our measures gets it.
        assert _leak_control(pooled, "statement_timeout") == "0"
        with Session(engines[1]) as next_client:
            assert _backend(next_client) == pid, "not the same server connection"
            shown = next_client.execute(text("SHOW statement_timeout")).scalar()
            assert shown == f"{STATEMENT_TIMEOUT_MS}ms"
            assert next_client.execute(text("SHOW lock_timeout")).scalar() == f"{LOCK_TIMEOUT_MS}ms"
            with pytest.raises(DatabaseUnavailable) as info, translated(next_client):
                next_client.execute(text("SELECT pg_sleep(5)"))
            assert info.value.rule == "statement_timeout"
    finally:
        for engine in engines:
            engine.dispose()
        _reset_single_pool(pooled)


@pytest.mark.parametrize(
    "switch",
    [
        "SET default_transaction_read_only = off",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    ],
)
def test_a_read_client_switched_to_read_write_does_not_make_the_next_one_writable(
    pooled: Pooled, switch: str
) -> None:
    engines = [pooled.engine(single=True, read_only=True) for _ in range(2)]
    try:
        with Session(engines[0]) as careless:
            careless.execute(text(switch))
            pid = _backend(careless)
            careless.commit()
        with Session(engines[1]) as next_client:
            assert _backend(next_client) == pid, "not the same server connection"
            with pytest.raises(DBAPIError) as info:
                next_client.execute(
                    text(INSERT_USER), {"name": "pgb_rw_probe", "email": "rw@example.com"}
                )
            assert isinstance(info.value.orig, psycopg.errors.ReadOnlySqlTransaction)
    finally:
        for engine in engines:
            engine.dispose()
        _reset_single_pool(pooled)


def test_a_client_that_set_read_only_does_not_stop_the_next_one_writing(pooled: Pooled) -> None:
    engines = [pooled.engine(single=True) for _ in range(2)]
    try:
        with Session(engines[0]) as careless:
            careless.execute(text("SET default_transaction_read_only = on"))
            careless.commit()
        assert _leak_control(pooled, "default_transaction_read_only") == "on"
        with Session(engines[1]) as next_client:
            next_client.execute(
                text(INSERT_USER), {"name": "pgb_rw_after_ro", "email": "rwro@example.com"}
            )
            next_client.rollback()
    finally:
        for engine in engines:
            engine.dispose()
        _reset_single_pool(pooled)


def _reset_single_pool(pooled: Pooled) -> None:
    """Leave the one-connection pool as a fresh server connection would be."""
    with psycopg.connect(
        pooled.bouncer.conninfo(pooled.single, roles.APP), autocommit=True, prepare_threshold=None
    ) as conn:
        conn.execute("RESET ALL")


def test_database_pooler_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_POOLER", "transaction")
    assert Settings(_env_file=None).database_pooler == "transaction"
    monkeypatch.setenv("DATABASE_POOLER", "session")
    with pytest.raises(ValidationError, match="database_pooler"):
        Settings(_env_file=None)
    monkeypatch.delenv("DATABASE_POOLER")
    assert Settings(_env_file=None).database_pooler == "none"
