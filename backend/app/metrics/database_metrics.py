"""Prometheus metrics of the database layer, fed by SQLAlchemy engine events.

Call :func:`instrument` once on an engine (the application does it for
``app.db.base.engine``); from then on every statement that engine sends is counted and
timed, DBAPI errors are counted by class, slow statements are logged, and the pool's
state is exported::

    bahr_database_queries_total{operation,table}            counter
    bahr_database_query_duration_seconds{operation,table}   histogram
    bahr_database_errors_total{kind}                        counter
    bahr_database_pool_checked_out{engine}                  gauge
    bahr_database_pool_overflow{engine}                     gauge
    bahr_database_pool_size{engine}                         gauge

Label cardinality is bounded whatever SQL is sent: ``operation`` is one of SELECT,
INSERT, UPDATE, DELETE, OTHER; ``table`` is a table of ``Base.metadata`` (or
``alembic_version``) or ``other``; ``kind`` is the class name of a DBAPI exception (a
fixed set of psycopg classes) or ``other``; ``engine`` names one live instrumented engine.

The metrics live in prometheus-client's default ``REGISTRY``, so whatever else the
platform registers is served by the same endpoint (:func:`metrics_app`,
:func:`metrics_wsgi_app`, :func:`metrics_text`).

Hot path: the ``(operation, table)`` of a statement is derived once per compiled
statement object (or per SQL string for driver-level SQL) and cached, together with the
metric children it feeds, in bounded LRU caches; each execution then costs two
``perf_counter_ns`` calls, a dict store and pop for the start time, one cache lookup, and
three value increments (count, duration sum, one bucket).

Slow statements are logged on ``bahr.db.slow`` as one line. Only the SQL text is logged,
never the parameters, and the text itself is redacted first: every string literal becomes
``'?'`` and every number ``?`` (see :func:`redact_sql`), so values inlined into raw SQL do
not leak either.
"""

from __future__ import annotations

import functools
import itertools
import logging
import sys
import threading
import weakref
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any, Final, cast

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Histogram,
    generate_latest,
    make_asgi_app,
    make_wsgi_app,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.compiler import Compiled

from app.metrics.statements import FALLBACK, parse_sql, redact_sql, redacted, statement_labels

__all__ = [
    "CONTENT_TYPE",
    "DURATION_BUCKETS",
    "SLOW_QUERY_LOGGER",
    "database_errors_total",
    "database_queries_total",
    "database_query_duration_seconds",
    "instrument",
    "is_instrumented",
    "metrics_app",
    "metrics_text",
    "metrics_wsgi_app",
    "record_statement",
    "redact_sql",
    "uninstrument",
]

#: The content type to serve :func:`metrics_text` with.
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

#: Histogram buckets of ``bahr_database_query_duration_seconds``, in seconds.
DURATION_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0)

#: The logger slow statements are reported on.
SLOW_QUERY_LOGGER: Final = "bahr.db.slow"

OPERATIONS: Final = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "OTHER"})
OTHER_TABLE: Final = "other"
#: Tables that are kept as labels although they are not (or not always) in ``Base.metadata``.
EXTRA_TABLES: Final = frozenset({"analysis_history", "alembic_version"})

_CACHE_SIZE: Final = 1024

_slow_log = logging.getLogger(SLOW_QUERY_LOGGER)
_log = logging.getLogger(__name__)


# -- metric objects --------------------------------------------------------------------------
# Created in prometheus-client's default registry. Loading this module a second time (a
# reload, or the same file imported under another name) reuses the registered collectors
# instead of failing with "Duplicated timeseries".


def _registered(name: str) -> Collector | None:
    return REGISTRY._names_to_collectors.get(name)


def _counter(name: str, documentation: str, labelnames: tuple[str, ...]) -> Counter:
    existing = _registered(name)
    if existing is None:
        return Counter(name, documentation, labelnames)
    if isinstance(existing, Counter) and tuple(existing._labelnames) == labelnames:
        return existing
    raise ValueError(f"metric {name} is already registered with another type or labels")


def _histogram(
    name: str, documentation: str, labelnames: tuple[str, ...], buckets: tuple[float, ...]
) -> Histogram:
    existing = _registered(name)
    if existing is None:
        return Histogram(name, documentation, labelnames, buckets=buckets)
    if (
        isinstance(existing, Histogram)
        and tuple(existing._labelnames) == labelnames
        and tuple(existing._upper_bounds[:-1]) == buckets
    ):
        return existing
    raise ValueError(f"metric {name} is already registered with another type or labels")


