"""pytest-alembic fixtures: a database of its own, which its tests may build and tear down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from tests.conftest import BACKEND_DIR, _recreate_database


@pytest.fixture(scope="session")
def migrations_url(database_url: URL) -> URL:
    return database_url.set(database=f"{database_url.database}_migrations")


@pytest.fixture
def alembic_config() -> dict[str, Any]:
    return {"file": f"{BACKEND_DIR}/alembic.ini", "attributes": {"configure_logger": False}}


@pytest.fixture
def alembic_engine(migrations_url: URL) -> Iterator[Engine]:
    _recreate_database(migrations_url.set(database="postgres"), migrations_url.database or "")
    engine = create_engine(migrations_url)
    yield engine
    engine.dispose()
