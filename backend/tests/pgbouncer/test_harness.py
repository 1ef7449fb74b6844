"""The PgBouncer harness: unprivileged, private, transaction pooling, and nothing left running
(after ``destroy``, and after its owner is killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from app.db import pooler, roles
from app.db.pooler import PgBouncer, PgBouncerNotFound, find_pgbouncer
from app.db.server import _service_user, pid_alive
from tests.pgbouncer.conftest import Pooled


def _wait_until(predicate: Callable[[], bool], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _running(pid: int) -> bool:
    return pid_alive(pid)


def test_pgbouncer_runs_unprivileged_in_private_folders(pooled: Pooled) -> None:
    bouncer = pooled.bouncer
    pid = bouncer.pid()
    assert pid is not None
    user = _service_user()
    expected_uid = user.pw_uid if user is not None else os.geteuid()
    assert os.stat(f"/proc/{pid}").st_uid == expected_uid
    assert expected_uid != 0
    for folder in (bouncer.root, bouncer.socket_dir):
        assert folder.stat().st_mode & 0o077 == 0
    for secret in (bouncer.ini_file, bouncer.auth_file):
        assert secret.stat().st_mode & 0o077 == 0
    with bouncer.admin() as admin:
        config = {row[0]: row[1] for row in admin.execute("SHOW CONFIG")}
    assert config["pool_mode"] == "transaction"
    assert config["listen_addr"] in ("", None)  # no TCP port
    assert config["ignore_startup_parameters"] in ("", None)  # options are never dropped


def test_start_stop_restart_and_destroy_leave_nothing_running(pooled: Pooled) -> None:
    other = PgBouncer.for_server(
        pooled.bouncer.server_host, pooled.bouncer.server_port, users={roles.APP: None}
    )
    try:
        assert other.start() is True
        assert other.start() is False  # running already: reused
        first = other.pid()
        other.restart()
        second = other.pid()
        assert first is not None
        assert second is not None
        assert second != first
        assert not _running(first)
        with psycopg.connect(other.conninfo(pooled.database), prepare_threshold=None) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (roles.APP,)
    finally:
        other.destroy()
    assert not _running(second)
    assert not other.root.exists()
    assert not other.socket_dir.exists()


def test_watchdog_stops_pgbouncer_after_its_owner_is_killed(pooled: Pooled) -> None:
    code = (
        "import os, sys, time\n"
        "from app.db.pooler import PgBouncer\n"
        "b = PgBouncer.for_server(sys.argv[1], int(sys.argv[2]), users={'bahr_app': None})\n"
        "b.start(stop_with_pid=os.getpid())\n"
        "print(b.root, b.pid(), flush=True)\n"
        "time.sleep(600)\n"
    )
    argv = [sys.executable, "-c", code, pooled.bouncer.server_host, str(pooled.bouncer.server_port)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    root_text, pid_text = proc.stdout.readline().split()
    root, pid = Path(root_text), int(pid_text)
    assert _running(pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _wait_until(lambda: not _running(pid)), "the watchdog left PgBouncer running"
    assert _wait_until(lambda: not root.exists()), "the watchdog left PgBouncer's folder"


def test_a_missing_pgbouncer_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("PGBOUNCER", raising=False)
    monkeypatch.setattr(pooler, "_LOCATIONS", ())
    with pytest.raises(PgBouncerNotFound, match="apt-get install pgbouncer"):
        find_pgbouncer()
    monkeypatch.setenv("PGBOUNCER", "/nonexistent/pgbouncer")
    with pytest.raises(PgBouncerNotFound, match="PGBOUNCER"):
        find_pgbouncer()
