"""The database layer's metric objects, owned by one :class:`DatabaseMetrics` per registry.

Built only on prometheus-client's public API: ``Counter`` and ``Histogram`` created
unregistered and then registered on an explicit ``CollectorRegistry``, and a custom
``Collector`` that reads the pools' state at scrape time. Creating the module does nothing;
creating a :class:`DatabaseMetrics` registers its metrics on the registry it is given
(prometheus-client's ``REGISTRY`` unless a test or a ``Database`` object passes its own).

Label cardinality is bounded whatever SQL is sent: ``operation`` is one of
:data:`OPERATIONS`; ``table`` is one of the tables the metrics were told about (plus
``alembic_version``) or ``other``; ``kind`` is the class name of a DBAPI exception or
``other``; ``engine`` names one live instrumented engine; ``replica`` names one configured
replica; ``reason`` is one of :data:`FALLBACK_REASONS`.
"""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.compiler import Compiled

from app.db.roles import DATA_TABLES, READ_ONLY_TABLES
from app.metrics.statements import FALLBACK, parse_sql, statement_labels

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

#: Histogram buckets of ``bahr_database_query_duration_seconds``, in seconds.
DURATION_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0)
OPERATIONS: Final = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "OTHER"})
#: Why a read passed over a replica (``bahr_database_read_fallbacks_total{reason}``).
FALLBACK_REASONS: Final = frozenset(
    {"replica_down", "replica_lagging", "token_not_replayed", "token_ahead_of_primary"}
)
OTHER_TABLE: Final = "other"
#: The application's tables: the one list that the roles' grants are written from.
APPLICATION_TABLES: Final = (*DATA_TABLES, *READ_ONLY_TABLES)
#: Kept as a label whatever tables the metrics were given: Alembic's own bookkeeping.
ALEMBIC_TABLE: Final = "alembic_version"

_CACHE_SIZE: Final = 1024
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Labels:
    """What one statement feeds: its labels, and how to record one execution of it."""

    operation: str
    table: str
    #: ``record(elapsed_ns)``: count the statement and observe its duration.
    record: Callable[[int], None]


def _recorder(count: Counter, duration: Histogram) -> Callable[[int], None]:
    inc = count.inc
    observe = duration.observe

    def record(elapsed_ns: int) -> None:
        inc()
        observe(elapsed_ns / 1e9)

    return record


