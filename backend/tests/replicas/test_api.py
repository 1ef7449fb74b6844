"""Through the API: a write's response carries its read-your-writes token (cookie and
header), and a read that brings it back sees the write although the replica has not
replayed it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.api import create_app, current_user, get_transaction
from app.api.read_your_writes import COOKIE, REQUEST_HEADER, RESPONSE_HEADER
from app.db.base import get_db, get_read_db
from app.db.read_your_writes import parse_lsn
from app.models.user import User
from app.repositories.user_repository import UserRepository
from tests.factories import user_create
from tests.replicas.conftest import Topology, wired_database

BODY = {"original_text": "قفا نبك من ذكرى حبيب ومنزل", "pattern": "//o/o //o/o/o"}


@pytest.fixture
def api(standby_running: Topology) -> Iterator[FastAPI]:
    """The ready-made app on a Database with the standby as its replica (the app's session
    dependencies are that Database's), acting for a committed user.

    The process's default Database is left alone: modules of other tests hold its
    sessionmakers, so replacing it would pull them off the test database."""
    with wired_database(standby_running.settings()) as wired:
        db = wired.db
        name = f"api_{uuid.uuid4().hex[:12]}"
        with db.transaction() as session:
            user: User = UserRepository(session).register(
                user_create(username=name, email=f"{name}@x.org")
            )
        app = create_app()
        app.dependency_overrides[current_user] = lambda: user
        app.dependency_overrides[get_db] = db.session_dependency
        app.dependency_overrides[get_read_db] = db.read_session_dependency
        app.dependency_overrides[get_transaction] = db.transaction_dependency
        yield app


def test_a_write_response_carries_the_token_and_a_read_with_it_sees_the_write(
    standby_running: Topology, api: FastAPI
) -> None:
    with standby_running.replay_paused():
        writer = TestClient(api)
        created = writer.post("/analyses", json=BODY)
        assert created.status_code == 201, created.text
        token = created.headers[RESPONSE_HEADER]
        parse_lsn(token)
        assert writer.cookies[COOKIE] == token
        path = f"/analyses/{created.json()['id']}"
        # The same client sends the cookie back: it reads its own write.
        assert writer.get(path).status_code == 200
        # A client without the cookie may send the header instead.
        assert TestClient(api).get(path, headers={REQUEST_HEADER: token}).status_code == 200
        # Without either, the read goes to the replica, which has not replayed the write.
        assert TestClient(api).get(path).status_code == 404


def test_a_read_only_response_carries_no_token_and_a_bad_token_is_ignored(
    api: FastAPI,
) -> None:
    client = TestClient(api)
    response = client.get("/analyses", headers={REQUEST_HEADER: "not an lsn"})
    assert response.status_code == 200, response.text
    assert RESPONSE_HEADER not in response.headers
    assert COOKIE not in client.cookies
