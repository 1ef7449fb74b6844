"""Logging in, replayed as an attacker would (issue 16, findings 5, 6, 17 and 18).

A login must not tell whether an account exists, must resolve to exactly one account, must
never raise a raw driver or type error, and must never weaken a stored hash.
"""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher as Argon2PasswordHasher
from argon2 import extract_parameters
from psycopg import errors as pg
from pydantic import SecretStr, ValidationError
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.models.user import User
from app.passwords import ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST
from app.repositories.user_repository import UserRepository
from tests.factories import PASSWORD, make_user

MALFORMED_PASSWORDS = [
    pytest.param("a long password\ud800", id="lone_surrogate"),
    pytest.param(None, id="none"),
    pytest.param(["a long password"], id="list"),
    pytest.param("p" * 100_000, id="over_long"),
]


@pytest.mark.parametrize("password", MALFORMED_PASSWORDS)
def test_a_malformed_password_is_the_same_typed_error_for_known_and_unknown_logins(
    db: Session, password: Any
) -> None:
    """Finding 5: the answer depends on the password's shape only, never on the account."""
    make_user(db, username="known_user", email="known@example.com")
    repo = UserRepository(db)
    outcomes = []
    for login in ("known_user", "known@example.com", "unknown_user", "unknown@example.com"):
        with pytest.raises(InvalidInput) as info:
            repo.authenticate(login, password)
        outcomes.append((type(info.value), info.value.field, info.value.rule))
    assert len(set(outcomes)) == 1
    assert outcomes[0][1] == "password"


def test_a_wrong_password_is_none_for_known_and_unknown_logins(db: Session) -> None:
    make_user(db, username="known_user")
    repo = UserRepository(db)
    assert repo.authenticate("known_user", "not the password") is None
    assert repo.authenticate("unknown_user", "not the password") is None


@pytest.mark.parametrize(
    "login",
    [
        pytest.param(["known_user"], id="list"),
        pytest.param(None, id="none"),
        pytest.param(b"known_user", id="bytes"),
        pytest.param("known\ud800user", id="lone_surrogate"),
        pytest.param("known\x00user", id="nul"),
        pytest.param("k" * 1_000_000, id="over_long"),
    ],
)
def test_a_malformed_login_is_a_typed_error_naming_the_field(db: Session, login: Any) -> None:
    """Finding 17: no TypeError, UnicodeEncodeError or driver error from a bad login."""
    with pytest.raises(InvalidInput) as info:
        UserRepository(db).authenticate(login, PASSWORD)
    assert info.value.field == "login"


@pytest.mark.parametrize("method", ["get_by_username", "get_by_email"])
@pytest.mark.parametrize("value", [["x"], None, 42, "x\ud800y", "x\x00y"])
def test_lookups_refuse_malformed_keys_with_a_typed_error(
    db: Session, method: str, value: Any
) -> None:
    with pytest.raises(InvalidInput) as info:
        getattr(UserRepository(db), method)(value)
    assert info.value.field == method.removeprefix("get_by_")


def test_a_username_equal_to_someones_email_cannot_be_registered(db: Session) -> None:
    """Finding 6: login squatting. An attacker may not take the victim's email as username."""
    victim = make_user(db, username="victim", email="victim@example.com")
    repo = UserRepository(db)
    with pytest.raises(ValidationError) as info:
        repo.register(
            {
                "username": "victim@example.com",
                "email": "attacker@example.com",
                "password": "attacker's password",
                "full_name": "Attacker",
            }
        )
    assert info.value.errors()[0]["loc"] == ("username",)
    assert repo.authenticate("victim@example.com", PASSWORD) is victim


def test_the_database_refuses_an_at_sign_in_a_username_from_raw_sql(
    connection: Connection,
) -> None:
    """Finding 6 holds for raw SQL as the application role too."""
    with pytest.raises(DBAPIError) as info:
        connection.execute(
            text(
                "INSERT INTO users (username, email, password_hash, full_name) "
                "VALUES ('victim@example.com', 'attacker@example.com', 'h', 'Attacker')"
            )
        )
    assert isinstance(info.value.orig, pg.CheckViolation)
    assert info.value.orig.diag.constraint_name == "ck_users_username_no_at"


