"""Test database set-up: real PostgreSQL, built once by the real migrations.

* With no ``DATABASE_URL``, a throwaway embedded cluster is started for the session and
  removed afterwards (a watchdog removes it even if pytest is killed).
* With ``DATABASE_URL`` set, the tests never touch that database: they create
  ``<name>_test`` beside it (``TEST_DATABASE_URL`` overrides the choice).

The environment is fixed *before* any ``app`` module is imported, so ``app.db.base.engine``
points at the test database too. Each test then runs inside a transaction that is rolled back
at the end; sessions join it with ``join_transaction_mode="create_savepoint"``, so repository
commits release a savepoint instead of committing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from app.config import libpq_url
from app.db import roles
from app.db.server import EmbeddedCluster

SPEC_TCP_PORT = 5432  # the spec's own example test connects to localhost:5432


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As PostgreSQL itself does: a port in TIME_WAIT is free to listen on.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _recreate_database(admin: URL, name: str, owner: str | None = None) -> None:
    with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        create = sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
            sql.Identifier(name)
        )
        if owner:
            create = sql.SQL("{} OWNER {}").format(create, sql.Identifier(owner))
        conn.execute(create)


def _spec_fixture_database(cluster: EmbeddedCluster) -> None:
    """What the spec's example test expects: role ``test``/``test`` owning ``test_db``."""
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'test') THEN "
            "CREATE ROLE test LOGIN PASSWORD 'test'; END IF; END $$"
        )
    _recreate_database(cluster.url("postgres"), "test_db", owner="test")


_cluster: EmbeddedCluster | None = None
_TCP_PASSWORDS = roles.RolePasswords(owner=secrets.token_urlsafe(16), app=secrets.token_urlsafe(16))
#: Superuser (or CREATEDB + CREATEROLE) URL of the test database, for set-up only.
ADMIN_URL: URL


def _is_socket(url: URL) -> bool:
    host = url.query.get("host") or url.host or ""
    return isinstance(host, str) and host.startswith("/")


def fresh_database(name: str) -> tuple[URL, URL]:
    """(Re)create database ``name`` beside the test database, with the two roles set up.

    Returns (owner URL, application URL). Over TCP the roles get random passwords, one
    pair per test session (roles belong to the whole server, not to one database); over the
    embedded cluster's private socket they need none.
    """
    admin = ADMIN_URL.set(database=name)
    _recreate_database(ADMIN_URL.set(database="postgres"), name)
    passwords = roles.RolePasswords() if _is_socket(admin) else _TCP_PASSWORDS
    with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
        for statement in roles.setup_statements(name, passwords):
            conn.execute(statement.encode())
    return (
        admin.set(username=roles.OWNER, password=passwords.owner),
        admin.set(username=roles.APP, password=passwords.app),
    )


def _set_up_environment() -> None:
    global _cluster, ADMIN_URL  # noqa: PLW0603 - one cluster per test session
    if os.environ.get("TEST_DATABASE_URL"):
        ADMIN_URL = make_url(os.environ["TEST_DATABASE_URL"])
    elif os.environ.get("DATABASE_URL", "").strip():
        given = make_url(os.environ["DATABASE_URL"])
        ADMIN_URL = given.set(database=f"{given.database}_test")
    else:
        port = SPEC_TCP_PORT if _port_free(SPEC_TCP_PORT) else None
        _cluster = EmbeddedCluster.create_throwaway(tcp_port=port)
        try:
            _cluster.start(stop_with_pid=os.getpid())
        except BaseException:
            _cluster.destroy()  # a server that never started has no watchdog to remove it
            raise
        if port:
            _spec_fixture_database(_cluster)
        ADMIN_URL = _cluster.url("bahr_test")
    owner_url, app_url = fresh_database(ADMIN_URL.database or "bahr_test")
    # The whole suite runs as the application role; migrations run as the owner.
    os.environ["DATABASE_URL"] = app_url.render_as_string(hide_password=False)
    os.environ["MIGRATION_DATABASE_URL"] = owner_url.render_as_string(hide_password=False)


