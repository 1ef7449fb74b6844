"""The repositories, search and bulk import through a transaction-pooling PgBouncer, on the
application's own :class:`Database` built from the settings (``DATABASE_POOLER=transaction``).

Every path runs more often than psycopg's prepare threshold (5). (A lone client tends to
get the same server connection back, so the proof that nothing is prepared is elsewhere:
two clients on a one-connection pool in ``test_guarantees.py``, and the 16-thread mix.)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from app.commands.jsonl import import_lines
from app.db.database import Database
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.history_repository import AnalysisHistoryRepository
from app.repositories.meter_repository import MeterRepository
from app.repositories.user_repository import UserRepository
from tests.factories import PASSWORD, user_create
from tests.pgbouncer.conftest import Pooled

ROUNDS = 7  # more than psycopg's prepare_threshold (5)
VERSE = "أَلا لَيتَ الشَبابَ يَعودُ يَوماً ... فَأُخبِرَهُ بِما فَعَلَ المَشيبُ"


@pytest.fixture
def database(pooled: Pooled) -> Iterator[Database]:
    database = pooled.database_object()
    yield database
    database.dispose()


def test_users_analyses_history_and_meters_through_the_pooler(database: Database) -> None:
    tag = uuid.uuid4().hex[:8]
    for n in range(ROUNDS):
        with database.transaction() as session:
            users = UserRepository(session)
            analyses = AnalysisRepository(session)
            user = users.register(
                user_create(username=f"pgb_{tag}_{n}", email=f"pgb_{tag}_{n}@example.com")
            )
            created = analyses.create(
                {"original_text": f"{VERSE} {n}", "pattern": "//o/o", "detected_meter": "الوافر"},
                user_id=user.id,
            )
            analyses.update_result(created.id, {"pattern": "//o/o/o"})
            users.add_xp(user.id, 3)
            user_id, analysis_id = user.id, created.id
        with database.read_session() as session:
            assert UserRepository(session).get_by_username(f"pgb_{tag}_{n}") is not None
            assert UserRepository(session).authenticate(f"pgb_{tag}_{n}", PASSWORD)
            assert [a.id for a in AnalysisRepository(session).list_for_user(user_id).items] == [
                analysis_id
            ]
            events = AnalysisHistoryRepository(session).list_for_analysis(analysis_id)
            assert [e.event for e in events.items] == ["created", "updated"]
            meters = MeterRepository(session)
            assert len(meters.list_all()) == 16
            assert meters.get_by_name("الوافر") is not None
        with database.transaction() as session:
            assert AnalysisRepository(session).delete(analysis_id) is True
        with database.read_session() as session:
            assert AnalysisRepository(session).get(analysis_id) is None
            profile = UserRepository(session).get_profile(user_id)
            assert profile is not None
            assert profile.xp == 3


def test_word_and_fragment_search_through_the_pooler(database: Database) -> None:
    marker = f"ك{uuid.uuid4().int % 10_000}"
    with database.transaction() as session:
        repo = AnalysisRepository(session)
        ids = {
            repo.create({"original_text": f"{VERSE} {marker}", "pattern": "//o/o"}).id
            for _ in range(3)
        }
    for _ in range(ROUNDS):
        # Read sessions and write sessions both: search is its own bounded transaction
        # (or savepoint) inside whichever the session has.
        with database.read_session() as session:
            repo = AnalysisRepository(session)
            word = {hit.analysis.id for hit in repo.search("الشباب", limit=100)}
            fragment = {hit.analysis.id for hit in repo.search_fragment("ليت الشب", limit=100)}
            assert ids <= word
            assert ids <= fragment
        with database.session() as session:
            assert ids <= {hit.analysis.id for hit in AnalysisRepository(session).search("يعود")}


def test_bulk_import_and_bulk_create_through_the_pooler(
    database: Database, pooled: Pooled, tmp_path: Path
) -> None:
    source = tmp_path / "lines.jsonl"
    wanted = [uuid.uuid4() for _ in range(40)]
    source.write_text(
        "".join(
            json.dumps(
                {
                    "id": str(key),
                    "original_text": f"{VERSE} {n}",
                    "pattern": "//o/o",
                    "detected_meter": "الوافر",
                },
                ensure_ascii=False,
            )
            + "\n"
            for n, key in enumerate(wanted)
        ),
        encoding="utf-8",
    )
    with database.session() as session:
        report = import_lines(session, source, strict=True)
    assert (report.stored, report.skipped) == (40, 0)
    with database.session() as session:  # again: every line is there already
        assert import_lines(session, source, strict=True).present == 40
    with database.transaction() as session:
        created = AnalysisRepository(session).bulk_create(
            [{"original_text": f"{VERSE} {n}", "pattern": "//o/o"} for n in range(30)],
            batch_size=7,
        )
    with pooled.owner.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM analyses WHERE id = ANY(:ids)"),
            {"ids": [*wanted, *created]},
        ).scalar_one()
    assert stored == 70
