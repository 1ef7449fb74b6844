"""Settings from the environment (and an optional ``.env`` file).

One ``DATABASE_URL`` drives everything. When it is not set, the URL of the project's
embedded PostgreSQL cluster is used instead (see :mod:`app.db.server`), so a fresh clone
needs no set-up.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

#: The repository root (``backend/..``); the embedded cluster lives below it.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

_DRIVER = "postgresql+psycopg"
#: Where a comma-separated ``READ_DATABASE_URL`` splits: only before another URL.
_URL_START = re.compile(r"\s*,\s*(?=postgres(?:ql)?(?:\+\w+)?://)")


def normalize_url(url: str | URL) -> URL:
    """Return ``url`` with the psycopg 3 driver named explicitly.

    Accepts ``postgresql://``, ``postgres://`` and ``postgresql+psycopg://``. Any other
    driver (``+psycopg2``, ``+asyncpg``) is refused, because this layer is built and
    tested on psycopg 3 only.
    """
    parsed = make_url(url) if isinstance(url, str) else url
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in {"postgresql", "postgres"}:
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, got scheme {backend!r}")
    if driver not in {"", "psycopg"}:
        raise ValueError(f"DATABASE_URL driver must be psycopg (3), got {driver!r}")
    return parsed.set(drivername=_DRIVER)


def libpq_url(url: URL) -> str:
    """``url`` as a libpq URI for psycopg or the pg tools in-process (socket ``host`` query
    included, password kept): never for an argv, which other users can read."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


#: Query parameters of a libpq URL whose values are secrets.
SECRET_QUERY_PARAMETERS = ("password", "sslpassword")


def mask_url(url: str | URL | None) -> str:
    """Render a URL for people: a password, in the user info or as a ``password`` /
    ``sslpassword`` query parameter, is replaced by ``***``."""
    if url is None:
        return "<not set>"
    parsed = make_url(url) if isinstance(url, str) else url
    hidden = {name: "***" for name in SECRET_QUERY_PARAMETERS if name in parsed.query}
    rendered = parsed.update_query_dict(hidden).render_as_string(hide_password=True)
    return rendered.replace("=%2A%2A%2A", "=***")


class Settings(BaseSettings):
    """All tunables of the data layer, read from ``BAHR_*``-free plain names."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str | None = Field(default=None, repr=False)
    migration_database_url: str | None = Field(default=None, repr=False)

    pool_size: int = Field(default=5, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for a connection")
    #: Check a pooled connection is alive before handing it out (see :mod:`app.db.liveness`).
    pool_pre_ping: bool = True
    #: ``socket``: ask the kernel whether the idle socket is readable, and ping only then (no
    #: round trip in the normal case); ``roundtrip``: SQLAlchemy's own pre-ping statement.
    pool_ping: Literal["socket", "roundtrip"] = "socket"
    pool_recycle: int = Field(default=1800, description="seconds; -1 disables")
    echo: bool = False
    #: ``transaction``: the URLs go through a transaction-pooling PgBouncer, so the engines
    #: send no startup options, prepare nothing server-side, and set the timeouts and the
    #: read-only mode in every transaction instead of the session (:mod:`app.db.base`).
    database_pooler: Literal["none", "transaction"] = "none"

    statement_timeout_ms: int = Field(default=30_000, ge=0, description="0 disables")
    lock_timeout_ms: int = Field(default=5_000, ge=0, description="0 disables")
    #: The most time one search may hold a connection (``SET LOCAL`` in its own transaction);
    #: past it the caller gets :class:`app.errors.SearchTooBroad`.
    search_timeout_ms: int = Field(default=1_000, ge=0, description="0 disables")
    slow_query_ms: float = Field(default=200.0, ge=0)
    metrics_enabled: bool = True

    #: Hot standbys that serve the reads (``get_read_db``, read sessions; see
    #: :mod:`app.db.replicas`): one URL, several separated by commas, or a JSON list of URLs.
    #: A comma splits only before the next ``postgresql://`` (or ``postgres://``), so a
    #: libpq multi-host URL stays whole. Unset: every read goes to the primary, as before.
    read_database_url: str | None = Field(default=None, repr=False)
    #: A replica whose replay is further behind than this is skipped (reads go elsewhere).
    replica_max_lag_s: float = Field(default=5.0, ge=0)
    #: How long a read with a read-your-writes token waits for a replica to replay up to
    #: it, before it reads from the primary instead.
    read_your_writes_wait_ms: float = Field(default=100.0, ge=0)
    #: A replica's lag is measured at most this often (one round trip, on a read's own
    #: connection).
    replica_check_interval_s: float = Field(default=1.0, ge=0)
    #: A replica that refused a connection or dropped one is not tried again for this long.
    replica_down_backoff_s: float = Field(default=5.0, ge=0)
    #: libpq ``connect_timeout`` of the replica engines (libpq waits at least 2 seconds).
    replica_connect_timeout_s: int = Field(default=2, ge=1)

    embedded_dir: Path = PROJECT_ROOT / ".bahr"

    @field_validator("database_url", "migration_database_url", "read_database_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def uses_embedded(self) -> bool:
        """True when no ``DATABASE_URL`` is given and the embedded cluster is the database."""
        return self.database_url is None

    def app_url(self) -> URL:
        """The application's URL, normalised to psycopg 3.

        The embedded cluster's application role is ``bahr_app`` (see :mod:`app.db.roles`).
        """
        if self.database_url is not None:
            return normalize_url(self.database_url)
        from app.db import roles
        from app.db.server import EmbeddedCluster

        return EmbeddedCluster.persistent(self.embedded_dir).url(user=roles.APP)

    def migration_url(self) -> URL:
        """Alembic's URL: ``MIGRATION_DATABASE_URL``, falling back to ``DATABASE_URL``.

        The embedded cluster's migrations run as the schema owner, ``bahr_owner``.
        """
        if self.migration_database_url is not None:
            return normalize_url(self.migration_database_url)
        if self.database_url is not None:
            return normalize_url(self.database_url)
        from app.db import roles
        from app.db.server import EmbeddedCluster

        return EmbeddedCluster.persistent(self.embedded_dir).url(user=roles.OWNER)

    def read_urls(self) -> list[URL]:
        """The replicas' URLs (``READ_DATABASE_URL``), normalised; empty when none is set."""
        if self.read_database_url is None:
            return []
        value = self.read_database_url.strip()
        urls = json.loads(value) if value.startswith("[") else _URL_START.split(value)
        return [normalize_url(url.strip()) for url in urls if url.strip()]

    def __repr__(self) -> str:
        return (
            f"Settings(database_url={mask_url(self.database_url)!r}, pool_size={self.pool_size}, "
            f"max_overflow={self.max_overflow})"
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
