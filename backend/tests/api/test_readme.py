"""The README's FastAPI section: its example runs as written, its route table is the API's."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.api import create_app
from tests.api.conftest import MUTANABBI, analysis_body

README = Path(__file__).resolve().parents[3] / "README.md"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Using it from the platform")
    return text[start : text.index("\n## ", start + 1)]


def example() -> str:
    return re.search(r"```python\n(.*?)```", section(), re.DOTALL).group(1)  # type: ignore[union-attr]


def test_the_readme_example_runs_as_written(
    sessions: Callable[[FastAPI], FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    main = types.ModuleType("main")  # as if saved as main.py and imported by uvicorn
    monkeypatch.setitem(sys.modules, "main", main)
    exec(compile(example(), "README.md", "exec"), main.__dict__)  # noqa: S102 - our own README
    app = sessions(main.app)  # the test database, rolled back afterwards
    client = TestClient(app)

    assert client.get("/meters").status_code == 200
    assert client.get("/users/me").status_code == 401  # no X-User header: the host's 401
    account = {
        "username": "readme_reader",
        "email": "reader@example.com",
        "password": "a long enough password",
        "full_name": "قارئ",
    }
    assert client.post("/users", json=account).status_code == 201
    me = {"X-User": "readme_reader"}
    assert client.get("/users/me", headers=me).json()["username"] == "readme_reader"
    assert client.post("/analyses", json=analysis_body(), headers=me).status_code == 201
    assert client.get("/me/meters", headers=me).json() == {"الطويل": 1}

    signup = {
        "account": {**account, "username": "new_reader", "email": "new@example.com"},
        "first_verse": analysis_body(original_text=MUTANABBI, detected_meter="البسيط"),
    }
    response = client.post("/signup", json=signup)
    assert response.status_code == 201, response.text
    assert client.get("/me/meters", headers={"X-User": "new_reader"}).json() == {"البسيط": 1}
    taken = client.post("/signup", json=signup)
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/problem+json"


def declared() -> dict[tuple[str, str], set[int]]:
    spec = create_app().openapi()
    return {
        (method.upper(), path): {int(code) for code in operation["responses"] if int(code) >= 400}
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }


def documented() -> dict[tuple[str, str], set[int]]:
    rows = re.findall(
        r"^\| `([A-Z]+) ([^`?]+)[^`]*` \| .*? \| ([^|]*) \|$", section(), re.MULTILINE
    )
    return {
        (method, path): {int(code) for code in re.findall(r"\d{3}", errors)}
        for method, path, errors in rows
    }


def test_the_readme_lists_every_route_with_its_errors() -> None:
    assert documented() == declared()
