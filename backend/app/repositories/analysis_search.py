"""Arabic search over analyses: ranked word search and fragment (trigram) search.

Word search: the query goes through :func:`~app.text.arabic.normalize` in Python and
``bahr_search_fold`` in SQL, exactly like the indexed text, then ``websearch_to_tsquery``
(quotes for phrases, ``or``, ``-`` to exclude) against the GIN-indexed ``search_vector``.
Harakat, hamza forms of alef, tatweel, ى/ي, ة/ه and the ال / و / ب / وال / فال prefixes match
on either side. Headlines are computed by PostgreSQL on the indexed text (so what is marked
is what matched) and carried back onto the vocalised original in Python.

Every query string travels as a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, ColumnClause, Select, bindparam, func, literal_column, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.models.analysis import Analysis
from app.text import storable
from app.text.arabic import HEADLINE_OPTIONS, highlight, highlight_from_headline, normalize

#: Markers around matched words in :attr:`AnalysisSearchHit.headline`.
MARK_START = "«"
MARK_STOP = "»"
QUERY_MAX = 500
FRAGMENT_MIN = 3

_ARABIC: ColumnClause[Any] = literal_column("'arabic'::regconfig")


@dataclass(frozen=True)
class AnalysisSearchHit:
    analysis: Analysis
    rank: float
    #: The original, vocalised text with each matched word wrapped in « ».
    headline: str


def _query_text(query: str, *, min_length: int = 1) -> str:
    if not isinstance(query, str):
        raise InvalidInput("query: must be text", field="query", rule="text")
    text = normalize(query)
    if not text:
        raise InvalidInput("query: must not be empty or blank", field="query", rule="not_blank")
    if len(text) > QUERY_MAX:
        raise InvalidInput(
            f"query: must be at most {QUERY_MAX} characters", field="query", rule="max_length"
        )
    if len(text) < min_length:
        raise InvalidInput(
            f"query: must be at least {min_length} characters", field="query", rule="min_length"
        )
    if (reason := storable.problem(query)) is not None:
        raise InvalidInput(f"query: {reason}", field="query", rule="storable_text")
    return text


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= 100:
        raise InvalidInput("limit: must be between 1 and 100", field="limit", rule="range")


@cache
def _word_statement(by_user: bool, by_meter: bool) -> Select[Analysis, float, str]:
    """Built once per filter combination; only parameters change per call."""
    tsq = func.websearch_to_tsquery(_ARABIC, func.bahr_search_fold(bindparam("q")))
    rank = func.ts_rank_cd(Analysis.search_vector, tsq)
    inner = (
        select(Analysis.id.label("id"), rank.label("rank"))
        .where(Analysis.search_vector.bool_op("@@")(tsq))
        .order_by(rank.desc(), Analysis.created_at.desc(), Analysis.id.desc())
        .limit(bindparam("limit"))
    )
    if by_user:
        inner = inner.where(Analysis.user_id == bindparam("user_id"))
    if by_meter:
        inner = inner.where(Analysis.meter_id == bindparam("meter_id"))
    hits = inner.subquery("hits")
    # ts_headline re-parses a document: run it only on the rows shown.
    headline = func.ts_headline(
        _ARABIC, func.bahr_search_fold(Analysis.normalized_text), tsq, bindparam("opts")
    )
    return (
        select(Analysis, hits.c.rank, headline)
        .join(hits, hits.c.id == Analysis.id)
        .order_by(hits.c.rank.desc(), Analysis.created_at.desc(), Analysis.id.desc())
    )


def search(
    db: Session,
    query: str,
    *,
    limit: int = 20,
    user_id: int | None = None,
    meter_id: int | None = None,
) -> list[AnalysisSearchHit]:
    """Ranked word search; an empty or blank query is an :class:`InvalidInput`."""
    text = _query_text(query)
    _check_limit(limit)
    stmt = _word_statement(user_id is not None, meter_id is not None)
    params = {
        "q": text,
        "limit": limit,
        "opts": HEADLINE_OPTIONS,
        "user_id": user_id,
        "meter_id": meter_id,
    }
    return [
        AnalysisSearchHit(
            analysis=analysis,
            rank=float(rank),
            headline=highlight_from_headline(
                analysis.original_text, headline, MARK_START, MARK_STOP
            ),
        )
        for analysis, rank, headline in db.execute(stmt, params)
    ]


def _fragment_statement() -> Select[Analysis, float]:
    q: BindParameter[str] = bindparam("q")
    similarity = func.word_similarity(q, Analysis.normalized_text)
    return (
        select(Analysis, similarity)
        .where(
            q.op("<%")(Analysis.normalized_text)
            | Analysis.normalized_text.ilike(bindparam("like"), escape="\\")
        )
        .order_by(similarity.desc(), Analysis.created_at.desc())
        .limit(bindparam("limit"))
    )


_FRAGMENT = _fragment_statement()


def search_fragment(db: Session, query: str, *, limit: int = 20) -> list[AnalysisSearchHit]:
    """Substring or fuzzy match of a fragment (≥ 3 characters) through the trigram index.

    ``rank`` is pg_trgm's ``word_similarity`` (1.0 for an exact substring of whole words).
    """
    text = _query_text(query, min_length=FRAGMENT_MIN)
    _check_limit(limit)
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    words = text.split()
    return [
        AnalysisSearchHit(
            analysis=analysis,
            rank=float(rank),
            headline=highlight(analysis.original_text, words, MARK_START, MARK_STOP),
        )
        for analysis, rank in db.execute(_FRAGMENT, {"q": text, "like": like, "limit": limit})
    ]
