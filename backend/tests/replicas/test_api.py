"""Through the API: a write's response carries its read-your-writes token (cookie and
header), and a read that brings it back sees the write although the replica has not
replayed it. The app's own dependencies run on the default Database, here one with the
standby as its replica."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.api import create_app, current_user
from app.api.read_your_writes import COOKIE, REQUEST_HEADER, RESPONSE_HEADER
from app.config import get_settings
from app.db.database import get_database, reset_database
from app.db.read_your_writes import parse_lsn
from app.models.user import User
from app.repositories.user_repository import UserRepository
from tests.factories import user_create
from tests.replicas.conftest import Topology

BODY = {"original_text": "قفا نبك من ذكرى حبيب ومنزل", "pattern": "//o/o //o/o/o"}


@pytest.fixture
def api(standby_running: Topology, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    """The ready-made app on the replica topology, acting for a committed user."""
    settings = standby_running.settings()
    for name, value in (
        ("DATABASE_URL", settings.database_url),
        ("MIGRATION_DATABASE_URL", settings.migration_database_url),
        ("READ_DATABASE_URL", settings.read_database_url),
        ("REPLICA_CHECK_INTERVAL_S", "0"),
    ):
        monkeypatch.setenv(name, value or "")
    get_settings.cache_clear()
    reset_database()
    try:
        name = f"api_{uuid.uuid4().hex[:12]}"
        with get_database().transaction() as session:
            user: User = UserRepository(session).register(
                user_create(username=name, email=f"{name}@x.org")
            )
        app = create_app()
        app.dependency_overrides[current_user] = lambda: user
        yield app
    finally:
        reset_database()
        monkeypatch.undo()
        get_settings.cache_clear()


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
