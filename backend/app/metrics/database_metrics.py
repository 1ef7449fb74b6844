"""Prometheus metrics of the database layer (the spec's module), fed by engine events.

Importing this module creates, registers and attaches nothing. The metrics exist once
something asks for them: :func:`instrument` on an engine, :func:`metrics_text`, or one of
the spec's names below. They are::

    bahr_database_queries_total{operation,table}            counter
    bahr_database_query_duration_seconds{operation,table}   histogram
    bahr_database_errors_total{kind}                        counter
    bahr_database_pool_checked_out{engine}                  gauge
    bahr_database_pool_overflow{engine}                     gauge
    bahr_database_pool_size{engine}                         gauge
    bahr_database_replica_lag_seconds{replica}              gauge
    bahr_database_read_fallbacks_total{reason}              counter

The process's metrics (:func:`default_metrics`) live in prometheus-client's ``REGISTRY``,
so whatever else the platform registers is served by the same endpoint
(:func:`metrics_app`, :func:`metrics_wsgi_app`, :func:`metrics_text`). A test, or a
``Database`` object, can keep its own: ``DatabaseMetrics(CollectorRegistry())`` and
``instrument(engine, metrics=...)``.

``database_queries_total``, ``database_query_duration_seconds`` and
``database_errors_total`` are the default metrics' ``Counter`` and ``Histogram`` objects,
looked up when first read.

How statements are labelled: :mod:`app.metrics.statements`; the metric objects and the
pool gauges: :mod:`app.metrics.collectors`; the listeners and the slow-query log:
:mod:`app.metrics.instrumentation`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    make_asgi_app,
    make_wsgi_app,
)

from app.metrics.collectors import DURATION_BUCKETS, FALLBACK_REASONS, OPERATIONS, DatabaseMetrics
from app.metrics.instrumentation import (
    SLOW_QUERY_LOGGER,
    Instrumentation,
    default_metrics,
    instrument,
    instrumentation,
    is_instrumented,
    record_statement,
    uninstrument,
)
from app.metrics.statements import redact_sql

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

    database_queries_total: Counter
    database_query_duration_seconds: Histogram
    database_errors_total: Counter

__all__ = [
    "CONTENT_TYPE",
    "DURATION_BUCKETS",
    "FALLBACK_REASONS",
    "OPERATIONS",
    "SLOW_QUERY_LOGGER",
    "DatabaseMetrics",
    "Instrumentation",
    "database_errors_total",
    "database_queries_total",
    "database_query_duration_seconds",
    "default_metrics",
    "instrument",
    "instrumentation",
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

#: The spec's module-level names -> the attribute of :func:`default_metrics` they stand for.
_DEFAULT_METRICS: Final = {
    "database_queries_total": "queries_total",
    "database_query_duration_seconds": "query_duration_seconds",
    "database_errors_total": "errors_total",
}


def __getattr__(name: str) -> Any:
    attribute = _DEFAULT_METRICS.get(name)
    if attribute is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(default_metrics(), attribute)


def _registry(registry: CollectorRegistry | None) -> CollectorRegistry:
    if registry is not None:
        return registry
    default_metrics()  # so that an idle process still shows the metrics it would export
    return REGISTRY


def metrics_text(registry: CollectorRegistry | None = None) -> bytes:
    """Every metric of ``registry`` (by default prometheus-client's ``REGISTRY``, with the
    database metrics in it), in the Prometheus text format."""
    return generate_latest(_registry(registry))


def metrics_app(registry: CollectorRegistry | None = None) -> Callable[..., Any]:
    """An ASGI app serving ``registry`` as :func:`metrics_text` does (mount it at ``/metrics``)."""
    return make_asgi_app(_registry(registry))


def metrics_wsgi_app(registry: CollectorRegistry | None = None) -> Callable[..., Any]:
    """A WSGI app serving ``registry`` as :func:`metrics_text` does."""
    return make_wsgi_app(_registry(registry))
