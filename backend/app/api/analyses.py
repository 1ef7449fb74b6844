"""``/analyses``: store, read, page through, correct and delete one's own analyses.

Every route acts for :data:`~app.api.dependencies.CurrentUser` and sees only that user's
analyses: someone else's answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.api.dependencies import CurrentUser, DbSession, ReadDbSession
from app.api.models import (
    AnalysisCreateBody,
    AnalysisPage,
    AnalysisRead,
    AnalysisResultUpdateBody,
    HistoryEntry,
)
from app.api.problems import problems, renamed
from app.errors import NotFound
from app.repositories.analysis_repository import AnalysisRepository

router = APIRouter(prefix="/analyses", tags=["analyses"], responses=problems(401, 422, 503))
_BODY = problems(400)

AnalysisId = uuid.UUID
Cursor = Annotated[str | None, Query(max_length=200, description="`next_cursor` of a page")]


def _not_found(analysis_id: uuid.UUID) -> NotFound:
    return NotFound(f"analysis_id: no analysis {analysis_id}", field="analysis_id", rule="exists")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AnalysisRead, responses=_BODY)
def create_analysis(body: AnalysisCreateBody, user: CurrentUser, db: DbSession) -> AnalysisRead:
    """Store what the prosody engine found for one verse, as the current user's."""
    analysis = AnalysisRepository(db).create(body, user_id=user.id)
    return AnalysisRead.model_validate(analysis)


@router.get("", response_model=AnalysisPage)
def list_my_analyses(
    user: CurrentUser,
    db: ReadDbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> AnalysisPage:
    """The current user's analyses, newest first, a page at a time."""
    with renamed({"before": "cursor"}):
        page = AnalysisRepository(db).list_for_user(user.id, limit=limit, before=cursor)
    items = [AnalysisRead.model_validate(a) for a in page.items]
    return AnalysisPage(items=items, next_cursor=page.next_cursor)


@router.get("/{analysis_id}", response_model=AnalysisRead, responses=problems(404))
def get_analysis(analysis_id: AnalysisId, user: CurrentUser, db: ReadDbSession) -> AnalysisRead:
    analysis = AnalysisRepository(db).get(analysis_id)
    if analysis is None or analysis.user_id != user.id:
        raise _not_found(analysis_id)
    return AnalysisRead.model_validate(analysis)


@router.patch("/{analysis_id}", response_model=AnalysisRead, responses={**_BODY, **problems(404)})
def update_analysis_result(
    analysis_id: AnalysisId, body: AnalysisResultUpdateBody, user: CurrentUser, db: DbSession
) -> AnalysisRead:
    """A re-run or a correction of the result; the database records before and after."""
    analysis = AnalysisRepository(db).update_result(analysis_id, body, user_id=user.id)
    return AnalysisRead.model_validate(analysis)


@router.delete("/{analysis_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(404))
def delete_analysis(analysis_id: AnalysisId, user: CurrentUser, db: DbSession) -> Response:
    """Delete for good; the history keeps a 'deleted' event, without the text."""
    if not AnalysisRepository(db).delete(analysis_id, user_id=user.id):
        raise _not_found(analysis_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{analysis_id}/history", response_model=list[HistoryEntry], responses=problems(404))
def analysis_history(
    analysis_id: AnalysisId, user: CurrentUser, db: ReadDbSession
) -> list[HistoryEntry]:
    """Every event of the result, oldest first; still there after the analysis is deleted.

    Visible to the user who owned the analysis at its latest event.
    """
    events = AnalysisRepository(db).history(analysis_id)
    if not events or events[-1].user_id != user.id:
        raise _not_found(analysis_id)
    return [HistoryEntry.model_validate(e) for e in events]
