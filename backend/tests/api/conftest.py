"""The API against the test database: every session dependency is the test's session.

``db`` (the application role) serves ``get_db``, ``get_read_db`` and ``get_transaction``, so
whatever a request writes is rolled back with the test; the meter admin path gets the owner's
session. ``current_user`` is the host's hook: the fixtures override it as a host would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.api import create_app, current_user, get_owner_db, get_transaction
from app.db.base import get_db, get_read_db
from app.models.user import User, UserRole
from tests.factories import make_user

FORBIDDEN_KEYS = {"password_hash", "search_vector", "normalized_text", "meta"}

IMRU = "قِفا نَبْكِ مِنْ ذِكْرى حَبيبٍ وَمَنْزِلِ ... بِسِقْطِ اللِّوى بَيْنَ الدَّخولِ فَحَوْمَلِ"
MUTANABBI = "الْخَيْلُ وَاللَّيْلُ وَالْبَيْدَاءُ تَعْرِفُنِي ... وَالسَّيْفُ وَالرُّمْحُ وَالْقِرْطَاسُ وَالْقَلَمُ"


def analysis_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "original_text": IMRU,
        "pattern": "//o/o //o/o/o",
        "detected_meter": "الطويل",
        "confidence": 0.95,
        "metadata": {"poet": "امرؤ القيس"},
    }
    body.update(fields)
    return body


#: Keys whose values are the user's own JSON documents, not fields of ours.
USER_JSON = {"metadata", "examples"}


def keys_anywhere(value: Any) -> set[str]:
    """Every object key of ours in a JSON document, at any depth."""
    if isinstance(value, dict):
        nested = {k for key, v in value.items() if key not in USER_JSON for k in keys_anywhere(v)}
        return set(value) | nested
    if isinstance(value, list):
        return {k for v in value for k in keys_anywhere(v)}
    return set()


@pytest.fixture
def user(db: Session) -> User:
    return make_user(db)


@pytest.fixture
def sessions(db: Session, owner_db: Session) -> Callable[[FastAPI], FastAPI]:
    """Point an app's session dependencies at the test's sessions."""

    def override(app: FastAPI) -> FastAPI:
        def same() -> Session:
            return db

        def owner() -> Session:
            return owner_db

        for dependency in (get_db, get_read_db, get_transaction):
            app.dependency_overrides[dependency] = same
        app.dependency_overrides[get_owner_db] = owner
        return app

    return override


@pytest.fixture
def app(sessions: Callable[[FastAPI], FastAPI], user: User) -> FastAPI:
    api = sessions(create_app())
    api.dependency_overrides[current_user] = lambda: user
    return api


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin(db: Session) -> User:
    return make_user(db, role=UserRole.ADMIN)
