"""The reliability mix (16 threads) through PgBouncer, and PgBouncer stopped mid-run.

The mix is the one of ``tests/reliability/test_concurrency.py`` at a small size, on the
production engine (pool 5 + 10) behind the pooler: its ledger must add up exactly, with no
error at all. Then PgBouncer is killed while writers run and started again: writes in flight
fail with a typed error, no committed write is lost, nothing half-committed appears, and
every pooled connection (all cut by the kill) is replaced on the next checkout.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import text

from app.errors import BahrDataError, DatabaseUnavailable
from app.repositories.analysis_repository import AnalysisRepository
from tests.pgbouncer.conftest import Pooled
from tests.reliability import test_concurrency as mix
from tests.reliability.conftest import ReliabilityDb
from tests.reliability.report import record

OPS_PER_THREAD = 20
WRITERS = 4


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_the_reliability_mix_adds_up_exactly_through_the_pooler(
    pooled: Pooled, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mix, "OPS_PER_THREAD", OPS_PER_THREAD)
    engine = pooled.engine()
    db = ReliabilityDb(pooled.owner.url, pooled.url(), pooled.owner, engine)
    try:
        users = mix.register_load_users(engine, "pgb_load")
        ledger = mix.run_mix(db, users, timeout=120)
    finally:
        engine.dispose()
    assert ledger.unexpected == []  # no prepared-statement error, no lost setting, nothing
    assert sum(ledger.ops.values()) + ledger.skipped == mix.THREADS * OPS_PER_THREAD
    mix.assert_ledger_adds_up(pooled.owner, users, ledger)


def test_pgbouncer_killed_mid_run_loses_no_committed_write(pooled: Pooled) -> None:
    database = pooled.database_object()
    run = uuid.uuid4().hex
    committed: set[str] = set()
    failures: list[str | None] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()
    stop = threading.Event()
    reads_after_restart = 0

    def write(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            token = f"{run}-{worker}-{n}"
            try:
                with database.transaction() as session:
                    AnalysisRepository(session).create(
                        {"original_text": f"قفا نبك {token}", "pattern": "//o/o"}
                    )
            except DatabaseUnavailable as exc:
                with lock:
                    failures.append(exc.rule)
                stop.wait(0.01)
                continue
            except BahrDataError as exc:
                unexpected.append(exc)
                return
            with lock:
                committed.add(token)

    threads = [threading.Thread(target=write, args=(k,), daemon=True) for k in range(WRITERS)]
    try:
        for thread in threads:
            thread.start()
        _wait_for(lambda: len(committed) >= 20, "writes before the kill")
        pooled.bouncer.stop()
        _wait_for(lambda: len(failures) >= WRITERS, "writes failing while PgBouncer is down")
        pooled.bouncer.start()
        after = len(committed)
        _wait_for(lambda: len(committed) >= after + 20, "writes after the restart")
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

        # Every read connection in the pool is idle while PgBouncer dies; the next reads,
        # as many as the pool holds, all succeed (the liveness check replaces them).
        size = pooled.settings.pool_size
        sessions = [database.read_sessionmaker() for _ in range(size)]
        for session in sessions:
            session.execute(text("SELECT 1"))
        for session in sessions:
            session.close()
        pooled.bouncer.restart()
        for _ in range(size):
            with database.read_session() as reader:
                assert AnalysisRepository(reader).count() > 0
            reads_after_restart += 1
    finally:
        stop.set()
        database.dispose()
        if not pooled.bouncer.is_running():
            pooled.bouncer.start()

    assert unexpected == []
    assert failures, "no write failed while PgBouncer was down"
    assert set(failures) == {"unavailable"}
    with pooled.owner.connect() as conn:
        stored = set(
            conn.execute(
                text(
                    "SELECT split_part(original_text, ' ', 3) FROM analyses "
                    "WHERE original_text LIKE :p"
                ),
                {"p": f"قفا نبك {run}-%"},
            ).scalars()
        )
        created_events = conn.execute(
            text(
                "SELECT count(*) FROM analysis_history h JOIN analyses a ON a.id = h.analysis_id "
                "WHERE h.event = 'created' AND a.original_text LIKE :p"
            ),
            {"p": f"قفا نبك {run}-%"},
        ).scalar_one()
    assert committed <= stored, "a committed write was lost"
    # A row nobody saw committed can only be a write whose COMMIT reply was lost in the kill.
    assert len(stored - committed) <= len(failures)
    assert created_events == len(stored), "an analysis without its history (half-committed)"
    record(
        "pgbouncer_kill",
        writers=WRITERS,
        writes_committed=len(committed),
        writes_failed_while_down=len(failures),
        failure_kinds="/".join(sorted({str(f) for f in failures})),
        committed_writes_lost=len(committed - stored),
        stored_without_ack=len(stored - committed),
        half_committed=len(stored) - created_events,
        reads_after_restart=f"{reads_after_restart} of {pooled.settings.pool_size}",
    )
