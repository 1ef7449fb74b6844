"""``/healthz``, ``/metrics`` and the one-transaction dependency, on real engines."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.engine import URL

from app.api import Transaction, add_problem_handlers, create_app
from app.api.ops import health_engines
from app.db import base
from app.errors import InvalidInput
from app.models.user import User
from app.repositories.user_repository import UserRepository
from tests.factories import user_create


def test_healthz_reports_the_database_and_pool_usage() -> None:
    response = TestClient(create_app()).get("/healthz")  # the real engines, no override
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert set(body["pools"]) == {"write", "read"}
    assert body["pools"]["write"]["size"] == base.engine.pool.size()  # type: ignore[attr-defined]


def test_healthz_is_503_when_the_database_is_down(database_url: URL) -> None:
    dead = create_engine(database_url.set(host="127.0.0.1", port=1, query={}))
    app = create_app()
    app.dependency_overrides[health_engines] = lambda: {"write": dead}
    response = TestClient(app).get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    dead.dispose()


def test_healthz_never_hangs_on_an_exhausted_pool(
    database_url: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without its own timeout the check would wait the pool's 10 minutes."""
    monkeypatch.setattr("app.api.ops.HEALTH_TIMEOUT_S", 0.2)
    stuck = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=600)
    app = create_app()
    app.dependency_overrides[health_engines] = lambda: {"write": stuck}
    with stuck.connect():
        response = TestClient(app).get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "timeout"
    assert body["pools"]["write"] == {"size": 1, "checked_out": 1, "overflow": 0}
    stuck.dispose()


def test_metrics_is_the_prometheus_text_format(client: TestClient) -> None:
    client.get("/meters")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "bahr_database_queries_total" in response.text


def _delete_user(username: str) -> None:
    with base.SessionLocal() as db:
        repo = UserRepository(db)
        user = repo.get_by_username(username)
        if user is not None:
            repo.delete(user.id)


@pytest.fixture
def transaction_app() -> FastAPI:
    """A host route registering a user and awarding xp in one request, failing on demand.

    ``Transaction`` is not overridden: it commits to the test database for real, so the test
    removes what it stored.
    """
    app = FastAPI()
    add_problem_handlers(app)

    @app.post("/two-writes")
    def two_writes(username: str, fail: bool, db: Transaction) -> dict[str, Any]:
        repo = UserRepository(db)
        user = repo.register(user_create(username=username))
        repo.add_xp(user.id, 100)  # the repository commits: only a savepoint is released
        profile = repo.get_profile(user.id)
        assert profile is not None
        profile.bio = "written by the route itself, left for the request to flush"
        if fail:
            raise InvalidInput("fail: asked to", field="fail", rule="asked")
        return {"id": user.id}

    return app


@pytest.mark.parametrize("fail", [False, True])
def test_transaction_commits_all_or_nothing(
    transaction_app: FastAPI, fail: bool, migrated: URL
) -> None:
    username = f"tx_{'fail' if fail else 'ok'}_user"
    try:
        response = TestClient(transaction_app).post(
            "/two-writes", params={"username": username, "fail": fail}
        )
        assert response.status_code == (422 if fail else 200), response.text
        with base.SessionLocal() as db:
            stored = db.scalars(select(User).where(User.username == username)).first()
            if fail:
                assert stored is None  # the first write was rolled back with the second
            else:
                assert stored is not None
                assert stored.profile is not None
                assert stored.profile.xp == 100
                assert stored.profile.bio is not None
    finally:
        _delete_user(username)
