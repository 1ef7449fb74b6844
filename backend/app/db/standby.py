"""A hot standby of an embedded primary, for the replica tests and the benchmarks.

::

    primary = EmbeddedCluster.create_throwaway()
    primary.start(stop_with_pid=os.getpid())
    standby = Standby.create(primary)
    standby.start(stop_with_pid=os.getpid())    # pg_basebackup -R, then pg_ctl start
    url = standby.url("bahr", user=roles.APP)    # READ_DATABASE_URL
    ...
    standby.stop("immediate"); standby.start()   # a crash and a restart
    standby.destroy()                            # stop, remove the files, drop the slot

The standby is an :class:`~app.db.server.EmbeddedCluster` built by ``pg_basebackup`` instead
of ``initdb``: its own folder, its own private socket, no TCP port, run as the service user
when we are root, stopped and removed by the same watchdog when its parent dies. It streams
through a replication slot of its own, so the primary keeps the WAL it still needs while it
is stopped; :meth:`Standby.destroy` and the watchdog drop the slot, so a killed run leaves
no slot holding WAL on the primary either.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from app.db.server import (
    DEFAULT_DATABASE,
    EmbeddedCluster,
    find_binaries,
    spawn_watchdog,
    watch,
)
from app.errors import PostgresNotFound


class Standby(EmbeddedCluster):
    """A throwaway hot standby streaming from ``primary`` through the slot ``slot``."""

    def __init__(self, root: Path, primary: EmbeddedCluster, *, slot: str) -> None:
        super().__init__(root, throwaway=True)
        self.primary = primary
        self.slot = slot

    @classmethod
    def create(cls, primary: EmbeddedCluster) -> Standby:
        """A standby of ``primary`` in a new temp folder (nothing runs until :meth:`start`)."""
        root = Path(tempfile.mkdtemp(prefix="bahr-standby-"))
        return cls(root, primary, slot=f"bahr_standby_{secrets.token_hex(4)}")

    def start(self, *, database: str = DEFAULT_DATABASE, stop_with_pid: int | None = None) -> bool:
        """Take the base backup on first use, then start the server in hot standby.

        ``database`` is only checked for: a standby cannot create one (the primary's
        databases, roles and grants arrive by replication). Returns True when this call
        started the server.
        """
        bins = find_binaries()
        self._prepare_dirs()
        if self.is_running():
            return False
        if not self.initialized:
            self._run(
                [
                    bins.tool("pg_basebackup"),
                    "--pgdata",
                    str(self.data_dir),
                    # The primary's private socket; no password, nothing secret in argv.
                    "--dbname",
                    self.primary.conninfo("postgres"),
                    "--write-recovery-conf",
                    "--create-slot",
                    "--slot",
                    self.slot,
                    "--wal-method",
                    "stream",
                    "--checkpoint",
                    "fast",
                    "--no-sync",
                ]
            )
        self._pg_ctl_start(bins)
        if stop_with_pid is not None:
            self._spawn_watchdog(stop_with_pid)
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if found.fetchone() is None:
                raise RuntimeError(f"the primary has no database {database!r} to replicate")
        return True

    def restart(self, mode: str = "fast") -> None:
        """Stop (``fast`` or ``immediate``: a crash) and start again; it catches up by itself."""
        self.stop(mode)
        self.start()

    def destroy(self) -> None:
        """Stop the standby, remove its files and drop its replication slot on the primary."""
        super().destroy()
        self._drop_slot()

    def _spawn_watchdog(self, pid: int) -> None:
        # The server's watchdog, plus the slot: ``python -m app.db.standby watch ...``.
        spawn_watchdog(
            "app.db.standby",
            pid,
            self.root,
            str(self.primary.root),
            str(self.primary.port),
            self.slot,
        )

    def _drop_slot(self, timeout: float = 10.0) -> None:
        # The walsender of a standby that just stopped may still hold the slot a moment.
        deadline = time.monotonic() + timeout
        with (
            contextlib.suppress(psycopg.OperationalError, PostgresNotFound),
            psycopg.connect(self.primary.conninfo("postgres"), autocommit=True) as conn,
        ):
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                    (self.slot,),
                ).fetchone()
                if row is None:
                    return
                if not row[0]:
                    conn.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))
                    return
                time.sleep(0.05)

    # -- replay, for tests that need a replica to be behind ------------------------------
    def _superuser(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.conninfo("postgres"), autocommit=True)

    def replay_lsn(self) -> str:
        """How far the standby has replayed (``pg_last_wal_replay_lsn()``, as text)."""
        with self._superuser() as conn:
            row = conn.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()
        return str(row[0]) if row is not None else ""

    def pause_replay(self) -> None:
        """Stop applying WAL (it is still received): reads see the past until resumed."""
        with self._superuser() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with self._superuser() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    def wait_for_receive(self, lsn: str, timeout: float = 30.0) -> None:
        """Block until the standby has received (not necessarily replayed) WAL up to ``lsn``."""
        self._wait("pg_last_wal_receive_lsn() >= %s::pg_lsn", lsn, timeout)

    def wait_for_replay(self, lsn: str, timeout: float = 30.0) -> None:
        """Block until the standby has replayed WAL up to ``lsn`` (a primary's
        ``pg_current_wal_lsn()``, say)."""
        self._wait("pg_last_wal_replay_lsn() >= %s::pg_lsn", lsn, timeout)

    def _wait(self, condition: str, lsn: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        query = f"SELECT coalesce({condition}, false)"
        with self._superuser() as conn:
            while True:
                row = conn.execute(query.encode(), (lsn,)).fetchone()
                if row is not None and row[0]:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the standby did not reach {lsn} in {timeout} s")
                time.sleep(0.01)


def watch_standby(pid: int, root: Path, primary_root: Path, port: int, slot: str) -> None:
    """Once ``pid`` has exited, remove the standby at ``root`` and drop its slot."""
    watch(pid, root, throwaway=True)
    primary = EmbeddedCluster(primary_root, tcp_port=port if port != 5432 else None)
    Standby(root, primary, slot=slot)._drop_slot()


__all__ = ["Standby", "watch_standby"]

if __name__ == "__main__":  # pragma: no cover - exercised through the watchdog test
    if len(sys.argv) == 7 and sys.argv[1] == "watch":
        _, _, pid, root, primary_root, port, slot = sys.argv
        watch_standby(int(pid), Path(root), Path(primary_root), int(port), slot)
