"""Registration, replayed as an attacker would (issue 16, findings 7, 9 and 16).

A visitor chooses only what a visitor may choose, cannot take a name that looks like
someone else's, and cannot make the layer do unbounded work before a length check.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg import errors as pg
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.errors import AlreadyExists, InvalidInput
from app.models.user import User, UserRole
from app.repositories.user_repository import UserRepository
from app.schemas.user import (
    AdminUserCreate,
    AdminUserUpdate,
    Email,
    FullName,
    UserCreate,
    Username,
    UserUpdate,
)
from app.text import identifiers
from tests.factories import PASSWORD, make_user


def visitor(**fields: Any) -> dict[str, Any]:
    return {
        "username": "visitor",
        "email": "visitor@example.com",
        "password": PASSWORD,
        "full_name": "Visitor",
        **fields,
    }


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"role": "admin"}, id="role"),
        pytest.param({"is_active": False}, id="is_active"),
        pytest.param({"is_verified": True}, id="is_verified"),
        pytest.param({"id": 1}, id="id"),
    ],
)
def test_self_registration_cannot_choose_role_or_flags(db: Session, extra: dict[str, Any]) -> None:
    """Finding 7: mass assignment. The field is refused and nothing is created."""
    repo = UserRepository(db)
    with pytest.raises(ValidationError) as info:
        repo.register(visitor(**extra))
    assert info.value.errors()[0]["loc"] == tuple(extra)
    assert repo.get_by_username("visitor") is None


def test_a_registered_visitor_is_an_unverified_active_student(db: Session) -> None:
    user = UserRepository(db).register(visitor())
    assert (user.role, user.is_active, user.is_verified) == (UserRole.STUDENT, True, False)


def test_the_admin_schema_is_not_accepted_by_self_registration(db: Session) -> None:
    admin_data = AdminUserCreate(**visitor(role="admin"))
    with pytest.raises(ValidationError):
        UserRepository(db).register(admin_data)  # type: ignore[arg-type]


def test_roles_and_flags_change_only_through_the_admin_path(db: Session) -> None:
    repo = UserRepository(db)
    admin = repo.admin_create(AdminUserCreate(**visitor(role="admin", is_verified=True)))
    assert (admin.role, admin.is_verified) == (UserRole.ADMIN, True)
    user = make_user(db)
    with pytest.raises(ValidationError):
        repo.update_user(user.id, {"role": "admin"})
    with pytest.raises(ValidationError):
        UserUpdate.model_validate({"is_active": False})
    assert repo.update_user(user.id, {"full_name": "New Name"}).full_name == "New Name"
    demoted = repo.admin_update(admin.id, AdminUserUpdate(role=UserRole.TEACHER))
    assert demoted.role is UserRole.TEACHER


LOOK_ALIKES = [
    pytest.param("\u0430dmin", id="cyrillic_a"),
    pytest.param("\u0410DMIN", id="cyrillic_capital_a"),
    pytest.param("\uff41\uff44\uff4d\uff49\uff4e", id="fullwidth"),
    pytest.param("adm\u0456n", id="cyrillic_i"),
    pytest.param("\u0251dmin", id="latin_alpha"),
    pytest.param("adrnin", id="rn_for_m"),
]


@pytest.mark.parametrize("name", LOOK_ALIKES)
def test_a_look_alike_of_an_existing_username_is_refused(db: Session, name: str) -> None:
    """Finding 16: uniqueness holds on the UTS #39 skeleton, so `admin` and `аdmin` cannot
    both exist."""
    make_user(db, username="admin", email="admin@example.com")
    with pytest.raises(AlreadyExists) as info:
        UserRepository(db).register(visitor(username=name))
    assert info.value.field == "username"


def test_look_alikes_are_refused_whichever_registered_first(db: Session) -> None:
    make_user(db, username="\u0430dmin")
    with pytest.raises(AlreadyExists):
        make_user(db, username="admin")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("ad\u00admin", id="soft_hyphen"),
        pytest.param("ad\u034fmin", id="combining_grapheme_joiner"),
        pytest.param("ad\u3164min", id="hangul_filler"),
        pytest.param("ad\uffa0min", id="halfwidth_hangul_filler"),
        pytest.param("ad\u2800min", id="braille_blank"),
        pytest.param("admin\U000e0041", id="tag_character"),
        pytest.param("ad\u200dmin", id="zero_width_joiner"),
        pytest.param("ad\ufe0fmin", id="variation_selector"),
        pytest.param("ad\u061cmin", id="arabic_letter_mark"),
        pytest.param("ad\u115fmin", id="hangul_choseong_filler"),
        pytest.param("ad\ue123min", id="private_use"),
        pytest.param("ad\U0001d175min", id="musical_format"),
    ],
)
def test_format_characters_and_fillers_are_refused_in_usernames(db: Session, name: str) -> None:
    with pytest.raises(ValidationError) as info:
        UserRepository(db).register(visitor(username=name))
    assert info.value.errors()[0]["loc"] == ("username",)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("ad\u00admin", id="soft_hyphen"),
        pytest.param("ad\u3164min", id="hangul_filler"),
        pytest.param("ad\u2800min", id="braille_blank"),
        pytest.param("admin\U000e0041", id="tag_character"),
        pytest.param("ad\u034fmin", id="combining_grapheme_joiner"),
        pytest.param("\uff41\uff44\uff4d\uff49\uff4e", id="not_nfkc"),
    ],
)
def test_the_database_refuses_fillers_and_unnormalised_usernames_from_raw_sql(
    connection: Connection, name: str
) -> None:
    with pytest.raises(DBAPIError) as info:
        connection.execute(
            text(
                "INSERT INTO users (username, email, password_hash, full_name) "
                "VALUES (:name, 'raw@example.com', 'h', 'Raw')"
            ),
            {"name": name},
        )
    assert isinstance(info.value.orig, pg.CheckViolation)


def test_the_database_refuses_two_rows_with_one_skeleton(connection: Connection) -> None:
    insert = text(
        "INSERT INTO users (username, email, password_hash, full_name, username_skeleton) "
        "VALUES (:name, :email, 'h', 'Raw', 'adrnin')"
    )
    connection.execute(insert, {"name": "admin", "email": "one@example.com"})
    with pytest.raises(DBAPIError) as info:
        connection.execute(insert, {"name": "\u0430dmin", "email": "two@example.com"})
    assert isinstance(info.value.orig, pg.UniqueViolation)


def test_a_username_is_stored_nfkc_normalised_and_found_by_any_compatible_form(
    db: Session,
) -> None:
    user = UserRepository(db).register(visitor(username="\uff4c\uff41\uff59\uff4c\uff41"))
    assert user.username == "layla"
    repo = UserRepository(db)
    assert repo.get_by_username("\uff2c\uff41\uff59\uff4c\uff41") is user
    assert repo.authenticate("\uff4c\uff41\uff59\uff4c\uff41", PASSWORD) is user


def test_arabic_usernames_still_register(db: Session) -> None:
    user = UserRepository(db).register(visitor(username="شاعر_الليل"))
    assert user.username == "شاعر_الليل"


def test_the_orm_fills_the_skeleton_for_a_user_built_by_hand(db: Session) -> None:
    user = UserRepository(db).create(
        User(username="Hand_Made", email="hand@example.com", password_hash="h", full_name="H")
    )
    assert user.username_skeleton
    with pytest.raises(AlreadyExists):
        make_user(db, username="hand_rnade")


# -- finding 9: the raw length is bounded before any normalisation ---------------------------


@contextlib.contextmanager
def normalising_forbidden() -> Iterator[None]:
    """Any Unicode normalisation inside the block fails the test: the length check must
    come first. (Only around the call: pytest itself normalises strings.)"""

    def refuse(form: str, value: str) -> str:
        raise AssertionError(f"normalised {len(value)} characters before the length check")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(unicodedata, "normalize", refuse)
        yield


@pytest.mark.parametrize(
    ("field_type", "value"),
    [
        pytest.param(Username, "\uff41" * 1_500_000, id="username"),
        pytest.param(FullName, "\uff41" * 1_500_000, id="full_name"),
        pytest.param(Email, "\uff41" * 1_500_000 + "@example.com", id="email"),
    ],
)
def test_over_long_user_text_is_refused_before_it_is_normalised(
    field_type: Any, value: str
) -> None:
    with pytest.raises(ValidationError) as info, normalising_forbidden():
        TypeAdapter(field_type).validate_python(value)
    assert [e["type"] for e in info.value.errors()] == ["string_too_long"]


def test_an_over_long_login_is_refused_before_it_is_normalised(db: Session) -> None:
    with pytest.raises(InvalidInput) as info, normalising_forbidden():
        UserRepository(db).authenticate("\uff41" * 1_500_000, PASSWORD)
    assert (info.value.field, info.value.rule) == ("login", "max_length")


def test_a_username_that_grows_past_the_limit_when_normalised_is_refused() -> None:
    """U+FDFA is one character that NFKC turns into eighteen."""
    name = "\ufdfa" * 10
    assert len(unicodedata.normalize("NFKC", name)) > 50
    with pytest.raises(ValidationError) as info:
        UserCreate.model_validate(visitor(username=name))
    assert info.value.errors()[0]["loc"] == ("username",)


def test_a_user_built_by_hand_with_a_huge_name_gets_a_typed_error(db: Session) -> None:
    with pytest.raises(InvalidInput) as info:
        UserRepository(db).create(
            User(
                username="u" * 1_000_000, email="big@example.com", password_hash="h", full_name="B"
            )
        )
    assert info.value.field == "username"


def test_the_username_rules_hold_for_text_given_to_them_directly() -> None:
    """:mod:`app.text.identifiers` is usable on its own: it refuses unnormalised names and
    never computes a skeleton of unbounded text."""
    assert identifiers.username_problem("admin") is None
    assert identifiers.username_problem("\uff41dmin") == "must be in Unicode NFKC form"
    assert identifiers.skeleton("\u0430dmin") == identifiers.skeleton("ADMIN")
    with pytest.raises(ValueError, match="at most 50"):
        identifiers.skeleton("a" * 51)