_set_up_environment()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _cluster is not None:
        _cluster.destroy()


# -- fixtures ----------------------------------------------------------------------------
# Imported only now: the environment above decides which database the app's engine uses.
from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy import Connection, Engine, create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from app.config import get_settings  # noqa: E402

BACKEND_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Bytecode of the tests' child interpreters (``PYTHONPYCACHEPREFIX``), kept between runs
#: inside the checkout: a fixed name in the shared temp folder could be planted by another
#: local user, and every child would then load that user's bytecode.
CHILD_PYCACHE = os.path.join(BACKEND_DIR, ".pytest-pycache")


def make_alembic_config(connection: Connection | Engine | None = None) -> Config:
    cfg = Config(os.path.join(BACKEND_DIR, "alembic.ini"))
    cfg.attributes["configure_logger"] = False
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@pytest.fixture(scope="session")
def database_url() -> URL:
    """The test database, as the application role."""
    return get_settings().app_url()


@pytest.fixture(scope="session")
def owner_url() -> URL:
    """The test database, as the schema owner (migrations, reference data, ANALYZE)."""
    return get_settings().migration_url()


def migrate(owner: URL, revision: str = "head") -> None:
    """``alembic upgrade`` on the database at ``owner`` (the schema owner's URL)."""
    eng = create_engine(owner, poolclass=NullPool)
    with eng.begin() as conn:
        command.upgrade(make_alembic_config(conn), revision)
    eng.dispose()


def migrated_database(suffix: str, revision: str = "head") -> tuple[URL, URL]:
    """:func:`fresh_database` ``<test db>_<suffix>``, migrated; (owner URL, app URL)."""
    owner, app_url = fresh_database(f"{ADMIN_URL.database}_{suffix}")
    migrate(owner, revision)
    return owner, app_url


@pytest.fixture(scope="session")
def migrated(owner_url: URL) -> URL:
    """The test database, built once by ``alembic upgrade head`` run as the owner."""
    migrate(owner_url)
    return owner_url


@pytest.fixture(scope="session")
def engine(database_url: URL, migrated: URL) -> Iterator[Engine]:
    """An engine on the migrated test database, as the application role."""
    eng = create_engine(database_url, pool_size=20, max_overflow=10)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def owner_engine(migrated: URL) -> Iterator[Engine]:
    eng = create_engine(migrated)
    yield eng
    eng.dispose()


def _rolled_back(eng: Engine) -> Iterator[Connection]:
    with eng.connect() as conn:
        trans = conn.begin()
        try:
            yield conn
        finally:
            with contextlib.suppress(Exception):
                trans.rollback()


def _session(conn: Connection) -> Iterator[Session]:
    session = Session(
        bind=conn,
        join_transaction_mode="create_savepoint",
        autoflush=False,
        expire_on_commit=False,
    )
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection (application role) inside a transaction rolled back after the test."""
    yield from _rolled_back(engine)


@pytest.fixture
def owner_connection(owner_engine: Engine) -> Iterator[Connection]:
    """The same, as the schema owner: for rules on tables the application may only read."""
    yield from _rolled_back(owner_engine)


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    """An ORM session whose commits only release savepoints of the test's transaction."""
    yield from _session(connection)


@pytest.fixture
def owner_db(owner_connection: Connection) -> Iterator[Session]:
    yield from _session(owner_connection)


@pytest.fixture
def use_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[URL, URL], None]]:
    """Point the settings, and so the CLI, at another database: ``use(owner URL, app URL)``.

    The settings are read again after each call and once more after the test."""

    def use(owner: URL, app_url: URL) -> None:
        monkeypatch.setenv("DATABASE_URL", app_url.render_as_string(hide_password=False))
        monkeypatch.setenv("MIGRATION_DATABASE_URL", owner.render_as_string(hide_password=False))
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()
