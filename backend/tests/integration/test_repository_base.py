"""RepositoryBase: the common verbs, one limit rule, keyset cursors, validation that names
the field, and database errors translated once, with the commit policy of app.db.database."""

from __future__ import annotations

import datetime as dt
import inspect
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db.database import in_unit_of_work, unit_of_work
from app.errors import AlreadyExists, InvalidInput, NotFound, UnitOfWorkError
from app.models.analysis import Analysis
from app.models.user import User, UserProfile
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.base import (
    LIMIT_MAX,
    ReadRepositoryBase,
    RepositoryBase,
    check_limit,
    decode_key,
    encode_key,
    validated,
)
from app.repositories.meter_repository import MeterRepository
from app.repositories.pagination import Page
from app.repositories.profile_repository import ProfileCreate, ProfileRepository
from app.schemas.user import ProfileUpdate


def bare_user(db: Session, username: str) -> User:
    """A user without a profile (registration would create one)."""
    user = User(
        username=username, email=f"{username}@example.com", password_hash="x", full_name="U"
    )
    db.add(user)
    db.flush()
    return user


@pytest.mark.parametrize("limit", [0, -1, LIMIT_MAX + 1, True, 2.0, "5"])
def test_one_limit_rule_refuses_out_of_range_and_non_integers(limit: object) -> None:
    with pytest.raises(InvalidInput) as info:
        check_limit(limit)  # type: ignore[arg-type]
    assert (info.value.field, info.value.rule) == ("limit", "range")


@pytest.mark.parametrize("limit", [1, LIMIT_MAX])
def test_one_limit_rule_accepts_its_bounds(limit: int) -> None:
    assert check_limit(limit) == limit


def test_every_listing_applies_the_same_limit_rule(db: Session) -> None:
    for repo in (MeterRepository(db), ProfileRepository(db)):
        with pytest.raises(InvalidInput):
            repo.list(limit=LIMIT_MAX + 1)
        assert len(repo.list(limit=LIMIT_MAX).items) <= LIMIT_MAX


def test_keyset_cursors_round_trip_each_key_type() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    key = (7, uuid.UUID(int=5), when, "نص")
    assert decode_key(encode_key(key), [int, uuid.UUID, dt.datetime, str]) == key


@pytest.mark.parametrize(
    "cursor", ["", "not base64 at all!", encode_key([1, 2]), encode_key(["x"]), encode_key([True])]
)
def test_a_cursor_not_made_by_a_listing_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidInput) as info:
        decode_key(cursor, [int])
    assert (info.value.field, info.value.rule) == ("after", "cursor")


