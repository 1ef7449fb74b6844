"""PostgreSQL's client tools (pg_dump, pg_restore, psql) run without a secret in any argv.

Any local user can read every process's command line (``ps``, ``/proc/<pid>/cmdline``). So
the tools get a connection URI with no password in it, neither in the user info nor in a
``?password=`` / ``?sslpassword=`` query, and the secrets travel in files of a private
temporary folder (mode 0700, files 0600) named by the environment: the password in a
``PGPASSFILE``, an ``sslpassword`` in a ``PGSERVICEFILE``. ``PGPASSWORD`` is not used: libpq's
own documentation advises against it, since some systems show a process's environment.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL

from app.config import SECRET_QUERY_PARAMETERS
from app.errors import BahrDataError


@dataclass(frozen=True)
class ClientTarget:
    """Where a client tool connects: a connection string safe for argv, and the secrets."""

    conninfo: str
    secrets: dict[str, str] = field(default_factory=dict, repr=False)


def client_target(url: URL) -> ClientTarget:
    """Split ``url`` into a libpq connection string without secrets, and the secrets.

    A ``key=value`` string rather than a URI: libpq does not read ``+`` in a URI's query as
    a space, so a socket folder with a space in its path only survives this way.
    """
    secrets: dict[str, str] = {}
    if url.password is not None:
        secrets["password"] = str(url.password)
    params: dict[str, str] = {}
    for key, value in (
        ("user", url.username),
        ("host", url.host),
        ("port", url.port),
        ("dbname", url.database),
    ):
        if value is not None:
            params[key] = str(value)
    for key, values in url.query.items():
        value = values if isinstance(values, str) else values[-1]
        if key in SECRET_QUERY_PARAMETERS:
            secrets[key] = value
        else:
            params[key] = value
    return ClientTarget(make_conninfo("", **params), secrets)


def _private_file(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)


def _pgpass_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


@contextlib.contextmanager
def client_environment(target: ClientTarget) -> Iterator[tuple[dict[str, str], Path]]:
    """(the environment for a client tool, a private folder for its other files)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD", "PGSERVICE")}
    for name, value in target.secrets.items():
        if "\n" in value or "\r" in value:
            raise BahrDataError(f"a {name} with a line break cannot be passed to pg tools")
    with tempfile.TemporaryDirectory(prefix="bahr-pg-") as folder:
        private = Path(folder)
        os.chmod(private, 0o700)
        if (password := target.secrets.get("password")) is not None:
            _private_file(private / "pgpass", f"*:*:*:*:{_pgpass_field(password)}\n")
            env["PGPASSFILE"] = str(private / "pgpass")
        if (sslpassword := target.secrets.get("sslpassword")) is not None:
            if sslpassword != sslpassword.strip():
                raise BahrDataError("an sslpassword with spaces at its ends cannot be passed")
            _private_file(private / "pg_service.conf", f"[bahr]\nsslpassword={sslpassword}\n")
            env["PGSERVICEFILE"] = str(private / "pg_service.conf")
            env["PGSERVICE"] = "bahr"
        yield env, private
