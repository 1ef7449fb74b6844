"""Engines configured like the application's, with one thing changed at a time: the
references that show what a shipped choice saves (SQLAlchemy's round-trip pre-ping, no
liveness check at all)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.metrics import database_metrics


def app_engine_instrumented() -> bool:
    from app.db.base import engine

    return database_metrics.is_instrumented(engine)


def make(
    *,
    pre_ping: bool | None = None,
    ping: str | None = None,
    read_only: bool = False,
    instrumented: bool | None = None,
) -> Engine:
    """An engine built by ``app.db.base.make_engine`` from the app's settings, with one
    thing changed (``pool_pre_ping``, ``pool_ping``). ``instrumented`` defaults to whatever
    the application's own engine is, so that a comparison changes one thing only."""
    from app.config import get_settings
    from app.db import base

    settings = get_settings()
    update: dict[str, Any] = {}
    if pre_ping is not None:
        update["pool_pre_ping"] = pre_ping
    if ping is not None:
        update["pool_ping"] = ping
    engine = base.make_engine(settings=settings.model_copy(update=update), read_only=read_only)
    if instrumented is None:
        instrumented = app_engine_instrumented()
    if instrumented:
        database_metrics.instrument(engine)
    return engine


def sessions(engine: Engine) -> Callable[[], Session]:
    """Sessions configured as ``SessionLocal``'s, on ``engine``."""
    from app.db.base import SessionLocal

    return functools.partial(SessionLocal, bind=engine)


def dispose(engine: Engine) -> None:
    database_metrics.uninstrument(engine)
    engine.dispose()
