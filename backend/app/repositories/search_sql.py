"""The statements of Arabic search (:mod:`app.repositories.analysis_search` picks among them).

Each statement returns whole pages in one round trip: the analyses' own columns (loaded as
:class:`~app.models.analysis.Analysis` entities), then ``rank``, ``matched`` (how many
matches the step examined, where it counts them) and ``headline``. Every value is a bound
parameter; the fragments joined here are constants.

The query goes through ``bahr_search_fold`` in SQL exactly like the indexed text, then
``websearch_to_tsquery`` (word search) or ``phraseto_tsquery`` (fragments).
"""

from __future__ import annotations

import functools
import re

from sqlalchemy import BigInteger, Float, Text, TextClause, column, select, text
from sqlalchemy.sql.selectable import Select

from app.models.analysis import Analysis

TSQ = "websearch_to_tsquery('arabic'::regconfig, bahr_search_fold(:q))"
PHRASE = "phraseto_tsquery('arabic'::regconfig, bahr_search_fold(:q))"
_HEADLINE = "ts_headline('arabic'::regconfig, bahr_search_fold(a.normalized_text), {tsq}, :opts)"
#: The analyses' columns a page loads: all but the deferred ``search_vector`` (the model
#: defers it; loading it sent every hit's tsvector over the wire and through the ORM).
_LOADED = tuple(c for c in Analysis.__table__.columns if c.name != "search_vector")
_COLUMNS = ", ".join(f"a.{c.name}" for c in _LOADED)
_EXTRA = (column("rank", Float), column("matched", BigInteger), column("headline", Text))

#: The newest matches: walking an index newest first and testing each row, which stops after
#: ``:window`` matches. ``IS TRUE`` keeps the planner from reading every match through the
#: GIN index first. Without a filter the walk follows the primary key (ids are time-ordered
#: UUID v7); with a user (or meter) filter, that filter's (…, created_at, id) index.
NEWEST = ("(search_vector @@ {tsq}) IS TRUE", "id DESC")
NEWEST_IN_SCOPE = ("(search_vector @@ {tsq}) IS TRUE", "created_at DESC, id DESC")
#: Every match, through the GIN index (ranked exactly: the window is large enough for all).
ALL = ("search_vector @@ {tsq}", "id DESC")
#: Step 2 of fragment search: a substring of the text; step 3: a close (misspelt) match.
SUBSTRING = "normalized_text ILIKE :like"
CLOSE = ":q <% normalized_text AND normalized_text NOT ILIKE :like"


def filters(user_id: int | None, meter_id: int | None) -> str:
    out = ""
    if user_id is not None:
        out += " AND user_id = :user_id"
    if meter_id is not None:
        out += " AND meter_id = :meter_id"
    return out


@functools.lru_cache(maxsize=256)
def entities(sql: str) -> Select[Analysis, float, int, str | None]:
    """``sql`` (a statement of this module) as an ORM statement: the analyses as entities.

    Built once per statement text (they are combinations of constant fragments, a few dozen
    in all): the statement objects are immutable, and building one cost about 0.5 ms."""
    textual: TextClause = text(sql)
    return select(Analysis, *_EXTRA).from_statement(  # type: ignore[return-value]
        textual.columns(*_LOADED, *_EXTRA)
    )


_NAMED = re.compile(r"(?<![:\w]):(\w+)")


def pyformat(sql: str) -> str:
    """``sql`` with its ``:name`` parameters as psycopg's ``%(name)s`` (casts such as
    ``::regconfig`` are left alone): for statements sent through psycopg directly."""
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))


def estimate(tsq: str, filters_: str, scope: str) -> str:
    """The planner's estimates (no rows read) of the matches and of the rows in ``scope``."""
    return (
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM analyses WHERE search_vector @@ {tsq}{filters_}"  # noqa: S608
        f" UNION ALL SELECT 1 FROM analyses WHERE TRUE{scope}"
    )


def ranked(tsq: str, *, scan: tuple[str, str], filters_: str, cursor: bool) -> str:
    """Matches of ``tsq`` as ``scan`` finds them, at most ``:window`` (one more is fetched
    to tell "exactly the window" from "more"), ranked by ``ts_rank_cd``, one page; only the
    page's rows are joined back."""
    match, order = scan[0].format(tsq=tsq), scan[1]
    after = (
        "AND (r.rank, r.created_at, r.id) < (CAST(:rank AS real), :created_at, :id)"
        if cursor
        else ""
    )
    return f"""
SELECT {_COLUMNS}, w.rank, w.matched, {_HEADLINE.format(tsq=tsq)} AS headline
  FROM (SELECT r.id, r.created_at, r.rank, r.matched
          FROM (SELECT id, created_at, ts_rank_cd(search_vector, {tsq}) AS rank,
                       count(*) OVER () AS matched,
                       row_number() OVER (ORDER BY {order}) AS age
                  FROM (SELECT id, created_at, search_vector FROM analyses
                         WHERE {match}{filters_}
                         ORDER BY {order} LIMIT :window) AS newest) AS r
         WHERE r.age < :window {after}
         ORDER BY r.rank DESC, r.created_at DESC, r.id DESC
         LIMIT :limit) AS w
  JOIN analyses a ON a.id = w.id
 ORDER BY w.rank DESC, w.created_at DESC, w.id DESC"""  # noqa: S608 - constant fragments, values bound


