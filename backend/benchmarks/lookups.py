"""Section 1: simple lookups through the repositories against raw psycopg.

Anchor: the same SQL the repository sends (captured from the repository itself), run with
raw psycopg on one autocommit connection, fetching one tuple. Two modes:

* one session: many lookups in one session (distinct ids, so every lookup loads a new
  object, as a request walking a list would);
* one session per lookup: ``with SessionLocal() as db: repo.get_by_id(i)`` per lookup, the
  shape of one request doing one query.

Both shipped session factories are measured: ``SessionLocal`` (read-write, the spec's) and
``ReadSessionLocal`` (autocommit, read-only; for requests that only read). Beside them,
references show what each shipped choice saves, by undoing it: ``User.profile`` loaded by
a second SELECT (``selectinload``, what the models did before), SQLAlchemy's round-trip
pre-ping instead of the socket check (``pool_ping="roundtrip"``), and, as an unsafe floor,
no liveness check at all. The section also restarts the server under idle pooled
connections to check that the shipped liveness check really replaces dead connections.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, event, func, select
from sqlalchemy.orm import Session, raiseload, selectinload

from benchmarks import engines
from benchmarks.context import Context
from benchmarks.report import Section, Table, Target, ms, times
from benchmarks.serverlog import statement_log
from benchmarks.timing import Series, interleaved

RAW = "raw psycopg (anchor)"
SHIPPED = "SessionLocal (as shipped)"
READ = "ReadSessionLocal (as shipped)"
SELECTIN = "profile by a 2nd SELECT (before)"
NO_PROFILE = "profile not loaded (raiseload)"
DRIVER_SQL = "SQLAlchemy exec_driver_sql, same SQL"
ROUNDTRIP = "round-trip pre-ping (before)"
NO_PING = "no liveness check (unsafe reference)"

IN_SESSION_TARGET = 2.0
PER_LOOKUP_TARGET = 3.0
ABSOLUTE_TARGET_MS = 0.5


@dataclass
class Method:
    label: str
    call: Callable[[Session, Any], Any]  # the shipped repository method
    selectin: Callable[[Session, Any], Any] | None  # reference: profile by a 2nd SELECT
    no_profile: Callable[[Session, Any], Any] | None
    values: list[Any]
    sql: str = ""
    param: str = ""
    statements: int = 0  # statements one call sends (captured)


def seed_users(ctx: Context) -> None:
    n = ctx.sizes.users
    with ctx.db.owner() as conn:
        conn.execute(
            "INSERT INTO users (username, email, password_hash, full_name) "
            "SELECT 'bench_user_' || g, 'bench_user_' || g || '@example.com', "
            "'$argon2id$v=19$m=19456,t=2,p=1$' || md5(g::text), 'مستخدم ' || g "
            "FROM generate_series(1, %s) g",
            (n,),
        )
        conn.execute("INSERT INTO user_profiles (user_id) SELECT id FROM users")
        conn.execute("ANALYZE users")
        conn.execute("ANALYZE user_profiles")


def capture(
    engine: Any, sessions: Callable[[], Any], call: Callable[[Session, Any], Any], sample: Any
) -> tuple[str, str, int]:
    """The first SQL statement ``call(session, sample)`` sends on ``engine`` (a session from
    ``sessions``), the name of the parameter that carries ``sample``, and how many
    statements the call sent."""
    seen: list[tuple[str, Any]] = []

    def listener(_c: Any, _cur: Any, statement: str, params: Any, *_a: Any) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        with sessions() as db:
            call(db, sample)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    statement, params = seen[0]
    names = [k for k, v in dict(params).items() if v == sample]
    if len(names) != 1:
        raise RuntimeError(f"cannot tell which parameter of {statement!r} holds {sample!r}")
    return statement, names[0], len(seen)


def _methods(ctx: Context) -> list[Method]:
    from app.models.user import User
    from app.repositories.meter_repository import MeterRepository
    from app.repositories.user_repository import UserRepository

    rng = random.Random(1)
    count = ctx.sizes.lookups + ctx.sizes.warmup
    ids = rng.sample(range(1, ctx.sizes.users + 1), min(count, ctx.sizes.users))
    ids = (ids * (count // len(ids) + 1))[:count]
    by_id = select(User).where(User.id == bindparam("v"))
    by_name = select(User).where(func.lower(User.username) == func.lower(bindparam("v")))
    by_id_s = by_id.options(selectinload(User.profile))
    by_name_s = by_name.options(selectinload(User.profile))
    by_id_n = by_id.options(raiseload(User.profile))
    meters = [m for (m,) in _all_meter_names()]

    def one(stmt: Any) -> Callable[[Session, Any], Any]:
        return lambda db, v: db.execute(stmt, {"v": v}).unique().scalar_one_or_none()

    return [
        Method(
            "UserRepository.get_by_id",
            lambda db, v: UserRepository(db).get_by_id(v),
            one(by_id_s),
            one(by_id_n),
            ids,
        ),
        Method(
            "UserRepository.get_by_username",
            lambda db, v: UserRepository(db).get_by_username(v),
            one(by_name_s),
            None,
            [f"bench_user_{i}" for i in ids],
        ),
        Method(
            "MeterRepository.get_by_name",
            lambda db, v: MeterRepository(db).get_by_name(v),
            None,
            None,
            [meters[i % len(meters)] for i in range(count)],
        ),
    ]


def _all_meter_names() -> list[tuple[str]]:
    from app.db.base import SessionLocal
    from app.models.analysis import Meter

    with SessionLocal() as db:
        return [(m,) for m in db.scalars(select(Meter.name_arabic).order_by(Meter.position))]


class _Engines:
    """The shipped session factories and the references' (fresh pools for the latter)."""

    def __init__(self) -> None:
        from app.db.base import ReadSessionLocal, SessionLocal

        self.roundtrip = engines.make(ping="roundtrip")
        self.no_ping = engines.make(pre_ping=False)
        self.shipped = SessionLocal
        self.read = ReadSessionLocal
        self.roundtrip_sessions = engines.sessions(self.roundtrip)
        self.no_ping_sessions = engines.sessions(self.no_ping)

    def dispose(self) -> None:
        for e in (self.roundtrip, self.no_ping):
            engines.dispose(e)


