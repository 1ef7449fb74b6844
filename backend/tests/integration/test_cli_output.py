"""What the command line prints, as a person reads and copies it (issue 20, items 5, 7, 8, 10
and 12): no token split over lines, counts in the right number, errors in plain words,
labelled URLs, confidence as a number and one timestamp style everywhere."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.commands.output import describe_validation, plural, timestamp
from app.models.analysis import Analysis
from app.repositories.analysis_repository import AnalysisRepository
from app.schemas.analysis import AnalysisCreate, AnalysisRead
from app.schemas.user import UserCreate
from tests.factories import make_user
from tests.integration.conftest import Invoke

VERSE = "وَلَيْلٍ كَمَوْجِ الْبَحْرِ أَرْخَى سُدُولَهُ ... عَلَيَّ بِأَنْوَاعِ الْهُمُومِ لِيَبْتَلِي"
#: A timestamp as every command writes it: UTC, microseconds, Z.
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def stored(db: Session, n: int, **fields: object) -> list[Analysis]:
    user = fields.pop("user_id", None)
    repo = AnalysisRepository(db)
    return [
        repo.create(
            {"original_text": f"{VERSE} {i}", "pattern": "//o/o", "confidence": "0.93", **fields},
            user_id=user,  # type: ignore[arg-type]
        )
        for i in range(n)
    ]


def test_plural_counts() -> None:
    assert [plural(n, "hit") for n in (0, 1, 2, 1200)] == [
        "0 hits",
        "1 hit",
        "2 hits",
        "1,200 hits",
    ]
    assert plural(1, "analysis", "analyses") == "1 analysis"
    assert plural(3, "analysis", "analyses") == "3 analyses"


def test_one_hit_is_singular(cli: Invoke, db: Session) -> None:
    stored(db, 1)
    out = cli("search", "سدوله").stdout
    assert "(1 hit)" in out
    assert "1 hits" not in out


def test_json_confidence_is_a_number_and_times_have_one_style(cli: Invoke, db: Session) -> None:
    user = make_user(db)
    stored(db, 2, user_id=user.id)
    history = json.loads(cli("history", user.username, "--json").stdout)
    assert [item["confidence"] for item in history["items"]] == [0.93, 0.93]
    assert all(TIMESTAMP.match(item["created_at"]) for item in history["items"])
    hits = json.loads(cli("search", "سدوله", "--json").stdout)
    assert hits
    assert all(TIMESTAMP.match(hit["created_at"]) for hit in hits)
    stats = json.loads(cli("stats", "--json").stdout)
    assert {type(s["mean_confidence"]) for s in stats} <= {float, type(None)}


def test_analysis_read_json_has_a_number_and_a_utc_z_time(db: Session) -> None:
    analysis = stored(db, 1)[0]
    db.refresh(analysis)
    read = AnalysisRead.model_validate(analysis)
    dumped = read.model_dump(mode="json")
    assert dumped["confidence"] == 0.93
    assert dumped["created_at"] == timestamp(analysis.created_at)
    assert TIMESTAMP.match(dumped["created_at"])
    assert read.confidence == Decimal("0.9300")  # Python mode keeps the Decimal


def test_timestamp_is_utc_whatever_the_zone() -> None:
    riyadh = dt.timezone(dt.timedelta(hours=3))
    when = dt.datetime(2026, 1, 31, 15, 0, tzinfo=riyadh)
    assert timestamp(when) == "2026-01-31T12:00:00.000000Z"


def test_a_cursor_is_never_split_over_two_lines(cli: Invoke, db: Session) -> None:
    user = make_user(db)
    stored(db, 3, user_id=user.id)
    out = cli("history", user.username, "--limit", "1", env={"COLUMNS": "40"}).stdout
    cursor = json.loads(cli("history", user.username, "--limit", "1", "--json").stdout)[
        "next_cursor"
    ]
    assert len(f"next page: --before {cursor}") > 40
    assert f"next page: --before {cursor}\n" in out


def test_an_error_naming_a_long_path_stays_on_one_line(cli: Invoke, tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "out.jsonl"
    result = cli("export", str(deep), env={"COLUMNS": "60"})
    assert result.exit_code == 1
    assert str(deep) in result.stderr
    assert result.stderr.count("\n") == 1


def test_table_columns_other_than_the_verse_do_not_fold(cli: Invoke, db: Session) -> None:
    stored(db, 1, detected_meter="المتقارب")
    out = cli("search", "سدوله", env={"COLUMNS": "60"}).stdout
    assert "المتقارب" in out


def test_the_meters_table_has_no_blank_header(cli: Invoke) -> None:
    header = next(x for x in cli("meters", env={"COLUMNS": "200"}).stdout.splitlines() if "#" in x)
    cells = [c.strip() for c in re.split(r"[┃│]", header)[1:-1]]
    assert cells == ["#", "meter", "in English", "feet", "pattern"]


def test_db_status_labels_its_two_urls(cli: Invoke) -> None:
    help_text = cli("db", "url", "--help").stdout
    assert "bahr_app" in help_text


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"original_text": "قفا\u0000نبك", "pattern": "//o"}, "original_text must not contain"),
        (
            {"original_text": "قفا", "pattern": "//o", "confidence": 3},
            "confidence must be at most 1",
        ),
        ({"original_text": "قفا", "pattern": "x"}, "pattern must match the pattern"),
        ({"original_text": "قفا", "pattern": "//o", "nope": 1}, "nope is not an accepted field"),
        ({"pattern": "//o"}, "original_text is required"),
    ],
)
def test_validation_errors_read_as_field_and_rule(data: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AnalysisCreate.model_validate(data)
    message = describe_validation(caught.value)
    assert message.startswith(expected)
    assert "Value error" not in message


def test_a_short_password_is_counted_in_characters() -> None:
    with pytest.raises(ValidationError) as caught:
        UserCreate(username="layla", email="l@example.com", password="short", full_name="L")
    assert describe_validation(caught.value) == "password must be at least 8 characters long"


def test_the_prompted_password_is_not_shown_as_required(cli: Invoke) -> None:
    help_text = cli("users", "create", "--help", env={"COLUMNS": "200"}).stdout
    password = next(x for x in help_text.splitlines() if "--password" in x)
    assert "required" not in password
    assert "[required]" not in help_text.split("--password", 1)[1].split("--help", 1)[0]
    asked = cli(
        "users",
        "create",
        "--username",
        "a b",
        "--email",
        "x@example.com",
        "--full-name",
        "X",
        input="a long password\na long password\n",
    )
    assert "Password:" in asked.output
    assert asked.exit_code == 1  # the username is refused after the prompt, as before


def _logged(verbose: bool) -> str:
    import io
    import logging

    from rich.console import Console

    from app.commands.output import BULK_MARK, setup_logging

    out = io.StringIO()
    levels = {name: logging.getLogger(name).level for name in ("alembic", "app", "bahr")}
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        setup_logging(Console(file=out, width=200), verbose=verbose)
        slow = logging.getLogger("bahr.db.slow")
        slow.warning("slow statement (250 ms): SELECT ?")
        slow.warning(f"slow statement (900 ms): COPY analyses (id) FROM STDIN {BULK_MARK}")
        logging.getLogger("alembic.runtime.migration").info("Running upgrade 0006 -> 0007")
    finally:
        root.handlers[:] = handlers
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    return out.getvalue()


def test_log_lines_go_through_the_console_and_bulk_copies_only_with_verbose() -> None:
    quiet = _logged(verbose=False)
    assert "SELECT ?" in quiet
    assert "COPY analyses" not in quiet
    assert "Running upgrade" not in quiet
    loud = _logged(verbose=True)
    assert "COPY analyses" in loud
    assert "Running upgrade" in loud


def test_the_import_progress_bar_shows_percent_count_rate_and_time_left() -> None:
    import io

    from rich.console import Console

    from app.commands.output import progress

    out = io.StringIO()
    console = Console(file=out, width=150, force_terminal=True, color_system=None)
    with progress(console, "importing", "line") as bar:
        task = bar.add_task("import", total=1000, count=0)
        bar.update(task, completed=500, count=1234)
        bar.refresh()
    shown = out.getvalue()
    assert "importing" in shown
    assert "50%" in shown
    assert "1,234 lines" in shown
    assert "left" in shown


def test_json_values_other_than_numbers_and_times_are_text() -> None:
    from app.commands.output import json_value

    analysis_id = __import__("uuid").uuid4()
    assert json_value(analysis_id) == str(analysis_id)
    assert json_value(Decimal("0.9300")) == 0.93


@pytest.mark.parametrize(
    ("confidence", "expected"),
    [(-1, "confidence must be at least 0"), ("0.12345", "confidence must have at most 4 decimal")],
)
def test_range_and_precision_rules_in_words(confidence: object, expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AnalysisCreate.model_validate(
            {"original_text": "قفا", "pattern": "//o", "confidence": confidence}
        )
    assert describe_validation(caught.value).startswith(expected)


def test_what_now_on_the_embedded_cluster_says_where_and_whether_it_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import io

    from rich.console import Console

    from app.commands.guide import print_what_now, server_will_stop
    from app.config import get_settings

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("MIGRATION_DATABASE_URL", raising=False)
    monkeypatch.setenv("EMBEDDED_DIR", str(tmp_path / "cluster"))
    get_settings.cache_clear()
    try:
        assert server_will_stop() is True  # nothing runs there
        for stopped, says in ((True, "make db-start keeps it running"), (False, "still running")):
            out = io.StringIO()
            print_what_now(Console(file=out, width=60), revision="0007", server_stopped=stopped)
            text = out.getvalue()
            assert says in text
            assert f"PostgreSQL cluster in {tmp_path / 'cluster'}" in text
            assert "schema: 0007" in text
    finally:
        get_settings.cache_clear()
