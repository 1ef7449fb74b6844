"""How a word search chooses between ranking every match and ranking its newest matches.

The choice is made from the planner's estimates alone (no rows read); these tests pin the
rule with the figures of the 1M-row benchmark corpus (docs/benchmarks.md, section 3).
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from app.repositories import analysis_search
from app.repositories.analysis_search import search, windowed_is_cheaper


def test_a_very_common_term_is_always_windowed() -> None:
    assert windowed_is_cheaper(400_000, 1_000_000, by_time=False)
    assert windowed_is_cheaper(25_000, 50_000, by_time=True)


def test_a_mid_frequency_word_is_ranked_exactly_unless_the_walk_is_shorter() -> None:
    # A word in 15,000 of 1M verses: the walk (~33,000 rows in table order) beats reading
    # 15,000 scattered rows; one in 3,000 verses (a walk of ~170,000 rows) is read whole.
    assert windowed_is_cheaper(15_000, 1_000_000, by_time=False)
    assert not windowed_is_cheaper(3_000, 1_000_000, by_time=False)


def test_a_word_common_among_a_users_rows_walks_the_users_index() -> None:
    # فِي in 19,243 of user 1's 50,000 rows: ranking all reads 19,243 rows; the walk ~1,300.
    assert windowed_is_cheaper(19_243, 50_000, by_time=True)
    # A word in 3,000 of them: the walk (~8,300 rows, a page each) costs more.
    assert not windowed_is_cheaper(3_000, 50_000, by_time=True)


def test_a_walk_along_the_primary_key_is_cheaper_per_row() -> None:
    # ما under a meter filter without the meter's index: 11,653 matches; the walk visits
    # ~43,000 rows in table order, ranking all reads ~11,653 scattered rows.
    assert windowed_is_cheaper(11_653, 1_000_000, by_time=False)
    assert not windowed_is_cheaper(1_000, 1_000_000, by_time=False)


def test_no_window_for_fewer_matches_than_the_window() -> None:
    assert not windowed_is_cheaper(analysis_search.RANK_WINDOW, 10**9, by_time=True)


def test_the_bounds_are_read_when_searching(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis_search, "COMMON_MATCHES", 10)
    assert windowed_is_cheaper(11, 100, by_time=False)


def test_a_phrase_of_common_words_walks_newest_first() -> None:
    from app.repositories.analysis_search import phrase_walk_is_cheaper

    # لا به at 1M rows: 14,279 estimated (1,290 real): the walk (~16k rows, consecutive)
    # beats reading every row holding both words.
    assert phrase_walk_is_cheaper(14_279, 1_000_000, limit=20, by_time=False)
    # كان اثرح: 89 estimated: the GIN index.
    assert not phrase_walk_is_cheaper(89, 1_000_000, limit=20, by_time=False)
    # لا به for user 1 (702 of 50,000 rows): the GIN index and the user's index together.
    assert not phrase_walk_is_cheaper(702, 50_000, limit=20, by_time=True)
    assert not phrase_walk_is_cheaper(0, 50_000, limit=20, by_time=True)


def test_a_quoted_phrase_is_not_windowed_on_its_words_estimate(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The planner estimates "a b" like a and b anywhere in the verse; with the estimate
    # taken as 10x too high a phrase stays exactly ranked where its words alone would not.
    from app.repositories.analysis_repository import AnalysisRepository

    repo = AnalysisRepository(db)
    for n in range(3):
        repo.create({"original_text": f"غيث هاطل {n}", "pattern": "//o/o"})
    monkeypatch.setattr(analysis_search, "COMMON_MATCHES", 0)
    monkeypatch.setattr(analysis_search, "RANK_WINDOW", 1)
    assert search(db, "غيث هاطل", limit=10).windowed
    monkeypatch.setattr(analysis_search, "PHRASE_OVERESTIMATE", 10**9)
    page = search(db, '"غيث هاطل"', limit=10)
    assert not page.windowed
    assert len(page) == 3
