"""Reliability tests: a database of their own, committed data, real concurrency.

Sizes scale with ``BAHR_STRESS`` (``make stress`` sets it to 1; ``make test`` runs the light
default), so the same tests prove the same properties at two sizes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from app.config import Settings
from app.db.base import make_engine
from tests.conftest import migrated_database

STRESS = os.environ.get("BAHR_STRESS", "") == "1"


@dataclass(frozen=True)
class ReliabilityDb:
    owner_url: URL
    app_url: URL
    owner: Engine
    #: The application's engine, configured exactly as in production (pool 5 + 10, pre-ping).
    app: Engine


@pytest.fixture(scope="session")
def reliability_db() -> Iterator[ReliabilityDb]:
    owner_url, app_url = migrated_database("reliability")
    owner = create_engine(owner_url)
    app = make_engine(app_url, Settings(_env_file=None, pool_timeout=20))
    yield ReliabilityDb(owner_url, app_url, owner, app)
    app.dispose()
    owner.dispose()
