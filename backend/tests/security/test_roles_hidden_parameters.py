"""A typed error never carries the statement's values (issue 16: 10).

The application's engines are built with ``hide_parameters=True``: the ``__cause__`` of an
``AlreadyExists`` (and anything a traceback logger prints from it) holds the SQL, never the
argon2 hash or the email that was sent with it.
"""

from __future__ import annotations

import traceback

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from app.db.base import make_engine
from app.errors import AlreadyExists
from app.repositories.user_repository import UserRepository
from tests.factories import user_create


def _chain(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def test_a_duplicate_username_error_holds_no_hash_and_no_email(
    database_url: URL, migrated: URL
) -> None:
    engine = make_engine(database_url, pooled=False)
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            session = Session(bind=conn, join_transaction_mode="create_savepoint")
            repo = UserRepository(session)
            repo.register(user_create(username="hidden_params", email="first@example.com"))
            with pytest.raises(AlreadyExists) as info:
                repo.register(
                    user_create(username="hidden_params", email="second.secret@example.com")
                )
            session.close()
            trans.rollback()
    finally:
        engine.dispose()
    text = _chain(info.value)
    assert info.value.__cause__ is not None or info.value.__context__ is not None
    assert "INSERT INTO users" in text  # the chain is there, with its SQL
    assert "second.secret@example.com" not in text
    assert "$argon2" not in text
    assert "[parameters:" not in text
