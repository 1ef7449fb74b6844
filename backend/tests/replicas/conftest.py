"""A real hot standby of the test cluster, streaming one migrated database of its own.

The standby (``pg_basebackup -R``, :class:`app.db.standby.Standby`) is started once for
this folder and removed after it; tests that stop it or pause its replay put it back as
they found it. Rows written here are committed for real (a replica only sees commits), in
the database ``<test db>_replicas``, so the rest of the suite never sees them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import URL

from app.config import Settings, libpq_url
from app.db.database import Database
from app.db.standby import Standby
from app.metrics.collectors import DatabaseMetrics
from tests import conftest as suite
from tests.conftest import migrated_database

SUFFIX = "replicas"


@dataclass(frozen=True)
class Topology:
    """The primary's database (owner and application URLs) and its standby."""

    owner_url: URL
    app_url: URL
    standby: Standby

    @property
    def replica_url(self) -> URL:
        """The same database and role, on the standby."""
        return self.standby.url(self.app_url.database or "", user=self.app_url.username or "")

    def primary_lsn(self) -> str:
        with psycopg.connect(libpq_url(self.owner_url), autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert row is not None
        return str(row[0])

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": self.app_url.render_as_string(hide_password=False),
            "migration_database_url": self.owner_url.render_as_string(hide_password=False),
            "read_database_url": self.replica_url.render_as_string(hide_password=False),
            "metrics_enabled": False,
            "replica_check_interval_s": 0.0,
            "replica_down_backoff_s": 60.0,
            "pool_timeout": 5,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def replay_paused(self) -> Iterator[None]:
        """The standby receives WAL but applies none of it: it sees the past."""
        self.standby.wait_for_replay(self.primary_lsn())
        self.standby.pause_replay()
        try:
            yield
        finally:
            self.standby.resume_replay()


@pytest.fixture(scope="package")
def topology() -> Iterator[Topology]:
    if suite._cluster is None:  # the suite's own embedded primary
        pytest.skip("the replica suite needs the embedded test cluster (DATABASE_URL is set)")
    owner_url, app_url = migrated_database(SUFFIX)
    standby = Standby.create(suite._cluster)
    try:
        standby.start(database=app_url.database or "", stop_with_pid=os.getpid())
        yield Topology(owner_url, app_url, standby)
    finally:
        standby.destroy()


@pytest.fixture
def standby_running(topology: Topology) -> Iterator[Topology]:
    """The topology, with the standby running again after the test whatever it did."""
    yield topology
    topology.standby.start()
    topology.standby.resume_replay()


@dataclass
class Wired:
    db: Database
    metrics: DatabaseMetrics

    def fallbacks(self, reason: str) -> float:
        """``bahr_database_read_fallbacks_total{reason}`` (0 when never counted)."""
        return self._sample("bahr_database_read_fallbacks_total", reason=reason) or 0.0

    def lag(self, replica: str) -> float | None:
        """``bahr_database_replica_lag_seconds{replica}``; None when it has no value."""
        return self._sample("bahr_database_replica_lag_seconds", replica=replica)

    def _sample(self, name: str, **labels: str) -> float | None:
        assert self.metrics.registry is not None
        return self.metrics.registry.get_sample_value(name, labels)


@pytest.fixture
def wired(topology: Topology) -> Iterator[Wired]:
    """A :class:`Database` with the standby as its replica and metrics of its own."""
    with wired_database(topology.settings()) as wired:
        yield wired


@contextlib.contextmanager
def wired_database(settings: Settings) -> Iterator[Wired]:
    """A :class:`Database` from ``settings`` whose router feeds metrics of its own."""
    metrics = DatabaseMetrics(CollectorRegistry())
    db = Database.from_settings(settings)
    if db.router is not None:
        db.router.metrics = metrics
    try:
        yield Wired(db, metrics)
    finally:
        db.dispose()
