"""PgBouncer in transaction pooling, in front of a cluster: the harness of the pooler suite
and of the benchmarks.

::

    bouncer = PgBouncer.in_front_of(cluster)      # an EmbeddedCluster (app.db.server)
    bouncer.start(stop_with_pid=os.getpid())      # a watchdog stops it if we die
    url = bouncer.url("bahr", user=roles.APP)     # DATABASE_URL, with DATABASE_POOLER=transaction
    bouncer.stop(); bouncer.start()               # or bouncer.restart()
    bouncer.destroy()                             # stopped, every file removed

Like the cluster, PgBouncer listens only on a Unix socket in a private folder (mode 0700, no
TCP port); its configuration, user list, pid file and log live in another private folder.
As root it runs as the cluster's unprivileged service user (PgBouncer, like ``postgres``,
refuses to run as root).

**Authentication.** The same trust model as the cluster's: only the folder's owner (and
root) can reach the socket, so clients are trusted (``auth_type = trust``; PgBouncer still
requires every user name to be listed in its ``auth_file``). PgBouncer itself logs in to the
cluster through the cluster's private socket, where local roles are trusted too; a password
given for a user (a server over TCP) is kept in the ``auth_file`` (mode 0600) and used for
that login.

**What the configuration leaves out on purpose.** No ``ignore_startup_parameters``: a client
that sends ``options`` (``-c statement_timeout=…``) is refused, never silently stripped of its
timeouts. ``server_reset_query_always`` stays off, as in a typical deployment: session state
that one client leaves on a server connection does reach the next client, and
:func:`app.db.base.make_engine` (``DATABASE_POOLER=transaction``) is what makes that harmless.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL

from app.db import roles
from app.db.server import (
    SUPERUSER,
    EmbeddedCluster,
    _private_folder,
    _service_user,
    _short_socket_dir,
    pid_alive,
    spawn_watchdog,
)
from app.errors import BahrDataError

DEFAULT_PORT = 6432
#: The admin console's database name (``SHOW POOLS``, ``SHOW SERVERS``, ``RECONNECT``).
ADMIN_DATABASE = "pgbouncer"
_LOCATIONS = ("/usr/sbin", "/usr/bin", "/usr/local/bin", "/opt/homebrew/bin")

INSTALL_HINT = """\
PgBouncer was not found (looked at $PGBOUNCER, PATH and {where}).
The pooler suite and benchmark need it; install it, then run the command again:
  * Debian/Ubuntu:  sudo apt-get install pgbouncer
  * macOS:          brew install pgbouncer
