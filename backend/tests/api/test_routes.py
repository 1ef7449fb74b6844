"""Every route through a real HTTP client, with Arabic input, pages and problem bodies."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.api import create_app, current_user
from app.db.base import get_db, get_read_db
from app.models.user import User, UserRole
from app.repositories.user_repository import UserRepository
from tests.api.conftest import FORBIDDEN_KEYS, IMRU, MUTANABBI, analysis_body, keys_anywhere
from tests.factories import PASSWORD, make_user


def created(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/analyses", json=analysis_body(**fields))
    assert response.status_code == 201, response.text
    return response.json()


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:bahr-db:problem:")
    return body


# -- analyses -----------------------------------------------------------------------------
def test_create_returns_the_analysis_with_metadata_by_its_spec_name(
    client: TestClient, user: User
) -> None:
    body = created(client)
    assert body["original_text"] == IMRU
    assert body["user_id"] == user.id
    assert body["metadata"] == {"poet": "امرؤ القيس"}
    assert body["meter_id"] is not None  # الطويل resolved to the reference meter
    assert body["confidence"] == 0.95
    assert not keys_anywhere(body) & FORBIDDEN_KEYS


def test_get_update_history_and_delete_one_analysis(client: TestClient) -> None:
    analysis_id = created(client)["id"]
    assert client.get(f"/analyses/{analysis_id}").json()["id"] == analysis_id

    patched = client.patch(
        f"/analyses/{analysis_id}",
        json={"detected_meter": "البسيط", "confidence": 0.5, "metadata": {"engine_version": "2"}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["detected_meter"] == "البسيط"
    assert patched.json()["metadata"] == {"engine_version": "2"}

    assert client.delete(f"/analyses/{analysis_id}").status_code == 204
    problem(client.get(f"/analyses/{analysis_id}"), 404)
    problem(client.delete(f"/analyses/{analysis_id}"), 404)

    history = client.get(f"/analyses/{analysis_id}/history")
    assert history.status_code == 200, history.text
    events = history.json()
    assert [e["event"] for e in events] == ["created", "updated", "deleted"]
    assert events[1]["old_detected_meter"] == "الطويل"
    assert events[1]["new_detected_meter"] == "البسيط"
    assert events[1]["new_confidence"] == 0.5


def test_another_users_analysis_is_not_found(
    client: TestClient, app: Any, db: Session, user: User
) -> None:
    mine = created(client)["id"]
    other = make_user(db)
    app.dependency_overrides[current_user] = lambda: other
    for response in (
        client.get(f"/analyses/{mine}"),
        client.patch(f"/analyses/{mine}", json={"confidence": 0.1}),
        client.delete(f"/analyses/{mine}"),
        client.get(f"/analyses/{mine}/history"),
    ):
        body = problem(response, 404)
        assert body["field"] == "analysis_id"
    assert client.get("/analyses").json()["items"] == []


def test_list_mine_pages_with_next_cursor(client: TestClient) -> None:
    ids = [created(client, confidence=n / 10)["id"] for n in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/analyses", params=params).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(ids))  # newest first, each once


def test_a_cursor_that_was_not_issued_is_a_422_naming_it(client: TestClient) -> None:
    body = problem(client.get("/analyses", params={"cursor": "not-a-cursor"}), 422)
    assert (body["field"], body["rule"]) == ("cursor", "cursor")


def test_bad_analysis_input_names_the_field_and_rule(client: TestClient) -> None:
    body = problem(client.post("/analyses", json=analysis_body(original_text="hello")), 422)
    assert body["field"] == "original_text"
    assert body["rule"] == "value_error"
    assert "Arabic" in body["detail"]
    body = problem(client.post("/analyses", json=analysis_body(pattern="abc")), 422)
    assert (body["field"], body["rule"]) == ("pattern", "string_pattern_mismatch")
    body = problem(client.post("/analyses", json=analysis_body(meta={"a": 1})), 422)
    assert body["field"] == "meta"  # only `metadata` is accepted
    problem(client.get("/analyses/not-a-uuid"), 422)


def test_nul_in_arabic_text_is_refused_with_its_field(client: TestClient) -> None:
    body = problem(client.post("/analyses", json=analysis_body(original_text="قفا\x00")), 422)
    assert body["field"] == "original_text"


# -- search -------------------------------------------------------------------------------
def test_word_search_across_harakat_with_headline(client: TestClient) -> None:
    created(client, original_text=MUTANABBI, detected_meter="البسيط")
    response = client.get("/search", params={"q": "الليل"})
    assert response.status_code == 200, response.text
    hits = response.json()["items"]
    assert any(hit["analysis"]["original_text"] == MUTANABBI for hit in hits)
    hit = next(hit for hit in hits if hit["analysis"]["original_text"] == MUTANABBI)
    assert "«وَاللَّيْلُ»" in hit["headline"]
    assert not keys_anywhere(response.json()) & FORBIDDEN_KEYS


def test_search_by_meter_and_unknown_meter(client: TestClient) -> None:
    created(client, original_text=MUTANABBI, detected_meter="البسيط")
    found = client.get("/search", params={"q": "الليل", "meter": "Basit"}).json()["items"]
    assert {hit["analysis"]["detected_meter"] for hit in found} == {"البسيط"}
    body = problem(client.get("/search", params={"q": "الليل", "meter": "nope"}), 422)
    assert (body["field"], body["rule"]) == ("meter", "known_meter")


def test_blank_search_is_a_422_not_a_500(client: TestClient) -> None:
    body = problem(client.get("/search", params={"q": "   "}), 422)
    assert (body["field"], body["rule"]) == ("q", "not_blank")
    body = problem(client.get("/search", params={"q": ""}), 422)
    assert body["field"] == "q"


def test_search_pages_through_hits_without_repeats(client: TestClient) -> None:
    marker = "سِرْدابُ"
    for n in range(5):
        created(client, original_text=f"{marker} بيت رقم {'ب' * (n + 1)}")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "سرداب", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/search", params=params).json()
        seen += [hit["analysis"]["id"] for hit in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5


def test_search_mine_only_and_the_page_says_how_many(
    client: TestClient, app: Any, db: Session, user: User
) -> None:
    created(client, original_text=MUTANABBI)
    other = make_user(db)
    app.dependency_overrides[current_user] = lambda: other
    created(client, original_text=MUTANABBI)
    everyone = client.get("/search", params={"q": "الليل"}).json()
    mine = client.get("/search", params={"q": "الليل", "mine": True}).json()
    assert {hit["analysis"]["user_id"] for hit in mine["items"]} == {other.id}
    assert len(everyone["items"]) >= 2
    assert (mine["windowed"], mine["estimated_total"]) == (False, 1)


def test_fragment_search_and_its_bad_cursor(client: TestClient) -> None:
    created(client)
    response = client.get("/search/fragment", params={"q": "بسقط اللوى"})
    assert response.status_code == 200, response.text
    assert "«بِسِقْطِ»" in response.json()["items"][0]["headline"]
    body = problem(client.get("/search/fragment", params={"q": "بسقط", "cursor": "eDoy"}), 422)
    assert (body["field"], body["rule"]) == ("cursor", "cursor")
    body = problem(client.get("/search/fragment", params={"q": "ب"}), 422)
    assert body["rule"] == "min_length"


# -- meters -------------------------------------------------------------------------------
def test_meters_list_and_any_name_form(client: TestClient) -> None:
    meters = client.get("/meters").json()
    assert len(meters) == 16
    assert meters[0]["name_arabic"] == "الطويل"
    assert "metadata" in meters[0]
    for name in ("الطويل", "طويل", "الطَّوِيل", "Tawil", "al-Tawil", "Ṭawīl"):
        assert client.get(f"/meters/{name}").json()["name_arabic"] == "الطويل", name
    body = problem(client.get("/meters/nothing"), 404)
    assert (body["field"], body["rule"]) == ("name", "exists")


def test_meter_admin_routes_need_an_admin(client: TestClient) -> None:
    body = problem(client.patch("/meters/Tawil", json={"description": "x"}), 403)
    assert body["rule"] == "admin"
    problem(client.delete("/meters/Tawil"), 403)


# -- users --------------------------------------------------------------------------------
def test_register_me_profile_and_password(client: TestClient, app: Any, db: Session) -> None:
    response = client.post(
        "/users",
        json={
            "username": "شاعر_جديد",
            "email": "new.poet@example.com",
            "password": "a long enough password",
            "full_name": "شاعر جديد",
        },
    )
    assert response.status_code == 201, response.text
    registered = response.json()
    assert registered["username"] == "شاعر_جديد"
    assert registered["role"] == "student"
    assert not keys_anywhere(registered) & FORBIDDEN_KEYS
    assert "password" not in registered

    user = UserRepository(db).get_by_id(registered["id"])
    assert user is not None
    app.dependency_overrides[current_user] = lambda: user
    assert client.get("/users/me").json()["id"] == registered["id"]
    assert client.get("/users/me/profile").json()["level"] == 1

    profile = client.patch("/users/me/profile", json={"bio": "أحب الشعر", "theme": "DARK"})
    assert profile.status_code == 200, profile.text
    assert (profile.json()["bio"], profile.json()["theme"]) == ("أحب الشعر", "dark")

    wrong = client.put(
        "/users/me/password",
        json={"old_password": "not it at all", "new_password": "another long one"},
    )
    assert problem(wrong, 422)["rule"] == "matches_current"
    right = client.put(
        "/users/me/password",
        json={"old_password": "a long enough password", "new_password": "another long one"},
    )
    assert right.status_code == 204, right.text
    assert UserRepository(db).authenticate("شاعر_جديد", "another long one") is not None


def test_nobody_registers_as_admin(client: TestClient) -> None:
    response = client.post(
        "/users",
        json={
            "username": "sneaky",
            "email": "sneaky@example.com",
            "password": "a long enough password",
            "full_name": "Sneaky",
            "role": "admin",
        },
    )
    body = problem(response, 422)
    assert (body["field"], body["rule"]) == ("role", "extra_forbidden")


def test_taken_username_is_a_409_naming_the_field(client: TestClient, user: User) -> None:
    response = client.post(
        "/users",
        json={
            "username": user.username.upper(),
            "email": "someone.else@example.com",
            "password": PASSWORD,
            "full_name": "Someone",
        },
    )
    body = problem(response, 409)
    assert (body["field"], body["rule"]) == ("username", "unique")


def test_a_rejected_password_is_not_echoed(client: TestClient) -> None:
    secret = "Zq9#x"
    response = client.post(
        "/users",
        json={"username": "abc", "email": "abc@example.com", "password": secret, "full_name": "x"},
    )
    body = problem(response, 422)
    assert body["field"] == "password"
    assert secret not in response.text


def test_profile_rules_are_422(client: TestClient) -> None:
    body = problem(client.patch("/users/me/profile", json={"website": "ftp://x"}), 422)
    assert body["field"] == "website"


@pytest.mark.parametrize("path", ["/analyses", "/users/me", "/search?q=x"])
def test_unknown_route_and_method_are_problems(client: TestClient, path: str) -> None:
    problem(client.get("/no/such/route"), 404)
    response = client.put(path.split("?", maxsplit=1)[0])
    body = problem(response, 405)
    assert "allow" in response.headers
    assert body["title"] == "Method Not Allowed"


def test_unknown_id_is_404(client: TestClient) -> None:
    body = problem(client.get(f"/analyses/{uuid.uuid4()}"), 404)
    assert (body["field"], body["rule"]) == ("analysis_id", "exists")


def test_an_admin_creates_corrects_and_deletes_a_meter(
    sessions: Callable[[FastAPI], FastAPI], owner_db: Session, db: Session
) -> None:
    admin = make_user(db, role=UserRole.ADMIN)
    app = sessions(create_app())
    for dependency in (get_db, get_read_db):
        app.dependency_overrides[dependency] = lambda: owner_db  # to read what the owner wrote
    app.dependency_overrides[current_user] = lambda: admin
    client = TestClient(app)

    new = {
        "name_arabic": "المستطيل",
        "name_english": "al-Mustatil",
        "position": 17,
        "feet": "مفاعيلن فعولن",
        "metadata": {"circle": "دائرة المختلف"},
    }
    response = client.post("/meters", json=new)
    assert response.status_code == 201, response.text
    created_meter = response.json()
    assert created_meter["pattern"]  # derived from the feet
    assert created_meter["metadata"] == {"circle": "دائرة المختلف"}
    assert problem(client.post("/meters", json=new), 409)["rule"] == "unique"

    fixed = client.patch("/meters/al-Mustatil", json={"description": "بحر مهمل"})
    assert fixed.status_code == 200, fixed.text
    assert client.get("/meters/المستطيل").json()["description"] == "بحر مهمل"

    assert client.delete("/meters/al-Mustatil").status_code == 204
    problem(client.get("/meters/al-Mustatil"), 404)
    problem(client.delete("/meters/al-Mustatil"), 404)


def test_no_response_model_declares_an_internal_field() -> None:
    """What schemathesis checks per response, checked here for every declared model."""
    spec = create_app().openapi()
    declared = {
        name: set(schema.get("properties", {}))
        for name, schema in spec["components"]["schemas"].items()
    }
    assert all(not fields & FORBIDDEN_KEYS for fields in declared.values()), declared
    assert "metadata" in declared["AnalysisRead"]
    assert "metadata" in declared["MeterRead"]
    assert "metadata" in declared["AnalysisCreateBody"]
