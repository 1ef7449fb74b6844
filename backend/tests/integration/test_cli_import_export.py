"""``bahr-db import`` and ``export`` as a user meets them (issue 20, items 1-4, 7, 8 and 12).

Export -> import is idempotent and keeps ids and creation times; a wiped table re-imported
from an export exports the same bytes; bad lines are named, explained, optionally written to
``--rejects``, and make the exit code 3.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from tests.factories import make_user
from tests.integration.conftest import Invoke

VERSE = "وَلَيْلٍ كَمَوْجِ الْبَحْرِ أَرْخَى سُدُولَهُ ... عَلَيَّ بِأَنْوَاعِ الْهُمُومِ لِيَبْتَلِي"


def line(**fields: Any) -> str:
    base = {"original_text": VERSE, "pattern": "//o/o //o/o/o", "detected_meter": "الطويل"}
    return json.dumps({**base, **fields}, ensure_ascii=False)


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
    return path


def count(connection: Connection) -> int:
    return int(connection.execute(text("SELECT count(*) FROM analyses")).scalar_one())


def summary(result: Any) -> dict[str, Any]:
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_export_wipe_import_export_gives_the_same_bytes(
    cli: Invoke, db: Session, connection: Connection, tmp_path: Path
) -> None:
    user = make_user(db)
    source = write(
        tmp_path / "in.jsonl",
        *(
            line(
                original_text=f"{VERSE} {i}",
                confidence=["0.9300", 0.5, 1, None][i % 4],
                syllable_count=i,
                metadata={"engine": "v2", "n": i, "nested": {"b": [1, "٢"]}},
                username=user.username if i % 3 == 0 else None,
                detected_meter=["الطويل", "kamil", None][i % 3],
            )
            for i in range(12)
        ),
    )
    assert cli("import", str(source)).exit_code == 0
    first = tmp_path / "first.jsonl"
    assert cli("export", str(first)).exit_code == 0

    connection.execute(text("DELETE FROM analyses"))
    assert count(connection) == 0
    result = cli("import", str(first), "--strict", "--json")
    assert result.exit_code == 0, result.output
    assert summary(result)["stored"] == 12
    second = tmp_path / "second.jsonl"
    assert cli("export", str(second)).exit_code == 0

    assert second.read_bytes() == first.read_bytes()
    rows = [json.loads(x) for x in first.read_text(encoding="utf-8").splitlines()]
    assert {type(r["confidence"]) for r in rows} == {float, type(None)}
    assert "0.93" in first.read_text(encoding="utf-8")
    assert all(r["created_at"].endswith("Z") for r in rows)


def test_importing_an_export_again_stores_nothing_twice(
    cli: Invoke, connection: Connection, tmp_path: Path
) -> None:
    write(tmp_path / "in.jsonl", *(line(original_text=f"{VERSE} {i}") for i in range(5)))
    assert cli("import", str(tmp_path / "in.jsonl")).exit_code == 0
    exported = tmp_path / "out.jsonl"
    assert cli("export", str(exported)).exit_code == 0
    before = count(connection)

    again = cli("import", str(exported))
    assert again.exit_code == 0, again.output
    assert count(connection) == before
    assert f"{before} already there (kept)" in again.stdout
    hits = json.loads(cli("search", "سدوله", "--json").stdout)
    assert len(hits) == len({h["id"] for h in hits})


def test_a_given_id_and_created_at_are_kept(
    cli: Invoke, connection: Connection, tmp_path: Path
) -> None:
    analysis_id = uuid.uuid4()
    path = write(
        tmp_path / "in.jsonl", line(id=str(analysis_id), created_at="2020-01-02T03:04:05+03:00")
    )
    assert cli("import", str(path)).exit_code == 0
    stored = connection.execute(
        text("SELECT created_at FROM analyses WHERE id = :id"), {"id": analysis_id}
    ).scalar_one()
    assert stored == dt.datetime(2020, 1, 2, 0, 4, 5, tzinfo=dt.UTC)


def test_update_replaces_the_result_of_stored_ids_only_when_asked(
    cli: Invoke, connection: Connection, tmp_path: Path
) -> None:
    write(tmp_path / "in.jsonl", line(confidence=0.5))
    assert cli("import", str(tmp_path / "in.jsonl")).exit_code == 0
    exported = tmp_path / "out.jsonl"
    cli("export", str(exported))
    row = json.loads(exported.read_text(encoding="utf-8").splitlines()[-1])
    changed = write(tmp_path / "changed.jsonl", json.dumps({**row, "confidence": 0.75}))

    def stored() -> tuple[Any, ...]:
        return tuple(
            connection.execute(
                text("SELECT confidence, created_at FROM analyses WHERE id = :id"),
                {"id": row["id"]},
            ).one()
        )

    kept = cli("import", str(changed), "--json")
    assert summary(kept)["already_present"] == 1
    assert float(stored()[0]) == 0.5

    created = stored()[1]
    updated = cli("import", str(changed), "--update", "--json")
    assert updated.exit_code == 0, updated.output
    assert (summary(updated)["updated"], summary(updated)["stored"]) == (1, 0)
    assert stored() == (stored()[0], created)
    assert float(stored()[0]) == 0.75
    events = connection.execute(
        text("SELECT event::text FROM analysis_history WHERE analysis_id = :id ORDER BY id"),
        {"id": row["id"]},
    ).scalars()
    assert list(events) == ["created", "updated"]

    same = cli("import", str(changed), "--update", "--json")
    assert (summary(same)["updated"], summary(same)["already_present"]) == (0, 1)


def test_a_stored_id_with_another_text_is_a_bad_line(
    cli: Invoke, connection: Connection, tmp_path: Path
) -> None:
    analysis_id = str(uuid.uuid4())
    cli("import", str(write(tmp_path / "a.jsonl", line(id=analysis_id))))
    other = write(tmp_path / "b.jsonl", line(id=analysis_id, original_text="بيت آخر"))
    result = cli("import", str(other), "--update", "--json")
    assert result.exit_code == 3
    assert "stored already, with another text" in summary(result)["errors"][0]["error"]


def test_an_unknown_meter_is_refused_unless_allowed(
    cli: Invoke, connection: Connection, tmp_path: Path
) -> None:
    path = write(tmp_path / "in.jsonl", line(), line(detected_meter="الطويلللل"))
    before = count(connection)

    strict = cli("import", str(path), "--strict")
    assert strict.exit_code == 1
    assert "line 2: detected_meter 'الطويلللل' is not a known meter" in strict.stderr
    assert count(connection) == before

    lenient = cli("import", str(path))
    assert lenient.exit_code == 3
    assert "line 2:" in lenient.stderr
    assert "--allow-unknown-meter" in lenient.stderr
    assert count(connection) == before + 1

    allowed = cli("import", str(path), "--strict", "--allow-unknown-meter", "--json")
    assert allowed.exit_code == 0, allowed.output
    assert (summary(allowed)["stored"], summary(allowed)["unknown_meter"]) == (2, 1)


def test_a_run_that_skips_lines_exits_3_and_writes_the_rejects(
    cli: Invoke, connection: Connection, tmp_path: Path
) -> None:
    path = write(tmp_path / "in.jsonl", line(), "", "{not json", line(pattern="xyz"))
    rejects = tmp_path / "rejects.jsonl"
    result = cli("import", str(path), "--rejects", str(rejects))
    assert result.exit_code == 3
    assert "3 lines: 1 stored, 2 skipped" in result.stdout
    written = [json.loads(x) for x in rejects.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["text"]) for r in written] == [(3, "{not json"), (4, line(pattern="xyz"))]
    assert written[1]["error"].startswith("pattern must match the pattern")

    again = cli("import", str(path), "--rejects", str(rejects))
    assert again.exit_code == 1
    assert "exists" in again.stderr


def test_all_bad_lines_exit_3_with_one_line_in_the_singular(cli: Invoke, tmp_path: Path) -> None:
    result = cli("import", str(write(tmp_path / "bad.jsonl", "[1]")))
    assert result.exit_code == 3
    assert "1 line: 0 stored, 1 skipped" in result.stdout
    assert "must be a JSON object, not an array" in result.stderr


def test_a_byte_order_mark_is_accepted(cli: Invoke, connection: Connection, tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + line().encode() + b"\n")
    before = count(connection)
    result = cli("import", str(path))
    assert result.exit_code == 0, result.output
    assert count(connection) == before + 1


def test_errors_name_the_file_line_the_field_and_the_rule(cli: Invoke, tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.jsonl",
        line(),
        '{"original_text": ',
        line(original_text="قفا\u0000نبك"),
        line(confidence="high"),
        line(created_at="yesterday"),
        line(id="42"),
    )
    errors = [e["error"] for e in summary(cli("import", str(path), "--json"))["errors"]]
    assert errors[0] == "not valid JSON: expecting value at column 19"
    assert errors[1].startswith("original_text must not contain")
    assert errors[2].startswith("confidence ")
    assert errors[3].startswith("created_at must be an ISO 8601 time with its time zone")
    assert errors[4] == "id must be a UUID, got '42'"
    assert not any("Value error" in e or "line" in e for e in errors)


def test_a_file_larger_than_a_batch_round_trips_and_repeats_are_counted_once(
    cli: Invoke, connection: Connection, tmp_path: Path
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(1_100)]
    lines = [line(id=i, original_text=f"{VERSE} {n}") for n, i in enumerate(ids)]
    path = write(tmp_path / "big.jsonl", *lines, lines[0], lines[-1])
    before = count(connection)
    first = cli("import", str(path))  # with the progress bar
    assert first.exit_code == 0, first.output
    assert "1,102 lines: 1,100 stored, 2 already there (kept), 0 skipped" in first.stdout
    assert count(connection) == before + 1_100
    again = summary(cli("import", str(path), "--json"))
    assert (again["stored"], again["already_present"]) == (0, 1_102)


def test_a_huge_line_is_refused_unread_and_the_next_line_still_imports(
    cli: Invoke, connection: Connection, tmp_path: Path
) -> None:
    """Issue 16, item 9: one 3 MB line costs no parsing or normalising (it is refused by its
    length before either), and reading resumes exactly at the next line."""
    path = tmp_path / "huge.jsonl"
    huge = line(original_text="بيت " * 800_000)
    path.write_text(f"{huge}\n{line()}\n", encoding="utf-8")
    before = count(connection)
    result = cli("import", str(path))
    assert result.exit_code == 3
    assert "2 lines: 1 stored, 1 skipped" in result.stdout
    assert "line 1: longer than 1,048,576 bytes" in result.stderr
    assert count(connection) == before + 1
