"""The standby harness: a killed run leaves no standby running, no files and no slot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from app.db.server import EmbeddedCluster
from tests.replicas.conftest import Topology


def _slot_exists(primary: EmbeddedCluster, slot: str) -> bool:
    with psycopg.connect(primary.conninfo("postgres"), autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot,))
        return row.fetchone() is not None


def _until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_watchdog_removes_a_standby_and_its_slot_after_its_owner_is_killed(
    topology: Topology,
) -> None:
    primary = topology.standby.primary
    code = (
        "import sys, os, time\n"
        "from pathlib import Path\n"
        "from app.db.server import EmbeddedCluster\n"
        "from app.db.standby import Standby\n"
        "primary = EmbeddedCluster(Path(sys.argv[1]), tcp_port=int(sys.argv[2]))\n"
        "s = Standby.create(primary)\n"
        "s.start(database='postgres', stop_with_pid=os.getpid())\n"
        "print(s.root, s.slot, flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(primary.root), str(primary.port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    root_text, slot = proc.stdout.readline().split()
    root = Path(root_text)
    assert EmbeddedCluster(root, throwaway=True).is_running()
    assert _slot_exists(primary, slot)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _until(lambda: not root.exists()), "the watchdog did not remove the standby"
    assert _until(lambda: not _slot_exists(primary, slot)), "the slot was left on the primary"
