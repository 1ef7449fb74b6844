"""SQLAlchemy declarative base and session management (the spec's contract).

``Base``, ``engine``, ``SessionLocal`` and ``get_db`` keep the spec's names. Creating the
engine does not connect: the first checkout does.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import Uuid

from app.config import Settings, get_settings

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
    url: URL | str | None = None, settings: Settings | None = None, *, pooled: bool = True
) -> Engine:
    """An engine configured from the settings: pool 5 + 10, pre-ping, timeouts.

    Statement and lock timeouts are sent as libpq startup options, so they cost no round
    trip and hold for every connection. ``pooled=False`` is for one-off work (the CLI's
    admin path): each connection is closed when released.
    """
    settings = settings or get_settings()
    options = []
    if settings.statement_timeout_ms:
        options.append(f"-c statement_timeout={settings.statement_timeout_ms}")
    if settings.lock_timeout_ms:
        options.append(f"-c lock_timeout={settings.lock_timeout_ms}")
    pool: dict[str, Any] = {"poolclass": NullPool}
    if pooled:
        pool = {
            "pool_size": settings.pool_size,
            "max_overflow": settings.max_overflow,
            "pool_timeout": settings.pool_timeout,
            "pool_pre_ping": settings.pool_pre_ping,
            "pool_recycle": settings.pool_recycle,
        }
    return create_engine(
        url if url is not None else settings.app_url(),
        echo=settings.echo,
        connect_args={"options": " ".join(options), "application_name": "bahr-db"},
        **pool,
    )


engine: Engine = make_engine()

#: Sessions do not expire loaded objects on commit: a repository that commits can return
#: its rows to the caller without a reload round trip.
SessionLocal: sessionmaker[Session] = sessionmaker(
    bind=engine, autoflush=False, expire_on_commit=False
)


def get_db() -> Iterator[Session]:
    """FastAPI dependency: one session per request, rolled back on error, always closed.

    Usage::

        @app.get("/users/{user_id}")
        def read_user(user_id: int, db: Session = Depends(get_db)): ...
    """
    db = SessionLocal()
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


def _instrument_application_engine() -> None:
    # Imported here: the metrics module reads Base.metadata for its table labels.
    from app.metrics.database_metrics import instrument

    if get_settings().metrics_enabled:
        instrument(engine)


_instrument_application_engine()
