"""The Database object and the unit of work: built on demand, one commit per unit, nothing
left behind by a failure, listeners on its own sessions only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, select, text
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import database as database_module
from app.db.database import (
    Database,
    get_database,
    in_unit_of_work,
    reset_database,
    unit_of_work,
)
from app.errors import InvalidInput, NotFound, ReadOnlySession, UnitOfWorkError
from app.metrics.database_metrics import is_instrumented
from app.models.analysis import Analysis
from app.models.user import User, UserProfile
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.base import RepositoryBase, validated
from app.repositories.profile_repository import ProfileRepository
from app.repositories.user_repository import UserRepository
from app.schemas.analysis import AnalysisCreate
from app.text.arabic import normalize
from tests.factories import user_create

VERSE = "قفا نبك من ذكرى حبيب ومنزل"


class _AbortError(Exception):
    pass


@pytest.fixture
def database(engine: Engine) -> Iterator[Database]:
    """A Database of its own on the test database (no metrics), disposed afterwards."""
    db = Database.from_settings(instrument=lambda _engine, _name: None)
    yield db
    db.dispose()


def _users_named(engine: Engine, username: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM users WHERE username = :u"), {"u": username}
            ).scalar_one()
        )


# -- the two-repository transaction, on repositories built on RepositoryBase ------------------
# Minimal repositories on the base (the schema validates, ``_values`` derives); the real
# UserRepository and AnalysisRepository are tested the same way further down.
class _Accounts(RepositoryBase[User, int]):
    model = User
    id_field = "user_id"

    def register(self, username: str) -> User:
        data = user_create(username=username)
        user = User(
            username=data.username,
            email=data.email,
            password_hash="not-a-real-hash",
            full_name=data.full_name,
        )
        user.profile = UserProfile()
        self.db.add(user)
        self._save()
        return user


class _Analyses(RepositoryBase[Analysis, Any]):
    model = Analysis
    create_schema = AnalysisCreate
    id_field = "analysis_id"

    def create_for(self, user_id: int, data: dict[str, Any]) -> Analysis:
        values = self._values(validated(AnalysisCreate, data), partial=False)
        analysis = Analysis(
            **values, user_id=user_id, normalized_text=normalize(values["original_text"])
        )
        self.db.add(analysis)
        self._save()
        return analysis


def _first_analysis(pattern: str = "//o/o") -> dict[str, Any]:
    return {"original_text": VERSE, "pattern": pattern, "detected_meter": "الطويل"}


def test_a_user_and_their_first_analysis_commit_together(db: Session) -> None:
    with unit_of_work(db):
        user = _Accounts(db).register("uow_both")
        analysis = _Analyses(db).create_for(user.id, _first_analysis())
        # Flushed, not committed: the unit of work still holds its transaction.
        assert db.in_transaction()
        assert in_unit_of_work(db)
    assert not in_unit_of_work(db)
    stored = db.execute(select(Analysis.user_id).where(Analysis.id == analysis.id)).scalar_one()
    assert stored == user.id


def _register_with_first_analysis(
    db: Session, username: str, *, pattern: str = "//o/o", owner: int | None = None
) -> None:
    """One unit of work: a new user, then their first analysis."""
    with unit_of_work(db):
        user = _Accounts(db).register(username)
        assert db.get(User, user.id) is not None  # the INSERT was sent
        _Analyses(db).create_for(owner or user.id, _first_analysis(pattern))


def _user_exists(db: Session, username: str) -> bool:
    return db.execute(select(User).where(User.username == username)).first() is not None


def test_a_failure_in_the_second_repository_leaves_neither(db: Session) -> None:
    with pytest.raises(InvalidInput) as info:
        _register_with_first_analysis(db, "uow_neither", pattern="not a pattern")
    assert info.value.field == "pattern"
    assert not _user_exists(db, "uow_neither")


def test_a_database_error_in_the_second_leaves_neither_and_is_typed(db: Session) -> None:
    with pytest.raises(NotFound) as info:
        # No user -1: the foreign key refuses the analysis, after the user was inserted.
        _register_with_first_analysis(db, "uow_db_error", owner=-1)
    assert info.value.rule == "must_exist"
    assert not _user_exists(db, "uow_db_error")


def _register_and_store(db: Session, username: str, *, owner: int | None = None) -> uuid.UUID:
    """The real repositories in one unit of work: a registration, then an analysis."""
    with unit_of_work(db):
        user = UserRepository(db).register(user_create(username=username))
        assert db.get(User, user.id) is not None  # the INSERT was sent
        return AnalysisRepository(db).create(_first_analysis(), user_id=owner or user.id).id


def test_the_real_user_and_analysis_repositories_commit_together(db: Session) -> None:
    analysis_id = _register_and_store(db, "uow_real_both")
    user = db.execute(select(User).where(User.username == "uow_real_both")).scalar_one()
    stored = db.execute(select(Analysis.user_id).where(Analysis.id == analysis_id)).scalar_one()
    assert stored == user.id
    assert user.profile is not None


def test_a_failure_in_the_real_analysis_repository_leaves_no_user(db: Session) -> None:
    with pytest.raises(NotFound) as info:
        # No user -1: the foreign key refuses the analysis, after the user was inserted.
        _register_and_store(db, "uow_real_neither", owner=-1)
    assert info.value.rule == "must_exist"
    assert not _user_exists(db, "uow_real_neither")


def _register_and_fail_for_real(database: Database, engine: Engine) -> None:
    with database.transaction() as session:
        user = UserRepository(session).register(user_create(username="uow_real_tx"))
        assert user.id is not None  # inserted (flushed) ...
        assert _users_named(engine, "uow_real_tx") == 0  # ... not committed
        AnalysisRepository(session).create(_first_analysis(), user_id=-1)


def test_a_real_transaction_with_both_repositories_leaves_neither_on_failure(
    database: Database, engine: Engine
) -> None:
    with pytest.raises(NotFound):
        _register_and_fail_for_real(database, engine)
    assert _users_named(engine, "uow_real_tx") == 0


def _register_then_commit(db: Session) -> None:
    with unit_of_work(db):
        ProfileRepository(db).list(limit=1)  # a base repository on the same session
        UserRepository(db).register(user_create(username="uow_inner_commit"))
        db.commit()


def test_a_commit_inside_a_unit_of_work_is_refused_and_nothing_is_stored(
    db: Session,
) -> None:
    # A commit by anyone but the scope would end the transaction early: it is refused and
    # the whole unit rolls back.
    with pytest.raises(UnitOfWorkError) as info:
        _register_then_commit(db)
    assert info.value.rule == "unit_of_work"
    assert not _user_exists(db, "uow_inner_commit")


def _roll_back_midway(db: Session) -> None:
    with unit_of_work(db):
        _Accounts(db).register("uow_before_rollback")
        db.rollback()  # what a repository that commits per call does on a database error
        _Accounts(db).register("uow_after_rollback")


def test_after_a_rollback_inside_it_a_unit_of_work_commits_nothing(db: Session) -> None:
    with pytest.raises(UnitOfWorkError):
        _roll_back_midway(db)
    assert not _user_exists(db, "uow_before_rollback")
    assert not _user_exists(db, "uow_after_rollback")


def test_outside_a_unit_of_work_a_base_repository_commits_per_call(db: Session) -> None:
    user = _Accounts(db).register("uow_spec")
    assert not db.in_transaction()  # the spec's behaviour: the call committed
    assert db.get(User, user.id) is not None


def _nested(db: Session) -> None:
    with unit_of_work(db):
        with unit_of_work(db):
            _Accounts(db).register("uow_nested")
        assert in_unit_of_work(db)  # the inner scope did not commit or end the unit
        raise _AbortError


def test_a_nested_unit_of_work_joins_the_outer_one(db: Session) -> None:
    with pytest.raises(_AbortError):
        _nested(db)
    assert not _user_exists(db, "uow_nested")


# -- the Database object ----------------------------------------------------------------------
def test_transaction_commits_once_for_real(database: Database, engine: Engine) -> None:
    try:
        with database.transaction() as session:
            assert in_unit_of_work(session)
            session.execute(
                text(
                    "INSERT INTO users (username, email, password_hash, full_name) "
                    "VALUES ('uow_real', 'uow_real@example.com', 'x', 'Real')"
                )
            )
            assert _users_named(engine, "uow_real") == 0  # not visible before the commit
        assert _users_named(engine, "uow_real") == 1
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM users WHERE username = 'uow_real'"))


def _insert_two_users(database: Database, *usernames: str) -> None:
    with database.transaction() as session:
        for name in usernames:
            session.execute(
                text(
                    "INSERT INTO users (username, email, password_hash, full_name) "
                    "VALUES (:u, :email, 'x', 'Real')"
                ),
                {"u": name, "email": f"{name}@example.com"},
            )


def test_transaction_rolls_back_for_real_and_translates_once(
    database: Database, engine: Engine
) -> None:
    with pytest.raises(InvalidInput) as info:
        _insert_two_users(database, "uow_real_rb", "x")  # "x" breaks username_format
    assert info.value.field == "username"
    assert _users_named(engine, "uow_real_rb") == 0
    assert database.write_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_transaction_dependency_commits_when_the_route_returns(
    database: Database, engine: Engine
) -> None:
    gen = database.transaction_dependency()
    session = next(gen)
    session.execute(
        text(
            "INSERT INTO users (username, email, password_hash, full_name) "
            "VALUES ('uow_dep', 'uow_dep@example.com', 'x', 'Dep')"
        )
    )
    with pytest.raises(RuntimeError):
        gen.throw(RuntimeError("the route failed"))
    assert _users_named(engine, "uow_dep") == 0
    assert database.write_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_session_dependency_keeps_the_spec_behaviour(database: Database) -> None:
    gen = database.session_dependency()
    session = next(gen)
    assert not in_unit_of_work(session)
    assert session.execute(text("SELECT 1")).scalar_one() == 1
    with pytest.raises(StopIteration):
        next(gen)
    assert not session.in_transaction()


def test_read_sessions_are_autocommit_read_only_and_refuse_orm_writes(
    database: Database, engine: Engine
) -> None:
    gen = database.read_session_dependency()
    session = next(gen)
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    assert dbapi.autocommit is True
    assert session.execute(text("SHOW default_transaction_read_only")).scalar_one() == "on"
    session.add(User(username="uow_read", email="r@example.com", password_hash="x", full_name="R"))
    with pytest.raises(ReadOnlySession):
        session.flush()
    session.rollback()
    with pytest.raises(StopIteration):
        next(gen)
    assert _users_named(engine, "uow_read") == 0


def test_session_listeners_belong_to_the_database_not_to_the_session_class(
    database: Database,
) -> None:
    refuse = database_module._refuse_writes
    guard = database_module._refuse_inner_commits
    assert event.contains(database.read_sessionmaker, "before_flush", refuse)
    assert event.contains(database.sessionmaker, "before_commit", guard)
    assert not event.contains(Session, "before_flush", refuse)
    assert not event.contains(Session, "before_commit", guard)


def test_building_a_database_connects_nowhere_and_instruments_each_engine() -> None:
    seen: list[tuple[Engine, str]] = []
    db = Database.from_settings(instrument=lambda engine, name: seen.append((engine, name)))
    try:
        assert seen == [(db.write_engine, "app"), (db.read_engines[0], "app-read")]
        for engine in (db.write_engine, db.read_engines[0]):
            assert engine.pool.checkedin() == 0  # type: ignore[attr-defined]
            assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        db.dispose()


def test_by_default_the_metrics_instrument_both_engines() -> None:
    assert get_settings().metrics_enabled
    db = Database.from_settings(name="uow-metrics")
    try:
        assert is_instrumented(db.write_engine)
        assert is_instrumented(db.read_engines[0])
    finally:
        db.dispose()
    assert not is_instrumented(db.write_engine)
    assert not is_instrumented(db.read_engines[0])


def test_the_owner_database_writes_as_the_schema_owner(engine: Engine) -> None:
    owner = Database.for_owner()
    try:
        with owner.transaction() as session:
            role = session.execute(text("SELECT current_user")).scalar_one()
        assert role == get_settings().migration_url().username
    finally:
        owner.dispose()


def test_get_database_is_one_lazy_default(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # The process's own default is set aside, not disposed: other code holds its engines,
    # and its metrics hold the name "app", so the stand-ins here are built without metrics.
    saved = list(database_module._default)
    database_module._default.clear()
    monkeypatch.setenv("METRICS_ENABLED", "false")
    get_settings.cache_clear()
    try:
        first = get_database()
        assert get_database() is first
        with first.read_session() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
        reset_database()
        assert not database_module._default
        second = get_database()
        assert second is not first
        reset_database()
    finally:
        database_module._default[:] = saved
        monkeypatch.undo()
        get_settings.cache_clear()


def test_a_unit_of_work_on_a_test_connection_uses_savepoints(connection: Connection) -> None:
    # The fixtures' sessions join the test's transaction: a unit of work on one releases a
    # savepoint at its end, and the test's rollback still removes everything.
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    with unit_of_work(session):
        _Accounts(session).register("uow_savepoint")
    assert connection.in_transaction()
    session.close()
