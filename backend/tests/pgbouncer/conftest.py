"""The pooler suite: PgBouncer in transaction pooling in front of the suite's database.

One PgBouncer (:class:`app.db.pooler.PgBouncer`) runs for the whole session, in front of a
database of its own (``<test db>_pgbouncer``, built by the real migrations), where the tests
commit: a transaction pooler has no savepoint-per-test isolation to offer across clients.
Besides the database itself it serves ``<db>_one``, the same database through a pool of
exactly one server connection, where whatever one client leaves behind meets the next.

PgBouncer is required: when it is not installed the suite fails with the install line.
``BAHR_SKIP_PGBOUNCER=1`` skips it instead, on purpose and visibly (``-ra`` lists it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL

from app.config import Settings
from app.db import roles
from app.db.base import make_engine
from app.db.database import Database
from app.db.pooler import PgBouncer, PgBouncerNotFound, find_pgbouncer
from tests.conftest import migrated_database

#: The statement timeout of the pooler suite's engines (short, so a test that proves it
#: waits little).
STATEMENT_TIMEOUT_MS = 300
LOCK_TIMEOUT_MS = 100


@dataclass(frozen=True)
class Pooled:
    """The pooler suite's database, directly and through PgBouncer."""

    bouncer: PgBouncer
    database: str
    #: Direct, as the owner: set-up and checks, never through the pooler.
    owner: Engine
    #: The application's settings behind the pooler (``DATABASE_POOLER=transaction``).
    settings: Settings

    def url(self, *, single: bool = False) -> URL:
        """The application role's URL through PgBouncer (``single``: the one-connection pool)."""
        return self.bouncer.url(self.single if single else self.database, roles.APP)

    @property
    def single(self) -> str:
        return f"{self.database}_one"

    def engine(self, *, single: bool = False, read_only: bool = False, **changes: object) -> Engine:
        """An application engine through PgBouncer, built exactly as in production."""
        settings = self.settings.model_copy(update=changes) if changes else self.settings
        return make_engine(self.url(single=single), settings, read_only=read_only)

    def database_object(self) -> Database:
        """The application's :class:`Database` behind the pooler (as from the settings)."""
        return Database.from_settings(self.settings, name="pgbouncer")


def _require_pgbouncer() -> None:
    if os.environ.get("BAHR_SKIP_PGBOUNCER") == "1":
        pytest.skip("BAHR_SKIP_PGBOUNCER=1: the PgBouncer suite is skipped on request")
    try:
        find_pgbouncer()
    except PgBouncerNotFound as exc:
        pytest.fail(f"{exc}\n(or set BAHR_SKIP_PGBOUNCER=1 to skip this suite)", pytrace=False)


@pytest.fixture(scope="session")
def pooled() -> Iterator[Pooled]:
    _require_pgbouncer()
    owner_url, app_url = migrated_database("pgbouncer")
    database = owner_url.database or ""
    host = owner_url.query.get("host") or owner_url.host or "localhost"
    port = int(owner_url.query.get("port") or owner_url.port or 5432)  # type: ignore[arg-type]
    bouncer = PgBouncer.for_server(
        str(host),
        port,
        users={roles.APP: app_url.password, roles.OWNER: owner_url.password},
        aliases={f"{database}_one": (database, 1)},
    )
    bouncer.start(stop_with_pid=os.getpid())
    owner = create_engine(owner_url)
    settings = Settings(
        _env_file=None,
        database_url=bouncer.url(database).render_as_string(hide_password=False),
        migration_database_url=owner_url.render_as_string(hide_password=False),
        database_pooler="transaction",
        statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        lock_timeout_ms=LOCK_TIMEOUT_MS,
        pool_timeout=20,
        metrics_enabled=False,
    )
    try:
        yield Pooled(bouncer, database, owner, settings)
    finally:
        owner.dispose()
        bouncer.destroy()
