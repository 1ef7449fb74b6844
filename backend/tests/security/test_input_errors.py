"""Crafted input gets a typed error naming the field, never a raw exception (issue 16,
findings 8 and 17)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.models.analysis import Analysis
from app.models.user import User
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.user_repository import UserRepository
from app.schemas.user import ProfileUpdate
from tests.factories import make_user

VERSE = "قفا نبك من ذكرى حبيب ومنزل"
#: The markers that search puts around a matched word in a headline.
MARKERS = ("\ue000", "\ue001")


def nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    cursor = root
    for _ in range(depth):
        cursor["x"] = {}
        cursor = cursor["x"]
    return root


def nested_list(depth: int) -> list[Any]:
    root: list[Any] = []
    cursor = root
    for _ in range(depth):
        cursor.append([])
        cursor = cursor[0]
    return root


@pytest.mark.parametrize("role", ["root", "", "ADMIN ", 3, ["admin"]])
def test_list_users_with_an_unknown_role_is_a_typed_error(db: Session, role: Any) -> None:
    with pytest.raises(InvalidInput) as info:
        UserRepository(db).list_users(role=role)
    assert info.value.field == "role"


def test_list_users_accepts_a_role_in_any_case(db: Session) -> None:
    admin = make_user(db, role="admin")
    assert admin.id in {u.id for u in UserRepository(db).list_users(role="ADMIN", limit=100)}


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param(nested(100_000), id="dict_100000_deep"),
        pytest.param({"a": nested_list(100_000)}, id="list_100000_deep"),
    ],
)
def test_deeply_nested_metadata_through_the_orm_is_a_typed_error(
    db: Session, meta: dict[str, Any]
) -> None:
    """The flush-time text check walks the document: it must stop at the depth limit."""
    db.add(Analysis(original_text=VERSE, normalized_text=VERSE, pattern="//o/o", meta=meta))
    with pytest.raises(InvalidInput) as info:
        db.flush()
    assert info.value.field == "metadata"
    db.rollback()


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param(nested(100_000), id="dict_100000_deep"),
        pytest.param({"a": nested_list(100_000)}, id="list_100000_deep"),
    ],
)
def test_deeply_nested_metadata_through_the_repository_is_refused(
    db: Session, meta: dict[str, Any]
) -> None:
    repo = AnalysisRepository(db)
    with pytest.raises(ValidationError) as info:
        repo.create({"original_text": VERSE, "pattern": "//o/o", "metadata": meta})
    assert info.value.errors()[0]["loc"] == ("metadata",)
    created = repo.create({"original_text": VERSE, "pattern": "//o/o"})
    with pytest.raises(ValidationError):
        repo.update_result(created.id, {"metadata": meta})


# -- finding 8: the headline markers are never stored ---------------------------------------


@pytest.mark.parametrize("marker", MARKERS)
def test_a_verse_with_a_headline_marker_is_refused(db: Session, marker: str) -> None:
    repo = AnalysisRepository(db)
    with pytest.raises(ValidationError) as info:
        repo.create({"original_text": f"قفا {marker}نبك{marker}", "pattern": "//o/o"})
    assert info.value.errors()[0]["loc"] == ("original_text",)


@pytest.mark.parametrize("marker", MARKERS)
def test_bulk_import_refuses_a_headline_marker_naming_the_item(db: Session, marker: str) -> None:
    repo = AnalysisRepository(db)
    items = [
        {"original_text": VERSE, "pattern": "//o/o"},
        {"original_text": f"{VERSE}{marker}", "pattern": "//o/o"},
    ]
    with pytest.raises(InvalidInput) as info:
        repo.bulk_create(items)
    assert info.value.field == "original_text"
    assert "items[1]" in str(info.value)


@pytest.mark.parametrize("marker", MARKERS)
def test_a_verse_with_a_headline_marker_written_through_the_orm_is_refused(
    db: Session, marker: str
) -> None:
    text = f"{VERSE}{marker}"
    db.add(Analysis(original_text=text, normalized_text=VERSE, pattern="//o/o"))
    with pytest.raises(InvalidInput) as info:
        db.flush()
    assert info.value.field == "original_text"
    db.rollback()


@pytest.mark.parametrize("marker", MARKERS)
@pytest.mark.parametrize(
    "fields",
    [
        {"detected_meter": "طويل{m}"},
        {"metadata": {"poet": "امرؤ{m}"}},
        {"metadata": {"k{m}": 1}},
    ],
)
def test_headline_markers_are_refused_in_other_analysis_text(
    db: Session, marker: str, fields: dict[str, Any]
) -> None:
    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.format(m=marker)
        if isinstance(value, dict):
            return {fill(k): fill(v) for k, v in value.items()}
        return value

    with pytest.raises(ValidationError):
        AnalysisRepository(db).create(
            {"original_text": VERSE, "pattern": "//o/o", **{k: fill(v) for k, v in fields.items()}}
        )


@pytest.mark.parametrize("marker", MARKERS)
@pytest.mark.parametrize("field", ["full_name", "username"])
def test_headline_markers_are_refused_in_user_text(db: Session, marker: str, field: str) -> None:
    data = {
        "username": "marked",
        "email": "marked@example.com",
        "password": "a long password",
        "full_name": "Marked",
    }
    data[field] = f"mar{marker}ked"
    with pytest.raises(ValidationError) as info:
        UserRepository(db).register(data)
    assert info.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize("marker", MARKERS)
def test_headline_markers_are_refused_in_profile_text(marker: str) -> None:
    with pytest.raises(ValidationError):
        ProfileUpdate(bio=f"شاعر{marker}")


def test_a_user_built_by_hand_with_a_marker_gets_a_typed_error(db: Session) -> None:
    with pytest.raises(InvalidInput) as info:
        UserRepository(db).create(
            User(username="marker", email="m@example.com", password_hash="h", full_name="\ue000")
        )
    assert info.value.field == "full_name"


@pytest.mark.parametrize(
    ("field", "value"),
    [("username", ["admin"]), ("full_name", ["x"]), ("email", ("a@example.com",))],
)
def test_a_list_in_a_text_column_through_the_orm_is_a_typed_error(
    db: Session, field: str, value: Any
) -> None:
    """psycopg would store ``['admin']`` as the text ``'{admin}'``, with no skeleton."""
    row = {"username": "listed", "email": "l@example.com", "password_hash": "h", "full_name": "L"}
    with pytest.raises(InvalidInput) as info:
        UserRepository(db).create(User(**{**row, field: value}))
    assert (info.value.field, info.value.rule) == (field, "type")
    assert UserRepository(db).get_by_email("l@example.com") is None
