"""The embedded cluster manager: start, reuse, stop, clean-up after a kill, missing binaries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from app.db import server
from app.db.server import EmbeddedCluster, find_binaries
from app.errors import PostgresNotFound


def _wait_until(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_start_reuse_stop_and_restart_keeps_data() -> None:
    cluster = EmbeddedCluster.create_throwaway()
    try:
        assert cluster.start() is True
        assert cluster.is_running()
        # A second start reuses the running server instead of failing.
        assert cluster.start() is False
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('بحر')")
            encoding = conn.execute("SHOW server_encoding").fetchone()
        assert encoding == ("UTF8",)
        assert cluster.stop() is True
        assert not cluster.is_running()
        assert cluster.stop() is False
        # Starting again reuses the initialised data folder.
        assert cluster.start() is True
        with psycopg.connect(cluster.conninfo()) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("بحر",)]
    finally:
        cluster.destroy()
    assert not cluster.root.exists()


def test_socket_is_private() -> None:
    cluster = EmbeddedCluster.create_throwaway()
    try:
        cluster.start()
        assert cluster.socket_dir.stat().st_mode & 0o077 == 0
        with psycopg.connect(cluster.conninfo("postgres")) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
    finally:
        cluster.destroy()


def test_watchdog_removes_a_throwaway_cluster_after_its_owner_is_killed() -> None:
    code = (
        "import os, sys, time\n"
        "from app.db.server import EmbeddedCluster\n"
        "c = EmbeddedCluster.create_throwaway()\n"
        "c.start(stop_with_pid=os.getpid())\n"
        "print(c.root, flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    root = Path(proc.stdout.readline().strip())
    cluster = EmbeddedCluster(root, throwaway=True)
    assert cluster.is_running()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _wait_until(lambda: not root.exists()), "watchdog did not remove the cluster"
    assert not cluster.is_running()


def test_missing_binaries_give_instructions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(server, "_candidate_bindirs", lambda: [tmp_path])
    with pytest.raises(PostgresNotFound) as info:
        find_binaries()
    message = str(info.value)
    assert "apt-get install postgresql" in message
    assert "brew install" in message
    assert "docker compose up -d" in message
    assert "DATABASE_URL=" in message
    assert str(tmp_path) in message


def test_too_old_binaries_are_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for tool in ("postgres", "initdb", "pg_ctl"):
        exe = tmp_path / tool
        exe.write_text("#!/bin/sh\necho 'postgres (PostgreSQL) 14.9'\n")
        exe.chmod(0o755)
    monkeypatch.setattr(server, "_candidate_bindirs", lambda: [tmp_path])
    with pytest.raises(PostgresNotFound):
        find_binaries()


def test_find_binaries_finds_a_supported_server() -> None:
    assert find_binaries().version >= 15