database_queries_total: Counter = _counter(
    "bahr_database_queries_total",
    "SQL statements executed, by operation and main table.",
    ("operation", "table"),
)
database_query_duration_seconds: Histogram = _histogram(
    "bahr_database_query_duration_seconds",
    "Time spent in the driver executing one SQL statement, in seconds.",
    ("operation", "table"),
    DURATION_BUCKETS,
)
database_errors_total: Counter = _counter(
    "bahr_database_errors_total",
    "Errors raised while executing SQL, by DBAPI exception class (other: not a DBAPI error).",
    ("kind",),
)


# -- instrumentation -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Labels:
    """What one statement feeds: its labels, and how to record one execution of it."""

    operation: str
    table: str
    #: ``record(elapsed_ns)``: count the statement and observe its duration.
    record: Callable[[int], None]


def _recorder(count: Counter, duration: Histogram) -> Callable[[int], None]:
    """Count and observe through prometheus-client's value objects when they are there.

    ``Counter.inc`` and ``Histogram.observe`` re-check on every call that the metric is a
    labelled child and walk the buckets in Python; the bound value objects below do the
    same updates (same locks, same multiprocess support) in about half the time. When the
    installed prometheus-client does not have them, the public methods are used.
    """
    count_value = getattr(count, "_value", None)
    sum_value = getattr(duration, "_sum", None)
    buckets = getattr(duration, "_buckets", None)
    upper = tuple(getattr(duration, "_upper_bounds", ()))
    if (
        count_value is None
        or sum_value is None
        or not isinstance(buckets, list)
        or upper[:-1] != DURATION_BUCKETS
        or len(buckets) != len(upper)
    ):

        def record_public(elapsed_ns: int) -> None:
            count.inc()
            duration.observe(elapsed_ns / 1e9)

        return record_public

    count_inc = count_value.inc
    sum_inc = sum_value.inc
    bucket_incs = tuple(bucket.inc for bucket in buckets)
    bounds_ns = tuple(round(bound * 1e9) for bound in DURATION_BUCKETS)  # +Inf: past the end

    def record(elapsed_ns: int) -> None:
        count_inc(1)
        sum_inc(elapsed_ns / 1e9)
        bucket_incs[bisect_left(bounds_ns, elapsed_ns)](1)

    return record


@functools.lru_cache(maxsize=256)
def _labels(operation: str, table: str) -> _Labels:
    count = database_queries_total.labels(operation, table)
    duration = database_query_duration_seconds.labels(operation, table)
    return _Labels(operation, table, _recorder(count, duration))


#: Start times in flight, never more than this many: entries orphaned by an error path
#: that fired neither after_cursor_execute nor handle_error are dropped at the limit.
_MAX_IN_FLIGHT: Final = 10_000


class _Instrumentation:
    """The listeners attached to one engine, and its slow-query threshold.

    The listeners are closures over local names (no attribute lookups on the hot path).
    Start times are kept in a dict keyed by ``id(context)`` (``id(connection)`` for the few
    context-less internal executions): a statement's before/after pair always runs on one
    thread (or greenlet), and dict operations are atomic, so no lock is needed.
    """

    def __init__(self, engine: Engine, name: str, slow_query_ms: float) -> None:
        self.engine_ref = weakref.ref(engine)
        self.name = name
        self.attached = False
        self.slow_ns: int | None = None
        self.set_threshold(slow_query_ms)
        self.before_cursor_execute, self.after_cursor_execute, self.handle_error = self._listeners()
        # Marks the listener, so that any copy of this module can find the instrumentation.
        self.before_cursor_execute.bahr_instrumentation = self  # type: ignore[attr-defined]

    def set_threshold(self, slow_query_ms: float) -> None:
        """``slow_query_ms`` <= 0 disables the slow-query log."""
        self.slow_ns = int(slow_query_ms * 1_000_000) if slow_query_ms > 0 else None

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self.before_cursor_execute, retval=True)
        event.listen(engine, "after_cursor_execute", self.after_cursor_execute)
        event.listen(engine, "handle_error", self.handle_error)
        self.attached = True

    def detach(self, engine: Engine) -> None:
        self.attached = False
        for name, listener in (
            ("before_cursor_execute", self.before_cursor_execute),
            ("after_cursor_execute", self.after_cursor_execute),
            ("handle_error", self.handle_error),
        ):
            if event.contains(engine, name, listener):
                event.remove(engine, name, listener)

    def _listeners(
        self,
    ) -> tuple[Callable[..., Any], Callable[..., None], Callable[[ExceptionContext], None]]:
        starts: dict[int, int] = {}
        clock = perf_counter_ns
        for_compiled = _labels_for_compiled
        for_sql = _labels_for_sql
        record_slow = _log_slow
        inst = self

        def before_cursor_execute(
            conn: Connection,
            _cursor: Any,
            statement: str,
            parameters: Any,
            context: Any,
            _executemany: bool,
        ) -> tuple[str, Any]:
            starts[id(context or conn)] = clock()
            return statement, parameters  # retval=True: spares SQLAlchemy's wrapper call

        def finish(context: Any, statement: str, elapsed: int) -> None:
            """Count and time one statement; log it when it was slow."""
            compiled = context.compiled if context is not None else None
            labels = for_compiled(compiled) if compiled is not None else for_sql(statement)
            labels.record(elapsed)
            slow_ns = inst.slow_ns
            if slow_ns is not None and elapsed > slow_ns:
                record_slow(labels, statement, elapsed)

        def after_cursor_execute(
            conn: Connection,
            _cursor: Any,
            statement: str,
            _parameters: Any,
            context: Any,
            _executemany: bool,
        ) -> None:
            end = clock()
            start = starts.pop(id(context or conn), None)
            if start is None:
                return
            finish(context, statement, end - start)

        def handle_error(ctx: ExceptionContext) -> None:
            end = clock()
            if ctx.is_pre_ping:  # a stale pooled connection, replaced transparently
                return
            if len(starts) >= _MAX_IN_FLIGHT:  # orphans only come from error paths
                starts.clear()
            try:
                original = ctx.original_exception
                dbapi_error = ctx.dialect.loaded_dbapi.Error
                kind = type(original).__name__ if isinstance(original, dbapi_error) else "other"
                database_errors_total.labels(kind).inc()

                # The failed statement is counted and timed like any other, once.
                context: Any = ctx.execution_context
                key = context or ctx.connection
                start = starts.pop(id(key), None) if key is not None else None
                statement = ctx.statement
                if start is None or statement is None:
                    return
                finish(context, statement, end - start)
            except Exception:  # metrics must never mask the real error
                _log.exception("database metrics: handle_error failed")

        return before_cursor_execute, after_cursor_execute, handle_error


