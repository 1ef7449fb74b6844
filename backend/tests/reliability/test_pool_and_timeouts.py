"""Pool exhaustion, statement and lock timeouts: each ends in a clear, typed error."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.base import make_engine
from app.db.errors import translated
from app.errors import DatabaseUnavailable
from app.repositories.user_repository import UserRepository
from app.schemas.user import UserCreate
from tests.reliability.conftest import ReliabilityDb
from tests.reliability.report import record


def assert_a_slow_statement_is_cancelled(session: Session) -> None:
    """A statement past ``statement_timeout`` ends in a typed error within seconds, and the
    session serves the next statement (shared with the pooler suite)."""
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as info, translated(session):
        session.execute(text("SELECT pg_sleep(5)"))
    assert info.value.rule == "statement_timeout"
    assert time.monotonic() - started < 3
    assert session.execute(text("SELECT 1")).scalar_one() == 1


def assert_a_held_lock_ends_in_lock_timeout(first: Session, second: Session, user_id: int) -> None:
    """``first`` holds the profile's row lock: ``second``'s update ends in ``lock_timeout``,
    then succeeds once the lock is gone (shared with the pooler suite)."""
    first.execute(
        text("SELECT 1 FROM user_profiles WHERE user_id = :id FOR UPDATE"), {"id": user_id}
    )
    with pytest.raises(DatabaseUnavailable) as info:
        UserRepository(second).add_xp(user_id, 5)
    assert info.value.rule == "lock_timeout"
    first.rollback()
    assert UserRepository(second).add_xp(user_id, 5).xp == 5


def test_pool_exhaustion_waits_then_fails_clearly_and_recovers(
    reliability_db: ReliabilityDb,
) -> None:
    settings = Settings(_env_file=None, pool_size=5, max_overflow=10, pool_timeout=0.5)
    engine = make_engine(reliability_db.app_url, settings)
    try:
        with ExitStack() as held:
            for _ in range(15):  # the pool plus its overflow, all checked out
                session = held.enter_context(Session(engine))
                session.execute(text("SELECT 1"))
            assert engine.pool.checkedout() == 15  # type: ignore[attr-defined]
            started = time.monotonic()
            with Session(engine) as extra, pytest.raises(DatabaseUnavailable) as info:
                UserRepository(extra).get_by_username("anyone")
            waited = time.monotonic() - started
            assert info.value.rule == "pool_timeout"
            assert "pool" in str(info.value)
            assert waited >= 0.45
        # Everything was returned: the pool serves again.
        with Session(engine) as session:
            assert UserRepository(session).get_by_username("nobody") is None
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        record("pool_exhaustion", held=15, waited_s=round(waited, 3), recovered=True)
    finally:
        engine.dispose()


def test_a_long_statement_is_cancelled_by_statement_timeout(
    reliability_db: ReliabilityDb,
) -> None:
    engine = make_engine(reliability_db.app_url, Settings(_env_file=None, statement_timeout_ms=300))
    try:
        with Session(engine) as session:
            assert_a_slow_statement_is_cancelled(session)
    finally:
        engine.dispose()


def test_a_held_row_lock_ends_in_lock_timeout(reliability_db: ReliabilityDb) -> None:
    engine = make_engine(reliability_db.app_url, Settings(_env_file=None, lock_timeout_ms=300))
    try:
        with Session(engine) as first, Session(engine) as second:
            user = UserRepository(first).register(
                UserCreate(
                    username="locked_user",
                    email="locked@example.com",
                    password="a long password",
                    full_name="Locked",
                )
            )
            assert_a_held_lock_ends_in_lock_timeout(first, second, user.id)
    finally:
        engine.dispose()
