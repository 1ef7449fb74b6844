"""Fixtures of the command-line tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection
from typer.testing import CliRunner, Result

from app.cli import app
from app.db.base import SessionLocal

Invoke = Callable[..., Result]


@pytest.fixture
def cli(connection: Connection) -> Iterator[Invoke]:
    """Run ``bahr-db ARGS…`` through Typer's runner; the application's ``SessionLocal`` is
    bound to the test's connection, so everything a command writes is rolled back."""
    original = dict(SessionLocal.kw)
    SessionLocal.configure(bind=connection, join_transaction_mode="create_savepoint")
    runner = CliRunner()

    def invoke(*args: str, **kw: Any) -> Result:
        return runner.invoke(app, list(args), catch_exceptions=False, **kw)

    yield invoke
    SessionLocal.kw.clear()
    SessionLocal.kw.update(original)
