"""``/search``: Arabic word search and fragment search over all analyses, paged.

The repository returns the best ``limit`` hits (at most 100, its own bound); a page here is a
slice of them, and the cursor is opaque. So paging reaches the best 100 hits of a query, which
is what a person reads; past that, ``next_cursor`` is null.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.dependencies import CurrentUser, ReadDbSession
from app.api.models import AnalysisRead, SearchHit, SearchPage
from app.api.problems import problems
from app.errors import InvalidInput
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.analysis_search import AnalysisSearchHit

router = APIRouter(prefix="/search", tags=["search"], responses=problems(401, 422, 503))

#: The repository's own upper bound on ``limit``.
REACH = 100

Q = Annotated[
    str,
    Query(
        min_length=1,
        max_length=2_000,
        description='words; "quotes" for a phrase, `or`, `-` to exclude',
    ),
]
Limit = Annotated[int, Query(ge=1, le=REACH)]
Cursor = Annotated[str | None, Query(max_length=40, description="`next_cursor` of a page")]


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, _, number = raw.partition(b":")
        offset = int(number) if kind == b"o" else -1
    except (binascii.Error, ValueError):
        offset = -1
    if not 0 < offset < REACH:
        raise InvalidInput(
            "cursor: not a cursor returned by this API", field="cursor", rule="cursor"
        )
    return offset


def _page(
    run: Callable[[int], list[AnalysisSearchHit]], limit: int, cursor: str | None
) -> SearchPage:
    offset = _offset(cursor)
    wanted = offset + limit
    hits = run(min(wanted + 1, REACH))
    more = len(hits) > wanted
    shown = hits[offset:wanted]
    next_cursor = None
    if more and wanted < REACH:
        next_cursor = base64.urlsafe_b64encode(f"o:{wanted}".encode()).decode().rstrip("=")
    items = [
        SearchHit(
            analysis=AnalysisRead.model_validate(hit.analysis), rank=hit.rank, headline=hit.headline
        )
        for hit in shown
    ]
    return SearchPage(items=items, next_cursor=next_cursor)


@router.get("", response_model=SearchPage)
def search(
    q: Q,
    _user: CurrentUser,
    db: ReadDbSession,
    limit: Limit = 20,
    cursor: Cursor = None,
    meter: Annotated[
        str | None, Query(max_length=100, description="any accepted form of a meter's name")
    ] = None,
) -> SearchPage:
    """Ranked word search: harakat, hamza forms, tatweel, ى/ي, ة/ه and the ال / و / ب
    prefixes match on either side. Headlines mark the matched words with « »."""
    repo = AnalysisRepository(db)
    return _page(lambda n: repo.search(q, limit=n, meter=meter), limit, cursor)


@router.get("/fragment", response_model=SearchPage)
def search_fragment(
    q: Q, _user: CurrentUser, db: ReadDbSession, limit: Limit = 20, cursor: Cursor = None
) -> SearchPage:
    """A half-remembered fragment (at least 3 letters): substring or fuzzy match."""
    repo = AnalysisRepository(db)
    return _page(lambda n: repo.search_fragment(q, limit=n), limit, cursor)
