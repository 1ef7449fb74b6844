"""A replica that lags or is down is skipped: reads go to the primary, the next read does
not wait for the dead replica, and reads return to it when it is back. Writes never notice."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from sqlalchemy import text

from app.config import libpq_url
from app.db.database import Database
from app.db.read_your_writes import commit_token
from app.db.replicas import SERVED_BY
from app.repositories.analysis_repository import AnalysisRepository
from tests.reliability.report import record
from tests.replicas.conftest import Topology, Wired, wired_database

REPLICA = "app-replica-0"
COUNT_ANALYSES = text("SELECT count(*) FROM analyses")


def _served_by(db: Database) -> str | None:
    with db.read_session() as session:
        session.execute(text("SELECT 1"))
        served: str | None = session.info[SERVED_BY]
        return served


def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds (a bound on waiting, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


@pytest.fixture
def lag_bound_zero(topology: Topology) -> Iterator[Wired]:
    """A replica that is any amount behind counts as lagging."""
    with wired_database(topology.settings(replica_max_lag_s=0.0)) as wired:
        yield wired


def test_a_lagging_replica_is_skipped_and_its_lag_is_reported(
    standby_running: Topology, lag_bound_zero: Wired
) -> None:
    wired = lag_bound_zero
    assert _served_by(wired.db) == REPLICA
    with standby_running.replay_paused():
        with wired.db.transaction() as session:
            name = f"lag_{uuid.uuid4().hex[:10]}"
            session.execute(
                text(
                    "INSERT INTO users (username, email, password_hash, full_name) "
                    "VALUES (:u, :e, 'x', 'x')"
                ),
                {"u": name, "e": f"{name}@x.org"},
            )
        token = commit_token(session)
        assert token is not None
        standby_running.standby.wait_for_receive(token)  # received, not replayed: behind
        assert _served_by(wired.db) is None
        assert wired.fallbacks("replica_lagging") == 1
        lag = wired.lag(REPLICA)
        assert lag is not None
        assert lag > 0
    # Caught up, it serves reads again (the bound waits for any WAL written meanwhile).
    _until(lambda: _served_by(wired.db) == REPLICA)
    assert wired.lag(REPLICA) == 0


def test_a_stopped_replica_is_skipped_and_not_tried_again_during_the_backoff(
    standby_running: Topology, wired: Wired
) -> None:
    assert wired.db.router is not None
    replica = wired.db.router.replicas[0]
    assert _served_by(wired.db) == REPLICA
    # Measured (any value: the rest of the suite writes WAL on the same cluster meanwhile).
    measured = wired.lag(REPLICA)
    assert measured is not None
    assert measured >= 0
    standby_running.standby.stop("immediate")
    assert _served_by(wired.db) is None
    assert wired.fallbacks("replica_down") == 1
    # Its lag is unknown now: no stale value is reported.
    assert wired.lag(REPLICA) is None
    down_until = replica.down_until
    assert replica.is_down(time.monotonic())
    # The next read passes it over without trying it: a try would move the backoff.
    assert _served_by(wired.db) is None
    assert replica.down_until == down_until
    assert wired.fallbacks("replica_down") == 2


def test_a_replica_that_never_answers_is_skipped(topology: Topology) -> None:
    gone = topology.standby.url("bahr").set(query={"host": "/nonexistent-bahr-socket"})
    db = Database.from_settings(
        topology.settings(read_database_url=gone.render_as_string(hide_password=False))
    )
    try:
        assert _served_by(db) is None
        assert db.router is not None
        assert db.router.replicas[0].is_down(time.monotonic())
    finally:
        db.dispose()


@dataclass
class Run:
    """What the readers and the writer of the mid-run test saw."""

    reads: dict[str | None, int] = field(default_factory=dict)
    failed_reads: list[float] = field(default_factory=list)  # their start times
    written: set[str] = field(default_factory=set)
    failed_writes: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, server: str | None) -> int:
        with self.lock:
            return self.reads.get(server, 0)


READERS = 3


@pytest.fixture
def short_backoff(topology: Topology) -> Iterator[Wired]:
    """A replica found down is tried again after 0.2 s."""
    with wired_database(topology.settings(replica_down_backoff_s=0.2)) as wired:
        yield wired


def test_stopping_the_replica_mid_run_fails_only_reads_in_flight_and_loses_no_write(
    standby_running: Topology, short_backoff: Wired
) -> None:
    wired = short_backoff
    run = Run()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                with wired.db.read_session() as session:
                    session.execute(COUNT_ANALYSES).scalar_one()
                    served = session.info[SERVED_BY]
            except Exception:
                with run.lock:
                    run.failed_reads.append(started)
                continue
            with run.lock:
                run.reads[served] = run.reads.get(served, 0) + 1

    def write() -> None:
        while not stop.is_set():
            try:
                with wired.db.transaction() as session:
                    created = AnalysisRepository(session).create(
                        {"original_text": "قفا نبك", "pattern": "//o/o"}
                    )
            except BaseException as error:  # the primary never stops: none may fail
                run.failed_writes.append(error)
                return
            with run.lock:
                run.written.add(str(created.id))

    threads = [threading.Thread(target=read) for _ in range(READERS)]
    threads.append(threading.Thread(target=write))
    for thread in threads:
        thread.start()
    try:
        _until(lambda: run.count(REPLICA) >= 20)
        standby_running.standby.stop("immediate")
        stopped = time.monotonic()
        on_primary = run.count(None)
        _until(lambda: run.count(None) >= on_primary + 20)
        standby_running.standby.start()
        on_replica = run.count(REPLICA)
        _until(lambda: run.count(REPLICA) >= on_replica + 20)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    # Only reads that had started before the replica was gone may have failed: at most one
    # per reader.
    assert all(started < stopped for started in run.failed_reads), run.failed_reads
    assert len(run.failed_reads) <= READERS
    assert wired.fallbacks("replica_down") >= 1
    assert run.failed_writes == []
    assert run.written
    # Every acknowledged write is on the primary, and reaches the replica.
    keys = "SELECT id::text FROM analyses"
    with psycopg.connect(libpq_url(standby_running.owner_url)) as conn:
        on_primary_keys = {row[0] for row in conn.execute(keys)}
    assert run.written <= on_primary_keys
    standby_running.standby.wait_for_replay(standby_running.primary_lsn())
    with psycopg.connect(libpq_url(standby_running.replica_url)) as conn:
        replicated = {row[0] for row in conn.execute(keys)}
    assert run.written <= replicated
    record(
        "replica_kill",
        readers=READERS,
        reads_on_replica=run.count(REPLICA),
        reads_on_primary=run.count(None),
        reads_failed=len(run.failed_reads),
        reads_failed_after_the_kill=sum(started >= stopped for started in run.failed_reads),
        writes=len(run.written),
        writes_failed=len(run.failed_writes),
        writes_lost=len(run.written - on_primary_keys),
        writes_not_replicated=len(run.written - replicated),
    )