def _per_lookup_variants(m: Method, raw: Any, eng: _Engines) -> dict[str, Callable[[int], object]]:
    values, sql, param = m.values, m.sql, m.param

    def per(factory: Any, call: Callable[[Session, Any], Any]) -> Callable[[int], object]:
        def run(i: int) -> object:
            with factory() as db:
                return call(db, values[i])

        return run

    variants: dict[str, Callable[[int], object]] = {
        RAW: lambda i: raw.execute(sql, {param: values[i]}).fetchone(),
        SHIPPED: per(eng.shipped, m.call),
        READ: per(eng.read, m.call),
    }
    if m.selectin is not None:
        variants[SELECTIN] = per(eng.shipped, m.selectin)
    variants[ROUNDTRIP] = per(eng.roundtrip_sessions, m.call)
    variants[NO_PING] = per(eng.no_ping_sessions, m.call)
    return variants


def _in_session_variants(
    m: Method, raw: Any, sessions: list[Session]
) -> dict[str, Callable[[int], object]]:
    from app.db.base import ReadSessionLocal, SessionLocal

    values, sql, param = m.values, m.sql, m.param

    def within(factory: Any, call: Callable[[Session, Any], Any]) -> Callable[[int], object]:
        db = factory()
        sessions.append(db)
        return lambda i: call(db, values[i])

    variants: dict[str, Callable[[int], object]] = {
        RAW: lambda i: raw.execute(sql, {param: values[i]}).fetchone(),
        SHIPPED: within(SessionLocal, m.call),
        READ: within(ReadSessionLocal, m.call),
    }
    if m.selectin is not None:
        variants[SELECTIN] = within(SessionLocal, m.selectin)
    if m.no_profile is not None:
        variants[NO_PROFILE] = within(SessionLocal, m.no_profile)
        core = SessionLocal()
        sessions.append(core)
        conn = core.connection()
        variants[DRIVER_SQL] = lambda i: conn.exec_driver_sql(sql, {param: values[i]}).first()
    return variants


def _anatomy(ctx: Context, methods: list[Method]) -> dict[str, list[str]]:
    """Statements the server receives for one lookup (one session per lookup)."""
    from app.db import roles
    from app.db.base import engine, read_engine

    m = methods[0]
    found: dict[str, list[str]] = {}
    with statement_log(ctx.db, roles.APP) as log:
        engine.dispose()  # new connections pick up log_statement
        read_engine.dispose()
        eng = _Engines()
        raw = ctx.db.app_raw()
        try:
            for name, fn in _per_lookup_variants(m, raw, eng).items():
                for i in range(6):  # steady state: prepared statements in place
                    fn(len(m.values) - 1 - i)
                log.mark()
                fn(0)
                found[name] = log.statements()
        finally:
            raw.close()
            eng.dispose()
            engine.dispose()
            read_engine.dispose()
    return found


