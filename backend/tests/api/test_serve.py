"""``bahr-db serve`` in a child process: it starts, and ``/meters`` answers JSON on loopback.

(Without ``--demo-user`` the routes that need a user answer 401: tested in-process, in
``test_problems.py``, on the same application.)"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from app.cli import app as cli
from app.db import base
from app.repositories.user_repository import UserRepository
from tests.factories import user_create

STARTED = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")
#: Generous: the machine may be busy; a healthy start takes about a second.
START_TIMEOUT_S = 120


@contextmanager
def serving(*args: str) -> Iterator[tuple[str, list[str]]]:
    """Run ``bahr-db serve --port 0 ARGS``; yield its URL and the lines printed so far."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                assert selector.select(START_TIMEOUT_S), f"no start within {START_TIMEOUT_S} s"
                line = proc.stdout.readline()
                assert line, "serve exited:\n" + "".join(lines)
                lines.append(line)
                if match := STARTED.search(line):
                    break
        yield match.group(1), lines
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


@pytest.fixture
def committed_user(migrated: URL) -> Iterator[str]:
    with base.SessionLocal() as db:
        user = UserRepository(db).register(user_create(username="serve_demo_user"))
    yield user.username
    with base.SessionLocal() as db:
        UserRepository(db).delete(user.id)


def test_serve_answers_the_meters_as_json_as_the_demo_user(committed_user: str) -> None:
    with serving("--demo-user", committed_user) as (url, lines):
        response = httpx.get(f"{url}/meters")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert len(response.json()) == 16
        assert httpx.get(f"{url}/users/me").json()["username"] == committed_user
    assert any("DEMO MODE" in line and committed_user in line for line in lines)


def test_serve_refuses_an_unknown_demo_user(migrated: URL) -> None:
    result = CliRunner().invoke(cli, ["serve", "--demo-user", "nobody_at_all"])
    assert result.exit_code == 1
    assert "no user called 'nobody_at_all'" in result.output