def test_the_orm_refuses_an_at_sign_in_a_username_with_a_typed_error(db: Session) -> None:
    with pytest.raises(InvalidInput) as info:
        UserRepository(db).create(
            User(username="a@b.example", email="a@b.example", password_hash="h", full_name="A")
        )
    assert info.value.field == "username"


def test_a_login_with_an_at_sign_resolves_by_email_only(db: Session) -> None:
    """Whoever registered first, a login names exactly one account."""
    first = make_user(db, username="layla", email="layla@example.com")
    second = make_user(db, username="layla_example", email="other@example.com")
    repo = UserRepository(db)
    assert repo.authenticate("layla@example.com", PASSWORD) is first
    assert repo.authenticate("LAYLA", PASSWORD) is first
    assert repo.authenticate("layla_example", PASSWORD) is second


def _argon2(memory_kib: int, time_cost: int, parallelism: int = ARGON2_PARALLELISM) -> str:
    return Argon2PasswordHasher(
        memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism
    ).hash(PASSWORD)


def _stored_user(db: Session, password_hash: str) -> User:
    return UserRepository(db).create(
        User(
            username="hash_owner",
            email="hash@example.com",
            password_hash=password_hash,
            full_name="Hash Owner",
        )
    )


@pytest.mark.parametrize(
    ("memory_kib", "time_cost"),
    [
        pytest.param(65_536, 4, id="m64MiB_t4"),
        pytest.param(ARGON2_MEMORY_KIB, ARGON2_TIME_COST + 1, id="same_m_higher_t"),
        pytest.param(ARGON2_MEMORY_KIB * 2, ARGON2_TIME_COST, id="higher_m_same_t"),
    ],
)
def test_a_stronger_stored_hash_is_never_rewritten_on_login(
    db: Session, memory_kib: int, time_cost: int
) -> None:
    """Finding 18: stronger parameters than today's are kept as they are."""
    strong = _argon2(memory_kib, time_cost)
    user = _stored_user(db, strong)
    assert UserRepository(db).authenticate("hash_owner", PASSWORD) is user
    db.expire_all()
    assert db.get(User, user.id).password_hash == strong  # type: ignore[union-attr]


def test_a_weaker_stored_hash_is_upgraded_without_lowering_any_parameter(db: Session) -> None:
    """Weaker time cost, stronger memory: the rehash keeps the larger of each parameter."""
    mixed = _argon2(ARGON2_MEMORY_KIB * 2, 1)
    user = _stored_user(db, mixed)
    assert UserRepository(db).authenticate("hash_owner", PASSWORD) is user
    db.expire_all()
    stored = db.get(User, user.id).password_hash  # type: ignore[union-attr]
    assert stored != mixed
    params = extract_parameters(stored)
    assert params.memory_cost == ARGON2_MEMORY_KIB * 2
    assert params.time_cost == ARGON2_TIME_COST
    assert UserRepository(db).authenticate("hash_owner", PASSWORD) is user


def test_a_weaker_stored_hash_is_upgraded_to_todays_parameters(db: Session) -> None:
    user = _stored_user(db, _argon2(8_192, 1))
    assert UserRepository(db).authenticate("hash_owner", PASSWORD) is user
    params = extract_parameters(user.password_hash)
    assert (params.memory_cost, params.time_cost) == (ARGON2_MEMORY_KIB, ARGON2_TIME_COST)


def test_a_corrupt_stored_hash_verifies_nothing(db: Session) -> None:
    _stored_user(db, "$argon2id$v=19$m=19456,t=2,p=1$not-a-hash")
    assert UserRepository(db).authenticate("hash_owner", PASSWORD) is None


def test_a_password_may_be_given_as_a_secret(db: Session) -> None:
    user = make_user(db, username="secretive")
    assert UserRepository(db).authenticate("secretive", SecretStr(PASSWORD)) is user


def test_lookups_of_keys_too_long_to_exist_find_nothing(db: Session) -> None:
    repo = UserRepository(db)
    assert repo.get_by_username("u" * 51) is None
    assert repo.get_by_email("e" * 250 + "@example.com") is None
