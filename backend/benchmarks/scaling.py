"""Section 7: one server vs PgBouncer vs a read replica (issue 18).

The benchmark's own cluster is the primary. This section starts, for its own duration, a
real PgBouncer in transaction pooling in front of it (:class:`app.db.pooler.PgBouncer`) and
a real hot standby of it (:class:`app.db.standby.Standby`, ``pg_basebackup -R``), and builds
each :class:`app.db.database.Database` from settings, as the application does:

* *direct*: ``DATABASE_URL`` = the primary (the default topology);
* *pooler mode, direct*: ``DATABASE_POOLER=transaction`` but still the primary's own socket:
  the price of the pooler-safe engine alone (the timeouts and the read-only mode set per
  transaction, no server-side prepare), without the extra hop;
* *PgBouncer*: ``DATABASE_URL`` = PgBouncer, ``DATABASE_POOLER=transaction``;
* *replica*: ``READ_DATABASE_URL`` = the standby; read sessions go there, with or without a
  read-your-writes token.

Anchors, in the same run and interleaved with the subjects: the same SQL through raw psycopg
on one autocommit connection to the primary, through PgBouncer, and to the standby; for
throughput, 16 threads each with its own raw connection to the primary.

Every subject is the shape of one request doing one query: a new session per lookup
(``UserRepository.get_by_id``), metrics off in every variant alike.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from benchmarks.context import Context
from benchmarks.lookups import capture
from benchmarks.report import Section, Table, ms, times
from benchmarks.timing import NS_PER_MS, Series, interleaved, percentile

THREADS = 16
#: The lookup the raw anchors send: what ``UserRepository.get_by_id`` sends, captured.
_ANCHOR = "raw psycopg, primary (anchor)"


def _settings(ctx: Context, **values: Any) -> Any:
    from app.config import Settings

    base: dict[str, Any] = {
        "database_url": ctx.db.app_url.render_as_string(hide_password=False),
        "migration_database_url": ctx.db.owner_url.render_as_string(hide_password=False),
        "metrics_enabled": False,
    }
    base.update(values)
    return Settings(_env_file=None, **base)


@contextmanager
def _topology(ctx: Context) -> Iterator[tuple[Any, Any]]:
    """PgBouncer and a hot standby of the benchmark's cluster, removed afterwards."""
    from app.db import roles
    from app.db.pooler import PgBouncer
    from app.db.standby import Standby

    bouncer = PgBouncer.in_front_of(ctx.db.cluster, users=(roles.APP, roles.OWNER))
    standby = Standby.create(ctx.db.cluster)
    try:
        bouncer.start(stop_with_pid=os.getpid())
        standby.start(database=ctx.db.name, stop_with_pid=os.getpid())
        yield bouncer, standby
    finally:
        standby.destroy()
        bouncer.destroy()


def _user_ids(ctx: Context, count: int) -> list[int]:
    with ctx.db.owner() as conn:
        ids = [int(r[0]) for r in conn.execute("SELECT id FROM users ORDER BY id")]
    rng = random.Random(18)
    return [rng.choice(ids) for _ in range(count)]


def _per_lookup(factory: Callable[[], Any], values: list[int]) -> Callable[[int], object]:
    from app.repositories.user_repository import UserRepository

    def run(i: int) -> object:
        with factory() as session:
            return UserRepository(session).get_by_id(values[i])

    return run


def _raw(
    conninfo: str, sql: str, param: str, values: list[int]
) -> tuple[Any, Callable[[int], object]]:
    # prepare_threshold=None: what a client behind a transaction pooler must do; the same
    # for every anchor, so the anchors differ by the hop alone.
    conn = psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)
    return conn, lambda i: conn.execute(sql, {param: values[i]}).fetchone()