class DatabaseMetrics:
    """Counters, the duration histogram and the pool gauges of the database layer.

    :param registry: where the metrics are registered; ``None`` leaves them unregistered
        (register them later with :meth:`register`).
    :param tables: the table names that are kept as ``table`` labels; any other is
        ``other``. More can be added with :meth:`add_tables`.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = REGISTRY,
        *,
        tables: Iterable[str] = APPLICATION_TABLES,
    ) -> None:
        self.queries_total = Counter(
            "bahr_database_queries_total",
            "SQL statements executed, by operation and main table.",
            ("operation", "table"),
            registry=None,
        )
        self.query_duration_seconds = Histogram(
            "bahr_database_query_duration_seconds",
            "Time spent in the driver executing one SQL statement, in seconds.",
            ("operation", "table"),
            buckets=DURATION_BUCKETS,
            registry=None,
        )
        self.errors_total = Counter(
            "bahr_database_errors_total",
            "Errors raised while executing SQL, by DBAPI exception class "
            "(other: not a DBAPI error).",
            ("kind",),
            registry=None,
        )
        self.replica_lag_seconds = Gauge(
            "bahr_database_replica_lag_seconds",
            "How far each read replica's replay was behind, in seconds, when last measured "
            "(0 when it had replayed all it received).",
            ("replica",),
            registry=None,
        )
        self.read_fallbacks_total = Counter(
            "bahr_database_read_fallbacks_total",
            "Times a read passed over a replica (and went to another one or the primary), "
            "by reason: replica_down, replica_lagging, token_not_replayed, "
            "token_ahead_of_primary.",
            ("reason",),
            registry=None,
        )
        #: The pools reported by the gauges: engine -> its ``engine`` label.
        self.pools: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()
        self.pool_collector = PoolCollector(self.pools)
        self.registry: CollectorRegistry | None = None
        self._tables = frozenset({*tables, ALEMBIC_TABLE})
        self._lock = threading.Lock()
        self.labels = functools.lru_cache(maxsize=256)(self._labels)
        self.labels_for_compiled = functools.lru_cache(maxsize=_CACHE_SIZE)(self._for_compiled)
        self.labels_for_sql = functools.lru_cache(maxsize=_CACHE_SIZE)(self._for_sql)
        if registry is not None:
            self.register(registry)

    def _collectors(self) -> tuple[Collector, ...]:
        return (
            self.queries_total,
            self.query_duration_seconds,
            self.errors_total,
            self.replica_lag_seconds,
            self.read_fallbacks_total,
            self.pool_collector,
        )

    def register(self, registry: CollectorRegistry) -> None:
        """Register every metric on ``registry`` (once: a second registry is refused)."""
        with self._lock:
            if self.registry is not None:
                raise ValueError("these metrics are already registered")
            done: list[Collector] = []
            try:
                for collector in self._collectors():
                    registry.register(collector)
                    done.append(collector)
            except ValueError:
                for collector in done:
                    registry.unregister(collector)
                raise
            self.registry = registry

    def unregister(self) -> None:
        """Remove the metrics from their registry (they keep their values)."""
        with self._lock:
            if self.registry is None:
                return
            for collector in self._collectors():
                self.registry.unregister(collector)
            self.registry = None

    def text(self) -> bytes:
        """The registry these metrics are on, in the Prometheus text format."""
        if self.registry is None:
            raise ValueError("these metrics are not registered")
        return generate_latest(self.registry)

    # -- labels ------------------------------------------------------------------------------

    @property
    def tables(self) -> frozenset[str]:
        return self._tables

    def add_tables(self, names: Iterable[str]) -> None:
        """Keep ``names`` as ``table`` labels from now on."""
        with self._lock:
            tables = self._tables | frozenset(names)
            if tables == self._tables:
                return
            self._tables = tables
            self.labels_for_compiled.cache_clear()
            self.labels_for_sql.cache_clear()

    def known_table(self, name: str | None) -> str:
        """``name`` if it is one of the tables these metrics label, else ``other``."""
        return name if name is not None and name in self._tables else OTHER_TABLE

    def _labels(self, operation: str, table: str) -> Labels:
        count = self.queries_total.labels(operation, table)
        duration = self.query_duration_seconds.labels(operation, table)
        return Labels(operation, table, _recorder(count, duration))

    def _for_compiled(self, compiled: Compiled) -> Labels:
        try:
            derived = statement_labels(compiled.statement)
            if derived is None:  # text(), ORM from_statement(), ...: read the SQL
                derived = parse_sql(compiled.string)
        except Exception:
            _log.debug("database metrics: cannot label a statement", exc_info=True)
            derived = FALLBACK
        operation, table = derived
        return self.labels(operation, self.known_table(table))

    def _for_sql(self, sql: str) -> Labels:
        try:
            operation, table = parse_sql(sql)
        except Exception:
            _log.debug("database metrics: cannot label a statement", exc_info=True)
            operation, table = FALLBACK
        return self.labels(operation, self.known_table(table))


class PoolCollector(Collector):
    """Pool gauges, read at scrape time from each live instrumented engine's QueuePool."""

    GAUGES: Final = (
        ("bahr_database_pool_checked_out", "Connections currently checked out of the pool."),
        (
            "bahr_database_pool_overflow",
            "Connections open beyond pool_size (SQLAlchemy's overflow(), floored at 0).",
        ),
        ("bahr_database_pool_size", "Configured pool_size of the pool."),
    )

    def __init__(self, pools: weakref.WeakKeyDictionary[Engine, str]) -> None:
        self._pools = pools

    def _families(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(n, doc, labels=["engine"]) for n, doc in self.GAUGES]

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        families = self._families()
        checked_out, overflow, size = families
        for engine, name in list(self._pools.items()):
            pool = engine.pool
            if not isinstance(pool, QueuePool):  # NullPool, StaticPool: nothing to report
                continue
            checked_out.add_metric([name], pool.checkedout())
            overflow.add_metric([name], max(pool.overflow(), 0))
            size.add_metric([name], pool.size())
        return families
