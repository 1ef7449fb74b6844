"""ProfileRepository: each verb, on the spec's session (commit per call) and its rules."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from app.errors import AlreadyExists, InvalidInput, NotFound
from app.models.user import User
from app.repositories.profile_repository import ProfileRepository
from tests.factories import make_user
from tests.integration.test_repository_base import bare_user


def test_get_returns_the_profile_made_at_registration(db: Session) -> None:
    user = make_user(db)
    profile = ProfileRepository(db).get(user.id)
    assert profile is not None
    assert (profile.level, profile.xp, profile.preferred_language, profile.theme) == (
        1,
        0,
        "ar",
        "light",
    )
    assert ProfileRepository(db).get(-1) is None


def test_create_for_a_user_without_one(db: Session) -> None:
    user = bare_user(db, "profile_new")
    profile = ProfileRepository(db).create(
        {"user_id": user.id, "bio": "أكتب الشعر", "website": "https://example.com/p"}
    )
    assert profile.user_id == user.id
    assert profile.bio == "أكتب الشعر"
    assert profile.level == 1  # set by the database's trigger, fetched back


def test_create_twice_is_already_exists(db: Session) -> None:
    user = make_user(db)
    with pytest.raises(AlreadyExists) as info:
        ProfileRepository(db).create({"user_id": user.id})
    assert info.value.field == "user_id"


def test_create_for_a_missing_user_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound) as info:
        ProfileRepository(db).create({"user_id": -1})
    assert (info.value.field, info.value.rule) == ("user_id", "must_exist")


def test_update_applies_the_given_fields(db: Session) -> None:
    user = make_user(db)
    profile = ProfileRepository(db).update(user.id, {"theme": "DARK", "location": "القاهرة"})
    assert (profile.theme, profile.location) == ("dark", "القاهرة")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"theme": "sepia"}, "theme"),
        ({"preferred_language": "fr"}, "preferred_language"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"bio": "x" * 2_001}, "bio"),
        ({"xp": 10}, "xp"),  # xp only grows through UserRepository.add_xp
        ({"level": 9}, "level"),  # derived from xp by the database
    ],
)
def test_update_refuses_bad_input_naming_the_field(
    db: Session, changes: dict[str, object], field: str
) -> None:
    user = make_user(db)
    with pytest.raises(InvalidInput) as info:
        ProfileRepository(db).update(user.id, changes)
    assert info.value.field == field


def test_update_of_a_missing_profile_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound):
        ProfileRepository(db).update(-1, {"theme": "dark"})


def test_delete_removes_the_profile_and_keeps_the_user(db: Session) -> None:
    user = make_user(db)
    repo = ProfileRepository(db)
    assert repo.delete(user.id) is True
    assert repo.get(user.id) is None
    assert db.get(User, user.id) is not None
    assert repo.delete(user.id) is False


def test_list_pages_by_user_id(db: Session) -> None:
    users = [make_user(db) for _ in range(3)]
    repo = ProfileRepository(db)
    ids = {u.id for u in users}
    first = repo.list(limit=2)
    seen = [p.user_id for p in first.items]
    cursor = first.next_cursor
    while cursor is not None:
        page = repo.list(limit=2, after=cursor)
        seen.extend(p.user_id for p in page.items)
        cursor = page.next_cursor
    assert seen == sorted(seen)
    assert ids <= set(seen)
