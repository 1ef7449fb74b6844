"""Data printed by the CLI cannot drive the terminal or break Rich (issue 16: 13).

A username such as ``[/x]`` is Rich markup (a closing tag); stored text with ESC / CSI / BEL
sequences would reach the operator's terminal raw. Every table, title and message the CLI
prints from data must show them as inert text. The rows are written in the test's own
transaction (rolled back), and the commands run through the CLI against it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text
from typer.testing import CliRunner, Result

from app.cli import app
from app.db.base import SessionLocal

USERNAME = "[/x]"
#: Clear screen, set the window title, ring the bell, an 8-bit CSI and a carriage return.
HOSTILE = "قفا نبك \x1b[2J\x1b]0;pwned\x07 من ذكرى \x9b31m حبيب\rومنزل"
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture
def hostile_rows(connection: Connection) -> Iterator[None]:
    original = dict(SessionLocal.kw)
    SessionLocal.configure(bind=connection, join_transaction_mode="create_savepoint")
    user_id = connection.execute(
        text(
            "INSERT INTO users (username, email, password_hash, full_name) "
            "VALUES (:u, 'markup@example.com', 'x', :f) RETURNING id"
        ),
        {"u": USERNAME, "f": "[bold]Full[/bold] [link=file:///etc]name[/link]"},
    ).scalar_one()
    connection.execute(
        text(
            "INSERT INTO analyses (user_id, original_text, normalized_text, pattern, "
            "detected_meter) VALUES (:id, :t, 'قفا نبك من ذكرى حبيب ومنزل', '//o/o', :m)"
        ),
        {"id": user_id, "t": HOSTILE, "m": "[red]\x1b[5mطويل"},
    )
    yield
    SessionLocal.kw.clear()
    SessionLocal.kw.update(original)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})


def _inert(result: Result) -> None:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert not CONTROLS.search(result.stdout.replace("\n", "").replace("\t", ""))


def test_history_of_a_markup_username_shows_it_and_no_control_character(
    hostile_rows: None,
) -> None:
    result = run("history", USERNAME)
    _inert(result)
    assert f"history of {USERNAME}" in result.stdout
    assert "قفا نبك" in result.stdout
    assert "[red]" in result.stdout  # the meter label, shown as it is, not as a colour


def test_users_list_shows_markup_as_text(hostile_rows: None) -> None:
    result = run("users", "list")
    _inert(result)
    assert USERNAME in result.stdout
    assert "[bold]Full[/bold]" in result.stdout


def test_search_with_markup_in_the_query_and_controls_in_the_hits(hostile_rows: None) -> None:
    result = run("search", "حبيب")
    _inert(result)
    assert "حبيب" in result.stdout
    markup_query = run("search", "[/x] حبيب")
    assert markup_query.exit_code in (0, 1)
    assert "Traceback" not in markup_query.output
    assert not CONTROLS.search(markup_query.output.replace("\n", ""))


def test_stats_with_a_hostile_meter_label(hostile_rows: None) -> None:
    _inert(run("stats"))


def test_json_output_escapes_every_control_character(hostile_rows: None) -> None:
    result = run("history", USERNAME, "--json")
    assert result.exit_code == 0, result.output
    assert not CONTROLS.search(result.stdout.replace("\n", ""))
    items = json.loads(result.stdout)["items"]
    assert items[0]["original_text"] == HOSTILE  # the value itself is intact


def test_an_error_message_echoing_input_is_inert(hostile_rows: None) -> None:
    result = run("history", "no\x1b[2Jbody[/x]")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert not CONTROLS.search(result.stderr.replace("\n", ""))
