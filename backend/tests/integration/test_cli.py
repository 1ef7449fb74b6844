"""The ``bahr-db`` command line, driven through Typer's runner against PostgreSQL.

The application's ``SessionLocal`` is bound to the test's connection, so everything a
command writes is rolled back with the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from app.cli import app
from app.config import libpq_url
from tests.conftest import ADMIN_URL, fresh_database, migrated_database
from tests.integration.conftest import Invoke

IMRU = "قِفا نَبْكِ مِنْ ذِكْرى حَبيبٍ وَمَنْزِلِ ... بِسِقْطِ اللِّوى بَيْنَ الدَّخولِ فَحَوْمَلِ"


def line(**fields: Any) -> str:
    base = {"original_text": IMRU, "pattern": "//o/o //o/o/o", "detected_meter": "الطويل"}
    return json.dumps({**base, **fields}, ensure_ascii=False)


def count(connection: Connection) -> int:
    return int(connection.execute(text("SELECT count(*) FROM analyses")).scalar_one())


def test_usage_error_exits_2(cli: Invoke) -> None:
    assert cli("search", "--no-such-option", "x").exit_code == 2
    assert cli("frobnicate").exit_code == 2


def test_doctor_and_current(cli: Invoke) -> None:
    result = cli("doctor", "--json")
    assert result.exit_code == 0, result.output
    checks = json.loads(result.stdout)
    assert [c["ok"] for c in checks] == [True] * 5
    current = json.loads(cli("current", "--json").stdout)
    assert current["up_to_date"] is True


def test_seed_is_idempotent(cli: Invoke) -> None:
    result = cli("seed", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "inserted": 0,
        "updated": 0,
        "unchanged": 16,
        "relinked": 0,
    }


def test_meters_json(cli: Invoke) -> None:
    meters = json.loads(cli("meters", "--json").stdout)
    assert [m["name_arabic"] for m in meters][:2] == ["الطويل", "المديد"]
    assert len(meters) == 16


def test_users_create_and_list(cli: Invoke) -> None:
    args = (
        "users",
        "create",
        "--username",
        "layla",
        "--email",
        "layla@example.com",
        "--full-name",
        "ليلى",
        "--role",
        "POET",
    )
    result = cli(*args, env={"BAHR_PASSWORD": "a long password"})
    assert result.exit_code == 0, result.output
    users = json.loads(cli("users", "list", "--json").stdout)
    layla = next(u for u in users if u["username"] == "layla")
    assert layla["role"] == "poet"
    assert "password_hash" not in layla
    again = cli(*args, env={"BAHR_PASSWORD": "a long password"})
    assert again.exit_code == 1
    assert "already taken" in again.stderr
    assert "Traceback" not in again.output
    bad = cli(
        "users",
        "create",
        "--username",
        "a b",
        "--email",
        "x@example.com",
        "--full-name",
        "X",
        env={"BAHR_PASSWORD": "a long password"},
    )
    assert bad.exit_code == 1
    assert bad.stderr.count("\n") == 1
    assert "username" in bad.stderr


def test_import_strict_aborts_naming_the_line_and_stores_nothing(
    cli: Invoke, connection: Connection, tmp_path: Path
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([line(), line(), line(pattern="nope"), line()]) + "\n")
    before = count(connection)
    result = cli("import", str(path), "--strict")
    assert result.exit_code == 1
    assert "line 3" in result.stderr
    assert "pattern" in result.stderr
    assert "nothing was stored" in result.stderr
    assert count(connection) == before


def test_import_lenient_skips_bad_lines_and_stores_good_ones(
    cli: Invoke, connection: Connection, tmp_path: Path
) -> None:
    cli(
        "users",
        "create",
        "--username",
        "importer",
        "--email",
        "i@example.com",
        "--full-name",
        "Importer",
        env={"BAHR_PASSWORD": "a long password"},
    )
    path = tmp_path / "in.jsonl"
    path.write_text(
        "\n".join(
            [
                line(username="importer"),
                "{not json",
                line(confidence=3),
                "",
                line(username="ghost"),
                "[1, 2]",
                line(original_text="بيت آخر", username="importer"),
            ]
        )
        + "\n"
    )
    before = count(connection)
    result = cli("import", str(path), "--json")
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    assert (summary["lines"], summary["stored"], summary["skipped"]) == (6, 2, 4)
    assert [e["line"] for e in summary["errors"]] == [2, 3, 5, 6]
    assert "confidence" in summary["errors"][1]["error"]
    assert "ghost" in summary["errors"][2]["error"]
    assert count(connection) == before + 2
    history = json.loads(cli("history", "importer", "--json").stdout)
    assert len(history["items"]) == 2


def test_export_round_trips_through_import(
    cli: Invoke, connection: Connection, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(line(original_text=f"بيت {i}", confidence="0.5") for i in range(30)) + "\n"
    )
    assert cli("import", str(source)).exit_code == 0
    exported = tmp_path / "out.jsonl"
    assert cli("export", str(exported)).exit_code == 0
    rows = [json.loads(x) for x in exported.read_text().splitlines()]
    assert len(rows) == count(connection)
    assert {"بيت 0", "بيت 29"} <= {r["original_text"] for r in rows}
    before = count(connection)
    assert cli("import", str(exported), "--strict").exit_code == 0
    assert count(connection) == before


def test_search_history_stats(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(line() + "\n")
    cli("import", str(path))
    hits = json.loads(cli("search", "منزل", "--json").stdout)
    assert hits[0]["headline"].count("«") == 1
    assert "«وَمَنْزِلِ»" in hits[0]["headline"]
    table = cli("search", "منزل")
    assert table.exit_code == 0
    assert "وَمَنْزِلِ" in table.stdout
    fragment = json.loads(cli("search", "بسقط اللوى", "--fragment", "--json").stdout)
    assert fragment
    stats = json.loads(cli("stats", "--json").stdout)
    assert any(s["name"] == "الطويل" and s["count"] >= 1 for s in stats)
    assert "الطويل" in cli("stats").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", "   "), "query"),
        (("search", "منزل", "--meter", "nonsense"), "meter"),
        (("search", "قف", "--fragment"), "query"),
        (("search", "منزل", "--fragment", "--meter", "tawil"), "--meter"),
        (("history", "nobody_here"), "username"),
        (("history", "nobody_here", "--before", "junk"), "username"),
    ],
)
def test_read_errors_are_one_line_exit_1(cli: Invoke, args: tuple[str, ...], message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_demo_runs_twice_with_the_same_result(cli: Invoke) -> None:
    first = cli("run")
    assert first.exit_code == 0, first.output
    assert "sample: 13 stored now" in first.stdout
    second = cli("run")
    assert second.exit_code == 0
    assert "sample: 0 stored now" in second.stdout

    def body(out: str) -> str:
        return out[out.index("the 16 classical meters") :]

    assert body(first.stdout) == body(second.stdout)
    assert "search: الليل (" in first.stdout
    assert "history of demo_poet" in first.stdout


def test_metrics_command_prints_prometheus_text(cli: Invoke) -> None:
    result = cli("metrics")
    assert result.exit_code == 0
    assert "bahr_database_queries_total" in result.stdout


# -- backup and restore, on scratch databases ------------------------------------------------


def test_backup_and_restore_round_trip(
    tmp_path: Path, use_database: Callable[[URL, URL], None]
) -> None:
    source, source_app = migrated_database("backup_src")
    eng: Engine = create_engine(source)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO analyses (original_text, normalized_text, pattern) "
                "VALUES (:t, 'قفا', '//o/o')"
            ),
            {"t": IMRU},
        )
    eng.dispose()
    runner = CliRunner()
    dump = tmp_path / "bahr.dump"
    use_database(source, source_app)
    assert runner.invoke(app, ["backup", str(dump)]).exit_code == 0

    target, target_app = fresh_database(f"{ADMIN_URL.database}_backup_dst")
    use_database(target, target_app)
    restored = runner.invoke(app, ["restore", str(dump)])
    assert restored.exit_code == 0, restored.output
    refused = runner.invoke(app, ["restore", str(dump)])
    assert refused.exit_code == 1
    assert "--force" in refused.stderr
    again = runner.invoke(app, ["restore", str(dump), "--force"])
    assert again.exit_code == 0, again.output

    def dump_rows(url: URL) -> list[tuple[Any, ...]]:
        with psycopg.connect(libpq_url(url)) as conn:
            return conn.execute(
                "SELECT id::text, original_text, convert_to(original_text, 'UTF8') "
                "FROM analyses UNION ALL "
                "SELECT NULL, name_arabic || feet || pattern, NULL FROM meters ORDER BY 2"
            ).fetchall()

    assert dump_rows(target) == dump_rows(source)
    assert any(row[1] == IMRU for row in dump_rows(target))
    # The restored database keeps the application role's grants.
    assert dump_rows(target_app) == dump_rows(source)


def test_import_reports_bad_bytes_as_a_bad_line(
    cli: Invoke, connection: Connection, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(line().encode() + b"\n" + b'{"original_text": "\xff\xfe"}\n' + line().encode())
    before = count(connection)
    result = cli("import", str(path), "--json")
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    assert (summary["stored"], summary["skipped"]) == (2, 1)
    assert summary["errors"][0]["line"] == 2
    assert "UTF-8" in summary["errors"][0]["error"]
    assert count(connection) == before + 2


def test_export_to_an_unwritable_place_is_a_one_line_error(cli: Invoke, tmp_path: Path) -> None:
    result = cli("export", str(tmp_path / "no" / "such" / "dir" / "out.jsonl"))
    assert result.exit_code == 1
    assert "No such file or directory" in result.stderr
    assert "Traceback" not in result.output
    assert not list(tmp_path.rglob("*.partial"))


def test_missing_import_file_is_a_usage_error(cli: Invoke, tmp_path: Path) -> None:
    assert cli("import", str(tmp_path / "absent.jsonl")).exit_code == 2