def _existing_instrumentation(engine: Engine) -> _Instrumentation | None:
    """The instrumentation attached to ``engine``, by this or any other copy of the module.

    The engine's own listeners are the source of truth, not this module's registry.
    """
    for listener in engine.dispatch.before_cursor_execute:
        found = getattr(listener, "bahr_instrumentation", None)
        if found is not None:
            return cast("_Instrumentation", found)
    return None


def _log_slow(labels: _Labels, statement: str, elapsed_ns: int) -> None:
    sql = redacted(statement)
    duration_ms = round(elapsed_ns / 1e6, 3)
    _slow_log.warning(
        "slow query duration_ms=%.3f operation=%s table=%s statement=%s",
        duration_ms,
        labels.operation,
        labels.table,
        sql,
        extra={
            "duration_ms": duration_ms,
            "operation": labels.operation,
            "table": labels.table,
            "statement": sql,
        },
    )


_lock = threading.Lock()
_instrumented: weakref.WeakKeyDictionary[Engine, _Instrumentation] = weakref.WeakKeyDictionary()
_engine_numbers = itertools.count(1)


def instrument(
    engine: Engine, *, slow_query_ms: float | None = None, name: str | None = None
) -> None:
    """Feed this module's metrics from every statement ``engine`` executes.

    Idempotent: a second call adds no listeners (so nothing is counted twice); it only
    updates the slow-query threshold when ``slow_query_ms`` is given.

    :param slow_query_ms: log statements slower than this many milliseconds on
        ``bahr.db.slow``; ``None`` takes ``slow_query_ms`` from the settings, 0 disables.
    :param name: the ``engine`` label of the pool gauges. By default ``default`` for
        ``app.db.base.engine`` and ``engine-N`` for any other engine.
    """
    with _lock:
        existing = _existing_instrumentation(engine)
        if existing is not None:
            _instrumented[engine] = existing
            if slow_query_ms is not None:
                existing.set_threshold(slow_query_ms)
            if name is not None and name != existing.name:
                _check_name_free(name, engine)
                existing.name = name
            return
        if slow_query_ms is None:
            from app.config import get_settings

            slow_query_ms = get_settings().slow_query_ms
        if name is None:
            name = _default_name(engine)
        else:
            _check_name_free(name, engine)
        inst = _Instrumentation(engine, name, slow_query_ms)
        inst.attach(engine)
        _instrumented[engine] = inst


def record_statement(
    engine: Engine, statement: str, elapsed_ns: int, *, operation: str, table: str
) -> None:
    """Count, time and (when slow) log a statement sent past SQLAlchemy's cursor events, as
    ``engine``'s instrumentation would have: a ``COPY`` through the driver, say, counted as
    the ``operation`` it stands for. Nothing happens when ``engine`` is not instrumented."""
    inst = _instrumented.get(engine)
    if inst is None or not inst.attached:
        return
    labels = _labels(operation if operation in OPERATIONS else "OTHER", _known_table(table))
    labels.record(elapsed_ns)
    if inst.slow_ns is not None and elapsed_ns > inst.slow_ns:
        _log_slow(labels, statement, elapsed_ns)