def test_list_walks_every_row_once_in_keyset_order(db: Session) -> None:
    repo = MeterRepository(db)
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = repo.list(limit=5, after=cursor)
        seen.extend(m.id for m in page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [m.id for m in repo.list_all()]
    assert pages == 4  # 16 meters: 5 + 5 + 5 + 1


def test_validated_accepts_a_schema_or_a_mapping_and_names_the_field() -> None:
    schema = ProfileUpdate(theme="dark")
    assert validated(ProfileUpdate, schema) is schema
    assert validated(ProfileUpdate, {"theme": "DARK"}).theme == "dark"
    with pytest.raises(InvalidInput) as info:
        validated(ProfileUpdate, {"theme": "sepia"})
    assert info.value.field == "theme"
    assert info.value.rule == "literal_error"
    with pytest.raises(InvalidInput) as extra:
        validated(ProfileUpdate, {"colour": "red"})
    assert (extra.value.field, extra.value.rule) == ("colour", "extra_forbidden")


def test_require_raises_not_found_naming_the_id_field(db: Session) -> None:
    with pytest.raises(NotFound) as info:
        ProfileRepository(db).update(-1, {"theme": "dark"})
    assert (info.value.field, info.value.rule) == ("user_id", "exists")


def test_a_database_error_is_translated_once_and_the_session_recovers(db: Session) -> None:
    user = bare_user(db, "base_fk")
    repo = ProfileRepository(db)
    with pytest.raises(NotFound) as info:
        repo.create({"user_id": -1})  # the foreign key refuses it
    assert (info.value.field, info.value.rule) == ("user_id", "must_exist")
    assert isinstance(info.value.__cause__, DBAPIError)
    # Outside a unit of work the repository rolled back: the session is usable again.
    assert repo.get(user.id) is None


def test_a_key_the_session_already_holds_is_already_exists(db: Session) -> None:
    user = bare_user(db, "base_dup")
    repo = ProfileRepository(db)
    kept = repo.create({"user_id": user.id})
    with pytest.raises(AlreadyExists) as info:
        repo.create(ProfileCreate(user_id=user.id))
    assert (info.value.field, info.value.rule) == ("user_id", "unique")
    assert repo.get(user.id) is kept


def _swallow_a_database_error(db: Session, user_id: int) -> None:
    with unit_of_work(db):
        repo = ProfileRepository(db)
        repo.create({"user_id": user_id})
        with pytest.raises(NotFound):
            repo.create({"user_id": -1})
        # Carrying on as if nothing happened: the transaction is aborted in PostgreSQL.


def test_inside_a_unit_of_work_a_caught_database_error_still_commits_nothing(
    db: Session,
) -> None:
    user = bare_user(db, "base_swallow")
    db.commit()
    with pytest.raises(UnitOfWorkError):
        _swallow_a_database_error(db, user.id)
    assert db.execute(select(UserProfile).where(UserProfile.user_id == user.id)).first() is None


def test_write_verbs_flush_inside_a_unit_of_work_and_commit_outside(db: Session) -> None:
    user = bare_user(db, "base_policy")
    db.commit()
    repo = ProfileRepository(db)
    with unit_of_work(db):
        repo.create({"user_id": user.id})
        assert db.in_transaction()  # flushed only: the unit of work commits at its end
        assert in_unit_of_work(db)
    repo.update(user.id, {"theme": "system"})
    assert not db.in_transaction()  # a plain session: the call committed (the spec)


def test_update_changes_only_the_fields_given(db: Session) -> None:
    user = bare_user(db, "base_partial")
    repo = ProfileRepository(db)
    repo.create({"user_id": user.id, "bio": "شاعر", "theme": "dark"})
    profile = repo.update(user.id, {"location": "بغداد"})
    assert (profile.bio, profile.theme, profile.location) == ("شاعر", "dark", "بغداد")


def test_read_only_repositories_have_no_write_verbs() -> None:
    for verb in ("create", "update", "delete"):
        assert not hasattr(ReadRepositoryBase, verb)
        assert hasattr(RepositoryBase, verb)


def test_every_public_method_translates_errors() -> None:
    for cls in (ReadRepositoryBase, RepositoryBase, MeterRepository, ProfileRepository):
        for name, member in vars(cls).items():
            if inspect.isfunction(member) and not name.startswith("_"):
                assert getattr(member, "__translating__", False), f"{cls.__name__}.{name}"


class _NewestAnalysesFirst(ReadRepositoryBase[Analysis, uuid.UUID]):
    """What AnalysisRepository.list_for_user becomes on the base."""

    model = Analysis
    keyset = ("created_at", "id")

    def for_user(self, user_id: int, *, limit: int, after: str | None = None) -> Page[Analysis]:
        stmt = select(Analysis).where(Analysis.user_id == user_id)
        return self._page(stmt, limit=limit, after=after, descending=True)


def test_descending_keyset_pages_walk_newest_first(db: Session) -> None:
    user = bare_user(db, "base_newest")
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for n in range(5):  # two rows share a timestamp: the id breaks the tie
        db.add(
            Analysis(
                original_text="قفا نبك",
                normalized_text="قفا نبك",
                pattern="//o/o",
                user_id=user.id,
                created_at=moment + dt.timedelta(minutes=min(n, 3)),
            )
        )
    db.flush()
    expected = AnalysisRepository(db).list_for_user(user.id, limit=10).items
    repo = _NewestAnalysesFirst(db)
    seen: list[Analysis] = []
    cursor: str | None = None
    while True:
        page = repo.for_user(user.id, limit=2, after=cursor)
        seen.extend(page.items)
        if (cursor := page.next_cursor) is None:
            break
    assert [a.id for a in seen] == [a.id for a in expected]
    assert len(seen) == 5
