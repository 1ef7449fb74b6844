"""Bounded work: a search past ``search_timeout_ms`` is a typed error, and the connection
it ran on goes back to the pool healthy (its own timeout restored, no transaction left)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from app.config import get_settings
from app.db.base import make_engine
from app.errors import InvalidInput, SearchTooBroad
from app.repositories.analysis_search import search, search_fragment
from tests import conftest

ROWS = 30_000


@pytest.fixture(scope="module")
def broad_url() -> URL:
    """A database of its own with ``ROWS`` verses that all share the word ليل."""
    owner, app_url = conftest.migrated_database("search_timeout")
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    eng = create_engine(owner, poolclass=NullPool)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO analyses (original_text, normalized_text, pattern, created_at) "
                "SELECT 'ليل ' || g, 'ليل طويل كلمه' || (g % 997) || ' بيت' || g, '//o/o', "
                "now() - g * interval '1 minute' FROM generate_series(1, :n) g"
            ),
            {"n": ROWS},
        )
        conn.execute(text("ANALYZE analyses"))
    eng.dispose()
    return app_url


@pytest.fixture
def tiny_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SEARCH_TIMEOUT_MS", "1")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _engine(url: URL, *, read_only: bool) -> Engine:
    # One pooled connection: whatever the failed search left behind, the next checkout gets it.
    settings = get_settings().model_copy(update={"pool_size": 1, "max_overflow": 0})
    return make_engine(make_url(url), settings, read_only=read_only)


@pytest.mark.parametrize("read_only", [True, False], ids=["ReadSessionLocal", "SessionLocal"])
def test_a_broad_search_past_the_timeout_is_too_broad_and_the_pool_stays_healthy(
    broad_url: URL, tiny_timeout: None, read_only: bool
) -> None:
    engine = _engine(broad_url, read_only=read_only)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        with factory() as db:
            with pytest.raises(SearchTooBroad) as info:
                search(db, "ليل")
            # The session (and, outside autocommit, the caller's transaction) still works.
            assert db.execute(text("SELECT 1")).scalar_one() == 1
        assert isinstance(info.value, InvalidInput)
        assert (info.value.field, info.value.rule) == ("query", "too_broad")
        with factory() as db, pytest.raises(SearchTooBroad):
            search_fragment(db, "طويل كلم")
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.checkedout() == 0
        with factory() as db:
            conn = db.connection()
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "30s"
            assert conn.execute(text("SELECT count(*) FROM analyses")).scalar_one() == ROWS
            status = conn.connection.dbapi_connection.info.transaction_status  # type: ignore[union-attr]
            assert status.name in {"IDLE", "INTRANS"}
    finally:
        engine.dispose()


def test_the_same_search_within_the_timeout_succeeds(broad_url: URL) -> None:
    engine = _engine(broad_url, read_only=True)
    try:
        with Session(engine) as db:
            page = search(db, "ليل")
            assert len(page) == 20
            assert page.windowed  # 30,000 matches: ranked among the newest
            assert page.estimated_total > 10_000
            assert db.connection().execute(text("SHOW statement_timeout")).scalar_one() == "30s"
    finally:
        engine.dispose()


def test_a_search_in_a_callers_transaction_restores_its_timeout(db: Session) -> None:
    """On a session already in a transaction the search runs in a savepoint, and the
    caller's statement_timeout is back afterwards."""
    db.execute(text("SET LOCAL statement_timeout = '7s'"))
    search(db, "ليل")
    assert db.execute(text("SHOW statement_timeout")).scalar_one() == "7s"


@pytest.mark.parametrize("read_only", [True, False], ids=["ReadSessionLocal", "SessionLocal"])
def test_quotes_backslashes_and_percent_signs_reach_the_estimate_as_values(
    broad_url: URL, read_only: bool
) -> None:
    # On a read-only session BEGIN, the settings and the estimate go in one message, the
    # estimate's values bound by psycopg on the client: they must arrive as values.
    engine = _engine(broad_url, read_only=read_only)
    try:
        with Session(engine) as db:
            page = search(db, "ليل or 'x'' -- %s %(q)s \\ \"")
            assert page.windowed  # ليل's 30,000 matches (the rest matches nothing)
            assert page.estimated_total > 10_000
            assert len(page) == 20
            fragment = search_fragment(db, "طويل' %% \\")
            assert len(fragment) == 20  # the phrase طويل (the punctuation is no word)
            assert db.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_hits_leave_the_deferred_search_vector_unloaded(broad_url: URL) -> None:
    # The model defers search_vector: a page does not send every hit's tsvector over the
    # wire (it did, and through the ORM); reading it still works, on demand.
    from sqlalchemy import inspect

    engine = _engine(broad_url, read_only=False)
    try:
        with Session(engine) as db:
            hits = list(search(db, "ليل", limit=5)) + list(search_fragment(db, "طويل كلم"))
            assert hits
            for hit in hits:
                assert "search_vector" in inspect(hit.analysis).unloaded
                assert hit.analysis.original_text.startswith("ليل")
            assert hits[0].analysis.search_vector
    finally:
        engine.dispose()