def uninstrument(engine: Engine) -> None:
    """Detach the listeners :func:`instrument` added and drop the engine's pool gauges."""
    with _lock:
        inst = _existing_instrumentation(engine)
        _instrumented.pop(engine, None)
        if inst is not None:
            inst.detach(engine)


def is_instrumented(engine: Engine) -> bool:
    return _existing_instrumentation(engine) is not None


def _default_name(engine: Engine) -> str:
    base = sys.modules.get("app.db.base")
    if base is not None and getattr(base, "engine", None) is engine:
        candidate = "default"
        if _name_free(candidate, engine):
            return candidate
    return f"engine-{next(_engine_numbers)}"


def _name_free(name: str, engine: Engine) -> bool:
    return all(
        inst.name != name or eng is engine or not inst.attached
        for eng, inst in _instrumented.items()
    )


def _check_name_free(name: str, engine: Engine) -> None:
    if not _name_free(name, engine):
        raise ValueError(f"another live engine is already instrumented as {name!r}")


# -- pool gauges -----------------------------------------------------------------------------


class _PoolCollector(Collector):
    """Pool gauges, read at scrape time from each live instrumented engine's QueuePool."""

    _GAUGES: Final = (
        ("bahr_database_pool_checked_out", "Connections currently checked out of the pool."),
        (
            "bahr_database_pool_overflow",
            "Connections open beyond pool_size (SQLAlchemy's overflow(), floored at 0).",
        ),
        ("bahr_database_pool_size", "Configured pool_size of the pool."),
    )

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(n, doc, labels=["engine"]) for n, doc in self._GAUGES]

    def collect(self) -> Iterable[Metric]:
        checked_out, overflow, size = (
            GaugeMetricFamily(n, doc, labels=["engine"]) for n, doc in self._GAUGES
        )
        for engine, inst in list(_instrumented.items()):
            if not inst.attached:  # detached through another copy of this module
                continue
            pool = engine.pool
            if not isinstance(pool, QueuePool):  # NullPool, StaticPool: nothing to report
                continue
            checked_out.add_metric([inst.name], pool.checkedout())
            overflow.add_metric([inst.name], max(pool.overflow(), 0))
            size.add_metric([inst.name], pool.size())
        return [checked_out, overflow, size]


def _register_pool_collector() -> _PoolCollector:
    """Register this module's pool collector, replacing one left by an earlier load."""
    collector = _PoolCollector()
    for name, _ in _PoolCollector._GAUGES:
        existing = _registered(name)
        if existing is None:
            continue
        if type(existing).__name__ != _PoolCollector.__name__:
            raise ValueError(f"metric {name} is already registered by another collector")
        REGISTRY.unregister(existing)
    REGISTRY.register(collector)
    return collector


_pool_collector = _register_pool_collector()


# -- exposure --------------------------------------------------------------------------------


def metrics_text() -> bytes:
    """Every metric of the default registry, in the Prometheus text format."""
    return generate_latest(REGISTRY)


def metrics_app() -> Callable[..., Any]:
    """An ASGI app serving the default registry (mount it at ``/metrics``)."""
    return make_asgi_app(REGISTRY)


def metrics_wsgi_app() -> Callable[..., Any]:
    """A WSGI app serving the default registry."""
    return make_wsgi_app(REGISTRY)


# -- statement labels ------------------------------------------------------------------------


def _known_table(name: str | None) -> str:
    """``name`` if it is one of the application's tables, else ``other``."""
    if name is None:
        return OTHER_TABLE
    if name in EXTRA_TABLES:
        return name
    from app.db.base import Base

    return name if name in Base.metadata.tables else OTHER_TABLE


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _labels_for_compiled(compiled: Compiled) -> _Labels:
    try:
        derived = statement_labels(compiled.statement)
        if derived is None:  # text(), ORM from_statement(), ...: read the SQL
            derived = parse_sql(compiled.string)
    except Exception:
        _log.debug("database metrics: cannot label a statement", exc_info=True)
        derived = FALLBACK
    operation, table = derived
    return _labels(operation, _known_table(table))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _labels_for_sql(sql: str) -> _Labels:
    try:
        operation, table = parse_sql(sql)
    except Exception:
        _log.debug("database metrics: cannot label a statement", exc_info=True)
        operation, table = FALLBACK
    return _labels(operation, _known_table(table))
