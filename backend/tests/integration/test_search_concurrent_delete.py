"""A search reads its hits and their analyses in one statement.

Search used to find ids first and load the analyses in a second statement; a row deleted by
another transaction in between raised a bare ``KeyError`` (seen by the reliability mix), and
the extra round trip cost every search time. Now the ranked rows are the loaded rows, so
there is no gap for a concurrent delete to fall into.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.analysis_search import search, search_fragment


def _statements_reading_analyses(db: Session, run: Any) -> list[str]:
    seen: list[str] = []

    def listener(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if "FROM analyses" in statement:
            seen.append(statement)

    engine = db.get_bind().engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


def test_hits_and_their_analyses_come_from_one_statement(db: Session) -> None:
    repo = AnalysisRepository(db)
    kept = [repo.create({"original_text": f"قفا نبك {n}", "pattern": "//o/o"}) for n in range(3)]
    pages: list[Any] = []
    seen = _statements_reading_analyses(db, lambda: pages.append(search(db, "نبك", limit=2)))
    # The planner's estimate, then the page itself.
    assert len(seen) == 2
    assert seen[0].startswith("EXPLAIN")
    assert [hit.analysis.id for hit in pages[0]] == [kept[2].id, kept[1].id]
    assert pages[0][0].analysis.original_text == "قفا نبك 2"


def test_a_fragment_page_loads_its_analyses_with_each_step(db: Session) -> None:
    repo = AnalysisRepository(db)
    repo.create({"original_text": "قفا نبك من ذكرى", "pattern": "//o/o"})
    pages: list[Any] = []
    seen = _statements_reading_analyses(
        db, lambda: pages.append(search_fragment(db, "قفا نبك", limit=5))
    )
    # Estimate, phrase step, substring step, close step: no separate load.
    assert len(seen) == 4
    assert pages[0][0].analysis.original_text == "قفا نبك من ذكرى"