def _restart_check(ctx: Context, methods: list[Method]) -> dict[str, str]:
    """Restart the server under idle pooled connections; does the next request work?"""
    eng = _Engines()
    m = methods[0]
    checks: dict[str, Callable[[], Session]] = {
        "socket check, SessionLocal (as shipped)": eng.shipped,
        "socket check, ReadSessionLocal (as shipped)": eng.read,
        "round-trip pre-ping": eng.roundtrip_sessions,
        "no liveness check": eng.no_ping_sessions,
    }
    outcome: dict[str, str] = {}
    try:
        for factory in checks.values():
            with factory() as db:
                m.call(db, m.values[0])
        ctx.db.restart()
        for name, factory in checks.items():
            try:
                with factory() as db:
                    m.call(db, m.values[1])
                outcome[name] = "ok"
            except Exception as error:  # the failure is the finding
                outcome[name] = f"FAILED ({type(error).__name__})"
    finally:
        eng.dispose()
    return outcome


def _cache_check(m: Method) -> dict[str, Any]:
    """Is the repository statement compiled once? And what does its cache key cost?"""
    from app.db.base import SessionLocal

    hits = misses = 0

    def listener(_c: Any, _cur: Any, _s: str, _p: Any, context: Any, _e: bool) -> None:
        nonlocal hits, misses
        if context is not None and context.cache_hit is context.dialect.CACHE_HIT:
            hits += 1
        else:
            misses += 1

    from app.db.base import engine

    calls = 0
    with SessionLocal() as db:
        m.call(db, m.values[0])
        event.listen(engine, "before_cursor_execute", listener)
        try:
            for v in m.values[1:101]:
                m.call(db, v)
                calls += 1
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    from app.models.user import User

    stmt = select(User).where(User.id == bindparam("v"))
    start = time.perf_counter_ns()
    for _ in range(1000):
        stmt._generate_cache_key()
    key_us = (time.perf_counter_ns() - start) / 1000 / 1000
    return {"calls": calls, "hits": hits, "misses": misses, "cache_key_us": round(key_us, 2)}


def _row(name: str, s: Series, anchor: Series, statements: int | None = None) -> list[Any]:
    row: list[Any] = [
        name,
        ms(s.p50_ms),
        ms(s.p95_ms),
        times(s.p50_ms / anchor.p50_ms),
        times(s.p95_ms / anchor.p95_ms),
    ]
    if statements is not None:
        row.append(statements)
    return row


def run(ctx: Context) -> Section:
    section = Section(
        key="lookups",
        title="1. Simple lookups: repositories vs raw psycopg",
        method=(
            "Anchor: the SQL the repository sends (captured from it), through raw psycopg on "
            "one autocommit connection, fetching one tuple. *One session*: "
            f"{ctx.sizes.lookups:,} lookups of distinct rows in one session. *One "
            "session per lookup*: `with SessionLocal() as db: repo.method(value)` per lookup "
            "(and the same with `ReadSessionLocal`). Variants are interleaved in blocks of "
            f"{ctx.sizes.block} calls after {ctx.sizes.warmup} warm-up calls each. Rows "
            "marked *before* undo one shipped choice, to show what it saves; ratios are to "
            "the anchor's p50 (p95)."
        ),
    )
    from app.db.base import SessionLocal, engine, read_engine

    methods = _methods(ctx)
    for m in methods:
        m.sql, m.param, m.statements = capture(engine, SessionLocal, m.call, m.values[0])
    ctx.log("lookups: server-side anatomy of one request")
    anatomy = _anatomy(ctx, methods)
    section.data["anatomy"] = anatomy
    section.data["statements_per_call"] = {m.label: m.statements for m in methods}
    section.data["app_engine_instrumented"] = engines.app_engine_instrumented()

    raw = ctx.db.app_raw()
    eng = _Engines()
    sessions: list[Session] = []
    results: dict[str, dict[str, dict[str, Series]]] = {}
    try:
        sizes = ctx.sizes
        for m in methods:
            modes = {
                "one_session": ("one session", _in_session_variants(m, raw, sessions)),
                "per_lookup": ("one session per lookup", _per_lookup_variants(m, raw, eng)),
            }
            results[m.label] = {}
            for mode, (shape, variants) in modes.items():
                ctx.log(f"lookups: {m.label}, {shape}")
                results[m.label][mode] = interleaved(
                    variants, n=sizes.lookups, block=sizes.block, warmup=sizes.warmup
                )
    finally:
        for db in sessions:
            db.close()
        raw.close()
        eng.dispose()
    cache = _cache_check(methods[0])
    ctx.log("lookups: restarting the server under pooled connections")
    restart = _restart_check(ctx, methods)
    engine.dispose()
    read_engine.dispose()
    section.data["restart"] = restart
    section.data["compiled_cache"] = cache
    section.data["series"] = {
        label: {mode: {k: s.summary() for k, s in v.items()} for mode, v in modes.items()}
        for label, modes in results.items()
    }
    _render(section, results, anatomy, restart, cache)
    return section


