"""Feeding :class:`~app.metrics.collectors.DatabaseMetrics` from one engine's events.

:func:`instrument` attaches three listeners to the engine it is given, and nothing else:
no session class, no other engine. From then on every statement that engine sends is
counted and timed, DBAPI errors are counted by class, slow statements are logged, and the
engine's pool is reported by the gauges of the metrics it feeds.

Hot path: the ``(operation, table)`` of a statement is derived once per compiled statement
object (or per SQL string for driver-level SQL) and cached, together with the metric
children it feeds, in bounded LRU caches; each execution then costs two ``perf_counter_ns``
calls, a dict store and pop for the start time, one cache lookup, a counter increment and a
histogram observation.

Slow statements are logged on ``bahr.db.slow`` as one line. Only the SQL text is logged,
never the parameters, and the text itself is redacted first: every string literal becomes
``'?'`` and every number ``?`` (see :func:`~app.metrics.statements.redact_sql`), so values
inlined into raw SQL do not leak either.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from time import perf_counter_ns
from typing import Any, Final

from prometheus_client import REGISTRY
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext

from app.metrics.collectors import OPERATIONS, DatabaseMetrics, Labels
from app.metrics.statements import redacted

#: The logger slow statements are reported on.
SLOW_QUERY_LOGGER: Final = "bahr.db.slow"

#: Start times in flight, never more than this many: entries orphaned by an error path
#: that fired neither after_cursor_execute nor handle_error are dropped at the limit.
_MAX_IN_FLIGHT: Final = 10_000

_slow_log = logging.getLogger(SLOW_QUERY_LOGGER)
_log = logging.getLogger(__name__)


class Instrumentation:
    """The listeners attached to one engine, the metrics they feed, and the engine's
    ``engine`` label and slow-query threshold.

    The listeners are closures over local names (no attribute lookups on the hot path).
    Start times are kept in a dict keyed by ``id(context)`` (``id(connection)`` for the few
    context-less internal executions): a statement's before/after pair always runs on one
    thread (or greenlet), and dict operations are atomic, so no lock is needed.
    """

    def __init__(self, metrics: DatabaseMetrics, name: str, slow_query_ms: float) -> None:
        self.metrics = metrics
        self.name = name
        self.slow_ns: int | None = None
        self.set_threshold(slow_query_ms)
        self.before_cursor_execute, self.after_cursor_execute, self.handle_error = self._listeners()

    def set_threshold(self, slow_query_ms: float) -> None:
        """``slow_query_ms`` <= 0 disables the slow-query log."""
        self.slow_ns = int(slow_query_ms * 1_000_000) if slow_query_ms > 0 else None

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self.before_cursor_execute, retval=True)
        event.listen(engine, "after_cursor_execute", self.after_cursor_execute)
        event.listen(engine, "handle_error", self.handle_error)

    def detach(self, engine: Engine) -> None:
        for name, listener in (
            ("before_cursor_execute", self.before_cursor_execute),
            ("after_cursor_execute", self.after_cursor_execute),
            ("handle_error", self.handle_error),
        ):
            if event.contains(engine, name, listener):
                event.remove(engine, name, listener)

    def record(self, statement: str, elapsed_ns: int, *, operation: str, table: str) -> None:
        """Count, time and (when slow) log one statement the listeners did not see."""
        metrics = self.metrics
        labels = metrics.labels(
            operation if operation in OPERATIONS else "OTHER", metrics.known_table(table)
        )
        labels.record(elapsed_ns)
        if self.slow_ns is not None and elapsed_ns > self.slow_ns:
            _log_slow(labels, statement, elapsed_ns)

    def _listeners(
        self,
    ) -> tuple[Callable[..., Any], Callable[..., None], Callable[[ExceptionContext], None]]:
        starts: dict[int, int] = {}
        clock = perf_counter_ns
        for_compiled = self.metrics.labels_for_compiled
        for_sql = self.metrics.labels_for_sql
        errors_total = self.metrics.errors_total
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
                errors_total.labels(kind).inc()

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


def _log_slow(labels: Labels, statement: str, elapsed_ns: int) -> None:
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


# -- the entry points ------------------------------------------------------------------------

_lock = threading.Lock()
_instrumented: weakref.WeakKeyDictionary[Engine, Instrumentation] = weakref.WeakKeyDictionary()
_engine_numbers = itertools.count(1)
_default: list[DatabaseMetrics] = []  # at most one
_default_lock = threading.Lock()


def default_metrics() -> DatabaseMetrics:
    """The process's metrics on prometheus-client's ``REGISTRY``, created on first use."""
    with _default_lock:
        if not _default:
            _default.append(DatabaseMetrics(REGISTRY))
        return _default[0]


def instrument(
    engine: Engine,
    *,
    metrics: DatabaseMetrics | None = None,
    tables: Iterable[str] | None = None,
    slow_query_ms: float | None = None,
    name: str | None = None,
) -> Instrumentation:
    """Feed ``metrics`` from every statement ``engine`` executes, and report its pool.

    Idempotent: a second call adds no listeners (so nothing is counted twice); it only
    updates what it is given (threshold, name, tables).

    :param metrics: the metrics to feed; by default :func:`default_metrics`. An engine feeds
        one set of metrics: instrumenting it for another one is refused.
    :param tables: table names to keep as ``table`` labels (``Base.metadata.tables``), on
        top of those ``metrics`` already knows (the application's tables by default).
    :param slow_query_ms: log statements slower than this many milliseconds on
        ``bahr.db.slow``; ``None`` takes ``slow_query_ms`` from the settings, 0 disables.
    :param name: the ``engine`` label of the pool gauges, unique among the live engines
        of ``metrics``; by default ``engine-N``.
    """
    if metrics is None:
        metrics = default_metrics()
    if tables is not None:
        metrics.add_tables(tables)
    with _lock:
        existing = _instrumented.get(engine)
        if existing is not None:
            if existing.metrics is not metrics:
                raise ValueError("this engine already feeds other metrics; uninstrument it first")
            if slow_query_ms is not None:
                existing.set_threshold(slow_query_ms)
            if name is not None and name != existing.name:
                _check_name_free(metrics, name, engine)
                existing.name = name
                metrics.pools[engine] = name
            return existing
        if slow_query_ms is None:
            from app.config import get_settings

            slow_query_ms = get_settings().slow_query_ms
        if name is None:
            name = f"engine-{next(_engine_numbers)}"
        _check_name_free(metrics, name, engine)
        inst = Instrumentation(metrics, name, slow_query_ms)
        inst.attach(engine)
        _instrumented[engine] = inst
        metrics.pools[engine] = name
        return inst


def uninstrument(engine: Engine) -> None:
    """Detach the listeners :func:`instrument` added and drop the engine's pool gauges."""
    with _lock:
        inst = _instrumented.pop(engine, None)
        if inst is not None:
            inst.detach(engine)
            inst.metrics.pools.pop(engine, None)


def instrumentation(engine: Engine) -> Instrumentation | None:
    """What :func:`instrument` attached to ``engine``, if anything."""
    return _instrumented.get(engine)


def is_instrumented(engine: Engine) -> bool:
    return engine in _instrumented


def record_statement(
    engine: Engine, statement: str, elapsed_ns: int, *, operation: str, table: str
) -> None:
    """Count, time and (when slow) log a statement sent past SQLAlchemy's cursor events, as
    ``engine``'s instrumentation would have: a ``COPY`` through the driver, say, counted as
    the ``operation`` it stands for. Nothing happens when ``engine`` is not instrumented."""
    inst = _instrumented.get(engine)
    if inst is not None:
        inst.record(statement, elapsed_ns, operation=operation, table=table)


def _check_name_free(metrics: DatabaseMetrics, name: str, engine: Engine) -> None:
    if any(other == name and eng is not engine for eng, other in list(metrics.pools.items())):
        raise ValueError(f"another live engine is already instrumented as {name!r}")
