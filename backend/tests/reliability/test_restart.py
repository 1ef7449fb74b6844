"""The server restarts while work is in flight: in-flight transactions fail cleanly, the next
call succeeds (pre-ping), no committed row is lost and no half-committed row appears."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import roles
from app.db.base import make_engine
from app.db.server import EmbeddedCluster
from app.errors import BahrDataError, DatabaseUnavailable
from app.repositories.analysis_repository import AnalysisRepository
from tests.conftest import migrate
from tests.reliability.conftest import STRESS
from tests.reliability.report import record

WORKERS = 4
RESTARTS = 3 if STRESS else 1


@pytest.fixture
def own_cluster() -> Iterator[EmbeddedCluster]:
    """A cluster this test may stop and start at will."""
    cluster = EmbeddedCluster.create_throwaway()
    cluster.start(database="restart", stop_with_pid=os.getpid())
    migrate(cluster.url("restart", user=roles.OWNER))
    yield cluster
    cluster.destroy()


def test_restart_mid_run_loses_nothing(own_cluster: EmbeddedCluster) -> None:
    engine = make_engine(
        own_cluster.url("restart", user=roles.APP), Settings(_env_file=None, pool_timeout=5)
    )
    committed: set[uuid.UUID] = set()
    uncertain: set[uuid.UUID] = set()  # the COMMIT itself failed: outcome unknown to us
    failures: list[str] = []
    unexpected: list[BaseException] = []
    stop = threading.Event()
    lock = threading.Lock()

    def work() -> None:
        while not stop.is_set():
            with Session(engine, expire_on_commit=False) as session:
                repo = AnalysisRepository(session)
                try:
                    created = repo.create({"original_text": "قفا نبك", "pattern": "//o/o"})
                except DatabaseUnavailable as exc:
                    with lock:
                        failures.append(exc.rule or "")
                    time.sleep(0.02)
                    continue
                except BahrDataError as exc:
                    unexpected.append(exc)
                    return
                with lock:
                    committed.add(created.id)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for _ in range(RESTARTS):
        time.sleep(0.5)
        own_cluster.stop("fast")
        own_cluster.start(database="restart")
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert unexpected == []
    assert failures, "no transaction was in flight during the restart"
    # The next call after the restart succeeds: pre-ping replaced the dead connections.
    with Session(engine) as session:
        assert AnalysisRepository(session).count() >= len(committed)
    engine.dispose()

    check = create_engine(own_cluster.url("restart"))
    with check.connect() as conn:
        stored = set(conn.execute(text("SELECT id FROM analyses")).scalars())
        created_events = conn.execute(
            text("SELECT count(*) FROM analysis_history WHERE event = 'created'")
        ).scalar_one()
    check.dispose()
    assert committed <= stored, "a committed row was lost"
    assert stored - committed <= uncertain, "a row appeared that nobody committed"
    assert created_events == len(stored), "an analysis without its history (half-committed)"
    record(
        "restart",
        restarts=RESTARTS,
        workers=WORKERS,
        committed=len(committed),
        failed_in_flight=len(failures),
        rows_checked=len(stored),
    )


@pytest.mark.parametrize(
    ("ping", "read_only"),
    [("socket", False), ("socket", True), ("roundtrip", False)],
)
def test_idle_pooled_connections_survive_a_restart(
    own_cluster: EmbeddedCluster, ping: str, read_only: bool
) -> None:
    """Every pooled connection is idle when the server restarts; the next requests, as many
    as the pool holds, all succeed because the liveness check replaces the dead ones."""
    settings = Settings(_env_file=None, pool_ping=ping)  # type: ignore[arg-type]
    engine = make_engine(own_cluster.url("restart", user=roles.APP), settings, read_only=read_only)
    sessions = [Session(engine) for _ in range(settings.pool_size)]
    for session in sessions:  # fill the pool with live connections
        session.execute(text("SELECT 1"))
    for session in sessions:
        session.close()
    assert engine.pool.checkedin() == settings.pool_size
    own_cluster.stop("fast")
    own_cluster.start(database="restart")
    try:
        for _ in range(settings.pool_size):
            with Session(engine) as session:
                assert AnalysisRepository(session).count() >= 0
    finally:
        engine.dispose()


def test_without_a_liveness_check_the_next_request_fails(own_cluster: EmbeddedCluster) -> None:
    """The control for the test above: with no check, a dead pooled connection reaches the
    caller. So the test above can fail, and the check is what makes it pass."""
    settings = Settings(_env_file=None, pool_pre_ping=False)
    engine = make_engine(own_cluster.url("restart", user=roles.APP), settings)
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
    own_cluster.stop("fast")
    own_cluster.start(database="restart")
    try:
        with Session(engine) as session, pytest.raises(DatabaseUnavailable):
            AnalysisRepository(session).count()
    finally:
        engine.dispose()