def _render(
    section: Section,
    results: dict[str, dict[str, dict[str, Series]]],
    anatomy: dict[str, list[str]],
    restart: dict[str, str],
    cache: dict[str, Any],
) -> None:
    cols = ["variant", "p50 ms", "p95 ms", "p50 ratio", "p95 ratio"]
    for label, modes in results.items():
        one, per = modes["one_session"], modes["per_lookup"]
        section.tables.append(
            Table(
                f"{label} — one session",
                cols,
                [_row(k, s, one[RAW]) for k, s in one.items()],
            )
        )
        rows = []
        for k, s in per.items():
            row = _row(k, s, per[RAW])
            if label == "UserRepository.get_by_id":
                row.append(len(anatomy.get(k, [])) or "–")
            rows.append(row)
        per_cols = [*cols, "round trips"] if label == "UserRepository.get_by_id" else cols
        section.tables.append(Table(f"{label} — one session per lookup", per_cols, rows))

    section.tables.append(
        Table(
            "What the server receives for one `get_by_id` request (session per lookup)",
            ["variant", "statements, in order"],
            [[k, " · ".join(f"`{s}`" for s in v)] for k, v in anatomy.items()],
            note=(
                "From the server's own log (`log_statement = 'all'` for the application role "
                "during this probe only). `;` is SQLAlchemy's round-trip pre-ping for "
                "psycopg; the shipped socket check sends nothing. The pool's reset-on-return "
                "rollback costs no round trip: psycopg skips it when no transaction is open."
            ),
        )
    )
    section.tables.append(
        Table(
            "Server restarted under idle pooled connections: does the next request work?",
            ["liveness check", "next request"],
            [[k, v] for k, v in restart.items()],
        )
    )
    section.notes.append(
        f"Statement compilation: of the statements sent by {cache['calls']} further "
        f"`get_by_id` calls in one session, {cache['hits']} came from SQLAlchemy's compiled "
        f"cache and {cache['misses']} were compiled. The cache key of a module-level "
        f"statement is memoised on it ({cache['cache_key_us']} µs per call), so statement "
        "compilation costs nothing per call here."
    )

    for label, modes in results.items():
        for mode, bound, shape in (
            ("one_session", IN_SESSION_TARGET, "one session"),
            ("per_lookup", PER_LOOKUP_TARGET, "one session per lookup"),
        ):
            series = modes[mode]
            for variant in (READ, SHIPPED):
                s, a = series[variant], series[RAW]
                r = s.p50_ms / a.p50_ms
                met = r <= bound and s.p50_ms < ABSOLUTE_TARGET_MS
                factory = variant.split(" ")[0]
                section.targets.append(
                    Target(
                        name=f"{label}, {shape}, {factory}",
                        goal=f"p50 ≤ {bound:g}× raw and < {ABSOLUTE_TARGET_MS} ms",
                        measured=f"p50 {ms(s.p50_ms)} ms = {times(r)} raw ({ms(a.p50_ms)} ms)",
                        met=met,
                        why="" if met else _why(label, mode, variant, series, anatomy),
                    )
                )


def _why(
    label: str, mode: str, variant: str, series: dict[str, Series], anatomy: dict[str, list[str]]
) -> str:
    raw = series[RAW].p50_ms

    def at(name: str) -> str:
        s = series.get(name)
        return "" if s is None else f"{ms(s.p50_ms)} ms = {times(s.p50_ms / raw)}"

    if mode == "one_session":
        if DRIVER_SQL in series:
            return (
                "the ORM's per-statement cost (building the result, loading a User and its "
                f"profile): SQLAlchemy with no ORM, same SQL, is {at(DRIVER_SQL)}; the ORM "
                f"without the profile is {at(NO_PROFILE)}"
            )
        return (
            "the ORM's per-statement cost (result metadata, object loading) against a bare "
            "tuple fetch"
        )
    sent = anatomy.get(variant) if label == "UserRepository.get_by_id" else None
    if variant == SHIPPED:
        trips = f"{len(sent)} round trips ({', '.join(sent)})" if sent else "BEGIN and ROLLBACK"
        return (
            f"a read-write session opens and ends a transaction: {trips} against the "
            f"anchor's 1; ReadSessionLocal, which needs none, is {at(READ)}"
        )
    return (
        "one round trip, as the anchor; the rest is the ORM's per-statement cost (as in one "
        "session) plus a session and a pool checkout per lookup"
    )
