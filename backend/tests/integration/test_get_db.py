"""``get_db``: one session per request, rolled back on error, always closed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from app.db.base import get_db


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
