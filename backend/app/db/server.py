"""The embedded PostgreSQL cluster: the default database when ``DATABASE_URL`` is not set.

* ``make run`` uses a persistent cluster in ``.bahr/pgdata`` (git-ignored), started or reused.
* ``make test`` uses a throwaway cluster in a temp folder, removed afterwards.

The server listens only on a Unix socket in a private folder (mode 0700, no TCP port), so
several clusters never collide and no other local user can connect. Binaries are looked up
via ``PG_BINDIR``, ``pg_config --bindir``, ``PATH`` and the usual install locations. As root,
``initdb`` and ``postgres`` refuse to run, so they run as an unprivileged system user.

A watchdog process stops the cluster (and removes a throwaway one) when the process that
started it dies, even by SIGKILL, so an interrupted run leaves no server behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL

from app.db import roles
from app.errors import BahrDataError, PostgresNotFound

MIN_VERSION = 15
SUPERUSER = "bahr"
DEFAULT_DATABASE = "bahr"
_PORT = 5432
_SOCKET_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS
_SERVICE_USERS = ("postgres", "nobody")

INSTALL_HINT = """\
No PostgreSQL {min} or later was found (looked in: {where}).
Get one of these, then run the command again:
  * Debian/Ubuntu:  sudo apt-get install postgresql postgresql-contrib
  * macOS:          brew install postgresql@16
  * A container:    docker compose up -d   (uses the repo's compose.yaml), then
                    export DATABASE_URL=postgresql://bahr:bahr@localhost:5432/bahr
Or point PG_BINDIR at the folder that holds initdb, pg_ctl and postgres."""


@dataclass(frozen=True)
class Binaries:
    bindir: Path
    version: int

    def tool(self, name: str) -> str:
        return str(self.bindir / name)


def _version_of(bindir: Path) -> int | None:
    exe = bindir / "postgres"
    if not all((bindir / t).is_file() for t in ("postgres", "initdb", "pg_ctl")):
        return None
    try:
        out = subprocess.run(
            [str(exe), "--version"], capture_output=True, text=True, check=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\) (\d+)", out)
    return int(match.group(1)) if match else None


def _candidate_bindirs() -> list[Path]:
    found: list[Path] = []
    if env := os.environ.get("PG_BINDIR"):
        found.append(Path(env))
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            found.append(Path(out))
    if pg_ctl := shutil.which("pg_ctl"):
        found.append(Path(pg_ctl).resolve().parent)
    patterns = (
        "/usr/lib/postgresql/*/bin",
        "/usr/pgsql-*/bin",
        "/opt/homebrew/opt/postgresql@*/bin",
        "/usr/local/opt/postgresql@*/bin",
        "/Applications/Postgres.app/Contents/Versions/*/bin",
    )
    for pattern in patterns:
        root = Path(pattern.split("*")[0]).parent
        glob = str(Path(pattern).relative_to(root))
        if root.is_dir():
            found.extend(sorted(root.glob(glob), reverse=True))
    found.append(Path("/usr/local/pgsql/bin"))
    return list(dict.fromkeys(found))


def find_binaries() -> Binaries:
    """The newest usable PostgreSQL ≥ 15 install, or :class:`PostgresNotFound`."""
    candidates = _candidate_bindirs()
    usable = [
        Binaries(d, v) for d in candidates if (v := _version_of(d)) is not None and v >= MIN_VERSION
    ]
    if not usable:
        where = ", ".join(str(c) for c in candidates) or "nowhere"
        raise PostgresNotFound(INSTALL_HINT.format(min=MIN_VERSION, where=where))
    return max(usable, key=lambda b: b.version)


def _service_user() -> pwd.struct_passwd | None:
    """The unprivileged account the server runs as when we are root; None when not root."""
    if os.geteuid() != 0:
        return None
    for name in _SERVICE_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresNotFound(
        "Running as root, but no unprivileged user (postgres or nobody) exists to run the "
        "server; create one with: useradd --system postgres"
    )


def _reachable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether ``user`` can traverse every ancestor of ``path`` (the folder may not exist)."""
    for parent in path.resolve().parents:
        st = parent.stat()
        if st.st_uid == user.pw_uid:
            continue
        if not st.st_mode & 0o001:
            return False
    return True


def _short_socket_dir(root: Path) -> Path:
    """A folder for the socket whose path fits in sun_path."""
    socket_dir = root / "run"
    if len(str(socket_dir / f".s.PGSQL.{_PORT}")) <= _SOCKET_MAX:
        return socket_dir
    digest = hashlib.sha1(str(root).encode(), usedforsecurity=False).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"bahr-sock-{digest}"


def _private_folder(folder: Path, user: pwd.struct_passwd | None) -> None:
    """Create ``folder`` with mode 0700, or take over one that we (or ``user``) own.

    Some of these folders have predictable names in shared places (``/tmp/bahr-sock-…``,
    ``/var/tmp/bahr-db-…``), where another local user could plant a symbolic link first. So
    the folder is created in one step (``mkdir`` fails rather than follow a link), opened
    with ``O_NOFOLLOW``, and checked, chowned and chmodded through that descriptor: a link
    is refused, and whatever it points to is never touched.
    """
    owners = {os.geteuid()} | ({user.pw_uid} if user is not None else set())
    folder.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    if folder.is_symlink():
        raise BahrDataError(f"{folder} is a symbolic link, which is never followed; remove it")
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP):
            raise BahrDataError(f"{folder} is not a folder; remove it or move it") from None
        raise
    try:
        if os.fstat(fd).st_uid not in owners:
            raise BahrDataError(f"{folder} belongs to another user; remove it or move it")
        if user is not None:
            os.fchown(fd, user.pw_uid, user.pw_gid)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