Or point PGBOUNCER at the pgbouncer executable."""


class PgBouncerNotFound(BahrDataError):  # noqa: N818 - named like PostgresNotFound
    """PgBouncer is not installed (or ``PGBOUNCER`` names no executable)."""


def find_pgbouncer() -> str:
    """The pgbouncer executable: ``$PGBOUNCER``, ``PATH``, then the usual install places."""
    if env := os.environ.get("PGBOUNCER"):
        if Path(env).is_file() and os.access(env, os.X_OK):
            return env
        raise PgBouncerNotFound(f"PGBOUNCER={env} is not an executable file")
    if found := shutil.which("pgbouncer"):
        return found
    for folder in _LOCATIONS:
        candidate = Path(folder) / "pgbouncer"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise PgBouncerNotFound(INSTALL_HINT.format(where=", ".join(_LOCATIONS)))


def _quote(value: str) -> str:
    """A value of a PgBouncer connection string (single quotes, as libpq's)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class PgBouncer:
    """One PgBouncer process, in transaction pooling, configured and run from ``root``."""

    def __init__(
        self,
        root: Path,
        server_host: str,
        server_port: int,
        *,
        users: Mapping[str, str | None] | None = None,
        port: int = DEFAULT_PORT,
        pool_size: int = 20,
        max_client_conn: int = 500,
        aliases: Mapping[str, tuple[str, int]] | None = None,
    ) -> None:
        self.root = root
        #: The server PgBouncer logs in to: a socket folder (``/…``) or a host name.
        self.server_host = server_host
        self.server_port = server_port
        #: User name -> password for the server login (None: trusted socket, no password).
        self.users: dict[str, str | None] = dict(
            users if users is not None else dict.fromkeys((roles.APP, roles.OWNER, SUPERUSER))
        )
        self.port = port
        #: Server connections per (database, user) pair.
        self.pool_size = pool_size
        self.max_client_conn = max_client_conn
        #: Extra database names: alias -> (real database, pool size). A pool of one server
        #: connection shows what one client leaves behind for the next.
        self.aliases = dict(aliases or {})
        self.socket_dir = _short_socket_dir(root)
        self.ini_file = root / "pgbouncer.ini"
        self.auth_file = root / "userlist.txt"
        self.pid_file = root / "pgbouncer.pid"
        self.log_file = root / "pgbouncer.log"

    @classmethod
    def in_front_of(
        cls,
        cluster: EmbeddedCluster,
        *,
        users: Iterable[str] = (roles.APP, roles.OWNER, SUPERUSER),
        **options: Any,
    ) -> PgBouncer:
        """A PgBouncer for ``cluster``'s socket (its local roles need no password), in a
        new temporary folder. ``options`` are the constructor's (``pool_size``, …)."""
        return cls.for_server(
            str(cluster.socket_dir), cluster.port, users=dict.fromkeys(users), **options
        )

    @classmethod
    def for_server(
        cls,
        host: str,
        port: int,
        *,
        users: Mapping[str, str | None],
        root: Path | None = None,
        **options: Any,
    ) -> PgBouncer:
        """A PgBouncer for the server at ``host`` (a socket folder or a host name) and
        ``port``, in ``root`` or a new temporary folder."""
        folder = root or Path(tempfile.mkdtemp(prefix="bahr-pgbouncer-"))
        return cls(folder, host, port, users=users, **options)

    # -- addresses --------------------------------------------------------------------------
    def url(self, database: str, user: str = roles.APP) -> URL:
        """A socket URL through PgBouncer (use it with ``DATABASE_POOLER=transaction``);
        clients of the private socket are trusted, so it carries no password."""
        return URL.create(
            "postgresql+psycopg",
            username=user,
            database=database,
            query={"host": str(self.socket_dir), "port": str(self.port)},
        )

    def conninfo(self, database: str, user: str = roles.APP) -> str:
        return make_conninfo(
            "", host=str(self.socket_dir), port=self.port, user=user, dbname=database
        )

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """A connection to the admin console (``SHOW POOLS``, ``SHOW SERVERS``, ``SHOW
        CONFIG``). The console takes simple queries only: run statements without
        parameters, which psycopg sends as simple queries."""
        return psycopg.connect(
            self.conninfo(ADMIN_DATABASE, SUPERUSER),
            autocommit=True,
            connect_timeout=3,
            prepare_threshold=None,
        )

    # -- state ------------------------------------------------------------------------------
    def pid(self) -> int | None:
        """The running process's id, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def is_running(self) -> bool:
        if self.pid() is None:
            return False
        try:
            with self.admin():
                return True
        except psycopg.OperationalError:
            return False

    def _log_tail(self, lines: int = 20) -> str:
        if not self.log_file.is_file():
            return ""
        tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        return "\n--- pgbouncer.log ---\n" + "\n".join(tail)

    # -- configuration ----------------------------------------------------------------------
    def config(self) -> str:
        """The ``pgbouncer.ini`` this harness writes."""
        server = f"host={_quote(self.server_host)} port={self.server_port}"
        databases = [
            f"{alias} = {server} dbname={_quote(real)} pool_size={size}"
            for alias, (real, size) in self.aliases.items()
        ]
        databases.append(f"* = {server}")
        settings = {
            "pool_mode": "transaction",
            # No listen_addr: no TCP port at all, only the private socket.
            "listen_port": str(self.port),
            "unix_socket_dir": str(self.socket_dir),
            "unix_socket_mode": "0700",
            "auth_type": "trust",
            "auth_file": str(self.auth_file),
            "admin_users": SUPERUSER,
            "pidfile": str(self.pid_file),
            "logfile": str(self.log_file),
            "default_pool_size": str(self.pool_size),
            "max_client_conn": str(self.max_client_conn),
            # Session state left by a client is the application's to neutralise; the
            # pooler suite proves that it does, against this (default) configuration.
            "server_reset_query_always": "0",
            # After the server restarts, log in again within a second (default 15 s).
            "server_login_retry": "1",
            "server_connect_timeout": "5",
            "query_wait_timeout": "30",
            "log_connections": "0",
            "log_disconnections": "0",
        }
        lines = ["[databases]", *databases, "", "[pgbouncer]"]
        lines += [f"{key} = {value}" for key, value in settings.items()]
        return "\n".join(lines) + "\n"

    def _write_private(self, path: Path, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            if (user := _service_user()) is not None:
                os.fchown(handle.fileno(), user.pw_uid, user.pw_gid)
            handle.write(text)

    def _prepare(self) -> None:
        user = _service_user()
        for folder in (self.root, self.socket_dir):
            _private_folder(folder, user)
        self._write_private(self.ini_file, self.config())
        # The admin console's user is listed too; it never logs in to the server.
        users = {SUPERUSER: None, **self.users}
        entries = [
            f'"{name}" "{(password or "").replace(chr(34), chr(34) * 2)}"'
            for name, password in users.items()
        ]
        self._write_private(self.auth_file, "\n".join(entries) + "\n")

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, *, stop_with_pid: int | None = None, timeout: float = 15) -> bool:
        """Start PgBouncer (daemonised) and wait until it accepts connections.

        Returns False when it was already running. With ``stop_with_pid`` a watchdog stops
        it and removes its folders once that process has exited, even by SIGKILL.
        """
        if self.is_running():
            return False
        self._prepare()
        argv = [find_pgbouncer(), "--daemon", "--quiet", str(self.ini_file)]
        if (user := _service_user()) is not None:
            argv = ["runuser", "-u", user.pw_name, "--", *argv]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        if proc.returncode != 0:
            raise RuntimeError(
                f"pgbouncer failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
                + self._log_tail()
            )
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("PgBouncer started but accepts no connection" + self._log_tail())
            time.sleep(0.02)
        if stop_with_pid is not None:
            self._spawn_watchdog(stop_with_pid)
        return True

    def stop(self, *, timeout: float = 10) -> bool:
        """Stop at once (SIGTERM: open client connections are cut, as in a crash or a
        redeploy); returns whether it was running."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)
        return True

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop PgBouncer and remove its folders."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        if self.socket_dir.parent != self.root:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def _spawn_watchdog(self, pid: int) -> None:
        spawn_watchdog("app.db.pooler", pid, self.root)


def watch(pid: int, root: Path, *, poll: float = 0.5) -> None:
    """Block until ``pid`` exits (or the folder is gone), then stop PgBouncer and remove its
    folders. Only the folder is needed: the pid file and socket folder follow from it."""
    bouncer = PgBouncer(root, "", 0)
    while pid_alive(pid) and root.is_dir():
        time.sleep(poll)
    if root.is_dir() or bouncer.socket_dir.is_dir():
        bouncer.destroy()


if __name__ == "__main__":  # pragma: no cover - exercised through the watchdog test
    if len(sys.argv) >= 4 and sys.argv[1] == "watch":
        watch(int(sys.argv[2]), Path(sys.argv[3]))