def _throughput(
    work: Callable[[int], Callable[[int], object]], *, seconds: float, threads: int = THREADS
) -> dict[str, Any]:
    """Run ``work(thread)(i)`` in ``threads`` threads for ``seconds``; ops/s and latencies."""
    start_line = threading.Barrier(threads + 1)
    stop = threading.Event()
    samples: list[list[int]] = [[] for _ in range(threads)]
    errors: list[str] = []

    def body(t: int) -> None:
        fn = work(t)
        fn(0)  # connect, warm the pool
        start_line.wait()
        clock = time.perf_counter_ns
        out = samples[t]
        i = 1
        while not stop.is_set():
            begin = clock()
            try:
                fn(i)
            except Exception as error:  # counted, not hidden
                errors.append(type(error).__name__)
            out.append(clock() - begin)
            i += 1

    workers = [threading.Thread(target=body, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    start_line.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    flat = sorted(s for per in samples for s in per)
    return {
        "ops": len(flat),
        "ops_per_s": len(flat) / elapsed,
        "p50_ms": percentile(flat, 0.50) / NS_PER_MS,
        "p95_ms": percentile(flat, 0.95) / NS_PER_MS,
        "errors": len(errors),
    }


def run(ctx: Context) -> Section:
    from prometheus_client import CollectorRegistry

    from app.config import libpq_url
    from app.db import roles
    from app.db.database import Database
    from app.db.read_your_writes import commit_token
    from app.metrics.collectors import DatabaseMetrics
    from app.repositories.profile_repository import ProfileRepository
    from app.repositories.user_repository import UserRepository

    section = Section(
        key="scaling",
        title="7. Scaling: PgBouncer and a read replica",
        method=(
            "The benchmark's cluster is the primary; the section starts a real PgBouncer "
            "(transaction pooling, Unix socket) in front of it and a hot standby of it "
            "(`pg_basebackup -R`, streaming), and builds each `Database` from settings as the "
            "application does (metrics off in every variant alike). Subject: "
            "`UserRepository.get_by_id` in a new session per lookup (one request, one "
            "query). Anchors: the same SQL through raw psycopg on one autocommit connection "
            "to the primary, through PgBouncer and to the standby, interleaved with the "
            "subjects in blocks."
        ),
    )
    n, block, warmup = ctx.sizes.lookups, ctx.sizes.block, ctx.sizes.warmup
    values = _user_ids(ctx, n + warmup)
    seconds = 2.0 if ctx.smoke else 10.0

    with _topology(ctx) as (bouncer, standby):
        pooled_url = bouncer.url(ctx.db.name, roles.APP).render_as_string(hide_password=False)
        replica_url = standby.url(ctx.db.name, user=roles.APP)
        direct = Database.from_settings(_settings(ctx), name="bench-direct")
        mode_only = Database.from_settings(
            _settings(ctx, database_pooler="transaction"), name="bench-pooler-mode"
        )
        pooled = Database.from_settings(
            _settings(ctx, database_url=pooled_url, database_pooler="transaction"),
            name="bench-pgbouncer",
        )
        replicated = Database.from_settings(
            _settings(
                ctx,
                read_database_url=replica_url.render_as_string(hide_password=False),
                replica_check_interval_s=1.0,
            ),
            name="bench-replica",
        )
        databases = (direct, mode_only, pooled, replicated)
        metrics = DatabaseMetrics(CollectorRegistry())
        if replicated.router is not None:
            replicated.router.metrics = metrics
        raws: list[Any] = []
        try:
            sql, param, _ = capture(
                direct.write_engine,
                direct.session,
                lambda session, v: UserRepository(session).get_by_id(v),
                values[0],
            )
            # A token that every replica has replayed: the check's own cost, no waiting.
            with replicated.transaction() as session:
                ProfileRepository(session).update(values[0], {"bio": "bench"})
            token = commit_token(session)
            standby.wait_for_replay(str(token))
            raw_primary, anchor = _raw(ctx.db.app_dsn, sql, param, values)
            raw_bouncer, via_bouncer = _raw(bouncer.conninfo(ctx.db.name), sql, param, values)
            raw_replica, on_replica = _raw(
                libpq_url(standby.url(ctx.db.name, user=roles.APP)), sql, param, values
            )
            raws += [raw_primary, raw_bouncer, raw_replica]
            variants: dict[str, Callable[[int], object]] = {
                _ANCHOR: anchor,
                "raw psycopg, through PgBouncer": via_bouncer,
                "raw psycopg, on the standby": on_replica,
                "session, direct (as shipped)": _per_lookup(direct.session, values),
                "read session, direct (as shipped)": _per_lookup(direct.read_session, values),
                "session, pooler mode without PgBouncer": _per_lookup(mode_only.session, values),
                "read session, pooler mode without PgBouncer": _per_lookup(
                    mode_only.read_session, values
                ),
                "session, through PgBouncer": _per_lookup(pooled.session, values),
                "read session, through PgBouncer": _per_lookup(pooled.read_session, values),
                "read session, on the replica (no token)": _per_lookup(
                    replicated.read_session, values
                ),
                "read session, on the replica (token already replayed)": _per_lookup(
                    lambda: replicated.read_session(token=token), values
                ),
            }
            series = interleaved(variants, n=n, block=block, warmup=warmup)
            anchor_series = series[_ANCHOR]
            section.tables.append(_latency_table(series, anchor_series))
            section.data["latency"] = {k: s.summary() for k, s in series.items()}

            section.tables.append(_write_then_read(ctx, direct, replicated, values))
            section.tables.append(
                _throughput_table(
                    ctx,
                    direct=direct,
                    pooled=pooled,
                    sql=sql,
                    param=param,
                    values=values,
                    seconds=seconds,
                )
            )
            section.notes.append(f"Reads that passed over the replica: {_fallbacks(metrics)}.")
        finally:
            for conn in raws:
                conn.close()
            for db in databases:
                db.dispose()
    section.notes += [
        "*Pooler mode without PgBouncer* isolates what `DATABASE_POOLER=transaction` costs by "
        "itself: every transaction starts with `BEGIN` and then sets its timeouts "
        "(`set_config(…, true)`, one more round trip), read sessions are read-only "
        "transactions instead of autocommit, and nothing is prepared server-side. *Through "
        "PgBouncer* adds the hop.",
        "The replica's *token* rows use a read-your-writes token that the standby had already "
        "replayed: the cost of checking it (the replica's replay position, cached per the "
        "lag-check interval) without waiting.",
    ]
    return section


def _fallbacks(metrics: Any) -> str:
    counts = {
        sample.labels["reason"]: int(sample.value)
        for family in metrics.read_fallbacks_total.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    }
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items())) or "none"