class EmbeddedCluster:
    """A private PostgreSQL cluster rooted at one folder (data, socket and log below it)."""

    def __init__(self, root: Path, *, throwaway: bool = False, tcp_port: int | None = None) -> None:
        self.root = root
        self.throwaway = throwaway
        #: Also listen on 127.0.0.1 at this port (password auth), for clients that can only
        #: speak TCP, such as the spec's own example test (``localhost:5432``).
        self.tcp_port = tcp_port
        self.port = tcp_port or _PORT
        self.data_dir = root / "pgdata"
        self.socket_dir = _short_socket_dir(root)
        self.log_file = root / "postgres.log"

    # -- construction -------------------------------------------------------------------
    @classmethod
    def persistent(cls, embedded_dir: Path) -> EmbeddedCluster:
        """The project's own cluster, in ``embedded_dir`` (``.bahr``) when the server user can
        reach it; as root inside a private home (``/root``), in ``/var/tmp`` instead."""
        user = _service_user()
        if user is not None and not _reachable_by(embedded_dir, user):
            digest = hashlib.sha1(str(embedded_dir).encode(), usedforsecurity=False).hexdigest()
            # Predictable but safe: _prepare_dirs refuses a folder someone else owns.
            return cls(Path("/var/tmp") / f"bahr-db-{digest[:12]}")  # noqa: S108
        return cls(embedded_dir)

    @classmethod
    def create_throwaway(cls, *, tcp_port: int | None = None) -> EmbeddedCluster:
        return cls(Path(tempfile.mkdtemp(prefix="bahr-test-")), throwaway=True, tcp_port=tcp_port)

    # -- state ----------------------------------------------------------------------------
    def url(self, database: str = DEFAULT_DATABASE, user: str = SUPERUSER) -> URL:
        """A socket URL; the socket folder is private, so local roles need no password."""
        return URL.create(
            "postgresql+psycopg",
            username=user,
            database=database,
            query={"host": str(self.socket_dir), "port": str(self.port)},
        )

    def conninfo(self, database: str = DEFAULT_DATABASE) -> str:
        return make_conninfo(
            "", host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname=database
        )

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def is_running(self) -> bool:
        if not self.initialized:
            return False
        try:
            with psycopg.connect(self.conninfo("postgres"), connect_timeout=3):
                return True
        except psycopg.OperationalError:
            return False

    # -- running commands -----------------------------------------------------------------
    def _run(self, argv: list[str], *, timeout: float = 120) -> None:
        user = _service_user()
        if user is not None:
            argv = ["runuser", "-u", user.pw_name, "--", *argv]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{Path(argv[0 if user is None else 4]).name} failed ({proc.returncode}):\n"
                f"{proc.stdout}{proc.stderr}{self._log_tail()}"
            )

    def _log_tail(self, lines: int = 20) -> str:
        if not self.log_file.is_file():
            return ""
        tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        return "\n--- postgres.log ---\n" + "\n".join(tail)

    def _prepare_dirs(self) -> None:
        user = _service_user()
        for folder in (self.root, self.socket_dir):
            _private_folder(folder, user)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, *, database: str = DEFAULT_DATABASE, stop_with_pid: int | None = None) -> bool:
        """Start the cluster (initialising it on first use) and make sure ``database`` exists.

        Returns True when this call started the server, False when it was already running
        and is reused. With ``stop_with_pid`` a watchdog stops the server (and removes a
        throwaway cluster) once that process has exited.
        """
        bins = find_binaries()
        self._prepare_dirs()
        started = False
        if not self.is_running():
            if not self.initialized:
                self._initdb(bins)
            self._pg_ctl_start(bins)
            started = True
            if stop_with_pid is not None:
                self._spawn_watchdog(stop_with_pid)
        self.ensure_database(database)
        return started

    def _initdb(self, bins: Binaries) -> None:
        self._run(
            [
                bins.tool("initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER,
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                # C collation for fast btree order; C.UTF-8 classification so the text
                # search parser and pg_trgm know which characters are Arabic letters.
                "--lc-collate",
                "C",
                "--lc-ctype",
                "C.UTF-8",
                "--no-instructions",
            ]
        )

    def _server_options(self) -> str:
        # The socket file is named after the port; with no TCP listener, 5432 clashes with
        # nothing, since each cluster has its own socket folder.
        listen = "127.0.0.1" if self.tcp_port else "''"
        opts = [
            f"-c listen_addresses={listen}",
            f"-p {self.port}",
            # pg_ctl hands these options to a shell: quote the path (it may hold a space).
            f"-k {shlex.quote(str(self.socket_dir))}",
            "-c unix_socket_permissions=0700",
            "-c max_connections=100",
            "-c shared_buffers=128MB",
        ]
        if self.throwaway:
            # A test cluster lives for minutes; durability across an OS crash is not needed.
            opts += ["-c fsync=off", "-c full_page_writes=off"]
        return " ".join(opts)

    def _pg_ctl_start(self, bins: Binaries) -> None:
        self._run(
            [
                bins.tool("pg_ctl"),
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_file),
                "--wait",
                "--timeout",
                "60",
                "--options",
                self._server_options(),
                "start",
            ]
        )
        deadline = time.monotonic() + 30
        while not self.is_running():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "PostgreSQL started but accepts no connection" + self._log_tail()
                )
            time.sleep(0.05)

    def ensure_database(self, database: str) -> None:
        """Create ``database`` if missing, with the owner and application roles set up."""
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if exists.fetchone() is None:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                        psycopg.sql.Identifier(database)
                    )
                )
        with psycopg.connect(self.conninfo(database), autocommit=True) as conn:
            for statement in roles.setup_statements(database):
                conn.execute(statement.encode())

    def stop(self, mode: str = "fast") -> bool:
        """Stop the server if it runs; returns whether it was running."""
        if not self.is_running():
            return False
        self._run(
            [find_binaries().tool("pg_ctl"), "--pgdata", str(self.data_dir), "-m", mode, "stop"]
        )
        return True

    def destroy(self) -> None:
        """Stop the server and remove every file of the cluster."""
        with contextlib.suppress(RuntimeError, PostgresNotFound):
            self.stop("immediate" if self.throwaway else "fast")
        shutil.rmtree(self.root, ignore_errors=True)
        if self.socket_dir.parent != self.root:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def _spawn_watchdog(self, pid: int) -> None:
        extra = ["--throwaway"] if self.throwaway else []
        spawn_watchdog("app.db.server", pid, self.root, *extra)


