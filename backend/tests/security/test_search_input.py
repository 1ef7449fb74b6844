"""Hostile search input (issue 16, findings 8 and 9).

* A stored text holding the private-use characters that mark ``ts_headline`` matches
  (U+E000 / U+E001) must not break search for everyone whose results include it.
* A huge query is refused before any normalising work is spent on it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.repositories import analysis_search
from app.repositories.analysis_search import QUERY_MAX, search, search_fragment
from app.text.arabic import HEADLINE_START, HEADLINE_STOP, normalize


def _insert_raw(db: Session, original: str) -> None:
    """As raw SQL would: past the application's input validation."""
    db.execute(
        text(
            "INSERT INTO analyses (original_text, normalized_text, pattern) "
            "VALUES (:o, :n, '//o/o')"
        ),
        {"o": original, "n": normalize(original)},
    )


@pytest.mark.parametrize(
    "poison",
    [
        f"قمر {HEADLINE_START}ليل",
        f"قمر ليل{HEADLINE_STOP} نجم",
        f"{HEADLINE_START}{HEADLINE_STOP} قمر",
        f"قمر {HEADLINE_STOP}{HEADLINE_START} بحر",
        f"قمر {HEADLINE_START} {HEADLINE_START}",
    ],
)
def test_stored_headline_markers_do_not_break_search(db: Session, poison: str) -> None:
    _insert_raw(db, poison)
    _insert_raw(db, "قمر الليل الطويل")
    hits = search(db, "قمر")
    assert len(hits) == 2
    for hit in hits:
        # The original comes back whole; the marks are only ever « » around words.
        assert hit.headline.replace("«", "").replace("»", "") == hit.analysis.original_text
        assert "«" in hit.headline
    assert len(search_fragment(db, "قمر")) == 2


@pytest.mark.parametrize("size", [QUERY_MAX * 4 + 1, 1_500_000])
def test_a_huge_query_is_refused_before_normalising(
    db: Session, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    def refuse(_text: str) -> str:
        raise AssertionError("normalize ran on an oversized query")

    monkeypatch.setattr(analysis_search, "normalize", refuse)
    for fn in (search, search_fragment):
        with pytest.raises(InvalidInput) as info:
            fn(db, "ب" * size)
        assert (info.value.field, info.value.rule) == ("query", "max_length")


def test_a_long_vocalised_query_that_folds_short_enough_is_accepted(db: Session) -> None:
    # Harakat count toward the raw bound but not toward QUERY_MAX: a fully vocalised
    # query a little over QUERY_MAX characters raw is still a valid query.
    query = " ".join(["قَمَرٌ"] * (QUERY_MAX // 5))
    assert len(query) > QUERY_MAX >= len(normalize(query))
    assert search(db, query) == []
