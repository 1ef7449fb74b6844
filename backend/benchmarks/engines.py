"""Engines configured like the application's, with one thing changed at a time: the
references that show what a shipped choice saves (SQLAlchemy's round-trip pre-ping, no
liveness check at all)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


@dataclass(frozen=True)
class MetricsApi:
    instrument: Callable[..., Any]
    uninstrument: Callable[[Engine], Any]
    is_instrumented: Callable[[Engine], bool]


def metrics_api() -> MetricsApi | str:
    """``app.metrics.database_metrics`` if it has the expected API, else why not."""
    try:
        from app.metrics import database_metrics as dm
    except Exception as error:  # any import failure means "not available"
        return f"app.metrics.database_metrics cannot be imported ({type(error).__name__}: {error})"
    missing = [n for n in ("instrument", "uninstrument", "is_instrumented") if not hasattr(dm, n)]
    if missing:
        return f"app.metrics.database_metrics has no {', '.join(missing)}"
    params = list(inspect.signature(dm.instrument).parameters)
    if not params:
        return "app.metrics.database_metrics.instrument takes no engine argument"
    return MetricsApi(dm.instrument, dm.uninstrument, dm.is_instrumented)


def app_engine_instrumented() -> bool:
    from app.db.base import engine

    api = metrics_api()
    return isinstance(api, MetricsApi) and api.is_instrumented(engine)


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
    api = metrics_api()
    if instrumented and isinstance(api, MetricsApi):
        api.instrument(engine)
    return engine


def sessions(engine: Engine) -> sessionmaker[Session]:
    """A sessionmaker like ``SessionLocal``, on ``engine``."""
    return sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)


def dispose(engine: Engine) -> None:
    api = metrics_api()
    if isinstance(api, MetricsApi):
        from app.db.base import engine as app_engine

        if engine is not app_engine:
            api.uninstrument(engine)
    engine.dispose()
