"""``/metrics`` (Prometheus) and ``/healthz`` (the database answers; pool usage)."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from app.api.models import Health, PoolUsage
from app.db import base
from app.metrics.database_metrics import metrics_text

router = APIRouter(tags=["operations"])

#: ``/healthz`` answers within this many seconds, whatever the database does.
HEALTH_TIMEOUT_S = 2.0


def health_engines() -> dict[str, Engine]:
    """The engines ``/healthz`` reports on; the first one is the one it checks."""
    return {"write": base.engine, "read": base.read_engine}


def _pool_usage(engine: Engine) -> PoolUsage:
    pool = engine.pool
    if isinstance(pool, QueuePool):
        # QueuePool counts overflow from -size until its connections exist; show 0 then.
        return PoolUsage(
            size=pool.size(), checked_out=pool.checkedout(), overflow=max(0, pool.overflow())
        )
    return PoolUsage(size=0, checked_out=0, overflow=0)


def _ping(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics() -> PlainTextResponse:
    """Every metric of the process's Prometheus registry, in the text format."""
    return PlainTextResponse(metrics_text(), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "the database does not answer in time"}},
)
async def healthz(engines: Annotated[dict[str, Engine], Depends(health_engines)]) -> JSONResponse:
    """200 when the database answers ``SELECT 1`` within the timeout, else 503; never hangs
    (an exhausted pool or a silent server is a 503 after :data:`HEALTH_TIMEOUT_S`)."""
    checked = next(iter(engines.values()))
    database: Literal["ok", "unavailable", "timeout"] = "timeout"
    with anyio.move_on_after(HEALTH_TIMEOUT_S):
        ok = await anyio.to_thread.run_sync(_ping, checked, abandon_on_cancel=True)
        database = "ok" if ok else "unavailable"
    health = Health(
        status="ok" if database == "ok" else "unavailable",
        database=database,
        pools={name: _pool_usage(engine) for name, engine in engines.items()},
    )
    return JSONResponse(health.model_dump(), status_code=200 if database == "ok" else 503)
