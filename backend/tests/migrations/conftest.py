"""pytest-alembic fixtures: a database of its own, which its tests may build and tear down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine

from tests.conftest import ADMIN_URL, BACKEND_DIR, fresh_database


@pytest.fixture
def alembic_config() -> dict[str, Any]:
    return {"file": f"{BACKEND_DIR}/alembic.ini", "attributes": {"configure_logger": False}}


@pytest.fixture
def alembic_engine() -> Iterator[Engine]:
    """Migrations run as the schema owner, as in production."""
    owner_url, _ = fresh_database(f"{ADMIN_URL.database}_migrations")
    engine = create_engine(owner_url)
    yield engine
    engine.dispose()
