"""A row deleted by another transaction between the search and the load of its hits.

Search finds ids first (in its own bounded transaction) and then loads the analyses; a
concurrent delete in between used to raise a bare ``KeyError`` (seen by the reliability mix).
The page now leaves the row out; the cursor comes from the ranked rows themselves.
"""

from __future__ import annotations

import uuid
from collections import namedtuple

from sqlalchemy.orm import Session

from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.analysis_search import _page, _Rows

Row = namedtuple("Row", "id rank matched headline created_at")


def test_a_hit_deleted_before_it_is_loaded_is_left_out(db: Session) -> None:
    repo = AnalysisRepository(db)
    kept = [repo.create({"original_text": f"قفا نبك {n}", "pattern": "//o/o"}) for n in range(3)]
    gone = uuid.uuid4()  # found by the search, deleted before the load
    ranked = [(kept[0].id, 0.9), (gone, 0.8), (kept[1].id, 0.7), (kept[2].id, 0.6)]
    rows = [Row(i, rank, 4, None, kept[0].created_at) for i, rank in ranked]

    page = _page(db, [_Rows(rows, 4, 1)], limit=3, words=["قفا"], windowed=False, total=4)

    assert [hit.analysis.id for hit in page] == [kept[0].id, kept[1].id]
    assert page.next_cursor is not None
