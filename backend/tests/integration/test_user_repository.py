"""UserRepository against PostgreSQL: the spec's verbs, accounts, profiles and bad input."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pwdlib.hashers.bcrypt import BcryptHasher
from pydantic import ValidationError
from sqlalchemy import Connection, Engine, event, func, select, text
from sqlalchemy.orm import Session

from app.errors import AlreadyExists, InvalidInput, NotFound
from app.models.analysis import Analysis
from app.models.user import User, UserProfile, UserRole
from app.passwords import ARGON2_MEMORY_KIB, ARGON2_TIME_COST
from app.repositories.user_repository import UserRepository
from app.schemas.user import ProfileUpdate, UserRead
from tests.factories import PASSWORD, make_user, user_create


def count(db: Session, model: type[Any]) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_register_creates_user_and_profile_with_an_argon2id_hash(db: Session) -> None:
    user = make_user(db, username="ahmad", full_name="أحمد محمد", role="poet")
    assert user.id is not None
    assert user.role is UserRole.POET
    assert user.profile is not None
    assert (user.profile.level, user.profile.xp) == (1, 0)
    assert user.password_hash.startswith(
        f"$argon2id$v=19$m={ARGON2_MEMORY_KIB},t={ARGON2_TIME_COST},p=1$"
    )
    assert PASSWORD not in user.password_hash
    assert PASSWORD not in repr(user)


def test_lookups_are_case_insensitive(db: Session) -> None:
    user = make_user(db, username="Ahmad", email="Ahmad@X.org")
    repo = UserRepository(db)
    assert repo.get_by_username("aHMAD") is user
    assert repo.get_by_email("ahmad@x.ORG") is user
    assert repo.get_by_id(user.id) is user
    assert repo.get_by_username("nobody") is None


@pytest.mark.parametrize(
    ("change", "field"),
    [({"username": "AHMAD"}, "username"), ({"email": "AHMAD@x.org"}, "email")],
)
def test_duplicate_username_or_email_in_any_case(
    db: Session, change: dict[str, str], field: str
) -> None:
    make_user(db, username="ahmad", email="ahmad@x.org")
    before = (count(db, User), count(db, UserProfile))
    with pytest.raises(AlreadyExists) as info:
        make_user(db, **{"username": "other", "email": "other@x.org", **change})
    assert info.value.field == field
    assert field in str(info.value)
    assert (count(db, User), count(db, UserProfile)) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"username": "ab"}, "username"),
        ({"username": "u" * 51}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "tab\there"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"role": "guru"}, "role"),
        ({"full_name": ""}, "full_name"),
        ({"full_name": "   "}, "full_name"),
        ({"full_name": "a\x00b"}, "full_name"),
        ({"full_name": "a\ud800b"}, "full_name"),
        ({"username": "nul\x00l"}, "username"),
        ({"email": "x\ud800@example.com"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "long enough\x00"}, "password"),
    ],
)
def test_register_rejects_bad_input_naming_the_field(
    db: Session, change: dict[str, str], field: str
) -> None:
    before = count(db, User)
    data = {
        "username": "valid_user",
        "email": "valid@example.com",
        "password": PASSWORD,
        "full_name": "Valid",
        **change,
    }
    with pytest.raises(ValidationError) as info:
        UserRepository(db).register(data)
    assert info.value.errors()[0]["loc"] == (field,)
    assert count(db, User) == before


def test_orm_writes_with_nul_or_surrogates_get_a_typed_error(db: Session) -> None:
    repo = UserRepository(db)
    for bad in ("x\x00y", "x\udfffy"):
        with pytest.raises(InvalidInput) as info:
            repo.create(
                User(username="raw_user", email="raw@example.com", password_hash="h", full_name=bad)
            )
        assert info.value.field == "full_name"
        db.rollback()
    assert repo.get_by_username("raw_user") is None


def test_check_violation_from_the_database_names_the_field(db: Session) -> None:
    with pytest.raises(InvalidInput) as info:
        UserRepository(db).create(
            User(username="ok_name", email="no-at-sign", password_hash="h", full_name="x")
        )
    assert info.value.field == "email"
    assert info.value.rule == "email_format"


def test_authenticate_by_username_or_email_any_case(db: Session) -> None:
    user = make_user(db, username="Layla", email="layla@example.com")
    repo = UserRepository(db)
    assert repo.authenticate("layla", PASSWORD) is user
    assert repo.authenticate("LAYLA@EXAMPLE.COM", PASSWORD) is user
    assert repo.authenticate("layla", "wrong password") is None
    assert repo.authenticate("nobody", PASSWORD) is None


def test_authenticate_refuses_soft_deleted_and_inactive_users(db: Session) -> None:
    repo = UserRepository(db)
    gone = make_user(db)
    repo.soft_delete(gone.id)
    assert repo.authenticate(gone.username, PASSWORD) is None
    repo.restore(gone.id)
    assert repo.authenticate(gone.username, PASSWORD) is gone
    idle = make_user(db)
    idle.is_active = False
    repo.update(idle)
    assert repo.authenticate(idle.username, PASSWORD) is None


def test_bcrypt_hash_verifies_and_is_rehashed_to_argon2id(db: Session) -> None:
    repo = UserRepository(db)
    legacy = repo.create(
        User(
            username="legacy",
            email="legacy@example.com",
            password_hash=BcryptHasher().hash(PASSWORD),
            full_name="Old",
        )
    )
    assert legacy.password_hash.startswith("$2b$")
    assert repo.authenticate("legacy", PASSWORD) is legacy
    assert legacy.password_hash.startswith("$argon2id$")
    assert repo.authenticate("legacy", PASSWORD) is legacy


def test_unknown_user_costs_a_hash_verification(db: Session) -> None:
    calls: list[str] = []
    repo = UserRepository(db)

    class Spy(type(repo.hasher)):  # type: ignore[misc]
        def burn_time(self, password: str) -> None:
            calls.append("burn")
            super().burn_time(password)

    repo.hasher = Spy()
    assert repo.authenticate("no_such_user", PASSWORD) is None
    assert calls == ["burn"]


def test_change_password(db: Session) -> None:
    user = make_user(db)
    repo = UserRepository(db)
    with pytest.raises(InvalidInput) as info:
        repo.change_password(user.id, "wrong", "a new password")
    assert info.value.field == "old_password"
    with pytest.raises(ValidationError):
        repo.change_password(user.id, PASSWORD, "short")
    repo.change_password(user.id, PASSWORD, "a new password")
    assert repo.authenticate(user.username, "a new password") is user
    assert repo.authenticate(user.username, PASSWORD) is None


def test_soft_delete_hides_from_listing_and_keeps_data(db: Session) -> None:
    repo = UserRepository(db)
    user = make_user(db)
    db.add(Analysis(user_id=user.id, original_text="بيت", normalized_text="بيت", pattern="/o"))
    db.commit()
    repo.soft_delete(user.id)
    listed = {u.id for u in repo.list_users(limit=100)}
    assert user.id not in listed
    assert user.id in {u.id for u in repo.list_users(include_deleted=True, limit=100)}
    assert repo.get_by_id(user.id) is not None
    assert db.scalar(select(func.count()).where(Analysis.user_id == user.id)) == 1
    assert user.profile is not None


def test_hard_delete_removes_profile_and_keeps_analyses_anonymous(db: Session) -> None:
    repo = UserRepository(db)
    user = make_user(db)
    analysis = Analysis(user_id=user.id, original_text="بيت", normalized_text="بيت", pattern="/o")
    db.add(analysis)
    db.commit()
    assert repo.delete(user.id) is True
    assert repo.delete(user.id) is False
    db.expire_all()
    assert db.get(UserProfile, user.id) is None
    assert db.get(Analysis, analysis.id).user_id is None  # type: ignore[union-attr]


def test_list_users_filters_and_keyset_pages(db: Session) -> None:
    repo = UserRepository(db)
    made = [make_user(db, role="teacher" if i % 2 else "student") for i in range(7)]
    teachers = [u.id for u in made if u.role is UserRole.TEACHER]
    page1 = repo.list_users(role="teacher", limit=2)
    page2 = repo.list_users(role="teacher", limit=2, after=page1[-1].id)
    assert [u.id for u in page1 + page2] == teachers[:4]
    assert all(u.is_active for u in repo.list_users(active=True))
    with pytest.raises(InvalidInput):
        repo.list_users(limit=0)


def test_add_xp_is_atomic_and_derives_level(db: Session) -> None:
    repo = UserRepository(db)
    user = make_user(db)
    assert repo.add_xp(user.id, 90).level == 1
    profile = repo.add_xp(user.id, 320)
    assert (profile.xp, profile.level) == (410, 3)
    with pytest.raises(InvalidInput) as info:
        repo.add_xp(user.id, -5)
    assert info.value.field == "amount"
    with pytest.raises(NotFound):
        repo.add_xp(987654, 5)


def test_update_profile_and_its_rules(db: Session) -> None:
    repo = UserRepository(db)
    user = make_user(db)
    profile = repo.update_profile(
        user.id, {"bio": "شاعر", "theme": "DARK", "website": "https://bahr.example"}
    )
    assert (profile.bio, profile.theme, profile.website) == ("شاعر", "dark", "https://bahr.example")
    for bad in (
        {"bio": "ب" * 2001},
        {"theme": "neon"},
        {"preferred_language": "xx"},
        {"website": "javascript:alert(1)"},
        {"bio": "\x00"},
        {"unknown": 1},
    ):
        with pytest.raises(ValidationError):
            repo.update_profile(user.id, bad)
    with pytest.raises(NotFound):
        repo.update_profile(424242, ProfileUpdate(bio="x"))


def test_user_read_never_exposes_the_password_hash(db: Session) -> None:
    read = UserRead.model_validate(make_user(db))
    assert "password_hash" not in read.model_dump()
    assert "argon2" not in read.model_dump_json()


# -- concurrency, on real committed rows ---------------------------------------------------
@pytest.fixture
def committed_cleanup(engine: Engine):  # type: ignore[no-untyped-def]
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE username LIKE 'race_%'"))


def _in_threads(n: int, target: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target(i)
        except Exception as exc:  # collected and asserted below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_registrations_of_one_username(engine: Engine, committed_cleanup: None) -> None:
    def register(i: int) -> Any:
        with Session(engine) as session:
            return (
                UserRepository(session)
                .register(user_create(username="race_same", email=f"race{i}@example.com"))
                .id
            )

    results = _in_threads(2, register)
    assert sum(isinstance(r, int) for r in results) == 1
    errors = [r for r in results if not isinstance(r, int)]
    assert len(errors) == 1, errors
    assert isinstance(errors[0], AlreadyExists), errors
    assert errors[0].field == "username"


def test_concurrent_add_xp_adds_up_exactly(engine: Engine, committed_cleanup: None) -> None:
    with Session(engine) as session:
        user_id = UserRepository(session).register(user_create(username="race_xp")).id

    def award(_: int) -> Any:
        with Session(engine) as session:
            repo = UserRepository(session)
            for _ in range(25):
                repo.add_xp(user_id, 3)

    assert _in_threads(8, award) == [None] * 8
    with Session(engine) as session:
        profile = session.get(UserProfile, user_id)
        assert profile is not None
        assert (profile.xp, profile.level) == (600, 3)


def test_spec_connection_fixture_is_isolated(connection: Connection) -> None:
    assert (
        connection.execute(
            text("SELECT count(*) FROM users WHERE username LIKE 'race_%'")
        ).scalar_one()
        == 0
    )


def test_a_plain_password_is_never_sent_to_the_database(db: Session) -> None:
    sent: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append(f"{statement} {parameters!r}")

    engine = db.get_bind().engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        repo = UserRepository(db)
        user = make_user(db, password="plain-secret-1")
        repo.authenticate(user.username, "plain-secret-1")
        repo.change_password(user.id, "plain-secret-1", "plain-secret-2")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert sent
    assert not [s for s in sent if "plain-secret" in s]
