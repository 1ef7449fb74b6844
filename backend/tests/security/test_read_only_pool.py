"""A read connection switched to read-write never serves the next request (issue 16: 19).

Decision: the read-only session is a guard against mistakes, not a security boundary (the
application role may write anyway, and raw SQL can switch its own connection back for the
length of one checkout). What must hold is that such a switch dies with the checkout: the
pool never hands a read-write connection to the next ``ReadSessionLocal`` user.
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.base import make_engine


@pytest.mark.parametrize(
    "switch",
    [
        "SET default_transaction_read_only = off",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    ],
)
def test_a_read_connection_switched_to_read_write_is_not_reused(
    switch: str, database_url: URL, migrated: URL
) -> None:
    # One connection in the pool, so the next checkout would get the same one back.
    settings = Settings(_env_file=None, pool_size=1, max_overflow=0)
    engine = make_engine(database_url, settings, read_only=True)
    try:
        with Session(engine) as attacker:
            attacker.execute(text(switch))
            assert attacker.execute(text("SHOW default_transaction_read_only")).scalar() == "off"
        with Session(engine) as victim:
            assert victim.execute(text("SHOW default_transaction_read_only")).scalar() == "on"
            with pytest.raises(DBAPIError) as info:
                victim.execute(
                    text(
                        "INSERT INTO users (username, email, password_hash, full_name) "
                        "VALUES ('rw_probe', 'rw@example.com', 'x', 'Probe')"
                    )
                )
            assert isinstance(info.value.orig, psycopg.errors.ReadOnlySqlTransaction)
    finally:
        engine.dispose()


def test_an_untouched_read_connection_is_reused(database_url: URL, migrated: URL) -> None:
    settings = Settings(_env_file=None, pool_size=1, max_overflow=0)
    engine = make_engine(database_url, settings, read_only=True)
    try:
        pids = []
        for _ in range(2):
            with Session(engine) as session:
                pids.append(session.execute(text("SELECT pg_backend_pid()")).scalar())
        assert pids[0] == pids[1]
    finally:
        engine.dispose()
