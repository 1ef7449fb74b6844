"""SQLAlchemy declarative base and session management (the spec's contract).

``Base``, ``engine``, ``SessionLocal`` and ``get_db`` keep the spec's names. ``engine`` and
``SessionLocal`` (and ``read_engine``, ``ReadSessionLocal``) are those of the process's
default :class:`app.db.database.Database`, built on first use: importing this module builds
no engine and attaches no listener, and building the engine does not connect.

Beside them, ``read_engine``, ``ReadSessionLocal`` and ``get_read_db`` serve requests that
only read: their connections are in autocommit and read-only (``default_transaction_read_only``
set at connection start), so a one-query request costs one round trip instead of three
(``BEGIN``, the query, ``ROLLBACK``), and a write through them is refused by the server
itself, not only by Python. Behind a transaction pooler (``DATABASE_POOLER=transaction``)
there is no session to hold such settings: see :func:`_per_transaction`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, MetaData, create_engine, event, exc
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import Uuid

from app.config import Settings, get_settings
from app.db.liveness import install_socket_check

#: Every index and constraint gets a stable, explicit name, so migrations never hold
#: ``None`` names and a downgrade never has to guess.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Typed declarative base: ``datetime`` is always ``timestamptz``, ``dict`` is JSONB."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - read once by Declarative
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        list[dict[str, Any]]: JSONB,
        uuid.UUID: Uuid(as_uuid=True),
    }


def make_engine(
    url: URL | str | None = None,
    settings: Settings | None = None,
    *,
    pooled: bool = True,
    read_only: bool = False,
    pooler: bool | None = None,
) -> Engine:
    """An engine configured from the settings: pool 5 + 10, liveness check, timeouts.

    Statement and lock timeouts are sent as libpq startup options, so they cost no round
    trip and hold for every connection. ``pooled=False`` is for one-off work (the CLI's
    admin path): each connection is closed when released. ``read_only=True`` makes every
    connection autocommit and read-only (for :data:`ReadSessionLocal`).

    ``pooler=True`` (default: ``DATABASE_POOLER=transaction``) is for a URL that goes
    through a transaction-pooling PgBouncer; see :func:`_per_transaction`.
    """
    settings = settings or get_settings()
    through_pooler = settings.database_pooler == "transaction" if pooler is None else pooler
    connect_args: dict[str, Any] = {"application_name": "bahr-db"}
    if through_pooler:
        # The pooler refuses ``options``; and each transaction may run on another server
        # connection, where psycopg's automatically prepared statements do not exist.
        connect_args["prepare_threshold"] = None
    else:
        options = []
        if settings.statement_timeout_ms:
            options.append(f"-c statement_timeout={settings.statement_timeout_ms}")
        if settings.lock_timeout_ms:
            options.append(f"-c lock_timeout={settings.lock_timeout_ms}")
        if read_only:
            options.append("-c default_transaction_read_only=on")
        connect_args["options"] = " ".join(options)
    extra: dict[str, Any] = {"poolclass": NullPool}
    socket_check = False
    if pooled:
        socket_check = settings.pool_pre_ping and settings.pool_ping == "socket"
        extra = {
            "pool_size": settings.pool_size,
            "max_overflow": settings.max_overflow,
            "pool_timeout": settings.pool_timeout,
            "pool_pre_ping": settings.pool_pre_ping and not socket_check,
            "pool_recycle": settings.pool_recycle,
        }
    if read_only and not through_pooler:
        extra["isolation_level"] = "AUTOCOMMIT"
    new_engine = create_engine(
        url if url is not None else settings.app_url(),
        echo=settings.echo,
        # An error's message (and so every traceback and log line) never carries the
        # statement's values: password hashes, emails, verses.
        hide_parameters=True,
        connect_args=connect_args,
        **extra,
    )
    if socket_check:
        install_socket_check(new_engine)
    if through_pooler:
        _per_transaction(new_engine, settings, read_only=read_only)
    elif read_only:
        _keep_read_only(new_engine)
    return new_engine


def _per_transaction(engine: Engine, settings: Settings, *, read_only: bool) -> None:
    """Timeouts and read-only mode for every transaction, with no session state at all.

    Behind a transaction-pooling PgBouncer a client's "session" is whichever server
    connection serves its current transaction, and whatever a client leaves on a server
    connection (``SET statement_timeout = 0``, ``SET default_transaction_read_only =
    off``) reaches the next client that gets it. So nothing here is a session setting:

    * every transaction begins ``BEGIN READ ONLY`` on a read engine and ``BEGIN READ
      WRITE`` on the others (psycopg's ``read_only``, part of the ``BEGIN`` it sends
      anyway: no round trip), which overrides any ``default_transaction_read_only`` that
      another client left behind;
    * its first statement is ``SET LOCAL`` of both timeouts (one ``set_config(…, true)``
      query): one round trip per transaction, the price of timeouts that hold whatever
      the server connection's session says. (psycopg waits for the ``BEGIN``'s reply even
      in pipeline mode, so a pipeline does not save it.)

    A read engine is therefore not in autocommit behind the pooler: a read session is one
    read-only transaction (``BEGIN READ ONLY``, ``SET LOCAL``, the queries, ``ROLLBACK``),
    not one round trip per query.
    """
    statement_ms, lock_ms = int(settings.statement_timeout_ms), int(settings.lock_timeout_ms)
    set_local = (
        f"SELECT set_config('statement_timeout', '{statement_ms}', true), "
        f"set_config('lock_timeout', '{lock_ms}', true)"
    )

    @event.listens_for(engine, "connect")
    def _begin_mode(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.read_only = read_only

    @event.listens_for(engine, "begin")
    def _set_local(conn: Connection) -> None:
        # Through the Connection (it does not begin again while beginning), so an error
        # here is wrapped, translated and, for a lost connection, invalidated like any other.
        conn.exec_driver_sql(set_local)


def _keep_read_only(engine: Engine) -> None:
    """A read connection that was switched to read-write never serves another checkout.

    ``SET default_transaction_read_only = off`` is allowed to any role, and a session
    setting outlives the request on a pooled connection. The server reports this setting's
    every change to the client (a ``ParameterStatus`` message, PostgreSQL 14 and later), so
    checking it costs no round trip: a connection that is no longer read-only is discarded
    and a fresh one is checked out. Where the server does not report it (an older server),
    the setting is simply set again, at the cost of one round trip. (Behind a transaction
    pooler this listener is not used: :func:`_per_transaction`.)

    This keeps a mistake in one request from reaching the next. It is not a security
    boundary: the application role may write anyway, and a request that runs raw SQL can
    switch its own connection back for its own duration (docs/security.md).
    """

    @event.listens_for(engine, "checkout")
    def _still_read_only(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        state = dbapi_connection.info.parameter_status("default_transaction_read_only")
        if state == "on":
            return
        if state is None:
            dbapi_connection.execute("SET default_transaction_read_only = on")
            return
        raise exc.DisconnectionError("a read-only connection was switched to read-write")


# -- the spec's names, as lazily created defaults ----------------------------------------------
# ``engine``, ``SessionLocal``, ``read_engine`` and ``ReadSessionLocal`` are those of the
# process's default :class:`app.db.database.Database`, built on first use: importing this
# module builds no engine and attaches no listener.
if TYPE_CHECKING:
    engine: Engine
    SessionLocal: sessionmaker[Session]
    read_engine: Engine
    ReadSessionLocal: sessionmaker[Session]

_DEFAULTS = frozenset({"engine", "SessionLocal", "read_engine", "ReadSessionLocal"})


def __getattr__(name: str) -> object:
    if name not in _DEFAULTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from app.db.database import get_database

    db = get_database()
    if name == "engine":
        return db.write_engine
    if name == "SessionLocal":
        return db.sessionmaker
    if name == "read_engine":
        return db.read_engines[0]
    return db.read_sessionmaker


def get_db() -> Iterator[Session]:
    """FastAPI dependency: one session per request, rolled back on error, always closed.

    Usage::

        @app.get("/users/{user_id}")
        def read_user(user_id: int, db: Session = Depends(get_db)): ...
    """
    from app.db.database import get_database

    yield from get_database().session_dependency()


def get_read_db() -> Iterator[Session]:
    """FastAPI dependency for read-only requests: like :func:`get_db`, on
    :data:`ReadSessionLocal` (one round trip per query; writes are refused)."""
    from app.db.database import get_database

    yield from get_database().read_session_dependency()