def _latency_table(series: dict[str, Series], anchor: Series) -> Table:
    rows = [
        [name, ms(s.p50_ms), ms(s.p95_ms), times(s.p50_ms / anchor.p50_ms)]
        for name, s in series.items()
    ]
    return Table(
        title="One request, one query: latency per lookup (ms)",
        columns=["variant", "p50", "p95", "p50 ÷ anchor"],
        rows=rows,
    )


def _write_then_read(ctx: Context, direct: Any, replicated: Any, values: list[int]) -> Table:
    """A request that writes, then one that reads what it wrote: on the primary only, and
    with the replica and the commit's token."""
    from app.db.read_your_writes import commit_token
    from app.repositories.profile_repository import ProfileRepository
    from app.repositories.user_repository import UserRepository

    def cycle(db: Any, *, with_token: bool) -> Callable[[int], object]:
        def run(i: int) -> object:
            user_id = values[i]
            with db.transaction() as session:
                ProfileRepository(session).update(user_id, {"bio": f"b{i}"})
            token = commit_token(session) if with_token else None
            with db.read_session(token=token) as reader:
                return UserRepository(reader).get_by_id(user_id)

        return run

    n = max(ctx.sizes.lookups // 4, 10)
    series = interleaved(
        {
            "write + read, primary only": cycle(direct, with_token=False),
            "write + read, replica with the commit's token": cycle(replicated, with_token=True),
        },
        n=n,
        block=max(ctx.sizes.block // 2, 5),
        warmup=ctx.sizes.warmup,
    )
    anchor = series["write + read, primary only"]
    return Table(
        title="Read-your-writes: a write, then a read of it (ms per pair)",
        columns=["variant", "p50", "p95", "p50 ÷ primary only"],
        rows=[
            [name, ms(s.p50_ms), ms(s.p95_ms), times(s.p50_ms / anchor.p50_ms)]
            for name, s in series.items()
        ],
        note=(
            "The token costs one extra round trip per commit (`pg_current_wal_lsn()`), and "
            "the read waits until the standby has replayed the commit (at most "
            "`READ_YOUR_WRITES_WAIT_MS`), else reads from the primary."
        ),
    )


def _throughput_table(
    ctx: Context,
    *,
    direct: Any,
    pooled: Any,
    sql: str,
    param: str,
    values: list[int],
    seconds: float,
) -> Table:
    def raw_work(conninfo: str) -> Callable[[int], Callable[[int], object]]:
        def work(_t: int) -> Callable[[int], object]:
            conn = psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)
            return lambda i: conn.execute(sql, {param: values[i % len(values)]}).fetchone()

        return work

    def session_work(db: Any) -> Callable[[int], Callable[[int], object]]:
        from app.repositories.user_repository import UserRepository

        def work(_t: int) -> Callable[[int], object]:
            def run(i: int) -> object:
                with db.session() as session:
                    return UserRepository(session).get_by_id(values[i % len(values)])

            return run

        return work

    runs = {
        f"raw psycopg, {THREADS} connections to the primary (anchor)": raw_work(ctx.db.app_dsn),
        "Database direct (pool 5 + 10)": session_work(direct),
        "Database through PgBouncer (pool 5 + 10, PgBouncer pool 20)": session_work(pooled),
    }
    rows = []
    anchor_rate = 0.0
    for name, work in runs.items():
        result = _throughput(work, seconds=seconds)
        anchor_rate = anchor_rate or result["ops_per_s"]
        rows.append(
            [
                name,
                f"{result['ops_per_s']:,.0f}",
                times(result["ops_per_s"] / anchor_rate),
                ms(result["p50_ms"]),
                ms(result["p95_ms"]),
                result["errors"],
            ]
        )
    return Table(
        title=f"Throughput: {THREADS} client threads, one lookup per session, {seconds:.0f} s each",
        columns=["variant", "lookups/s", "÷ anchor", "p50 ms", "p95 ms", "errors"],
        rows=rows,
    )