def rum(*, filters_: str, cursor: bool) -> str:
    """Every match ranked by RUM's ``<=>`` (the distance 1/score, from the positions the
    index stores), ties by time: each match is read from the table for its ``created_at``
    (RUM orders by the distance only), so the cost grows with the matches."""
    dist = f"(search_vector <=> {TSQ})"
    after = (
        f" AND ({dist} > CAST(:dist AS real) OR ({dist} = CAST(:dist AS real)"
        " AND (created_at, id) < (:created_at, :id)))"
        if cursor
        else ""
    )
    return f"""
SELECT {_COLUMNS}, w.dist AS rank, 0 AS matched, {_HEADLINE.format(tsq=TSQ)} AS headline
  FROM (SELECT id, created_at, {dist} AS dist FROM analyses
         WHERE search_vector @@ {TSQ}{filters_}{after}
         ORDER BY {dist}, created_at DESC, id DESC LIMIT :limit) AS w
  JOIN analyses a ON a.id = w.id
 ORDER BY w.dist, w.created_at DESC, w.id DESC"""  # noqa: S608 - constant fragments, values bound


def phrase(*, walk: bool, by_time: bool, filters_: str, cursor: bool) -> str:
    """Whole-word phrase matches of the fragment, newest first, rank 1.0.

    With ``walk`` an index is walked newest first and stops at ``:limit`` matches: the
    primary key, or with ``by_time`` the filter's (…, created_at, id) index. Otherwise the
    matches are read through the GIN index (``OFFSET 0`` keeps the planner from walking the
    primary key anyway: with few matches expected it may read most of the table for them).
    """
    order = "created_at DESC, id DESC" if by_time else "id DESC"
    after = ""
    if cursor:
        after = " AND (created_at, id) < (:created_at, :id)" if by_time else " AND id < :id"
    if walk:
        found = f"""SELECT id, created_at FROM analyses
         WHERE (search_vector @@ {PHRASE}) IS TRUE{filters_}{after}
         ORDER BY {order} LIMIT :limit"""  # noqa: S608 - constant fragments, values bound
    else:
        found = f"""SELECT id, created_at FROM (SELECT id, created_at FROM analyses
                        WHERE search_vector @@ {PHRASE}{filters_}{after} OFFSET 0) AS m
         ORDER BY {order} LIMIT :limit"""  # noqa: S608 - constant fragments, values bound
    return f"""
SELECT {_COLUMNS}, 1.0::real AS rank, 0 AS matched, {_HEADLINE.format(tsq=PHRASE)} AS headline
  FROM ({found}) AS p
  JOIN analyses a ON a.id = p.id
 ORDER BY {order.replace("created_at", "p.created_at").replace("id DESC", "p.id DESC")}"""  # noqa: S608 - constant fragments, values bound


def trigram(match: str, *, filters_: str, cursor: bool, newest: bool = False) -> str:
    """Trigram matches that are not whole-word phrase matches, from at most ``:window``
    candidate rows, best first (``word_similarity``, then newest); only the page's rows are
    joined back.

    With ``newest`` the candidates are the filter's newest ``:window`` rows, each tested,
    instead of the trigram index's: the planner cannot combine the trigram index with a
    filter's index (its estimate for ``<%`` is far too low to AND the two bitmaps), so it
    would test every trigram candidate in the table against the filter."""
    after = (
        "WHERE (c.rank, c.created_at, c.id) < (CAST(:rank AS real), :created_at, :id)"
        if cursor
        else ""
    )
    unlike_phrase = f"NOT search_vector @@ {PHRASE}"
    if newest:
        candidates = f"""SELECT id, created_at, normalized_text
                          FROM (SELECT id, created_at, normalized_text, search_vector
                                  FROM analyses WHERE TRUE{filters_}
                                 ORDER BY created_at DESC, id DESC LIMIT :window) AS recent
                         WHERE {match} AND {unlike_phrase}"""  # noqa: S608 - constants
    else:
        candidates = f"""SELECT id, created_at, normalized_text FROM analyses
                         WHERE {match}{filters_} AND {unlike_phrase}
                         LIMIT :window"""  # noqa: S608 - constant fragments, values bound
    return f"""
SELECT {_COLUMNS}, w.rank, w.matched, NULL AS headline
  FROM (SELECT c.id, c.created_at, c.rank, c.matched
          FROM (SELECT id, created_at, word_similarity(:q, normalized_text) AS rank,
                       count(*) OVER () AS matched
                  FROM ({candidates}) AS candidates) AS c
         {after}
         ORDER BY c.rank DESC, c.created_at DESC, c.id DESC
         LIMIT :limit) AS w
  JOIN analyses a ON a.id = w.id
 ORDER BY w.rank DESC, w.created_at DESC, w.id DESC"""  # noqa: S608 - constant fragments, values bound