def spawn_watchdog(module: str, pid: int, root: Path, *extra: str) -> None:
    """Start ``python -m <module> watch <pid> <root> <extra…>`` in a session of its own,
    detached from this process's terminal and output, so that it outlives a SIGKILL of
    ``pid`` and then cleans up (the cluster's, PgBouncer's and the standby's watchdogs)."""
    subprocess.Popen(
        [sys.executable, "-m", module, "watch", str(pid), str(root), *extra],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=str(Path(__file__).resolve().parents[2]),
    )


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (an exited one that nobody reaped yet is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        # /proc/PID/stat: "pid (comm) state ...". A daemon's parent is init, which in a
        # container may never reap it: a zombie answers kill(0) but serves nobody.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def watch(pid: int, root: Path, *, throwaway: bool, poll: float = 0.5) -> None:
    """Block until ``pid`` exits (or the cluster folder is gone), then clean up."""
    cluster = EmbeddedCluster(root, throwaway=throwaway)
    while pid_alive(pid) and cluster.initialized:
        time.sleep(poll)
    if not cluster.initialized:
        return
    if throwaway:
        cluster.destroy()
    else:
        with contextlib.suppress(RuntimeError, PostgresNotFound):
            cluster.stop()


if __name__ == "__main__":  # pragma: no cover - exercised through the watchdog test
    if len(sys.argv) >= 4 and sys.argv[1] == "watch":
        watch(int(sys.argv[2]), Path(sys.argv[3]), throwaway="--throwaway" in sys.argv)
