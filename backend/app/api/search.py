"""``/search``: Arabic word search and fragment search over all analyses, paged.

Thin over :mod:`app.repositories.analysis_search`: its keyset pages, its cursors, its time
bound (a search that would run too long is a 422, ``rule`` ``too_broad``), its ``windowed``
flag for very common terms.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.dependencies import CurrentUser, ReadDbSession
from app.api.models import AnalysisRead, SearchHit, SearchPage
from app.api.problems import problems, renamed
from app.db.errors import translated
from app.errors import InvalidInput
from app.repositories import analysis_search
from app.repositories.meter_repository import MeterRepository

router = APIRouter(prefix="/search", tags=["search"], responses=problems(401, 422, 503))

#: The repository's names for what the API calls ``q`` and ``cursor``.
_PARAMS = {"query": "q", "after": "cursor"}

Q = Annotated[
    str,
    Query(
        min_length=1,
        max_length=analysis_search.QUERY_RAW_MAX,
        description='words; "quotes" for a phrase, `or`, `-` to exclude',
    ),
]
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of a page")]


def _page(hits: analysis_search.SearchPage) -> SearchPage:
    return SearchPage(
        items=[
            SearchHit(
                analysis=AnalysisRead.model_validate(hit.analysis),
                rank=hit.rank,
                headline=hit.headline,
            )
            for hit in hits
        ],
        next_cursor=hits.next_cursor,
        windowed=hits.windowed,
        estimated_total=hits.estimated_total,
    )


@router.get("", response_model=SearchPage)
def search(
    *,
    q: Q,
    user: CurrentUser,
    db: ReadDbSession,
    limit: Limit = 20,
    cursor: Cursor = None,
    meter: Annotated[
        str | None, Query(max_length=100, description="any accepted form of a meter's name")
    ] = None,
    mine: Annotated[bool, Query(description="only the current user's analyses")] = False,
) -> SearchPage:
    """Ranked word search: harakat, hamza forms, tatweel, ى/ي, ة/ه and the ال / و / ب
    prefixes match on either side. Headlines mark the matched words with « »."""
    meter_id = None
    if meter is not None:
        found = MeterRepository(db).get_by_name(meter)
        if found is None:
            raise InvalidInput(f"meter: unknown meter {meter!r}", field="meter", rule="known_meter")
        meter_id = found.id
    with renamed(_PARAMS), translated(db):
        hits = analysis_search.search(
            db,
            q,
            limit=limit,
            user_id=user.id if mine else None,
            meter_id=meter_id,
            after=cursor,
        )
    return _page(hits)


@router.get("/fragment", response_model=SearchPage)
def search_fragment(
    *,
    q: Q,
    _user: CurrentUser,
    db: ReadDbSession,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> SearchPage:
    """A half-remembered fragment (at least 3 letters): whole words first, then substrings
    and close matches."""
    with renamed(_PARAMS), translated(db):
        hits = analysis_search.search_fragment(db, q, limit=limit, after=cursor)
    return _page(hits)
