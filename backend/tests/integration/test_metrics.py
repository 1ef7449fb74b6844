"""Database metrics: fed by engine events on the real PostgreSQL, read back from the registry."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import (
    Connection,
    Engine,
    column,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal_column,
    select,
    table,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.pool import NullPool

from app.config import get_settings
from app.db.base import Base
from app.metrics import database_metrics
from app.metrics.database_metrics import (
    DURATION_BUCKETS,
    OPERATIONS,
    SLOW_QUERY_LOGGER,
    DatabaseMetrics,
    Instrumentation,
    default_metrics,
    instrument,
    instrumentation,
    is_instrumented,
    metrics_app,
    metrics_text,
    metrics_wsgi_app,
    record_statement,
    redact_sql,
    uninstrument,
)
from app.models.analysis import Analysis, Meter
from app.models.user import User, UserProfile

_names = itertools.count(1)
BACKEND_DIR = Path(__file__).resolve().parents[2]


def queries(operation: str, table_name: str) -> float:
    value = REGISTRY.get_sample_value(
        "bahr_database_queries_total", {"operation": operation, "table": table_name}
    )
    return value or 0.0


def durations(operation: str, table_name: str) -> float:
    value = REGISTRY.get_sample_value(
        "bahr_database_query_duration_seconds_count",
        {"operation": operation, "table": table_name},
    )
    return value or 0.0


def bucket(operation: str, table_name: str, le: str) -> float:
    value = REGISTRY.get_sample_value(
        "bahr_database_query_duration_seconds_bucket",
        {"operation": operation, "table": table_name, "le": le},
    )
    return value or 0.0


def errors(kind: str) -> float:
    return REGISTRY.get_sample_value("bahr_database_errors_total", {"kind": kind}) or 0.0


def pool_gauge(name: str, engine_label: str) -> float | None:
    return REGISTRY.get_sample_value(f"bahr_database_pool_{name}", {"engine": engine_label})


class Deltas:
    """Snapshot of ``queries_total`` for some label pairs; ``delta()`` is what moved since."""

    def __init__(self, *labels: tuple[str, str]) -> None:
        self.before = {pair: queries(*pair) for pair in labels}

    def delta(self) -> dict[tuple[str, str], float]:
        return {pair: queries(*pair) - value for pair, value in self.before.items()}


def new_engine(engine: Engine, **kwargs: Any) -> Engine:
    return create_engine(engine.url, pool_size=2, max_overflow=1, **kwargs)


@pytest.fixture
def metered(engine: Engine) -> Iterator[Engine]:
    """A fresh instrumented engine on the test database; slow-query log off."""
    eng = new_engine(engine)
    instrument(eng, slow_query_ms=0, name=f"metrics-test-{next(_names)}")
    try:
        yield eng
    finally:
        uninstrument(eng)
        eng.dispose()


@pytest.fixture
def conn(metered: Engine) -> Iterator[Connection]:
    """A connection of ``metered`` inside a transaction that is rolled back."""
    with metered.connect() as connection:
        trans = connection.begin()
        try:
            yield connection
        finally:
            if trans.is_active:  # a failed ORM flush has already rolled it back
                trans.rollback()


def new_user(tag: str) -> User:
    return User(
        username=f"metrics_{tag}",
        email=f"metrics_{tag}@example.com",
        password_hash="$argon2id$not-a-real-hash",
        full_name="Metrics Probe",
    )


# -- counters by operation and table ---------------------------------------------------------


def test_orm_statements_are_counted_by_operation_and_table(conn: Connection) -> None:
    labels = [
        ("SELECT", "meters"),
        ("SELECT", "users"),
        ("INSERT", "users"),
        ("UPDATE", "users"),
        ("DELETE", "users"),
    ]
    before = Deltas(*labels)
    before_durations = {pair: durations(*pair) for pair in labels}
    session = Session(bind=conn)

    assert len(session.scalars(select(Meter)).all()) == 16
    user = new_user("orm")
    session.add(user)
    session.flush()
    user.full_name = "Renamed Probe"
    session.flush()
    assert session.scalars(select(User).where(User.id == user.id)).one() is user
    session.delete(user)
    session.flush()
    session.close()

    assert before.delta() == {
        ("SELECT", "meters"): 1,
        # the explicit select, and the flush's fetch of the server-set updated_at
        ("SELECT", "users"): 2,
        ("INSERT", "users"): 1,
        ("UPDATE", "users"): 1,
        ("DELETE", "users"): 1,
    }
    # Every counted statement is also timed.
    assert {pair: durations(*pair) - before_durations[pair] for pair in labels} == before.delta()


def test_core_statements_and_raw_sql_are_counted(conn: Connection) -> None:
    # meters is read-only for the application role: only users and analyses are written.
    before = Deltas(
        ("SELECT", "meters"),
        ("INSERT", "users"),
        ("UPDATE", "users"),
        ("DELETE", "analyses"),
        ("SELECT", "users"),
    )
    conn.execute(
        insert(User).values(
            username="metrics_core",
            email="metrics_core@example.com",
            password_hash="x",
            full_name="Core Probe",
        )
    )
    conn.execute(update(User).where(User.username == "metrics_core").values(is_verified=True))
    conn.execute(delete(Analysis).where(literal_column("false")))
    conn.execute(text("SELECT count(*) FROM meters WHERE position > :p"), {"p": 0})
    conn.execute(text("DELETE FROM analyses WHERE false"))
    conn.exec_driver_sql(
        "WITH m AS (SELECT id FROM meters) SELECT count(*) FROM public.users u"
    )  # the main statement's table, not the CTE's
    conn.exec_driver_sql("/* hint */ UPDATE ONLY users SET is_verified = true WHERE false")

    assert before.delta() == {
        ("SELECT", "meters"): 1,
        ("INSERT", "users"): 1,
        ("UPDATE", "users"): 2,
        ("DELETE", "analyses"): 2,
        ("SELECT", "users"): 1,
    }


@pytest.mark.parametrize(
    ("statement", "table_name"),
    [
        (select(func.count()).select_from(User), "users"),
        (select(User.id).join(UserProfile, UserProfile.user_id == User.id), "users"),
        (select(UserProfile.user_id).join(User), "user_profiles"),
        (select(aliased(Meter).id), "meters"),
        (select(func.count()).select_from(select(Meter.id).subquery()), "meters"),
        (select(Meter.id).union_all(select(Meter.id)), "meters"),
        (select(User).from_statement(text("SELECT * FROM users WHERE false")), "users"),
        (select(func.now()), "other"),
        (select(column("oid")).select_from(table("pg_class")).limit(1), "other"),
        (select(func.generate_series(1, 3)), "other"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_select_is_labelled_with_its_main_table(
    conn: Connection, statement: Any, table_name: str
) -> None:
    before = Deltas(("SELECT", table_name))
    Session(bind=conn).execute(statement).all()
    assert before.delta() == {("SELECT", table_name): 1}


def failing(engine: Engine, sql: str) -> None:
    """Send ``sql``, which the server refuses, on a connection of its own."""
    with engine.connect() as connection, pytest.raises(ProgrammingError):
        connection.exec_driver_sql(sql)


def test_unknown_tables_are_labelled_other(metered: Engine, conn: Connection) -> None:
    # No temporary tables: the application role may not create them.
    before = Deltas(("SELECT", "other"), ("INSERT", "other"), ("OTHER", "other"))
    conn.execute(text("SELECT 1 FROM pg_class LIMIT 1"))
    conn.execute(text("SELECT 1"))
    conn.exec_driver_sql("SELECT 1")
    conn.exec_driver_sql("SET LOCAL work_mem = '8MB'")
    conn.execute(text("SELECT relname FROM pg_catalog.pg_class LIMIT 1"))
    failing(metered, "INSERT INTO metrics_no_such_table VALUES (1)")  # counted all the same
    assert before.delta() == {("SELECT", "other"): 4, ("INSERT", "other"): 1, ("OTHER", "other"): 1}


def test_label_values_stay_bounded_whatever_the_sql(metered: Engine, conn: Connection) -> None:
    for n in range(30):
        conn.exec_driver_sql(
            f'SELECT x FROM (VALUES ({n})) AS "tmp_{n}"(x) WHERE x = {n} /* {n} */'
        )
        failing(metered, f'INSERT INTO "tmp_{n}" VALUES ({n})')
        failing(metered, f"SELECT x FROM tmp_{n} WHERE x = {n}")
    allowed = set(Base.metadata.tables) | {"analysis_history", "alembic_version", "other"}
    samples = [
        sample
        for family in REGISTRY.collect()
        if family.name in {"bahr_database_queries", "bahr_database_query_duration_seconds"}
        for sample in family.samples
    ]
    assert samples
    assert {s.labels["table"] for s in samples} <= allowed
    assert {s.labels["operation"] for s in samples} <= OPERATIONS


# -- histogram, errors, pool -------------------------------------------------------------------


def test_duration_histogram_is_exported_with_the_buckets(conn: Connection) -> None:
    conn.execute(select(Meter.id).limit(1)).all()
    exported = metrics_text().decode()
    assert "# TYPE bahr_database_query_duration_seconds histogram" in exported
    families = {f.name: f for f in text_string_to_metric_families(exported)}
    histogram = families["bahr_database_query_duration_seconds"]
    buckets = {
        float(s.labels["le"])
        for s in histogram.samples
        if s.name.endswith("_bucket")
        and s.labels["operation"] == "SELECT"
        and s.labels["table"] == "meters"
    }
    assert buckets == {*DURATION_BUCKETS, float("inf")}
    assert 'le="0.001"' in exported
    assert "bahr_database_queries_total{" in exported


def test_unique_violation_is_counted_once_as_error_and_once_as_query(conn: Connection) -> None:
    before = Deltas(("INSERT", "users"))
    before_errors = errors("UniqueViolation")
    session = Session(bind=conn)
    session.add(new_user("dup"))
    session.flush()
    session.add(new_user("dup"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.close()
    assert errors("UniqueViolation") - before_errors == 1
    assert before.delta() == {("INSERT", "users"): 2}


def test_other_database_errors_are_counted_by_class(metered: Engine) -> None:
    before_undefined = errors("UndefinedTable")
    before_other = Deltas(("SELECT", "other"))
    with metered.connect() as connection, pytest.raises(ProgrammingError):
        connection.exec_driver_sql("SELECT * FROM metrics_no_such_table")
    assert errors("UndefinedTable") - before_undefined == 1
    assert before_other.delta() == {("SELECT", "other"): 1}


def attached(engine: Engine) -> Instrumentation:
    inst = instrumentation(engine)
    assert inst is not None
    return inst


def test_pool_gauges_follow_the_pool(metered: Engine) -> None:
    label = attached(metered).name
    with metered.connect() as first:
        first.execute(text("SELECT 1"))
        assert pool_gauge("checked_out", label) == 1
        assert pool_gauge("size", label) == 2
        assert pool_gauge("overflow", label) == 0
        with metered.connect() as second, metered.connect() as third:
            second.execute(text("SELECT 1"))
            third.execute(text("SELECT 1"))
            assert pool_gauge("checked_out", label) == 3
            assert pool_gauge("overflow", label) == 1
    assert pool_gauge("checked_out", label) == 0
    exported = metrics_text().decode()
    for name in ("checked_out", "overflow", "size"):
        assert f'bahr_database_pool_{name}{{engine="{label}"}}' in exported

    uninstrument(metered)
    assert pool_gauge("size", label) is None


# -- slow queries ------------------------------------------------------------------------------


def slow_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == SLOW_QUERY_LOGGER]


def assert_no_secret(record: logging.LogRecord, *secrets: str) -> None:
    rendered = [record.getMessage(), *(str(v) for v in vars(record).values())]
    for secret in secrets:
        assert not any(secret in part for part in rendered), secret


def test_slow_query_logs_one_redacted_line(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    slow = new_engine(engine)
    try:
        with slow.connect() as warm:  # the first connect's own queries are not under test
            warm.execute(text("SELECT 1"))
        instrument(slow, slow_query_ms=1)

        with caplog.at_level(logging.WARNING, logger=SLOW_QUERY_LOGGER), slow.connect() as c:
            before_buckets = {le: bucket("SELECT", "other", le) for le in ("0.01", "+Inf")}
            c.execute(text("SELECT pg_sleep(0.02), :secret"), {"secret": "hunter2-secret"})
            # >= 20 ms: not in the cumulative le=0.01 bucket, counted in +Inf
            assert bucket("SELECT", "other", "0.01") == before_buckets["0.01"]
            assert bucket("SELECT", "other", "+Inf") == before_buckets["+Inf"] + 1
            records = slow_records(caplog)
            assert len(records) == 1
            record = records[0]
            assert_no_secret(record, "hunter2-secret")
            assert record.levelno == logging.WARNING
            assert record.operation == "SELECT"  # type: ignore[attr-defined]
            assert record.table == "other"  # type: ignore[attr-defined]
            assert record.duration_ms >= 20  # type: ignore[attr-defined]
            assert record.statement == "SELECT pg_sleep(?), %(secret)s"  # type: ignore[attr-defined]
            message = record.getMessage()
            assert "\n" not in message
            for part in ("duration_ms=", "operation=SELECT", "table=other", "pg_sleep"):
                assert part in message

            caplog.clear()
            c.exec_driver_sql(
                "SELECT pg_sleep(0.02), 'hunter2-literal' AS x,\n  E'hunter2-\\'escaped' "
                "FROM meters WHERE name_english <> $$hunter2-dollar$$ OR id = 424242 LIMIT 1"
            )
            records = slow_records(caplog)
            assert len(records) == 1
            assert_no_secret(records[0], "hunter2-literal", "hunter2-", "hunter2-dollar", "424242")
            assert records[0].table == "meters"  # type: ignore[attr-defined]
            assert records[0].statement == (  # type: ignore[attr-defined]
                "SELECT pg_sleep(?), '?' AS x, '?' FROM meters WHERE name_english <> '?' "
                "OR id = ? LIMIT ?"
            )

            caplog.clear()
            c.execute(
                select(func.pg_sleep(0.02), Meter.id)
                .where(Meter.name_english != "hunter2-bound")
                .limit(1)
            ).all()
            records = slow_records(caplog)
            assert len(records) == 1
            assert_no_secret(records[0], "hunter2-bound")
            assert records[0].table == "meters"  # type: ignore[attr-defined]
    finally:
        uninstrument(slow)
        slow.dispose()


def test_queries_under_the_threshold_are_not_logged(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    eng = new_engine(engine)
    instrument(eng, slow_query_ms=10_000)
    try:
        with caplog.at_level(logging.DEBUG, logger=SLOW_QUERY_LOGGER), eng.connect() as c:
            c.execute(text("SELECT pg_sleep(0.02)"))
        assert slow_records(caplog) == []
    finally:
        uninstrument(eng)
        eng.dispose()


# -- idempotence, exposure, reloading ----------------------------------------------------------


def test_instrumenting_twice_does_not_double_count(metered: Engine) -> None:
    instrument(metered)
    instrument(metered, slow_query_ms=0)
    listener = attached(metered).after_cursor_execute
    assert event.contains(metered, "after_cursor_execute", listener)
    before = Deltas(("SELECT", "meters"))
    with metered.connect() as connection:
        connection.execute(select(Meter.id).limit(1)).all()
    assert before.delta() == {("SELECT", "meters"): 1}


def test_threshold_defaults_to_the_settings(engine: Engine) -> None:
    eng = new_engine(engine)
    try:
        instrument(eng)
        expected = int(get_settings().slow_query_ms * 1_000_000)
        assert attached(eng).slow_ns == expected
        instrument(eng, slow_query_ms=0)  # a second call only updates the threshold
        assert attached(eng).slow_ns is None
    finally:
        uninstrument(eng)
        eng.dispose()


def test_concurrent_statements_are_each_counted_once(metered: Engine) -> None:
    def work() -> None:
        with metered.connect() as connection:
            for _ in range(50):
                connection.execute(select(Meter.id).where(Meter.position == 1)).one()

    before = Deltas(("SELECT", "meters"))
    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert before.delta() == {("SELECT", "meters"): 150}


def test_uninstrumented_engine_is_not_counted(metered: Engine) -> None:
    uninstrument(metered)
    uninstrument(metered)  # harmless when already detached
    assert not is_instrumented(metered)
    before = Deltas(("SELECT", "meters"))
    with metered.connect() as connection:
        connection.execute(select(Meter.id).limit(1)).all()
    assert before.delta() == {("SELECT", "meters"): 0}


def test_engine_names_must_be_unique(metered: Engine, engine: Engine) -> None:
    other = new_engine(engine)
    try:
        with pytest.raises(ValueError, match="already instrumented"):
            instrument(other, name=attached(metered).name)
        assert not is_instrumented(other)
    finally:
        other.dispose()


def test_metrics_apps_serve_the_registry(metered: Engine) -> None:
    with metered.connect() as connection:
        connection.execute(text("SELECT 1"))

    body: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        body.append(status.encode())

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": ""}
    body.extend(metrics_wsgi_app()(environ, start_response))
    assert body[0].startswith(b"200")
    assert b"bahr_database_queries_total" in b"".join(body)

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/metrics",
        "query_string": b"",
        "headers": [],
    }
    asyncio.run(metrics_app()(scope, receive, send))
    assert sent[0]["status"] == 200
    assert b"bahr_database_pool_size" in b"".join(m.get("body", b"") for m in sent)


def test_durations_land_in_the_right_buckets() -> None:
    """Observed through the public Histogram API: ``le`` is inclusive, +Inf takes the rest."""
    registry = CollectorRegistry()
    labels = DatabaseMetrics(registry).labels("OTHER", "alembic_version")
    for elapsed_ns in (0, 1_000_000, 1_000_001, 7_000_000, 1_000_000_000, 5_000_000_000):
        labels.record(elapsed_ns)
    les = [str(b) for b in DURATION_BUCKETS] + ["+Inf"]
    key = {"operation": "OTHER", "table": "alembic_version"}
    buckets = {
        le: registry.get_sample_value(
            "bahr_database_query_duration_seconds_bucket", {**key, "le": le}
        )
        for le in les
    }
    assert buckets == {
        "0.001": 2,  # 0 and exactly 1 ms: le is inclusive
        "0.005": 3,
        "0.01": 4,
        "0.05": 4,
        "0.1": 4,
        "0.5": 4,
        "1.0": 5,
        "+Inf": 6,
    }
    total = registry.get_sample_value("bahr_database_query_duration_seconds_sum", key)
    assert total == pytest.approx(6.009000001)
    assert registry.get_sample_value("bahr_database_queries_total", key) == 6


# -- redaction (pure) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 'a''b', 42, 4.2e1", "SELECT '?', ?, ?"),
        ("SELECT E'it\\'s', $$x$$, $tag$y$ $tag$", "SELECT '?', '?', '?'"),
        (
            "SELECT x FROM t WHERE a = %(a_1)s AND b = %s",
            "SELECT x FROM t WHERE a = %(a_1)s AND b = %s",
        ),
        ("SELECT x::int, $1, :name FROM t_1", "SELECT x::int, $1, :name FROM t_1"),
        ('SELECT "col 1" FROM "T"', 'SELECT "col 1" FROM "T"'),
        ("SELECT 1 -- secret\n/* secret */ , 'open secret", "SELECT ? , '?'"),
        ("SELECT 0x1F, 1_000, .5", "SELECT ?, ?, ?"),
    ],
)
def test_redact_sql(sql: str, expected: str) -> None:
    assert redact_sql(sql) == expected


@pytest.mark.parametrize(
    ("sql", "operation", "table_name"),
    [
        ("select * from users where id = 1", "SELECT", "users"),
        ('SELECT id FROM public."users" u', "SELECT", "users"),
        ("SELECT id FROM ONLY users", "SELECT", "users"),
        ("SELECT * FROM (SELECT * FROM meters) s", "SELECT", "meters"),
        ("(SELECT 1 FROM analyses) UNION (SELECT 2)", "SELECT", "analyses"),
        ("SELECT extract(epoch FROM now()) FROM meters", "SELECT", "meters"),
        ("SELECT 1 UNION SELECT id FROM users", "SELECT", "other"),
        ("SELECT count(*) FROM generate_series(1, 3)", "SELECT", "other"),
        ("SELECT * FROM users, LATERAL (SELECT 1) x", "SELECT", "users"),
        ("SELECT * FROM LATERAL generate_series(1, 2)", "SELECT", "other"),
        ("SELECT * FROM other_schema.users", "SELECT", "other"),
        ('SELECT * FROM "Users"', "SELECT", "other"),
        ("SELECT 1; SELECT 2 FROM users", "SELECT", "other"),
        ("SELECT 1)", "SELECT", "other"),
        ("TABLE meters", "SELECT", "meters"),
        ("VALUES (1), (2)", "SELECT", "other"),
        ("WITH x AS (SELECT 1) UPDATE users SET is_verified = true", "UPDATE", "users"),
        ("WITH RECURSIVE x(n) AS (SELECT 1) SELECT n FROM x", "SELECT", "other"),
        ("WITH x AS (SELECT 1)", "OTHER", "other"),
        ("insert into user_profiles (user_id) values (1)", "INSERT", "user_profiles"),
        ("INSERT analyses", "INSERT", "other"),
        ("DELETE FROM ONLY analyses WHERE false", "DELETE", "analyses"),
        ("DELETE users", "DELETE", "other"),
        ("UPDATE public.", "UPDATE", "other"),
        ("UPDATE", "UPDATE", "other"),
        ("SELECT * FROM alembic_version", "SELECT", "alembic_version"),
        ("EXPLAIN SELECT 1 FROM users", "OTHER", "other"),
        ("vacuum users", "OTHER", "other"),
        ("", "OTHER", "other"),
        ("(((", "OTHER", "other"),
        ("'users'", "OTHER", "other"),
    ],
)
def test_labels_of_raw_sql(sql: str, operation: str, table_name: str) -> None:
    labels = default_metrics().labels_for_sql(sql)
    assert (labels.operation, labels.table) == (operation, table_name)


def test_bulk_create_copy_is_counted_as_an_insert_into_analyses(conn: Connection) -> None:
    """bulk_create sends COPY through the driver, past SQLAlchemy's cursor events; it is
    counted (and timed) by hand as the INSERT it stands for, once per batch."""
    from app.repositories.analysis_repository import AnalysisRepository

    before = Deltas(("INSERT", "analyses"))
    before_duration = durations("INSERT", "analyses")
    session = Session(bind=conn, join_transaction_mode="create_savepoint")
    rows = [{"original_text": "قفا نبك", "pattern": "//o"}] * 5
    assert len(AnalysisRepository(session).bulk_create(rows, batch_size=2)) == 5
    session.close()
    assert before.delta() == {("INSERT", "analyses"): 3}
    assert durations("INSERT", "analyses") - before_duration == 3


# -- explicit registries, and nothing at import ------------------------------------------------

METRICS_MODULES = (
    "app.metrics",
    "app.metrics.statements",
    "app.metrics.collectors",
    "app.metrics.instrumentation",
    "app.metrics.database_metrics",
)

_IMPORT_PROBE = """
import sys
import {module}
from prometheus_client import REGISTRY
registered = sorted(f.name for f in REGISTRY.collect() if f.name.startswith("bahr_"))
loaded = sorted(m for m in ("app.db.base", "app.models", "app.config") if m in sys.modules)
print(registered, loaded)
"""


@pytest.mark.parametrize("module", METRICS_MODULES)
def test_importing_a_metrics_module_first_registers_and_imports_nothing_else(
    module: str,
) -> None:
    """In a fresh interpreter, with no database settings at all: no import cycle, no metric
    registered, no engine module (app.db.base), models or settings loaded."""
    env = {k: v for k, v in os.environ.items() if "DATABASE_URL" not in k}
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE.format(module=module)],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[] []"


def test_spec_names_are_the_default_metrics() -> None:
    assert isinstance(database_metrics.database_queries_total, Counter)
    assert isinstance(database_metrics.database_query_duration_seconds, Histogram)
    assert database_metrics.database_queries_total is default_metrics().queries_total
    assert database_metrics.database_errors_total is default_metrics().errors_total
    assert default_metrics().registry is REGISTRY
    with pytest.raises(AttributeError):
        _ = database_metrics.no_such_metric


def test_metrics_on_their_own_registry_stay_there(engine: Engine) -> None:
    registry = CollectorRegistry()
    metrics = DatabaseMetrics(registry, tables=Base.metadata.tables)
    eng = new_engine(engine)
    instrument(eng, metrics=metrics, slow_query_ms=0, name="own-registry")
    try:
        before_default = queries("SELECT", "meters")
        with eng.connect() as connection:
            connection.execute(select(Meter.id).limit(1)).all()
            exported = generate_latest(registry).decode()
            assert exported == metrics_text(registry).decode()
            assert 'bahr_database_pool_checked_out{engine="own-registry"} 1.0' in exported
        key = {"operation": "SELECT", "table": "meters"}
        assert registry.get_sample_value("bahr_database_queries_total", key) == 1
        assert queries("SELECT", "meters") == before_default  # the default saw nothing
        assert pool_gauge("size", "own-registry") is None
        assert "own-registry" not in metrics_text().decode()
        # An engine feeds one set of metrics.
        with pytest.raises(ValueError, match="other metrics"):
            instrument(eng)
    finally:
        uninstrument(eng)
        eng.dispose()
    assert registry.get_sample_value("bahr_database_pool_size", {"engine": "own-registry"}) is None


def test_one_registry_takes_one_set_of_database_metrics() -> None:
    registry = CollectorRegistry()
    metrics = DatabaseMetrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        DatabaseMetrics(registry)
    with pytest.raises(ValueError, match="already registered"):
        metrics.register(CollectorRegistry())
    # Unregistered, they can move to another registry; the refused one was left unchanged.
    metrics.unregister()
    assert list(registry.collect()) == []
    other = CollectorRegistry()
    metrics.register(other)
    assert b"bahr_database_queries_total" in metrics.text()


def test_tables_given_to_instrument_become_labels(engine: Engine) -> None:
    registry = CollectorRegistry()
    metrics = DatabaseMetrics(registry, tables=())
    eng = new_engine(engine)
    try:
        instrument(eng, metrics=metrics, slow_query_ms=0)
        with eng.connect() as connection:
            connection.execute(select(Meter.id).limit(1)).all()
            instrument(eng, metrics=metrics, tables=["meters"])
            connection.execute(select(Meter.id).limit(1)).all()  # same compiled statement
            connection.exec_driver_sql("SELECT 1 FROM meters LIMIT 1")  # raw SQL too
        assert queries_counted(registry) == {
            ("SELECT", "other"): 1,
            ("SELECT", "meters"): 2,
        }
    finally:
        uninstrument(eng)
        eng.dispose()


def test_a_refused_registration_leaves_the_registry_as_it_was() -> None:
    registry = CollectorRegistry()
    Gauge("bahr_database_pool_size", "Taken by someone else.", registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        DatabaseMetrics(registry)  # the pool gauges come last: the others were registered
    assert [family.name for family in registry.collect()] == ["bahr_database_pool_size"]
    unregistered = DatabaseMetrics(None)
    assert unregistered.registry is None
    unregistered.unregister()  # harmless
    with pytest.raises(ValueError, match="not registered"):
        unregistered.text()


def queries_counted(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    """``bahr_database_queries_total`` by (operation, table)."""
    return {
        (s.labels["operation"], s.labels["table"]): s.value
        for family in registry.collect()
        if family.name == "bahr_database_queries"
        for s in family.samples
        if s.name == "bahr_database_queries_total"
    }


def samples_of(registry: CollectorRegistry, family_name: str, label: str) -> dict[Any, float]:
    return {
        sample.labels[label]: sample.value
        for family in registry.collect()
        if family.name == family_name
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_renamed_engines_move_their_gauges_and_unpooled_ones_have_none(engine: Engine) -> None:
    registry = CollectorRegistry()
    metrics = DatabaseMetrics(registry)
    pooled = new_engine(engine)
    unpooled = create_engine(engine.url, poolclass=NullPool)
    try:
        instrument(pooled, metrics=metrics, slow_query_ms=0, name="first-name")
        instrument(pooled, metrics=metrics, name="second-name")
        instrument(unpooled, metrics=metrics, slow_query_ms=0, name="unpooled")
        with unpooled.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert samples_of(registry, "bahr_database_pool_size", "engine") == {"second-name": 2}
    finally:
        for eng in (pooled, unpooled):
            uninstrument(eng)
            eng.dispose()


def test_statements_recorded_by_hand_are_labelled_and_logged_like_the_others(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    metrics = DatabaseMetrics(registry)
    eng = new_engine(engine)
    try:
        instrument(eng, metrics=metrics, slow_query_ms=1)
        with caplog.at_level(logging.WARNING, logger=SLOW_QUERY_LOGGER):
            copy = "COPY analyses (id) FROM STDIN"
            record_statement(eng, copy, 5_000_000, operation="INSERT", table="analyses")
            record_statement(eng, "COPY x FROM STDIN", 10, operation="COPY", table="x")
        records = slow_records(caplog)
        assert [(r.statement, r.table) for r in records] == [(copy, "analyses")]  # type: ignore[attr-defined]
        assert queries_counted(registry) == {("INSERT", "analyses"): 1, ("OTHER", "other"): 1}
    finally:
        uninstrument(eng)
        eng.dispose()
    record_statement(eng, "COPY x FROM STDIN", 10, operation="INSERT", table="analyses")
    assert (
        registry.get_sample_value(
            "bahr_database_queries_total", {"operation": "INSERT", "table": "analyses"}
        )
        == 1
    )  # not instrumented any more: nothing recorded
