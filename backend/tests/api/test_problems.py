"""The error hierarchy as HTTP, against real failures where the database can produce them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from app.api import add_problem_handlers, create_app, current_user
from app.db.base import ReadSessionLocal, get_db, get_read_db
from app.errors import SearchTooBroad
from app.models.user import User
from tests.api.conftest import analysis_body


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def session_on(engine: Engine) -> Callable[[], Iterator[Session]]:
    def dependency() -> Iterator[Session]:
        with Session(engine) as db:
            yield db

    return dependency


def test_current_user_unconfigured_is_401_with_a_clear_message(
    sessions: Callable[[FastAPI], FastAPI],
) -> None:
    client = TestClient(sessions(create_app()))
    for method, path in (("GET", "/users/me"), ("GET", "/analyses"), ("GET", "/search?q=x")):
        response = client.request(method, path)
        body = problem(response, 401)
        assert body["rule"] == "authentication"
        assert "override" in str(body["detail"])
        assert response.headers["www-authenticate"] == "Bearer"
    # Routes that need no user still answer.
    assert client.get("/meters").status_code == 200


def test_unreachable_database_is_503_with_retry_after(
    sessions: Callable[[FastAPI], FastAPI], database_url: URL
) -> None:
    dead = create_engine(database_url.set(host="127.0.0.1", port=1, query={}))
    app = sessions(create_app())
    app.dependency_overrides[get_read_db] = session_on(dead)
    response = TestClient(app).get("/meters")
    body = problem(response, 503)
    assert body["rule"] == "unavailable"
    assert response.headers["retry-after"] == "5"
    assert "127.0.0.1" not in response.text  # no internals
    dead.dispose()


def test_exhausted_pool_is_503_with_retry_after(
    sessions: Callable[[FastAPI], FastAPI], database_url: URL
) -> None:
    tiny = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    app = sessions(create_app())
    app.dependency_overrides[get_read_db] = session_on(tiny)
    with tiny.connect():  # the pool's only connection
        response = TestClient(app).get("/meters/Tawil")
    body = problem(response, 503)
    assert body["rule"] == "pool_timeout"
    assert response.headers["retry-after"] == "1"
    tiny.dispose()


def test_write_through_a_read_session_is_500_and_logged(
    sessions: Callable[[FastAPI], FastAPI], user: User, caplog: pytest.LogCaptureFixture
) -> None:
    def read_session() -> Iterator[Session]:
        with ReadSessionLocal() as db:
            yield db

    app = sessions(create_app())
    app.dependency_overrides[current_user] = lambda: user
    app.dependency_overrides[get_db] = read_session  # the programming error
    with caplog.at_level(logging.ERROR, logger="bahr.api"):
        response = TestClient(app).post("/analyses", json=analysis_body())
    body = problem(response, 500)
    assert body["rule"] == "internal"
    assert "read" not in str(body["detail"])  # no internals in the body...
    assert any("ReadOnlySession" in r.getMessage() for r in caplog.records)  # ...but a log line


def test_the_application_role_cannot_write_meters(
    sessions: Callable[[FastAPI], FastAPI], db: Session, admin: User
) -> None:
    """The admin path needs the owner's session: through bahr_app the database refuses."""
    from app.api import get_owner_db

    app = sessions(create_app())
    app.dependency_overrides[current_user] = lambda: admin
    app.dependency_overrides[get_owner_db] = lambda: db  # bahr_app, not the owner
    response = TestClient(app).patch("/meters/Tawil", json={"description": "x"})
    body = problem(response, 403)
    assert body["rule"] == "permission"
    assert "permission denied for" not in response.text  # the database's message is logged


def test_search_too_broad_is_422() -> None:
    app = FastAPI()
    add_problem_handlers(app)

    @app.get("/broad")
    def broad() -> None:
        raise SearchTooBroad("query: too broad", field="query", rule="too_broad")

    body = problem(TestClient(app).get("/broad"), 422)
    assert (body["field"], body["rule"]) == ("query", "too_broad")


def test_an_unexpected_error_is_a_problem_without_internals() -> None:
    app = FastAPI()
    add_problem_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    body = problem(response, 500)
    assert "secret" not in response.text
    assert body["rule"] == "internal"


def test_a_raw_database_error_outside_a_repository_is_translated(
    sessions: Callable[[FastAPI], FastAPI], db: Session
) -> None:
    app = sessions(create_app())

    @app.get("/raw")
    def raw() -> None:
        db.execute(text("SELECT * FROM no_such_table"))

    response = TestClient(app).get("/raw")
    assert problem(response, 500)["rule"] == "internal"
    assert "no_such_table" not in response.text


def test_a_host_http_error_becomes_a_problem_too() -> None:
    from fastapi import HTTPException

    app = FastAPI()
    add_problem_handlers(app)

    @app.get("/teapot")
    def teapot() -> None:
        raise HTTPException(499, "client went away")

    body = problem(TestClient(app).get("/teapot"), 499)
    assert (body["title"], body["detail"]) == ("Error", "client went away")
