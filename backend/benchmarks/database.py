"""The benchmark's own database: a throwaway embedded cluster, migrated, as the app uses it.

Never ``DATABASE_URL``: every run starts a fresh cluster (so runs are reproducible and no
real data is touched), points ``DATABASE_URL`` / ``MIGRATION_DATABASE_URL`` at it *before*
``app.db.base`` is imported (its module-level engine reads the settings at import), builds
the schema with the real Alembic migrations as the owner role, and removes the cluster at
the end (a watchdog removes it too if the run is killed).

The throwaway cluster runs like the test cluster: ``fsync=off``, ``full_page_writes=off``,
``shared_buffers=128MB``, over a private Unix socket.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy.engine import URL

from app.config import libpq_url

if TYPE_CHECKING:
    from app.db.server import EmbeddedCluster

BACKEND_DIR = Path(__file__).resolve().parents[1]
DATABASE = "bahr_bench"


@dataclass
class BenchDatabase:
    cluster: EmbeddedCluster
    name: str
    app_url: URL
    owner_url: URL
    admin_url: URL
    _engines: list[Any] = field(default_factory=list)

    @property
    def app_dsn(self) -> str:
        return libpq_url(self.app_url)

    @property
    def owner_dsn(self) -> str:
        return libpq_url(self.owner_url)

    @property
    def admin_dsn(self) -> str:
        return libpq_url(self.admin_url)

    def owner(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A raw connection as the schema owner (set-up, VACUUM, TRUNCATE), autocommit."""
        return psycopg.connect(self.owner_dsn, autocommit=True, **kwargs)

    def admin(self) -> psycopg.Connection[Any]:
        """A raw superuser connection (server settings, statistics)."""
        return psycopg.connect(self.admin_dsn, autocommit=True)

    def app_raw(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A raw psycopg connection as the application role, with the app's startup options."""
        from app.config import get_settings

        settings = get_settings()
        options = []
        if settings.statement_timeout_ms:
            options.append(f"-c statement_timeout={settings.statement_timeout_ms}")
        if settings.lock_timeout_ms:
            options.append(f"-c lock_timeout={settings.lock_timeout_ms}")
        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self.app_dsn, options=" ".join(options), **kwargs)

    def install_rum(self) -> bool:
        """``CREATE EXTENSION rum`` as the superuser, before migrating (migration 0007 then
        builds the RUM search index), when the server has it. False: search runs on GIN."""
        with self.admin() as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'rum'"
            ).fetchone():
                return False
            conn.execute("CREATE EXTENSION IF NOT EXISTS rum")
        return True

    def server_version(self) -> str:
        with self.admin() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def restart(self) -> None:
        """Stop the server (fast shutdown) and start it again; pooled connections die."""
        self.cluster.stop("fast")
        self.cluster.start(database=self.name)

    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        engine = create_engine(self.owner_url, poolclass=NullPool)
        try:
            with engine.begin() as conn:
                cfg = Config(str(BACKEND_DIR / "alembic.ini"))
                cfg.attributes["configure_logger"] = False
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            engine.dispose()

    def destroy(self) -> None:
        self.cluster.destroy()


def start(name: str = DATABASE) -> BenchDatabase:
    """Start a throwaway cluster, create ``name`` with the roles, and point the app at it.

    Must run before anything imports ``app.db.base``.
    """
    from app.db.server import EmbeddedCluster

    if "app.db.base" in sys.modules:
        raise RuntimeError("app.db.base was imported before the benchmark database was set up")
    cluster = EmbeddedCluster.create_throwaway()
    try:
        cluster.start(database=name, stop_with_pid=os.getpid())
    except BaseException:
        cluster.destroy()
        raise
    return attach(cluster, name)


def attach(cluster: EmbeddedCluster, name: str = DATABASE) -> BenchDatabase:
    """Point the app's settings at ``name`` on the running ``cluster`` (the throwaway one of
    :func:`start`, or the search lab's kept one)."""
    from app.config import get_settings
    from app.db import roles

    app_url = cluster.url(name, user=roles.APP)
    owner_url = cluster.url(name, user=roles.OWNER)
    os.environ["DATABASE_URL"] = app_url.render_as_string(hide_password=False)
    os.environ["MIGRATION_DATABASE_URL"] = owner_url.render_as_string(hide_password=False)
    get_settings.cache_clear()
    return BenchDatabase(
        cluster=cluster,
        name=name,
        app_url=app_url,
        owner_url=owner_url,
        admin_url=cluster.url(name),
    )
