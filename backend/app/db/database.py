"""The database: engines, session factories, instrumentation and the unit of work.

A :class:`Database` is built by an explicit call, never at import::

    db = Database.from_settings()           # or get_database(): the process's default

    with db.transaction() as session:       # scripts and the CLI
        profile = ProfileRepository(session).update(user_id, {"theme": "dark"})
        ...                                 # more repository calls, same transaction
    # committed once here; on any error rolled back, a database error raised typed

    @app.post("/things")                    # FastAPI: one unit of work per request
    def create(session: Session = Depends(db.transaction_dependency)): ...

    db.dispose()                            # at shutdown (the app's lifespan)

Importing this module builds no engine, opens no connection and attaches no listener.

**The commit policy.** A unit of work (:meth:`Database.transaction`,
:meth:`Database.transaction_dependency`, or :func:`unit_of_work` around any session) marks
its session; repositories built on :class:`app.repositories.base.RepositoryBase` then only
add and flush, and the scope commits once at the end. A repository on any other session (a
plain ``SessionLocal()``, the spec's code and tests) commits per call, as the spec's
``UserRepository`` does. Inside a unit of work a commit by anyone but the scope itself is
refused with :class:`~app.errors.UnitOfWorkError`, so a repository that still commits per
call can never split the transaction silently: it fails, and nothing is written.

Session listeners (refusing ORM writes in read sessions, refusing inner commits) are
attached to this object's sessionmakers, never to SQLAlchemy's ``Session`` class.

**Replicas.** With ``READ_DATABASE_URL`` set, read sessions read from the replicas
(:mod:`app.db.replicas`), and every commit of a write session records its read-your-writes
token (:func:`app.db.read_your_writes.commit_token`)::

    with db.transaction() as session:
        ...
    with db.read_session(token=commit_token(session)) as reader:
        ...                                 # a replica that has replayed the commit, or the primary
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Generator, Iterator, Sequence

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings, get_settings
from app.db.base import make_engine
from app.db.errors import translated
from app.db.read_your_writes import track_commits
from app.db.replicas import ReadSession, ReplicaRouter
from app.errors import ReadOnlySession, UnitOfWorkError

#: ``session.info`` key set while a unit of work owns the session; its value says whether
#: the scope itself is committing.
UNIT_OF_WORK = "bahr.unit_of_work"
_OPEN = "open"
_COMMITTING = "committing"
_FAILED = "failed"
#: ``session.info`` key of read sessions (also read by :mod:`app.db.base`'s listener).
READ_ONLY = "read_only"

#: ``instrument(engine, name)``: what :meth:`Database.from_settings` calls on each engine.
Instrument = Callable[[Engine, str], object]


def in_unit_of_work(session: Session) -> bool:
    """Whether a unit of work owns ``session`` (repositories then flush, never commit)."""
    return UNIT_OF_WORK in session.info


def mark_failed(session: Session) -> None:
    """Record that a database error happened inside the unit of work owning ``session``:
    PostgreSQL has aborted its transaction, so the unit must not pretend to commit, even
    if the caller caught the error and carried on."""
    if session.info.get(UNIT_OF_WORK) == _OPEN:
        session.info[UNIT_OF_WORK] = _FAILED


def _refuse_writes(session: Session, _ctx: object, _objs: object) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlySession(
            "this session only reads (read_session / get_read_db); write through "
            "transaction / get_db",
            rule="read_only",
        )


def _refuse_inner_commits(session: Session) -> None:
    if session.info.get(UNIT_OF_WORK) == _OPEN:
        raise UnitOfWorkError(
            "a commit inside a unit of work: the unit of work commits once, at its end "
            "(repositories on its session must only flush)",
            rule="unit_of_work",
        )


def _fail_after_inner_rollbacks(session: Session) -> None:
    # A repository that rolls back by itself (one that still commits per call does, on a
    # database error) has undone the unit's earlier work: it must not commit the rest.
    mark_failed(session)


_GUARDS = (
    ("before_commit", _refuse_inner_commits),
    ("after_rollback", _fail_after_inner_rollbacks),
)


def _guard(target: Session | sessionmaker[Session]) -> None:
    """Attach the unit of work's guards to a sessionmaker, or to a session that was not
    made by a :class:`Database` (a test's, say)."""
    for name, guard in _GUARDS:
        if isinstance(target, sessionmaker) or not (
            event.contains(type(target), name, guard) or event.contains(target, name, guard)
        ):
            event.listen(target, name, guard)


@contextlib.contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Make ``session`` one unit of work: commit once at the end, roll back on any error.

    A commit by anyone else inside it is refused, and after a rollback by anyone else (or a
    database error that was caught) it refuses to commit what is left.
    Database errors are translated once, here (:func:`app.db.errors.translated`); the
    session is not closed (its owner closes it). Entered on a session that is already a
    unit of work, it joins the outer one: only the outermost scope commits.
    """
    if in_unit_of_work(session):
        yield session
        return
    _guard(session)
    session.info[UNIT_OF_WORK] = _OPEN
    try:
        with translated(session):
            yield session
            if session.info[UNIT_OF_WORK] == _FAILED:
                raise UnitOfWorkError(
                    "a database error inside this unit of work was caught and ignored; "
                    "its transaction was aborted, so nothing is committed",
                    rule="unit_of_work",
                )
            session.info[UNIT_OF_WORK] = _COMMITTING
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(UNIT_OF_WORK, None)


class Database:
    """A write engine, read engines, their session factories and their instrumentation.

    ``read_engines`` are read engines on the primary: :meth:`from_settings` gives one, whose
    connections are in autocommit and read-only in the server (:func:`app.db.base.make_engine`).
    Without read engines, reads go through the write engine (still refused ORM writes in
    Python). With a ``router``, read sessions take their connection from it (a replica, or
    ``read_engines[0]`` when none may serve), and write sessions record each commit's
    read-your-writes token.
    """

    def __init__(
        self,
        write_engine: Engine,
        read_engines: Sequence[Engine] = (),
        *,
        instrument: Instrument | None = None,
        uninstrument: Callable[[Engine], object] | None = None,
        name: str = "app",
        router: ReplicaRouter | None = None,
    ) -> None:
        self.name = name
        self.router = router
        self._uninstrument = uninstrument
        self.write_engine = write_engine
        self.read_engines: list[Engine] = list(read_engines) or [write_engine]
        #: The spec's ``SessionLocal``: objects are not expired on commit, so a repository
        #: that commits returns its rows without a reload round trip.
        self.sessionmaker: sessionmaker[Session] = sessionmaker(
            bind=write_engine, autoflush=False, expire_on_commit=False
        )
        self.read_sessionmaker: sessionmaker[ReadSession] = sessionmaker(
            bind=self.read_engines[0],
            class_=ReadSession,
            autoflush=False,
            expire_on_commit=False,
            info={READ_ONLY: True},
            router=router,
        )
        _guard(self.sessionmaker)
        if router is not None:
            track_commits(self.sessionmaker)
        event.listen(self.read_sessionmaker, "before_flush", _refuse_writes)
        if instrument is not None:
            for engine, engine_name in self._named_engines():
                instrument(engine, engine_name)

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        instrument: Instrument | None = None,
        name: str = "app",
    ) -> Database:
        """The application's database (role ``bahr_app``): a pooled write engine, one read
        engine on the primary, and one read engine per replica of ``READ_DATABASE_URL``
        (with a :class:`~app.db.replicas.ReplicaRouter`). Builds engines, does not connect.

        ``instrument`` defaults to the metrics' :func:`app.metrics.database_metrics.instrument`
        when ``metrics_enabled`` is set (and :meth:`dispose` then uninstruments).
        """
        settings = settings or get_settings()
        write = make_engine(settings=settings)
        read = make_engine(settings=settings, read_only=True)
        router = _router(read, settings, name)
        if instrument is None and settings.metrics_enabled:
            return cls(
                write,
                [read],
                instrument=_metrics_instrument,
                uninstrument=_metrics_uninstrument,
                name=name,
                router=router,
            )
        return cls(write, [read], instrument=instrument, name=name, router=router)

    @classmethod
    def for_owner(cls, settings: Settings | None = None) -> Database:
        """The admin path, as the schema owner (``MIGRATION_DATABASE_URL``): for the
        reference data (meters) that the application role may only read. Unpooled: each
        connection is closed when released."""
        settings = settings or get_settings()
        return cls(make_engine(settings.migration_url(), settings, pooled=False), name="owner")

    # -- sessions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A new session as one unit of work: committed once, rolled back on error, closed."""
        with self.sessionmaker() as session, unit_of_work(session):
            yield session

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A plain session (the spec's ``SessionLocal()``), rolled back on error, closed:
        repositories on it commit per call."""
        with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise

    @contextlib.contextmanager
    def read_session(self, *, token: str | int | None = None) -> Iterator[Session]:
        """A read-only session (autocommit, one round trip per query), always closed.

        With replicas, it reads from one; ``token`` (a read-your-writes token,
        :func:`~app.db.read_your_writes.commit_token`) makes it read from one that has
        replayed that far, or from the primary. A token that is not an LSN is a ValueError.
        """
        with self.read_sessionmaker(token=token) as session:
            yield session

    def transaction_dependency(self) -> Generator[Session]:
        """FastAPI dependency: the request is one unit of work, committed when the route
        returns. Declare it with ``Depends(db.transaction_dependency, scope="function")``
        so that the commit happens before the response is sent."""
        with self.transaction() as session:
            yield session

    def session_dependency(self) -> Generator[Session]:
        """FastAPI dependency with the spec's ``get_db`` behaviour: a plain session per
        request, rolled back on error, always closed (repositories commit per call)."""
        with self.session() as session:
            yield session

    def read_session_dependency(self) -> Generator[Session]:
        """FastAPI dependency for requests that only read (the spec's ``get_read_db``)."""
        with self.read_session() as session:
            yield session

    def close_connections(self) -> None:
        """Close every pooled connection of every engine, replicas included (before the
        server stops, say). The object stays usable: the next session connects again."""
        for engine in self._engines():
            engine.dispose()

    def dispose(self) -> None:
        """Close every pooled connection of every engine and detach the instrumentation
        (at shutdown; the names of the engines are free again)."""
        if self.router is not None:
            self.router.close()
        for engine in self._engines():
            if self._uninstrument is not None:
                self._uninstrument(engine)
            engine.dispose()

    def _engines(self) -> list[Engine]:
        return list(dict.fromkeys([self.write_engine, *self.read_engines, *self._replicas()]))

    def _named_engines(self) -> list[tuple[Engine, str]]:
        named = [(self.write_engine, self.name)]
        reads = [e for e in self.read_engines if e is not self.write_engine]
        for index, engine in enumerate(reads):
            named.append((engine, f"{self.name}-read" + (f"-{index}" if index else "")))
        if self.router is not None:
            named.extend((replica.engine, replica.name) for replica in self.router.replicas)
        return named

    def _replicas(self) -> list[Engine]:
        return [r.engine for r in self.router.replicas] if self.router is not None else []


def _router(primary_read: Engine, settings: Settings, name: str) -> ReplicaRouter | None:
    """The replicas of ``READ_DATABASE_URL`` (None when it is not set), named
    ``<name>-replica-<n>`` in the metrics."""
    urls = settings.read_urls()
    if not urls:
        return None
    metrics = None
    if settings.metrics_enabled:
        from app.metrics.database_metrics import default_metrics

        metrics = default_metrics()
    return ReplicaRouter(
        primary_read,
        [
            (
                f"{name}-replica-{index}",
                make_engine(_replica_url(url, settings), settings, read_only=True),
            )
            for index, url in enumerate(urls)
        ],
        max_lag_s=settings.replica_max_lag_s,
        wait_s=settings.read_your_writes_wait_ms / 1000,
        check_interval_s=settings.replica_check_interval_s,
        down_backoff_s=settings.replica_down_backoff_s,
        metrics=metrics,
    )


def _replica_url(url: URL, settings: Settings) -> URL:
    """A replica's URL with a short libpq ``connect_timeout`` (unless it has its own), so a
    replica that does not answer costs a read seconds, not minutes."""
    if "connect_timeout" in url.query:
        return url
    return url.update_query_dict({"connect_timeout": str(settings.replica_connect_timeout_s)})


def _metrics_instrument(engine: Engine, name: str) -> object:
    # Imported on use: the metrics are optional work, and importing them attaches nothing.
    from app.metrics.database_metrics import instrument

    return instrument(engine, name=name)


def _metrics_uninstrument(engine: Engine) -> None:
    from app.metrics.database_metrics import uninstrument

    uninstrument(engine)


_default: list[Database] = []  # at most one
_default_lock = threading.Lock()


def get_database() -> Database:
    """The process's default :class:`Database`, built from the settings on first use."""
    with _default_lock:
        if not _default:
            _default.append(Database.from_settings())
        return _default[0]


def reset_database() -> None:
    """Dispose of the default :class:`Database`; the next :func:`get_database` builds a
    new one (after the settings changed, or in a forked worker)."""
    with _default_lock:
        if _default:
            _default.pop().dispose()


__all__ = [
    "Database",
    "Instrument",
    "get_database",
    "in_unit_of_work",
    "mark_failed",
    "reset_database",
    "unit_of_work",
]
