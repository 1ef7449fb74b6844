"""Search relevance, the rank window, and pages of results, on a small fixed corpus.

Every test runs twice: on the test database (GIN only, as where the ``rum`` extension is
not installed) and on a database migrated with ``rum`` installed (the RUM index), skipped
when the server has no ``rum``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from app.config import libpq_url
from app.errors import InvalidInput
from app.models.analysis import Analysis
from app.repositories import analysis_search
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.analysis_search import search, search_fragment
from tests import conftest
from tests.factories import make_user

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def rum_url() -> URL:
    """A database migrated with the rum extension installed first (app role's URL)."""
    name = f"{conftest.ADMIN_URL.database}_rum"
    owner, app_url = conftest.fresh_database(name)
    admin = conftest.ADMIN_URL.set(database=name)
    with psycopg.connect(libpq_url(admin), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'rum'").fetchone():
            conn.execute("CREATE EXTENSION IF NOT EXISTS rum")
        else:
            pytest.skip("the rum extension is not available on this server")
    conftest.migrate(owner)
    return app_url


@pytest.fixture(params=["gin", "rum"])
def sdb(request: pytest.FixtureRequest) -> Iterator[Session]:
    """A rolled-back session on the GIN-only test database or on the RUM database."""
    analysis_search.forget_rum_index()
    if request.param == "gin":
        yield request.getfixturevalue("db")
        return
    engine = create_engine(request.getfixturevalue("rum_url"))
    try:
        with contextlib.ExitStack() as stack:
            conn = stack.enter_context(contextlib.contextmanager(conftest._rolled_back)(engine))
            session = stack.enter_context(contextlib.contextmanager(conftest._session)(conn))
            assert session.execute(
                text("SELECT to_regclass('ix_analyses_search_rum') IS NOT NULL")
            ).scalar_one()
            yield session
    finally:
        engine.dispose()
        analysis_search.forget_rum_index()


def add(
    db: Session, verse: str, minutes: int, *, user_id: int | None = None, meter: str = "الطويل"
) -> uuid.UUID:
    """Store ``verse`` with ``created_at`` = T0 + ``minutes`` (higher is newer)."""
    row = AnalysisRepository(db).create(
        {"original_text": verse, "pattern": "//o/o", "detected_meter": meter}, user_id=user_id
    )
    db.execute(
        update(Analysis)
        .where(Analysis.id == row.id)
        .values(created_at=T0 + dt.timedelta(minutes=minutes))
    )
    return row.id


def ids(page: list[analysis_search.AnalysisSearchHit]) -> list[uuid.UUID]:
    return [h.analysis.id for h in page]


def test_an_exact_phrase_ranks_above_the_same_words_apart(sdb: Session) -> None:
    apart = add(sdb, "قمر في سماء صافية فوق بحر هادئ", 2)  # newer, yet ranked lower
    together = add(sdb, "سماء فيها قمر بحر وموج", 1)
    assert ids(search(sdb, "قمر بحر")) == [together, apart]


def test_more_of_the_query_words_rank_above_fewer(sdb: Session) -> None:
    one = add(sdb, "قمر وحده في الليل الطويل", 3)
    two = add(sdb, "قمر ونجم في الليل الطويل", 2)
    three = add(sdb, "قمر ونجم وغيم في الليل الطويل", 1)
    assert ids(search(sdb, "قمر or نجم or غيم")) == [three, two, one]


def test_ties_go_to_the_newer_analysis(sdb: Session) -> None:
    old = add(sdb, "صخر على الشاطئ", 1)
    new = add(sdb, "صخر على الشاطئ", 5)
    middle = add(sdb, "صخر على الشاطئ", 3)
    page = search(sdb, "صخر")
    assert ids(page) == [new, middle, old]
    assert page[0].rank == page[1].rank == page[2].rank


def test_filters_only_remove_rows_outside_the_filter(
    sdb: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(sdb)
    mine = [add(sdb, f"ريح الشمال {i}", i, user_id=user.id, meter="البسيط") for i in range(2)]
    others = [add(sdb, f"ريح الجنوب {i}", 10 + i) for i in range(6)]
    everything = set(ids(search(sdb, "ريح", limit=100)))
    assert everything == set(mine) | set(others)
    # The window is taken after the filter: a user's old rows are not crowded out by the
    # newer rows of everyone else.
    monkeypatch.setattr(analysis_search, "COMMON_MATCHES", 0)
    monkeypatch.setattr(analysis_search, "RANK_WINDOW", 3)
    assert set(ids(search(sdb, "ريح", limit=100, user_id=user.id))) == set(mine)
    meter_id = AnalysisRepository(sdb).meters.get_by_name("البسيط").id  # type: ignore[union-attr]
    assert set(ids(search(sdb, "ريح", limit=100, meter_id=meter_id))) == set(mine)
    assert set(ids(search_fragment(sdb, "ريح", limit=100, user_id=user.id))) == set(mine)


def test_a_very_common_term_is_ranked_among_its_newest_matches_and_says_so(
    sdb: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [add(sdb, f"شمس النهار {i}", i) for i in range(6)]
    exact = search(sdb, "شمس", limit=100)
    assert not exact.windowed
    assert len(exact) == 6
    monkeypatch.setattr(analysis_search, "COMMON_MATCHES", 0)
    monkeypatch.setattr(analysis_search, "RANK_WINDOW", 4)
    page = search(sdb, "شمس", limit=100)
    assert page.windowed
    assert set(ids(page)) == set(rows[2:])  # the 4 newest
    assert page.estimated_total >= 1  # the planner's estimate


def test_pages_follow_the_ranking_order_without_gaps_or_repeats(sdb: Session) -> None:
    for i in range(7):
        add(sdb, "نجم " * (1 + i % 3) + f"ساطع {i}", i)
    whole = ids(search(sdb, "نجم", limit=100))
    seen: list[uuid.UUID] = []
    page = search(sdb, "نجم", limit=3)
    while True:
        seen += ids(page)
        assert len(page.items) <= 3
        if page.next_cursor is None:
            break
        page = search(sdb, "نجم", limit=3, after=page.next_cursor)
    assert seen == whole
    assert len(whole) == 7


def test_fragment_pages_run_from_phrase_matches_into_trigram_matches(sdb: Session) -> None:
    phrase = [add(sdb, f"بحر الرمل {i}", i) for i in range(3)]
    fuzzy = [add(sdb, f"ابحر الرملية {i}", 10 + i) for i in range(3)]
    whole = ids(search_fragment(sdb, "بحر الرمل", limit=100))
    assert whole[:3] == phrase[::-1]  # whole-word matches first, newest first
    assert set(whole) == set(phrase) | set(fuzzy)
    seen: list[uuid.UUID] = []
    page = search_fragment(sdb, "بحر الرمل", limit=2)
    while True:
        seen += ids(page)
        if page.next_cursor is None:
            break
        page = search_fragment(sdb, "بحر الرمل", limit=2, after=page.next_cursor)
    assert seen == whole


@pytest.mark.parametrize("cursor", ["", "not-a-cursor", "W10=", "eyJhIjogMX0"])
def test_a_foreign_cursor_is_invalid_input(sdb: Session, cursor: str) -> None:
    with pytest.raises(InvalidInput) as info:
        search(sdb, "نجم", after=cursor)
    assert info.value.field == "after"


def test_the_page_keeps_the_list_shape_callers_already_use(sdb: Session) -> None:
    add(sdb, "غيم ومطر", 1)
    assert isinstance(AnalysisRepository(sdb).search("غيم"), list)
    page = search(sdb, "غيم")
    assert len(page) == 1
    assert page.items[0].headline == "«غيم» ومطر"
    assert page.next_cursor is None


def test_doctor_says_whether_search_has_its_rum_index(sdb: Session) -> None:
    from app.db.doctor import run_checks

    rum = sdb.execute(text("SELECT to_regclass('ix_analyses_search_rum') IS NOT NULL")).scalar_one()
    check = next(c for c in run_checks(sdb.connection()) if c.name.startswith("search ext"))
    assert check.ok  # pg_trgm is what search needs; rum only makes it faster
    if rum:
        assert "rum 1." in check.found
        assert "search index in use" in check.found
    else:
        assert "GIN (same results, slower" in check.found


def test_the_repository_passes_cursor_and_filters_through(sdb: Session) -> None:
    user = make_user(sdb)
    mine = [add(sdb, f"برق الليل {i}", i, user_id=user.id, meter="البسيط") for i in range(3)]
    others = [add(sdb, f"برق النهار {i}", 10 + i) for i in range(3)]
    repo = AnalysisRepository(sdb)
    first = repo.search("برق", limit=2)
    assert first.next_cursor is not None
    second = repo.search("برق", limit=2, after=first.next_cursor)
    assert ids(first) + ids(second) == ids(search(sdb, "برق", limit=4))
    assert set(ids(repo.search("برق", limit=100, meter="البسيط"))) == set(mine)
    assert set(ids(repo.search_fragment("برق", limit=100, user_id=user.id))) == set(mine)
    assert set(ids(repo.search_fragment("برق", limit=100, meter="البسيط"))) == set(mine)
    assert set(ids(repo.search_fragment("برق", limit=100))) == set(mine) | set(others)
    page = repo.search_fragment("برق", limit=4)
    rest = repo.search_fragment("برق", limit=100, after=page.next_cursor)
    assert ids(page) + ids(rest) == ids(repo.search_fragment("برق", limit=100))
    with pytest.raises(InvalidInput) as info:
        repo.search_fragment("برق", meter="لا بحر")
    assert info.value.field == "meter"


def test_a_filtered_misspelt_fragment_tests_the_filters_newest_rows(
    sdb: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(sdb)
    close = add(sdb, "قفا نبك من ذكرى حبيب", 1, user_id=user.id)
    add(sdb, "قفا نبك من ذكرى حبيب", 2)  # the same verse, someone else's
    add(sdb, "ليل طويل", 3, user_id=user.id)
    page = search_fragment(sdb, "قفا نبق", limit=100, user_id=user.id)
    assert ids(page) == [close]
    assert 0 < page[0].rank < 1  # a close match, not a phrase or a substring
    # The step's bound: only the user's newest row is tested, and it is not a match.
    monkeypatch.setattr(analysis_search, "FRAGMENT_FILTERED_ROWS", 1)
    assert ids(search_fragment(sdb, "قفا نبق", limit=100, user_id=user.id)) == []


@pytest.mark.parametrize("walk", [False, True])
def test_filtered_pages_follow_the_order_without_gaps_or_repeats(
    sdb: Session, monkeypatch: pytest.MonkeyPatch, walk: bool
) -> None:
    user = make_user(sdb)
    # created_at out of insertion order: the filter's walk goes by time, not by id.
    for i, minutes in enumerate([5, 1, 4, 2, 3, 6, 0]):
        add(sdb, "نهر " * (1 + i % 2) + f"جار {i}", minutes, user_id=user.id)
    add(sdb, "نهر جار لغيره", 9)
    if walk:  # the newest-first walks instead of the GIN index
        monkeypatch.setattr(analysis_search, "COMMON_MATCHES", 0)
        monkeypatch.setattr(analysis_search, "PHRASE_OVERESTIMATE", 0)
    for run in (search, search_fragment):
        query = "نهر" if run is search else "نهر جار"
        whole = ids(run(sdb, query, limit=100, user_id=user.id))
        assert len(whole) == 7
        seen: list[uuid.UUID] = []
        page = run(sdb, query, limit=3, user_id=user.id)
        while True:
            seen += ids(page)
            if page.next_cursor is None:
                break
            page = run(sdb, query, limit=3, user_id=user.id, after=page.next_cursor)
        assert seen == whole
