"""Arabic search over analyses: ranked word search and fragment search, bounded in time.

Word search: the query goes through :func:`~app.text.arabic.normalize` in Python and
``bahr_search_fold`` in SQL, exactly like the indexed text, then ``websearch_to_tsquery``
(quotes for phrases, ``or``, ``-`` to exclude) against ``search_vector``. Harakat, hamza forms
of alef, tatweel, ى/ي, ة/ه and the ال / و / ب / وال / فال prefixes match on either side.

How a query is answered depends on the planner's estimate of its matches (``EXPLAIN``, from
the index statistics, no rows read):

* more than :data:`COMMON_MATCHES` (a very common word, e.g. the function words in a large
  share of all verses): the primary key (time-ordered UUID v7) is walked backwards until
  :data:`RANK_WINDOW` matches are found, and those are ranked with ``ts_rank_cd``. The page
  says so: ``windowed`` is True and ``estimated_total`` is the estimate. A user's rows are
  walked through the user's own index instead;
* otherwise, with the RUM index (``ix_analyses_search_rum``, migration 0007, where the
  ``rum`` extension is installed): ranked by RUM's ``<=>`` over every match inside the
  index, only the page's rows read from the table;
* otherwise (no RUM): every match through the GIN index, ranked with ``ts_rank_cd``.

Ties go to the newer analysis (``created_at``, then ``id``). Pages are keyset cursors on the
ranking order. Design notes: RUM's other operator class, ``rum_tsvector_addon_ops`` with
``created_at`` attached (with or without ``order_by_attach``), was tried for the newest
matches: on rum 1.3 its index scan still collects and sorts every match (a tuplesort
spilling to disk for a common word), so it cannot serve a bounded window; the primary key
does. Function words are not stop words: they stay matchable and inside quoted phrases, and
the window keeps them cheap.

Fragment search tries the fragment as a phrase of whole words (``<->``, newest first), then
as a substring, then as a close (misspelt) match from the trigram index, each trigram step
from at most :data:`FRAGMENT_CANDIDATES` candidate rows.

Every search runs in a transaction of its own with ``SET LOCAL statement_timeout`` (the
``search_timeout_ms`` setting) and custom plans only: past the time limit the caller gets
:class:`~app.errors.SearchTooBroad`, and the connection goes back to the pool healthy. Every
query string is a bound parameter.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.config import get_settings
from app.errors import InvalidInput, SearchTooBroad
from app.models.analysis import Analysis
from app.text import storable
from app.text.arabic import HEADLINE_OPTIONS, highlight, highlight_from_headline, normalize

#: Markers around matched words in :attr:`AnalysisSearchHit.headline`.
MARK_START = "«"
MARK_STOP = "»"
QUERY_MAX = 500
#: Checked on the raw query, before any normalising work: a huge query is refused cheaply.
QUERY_RAW_MAX = 4 * QUERY_MAX
FRAGMENT_MIN = 3
#: A query estimated to match more rows than this is a very common term: it is ranked among
#: its newest :data:`RANK_WINDOW` matches only (and without RUM, it is the most any query
#: ranks: past it a page is ranked among its newest matches as well).
COMMON_MATCHES = 20_000
RANK_WINDOW = 500
#: Analyses per 8 kB heap page (a verse, its normalised text and its tsvector: about 13 at
#: 1M rows); a walk along the primary key reads that many rows per page.
ROWS_PER_PAGE = 10
#: The trigram step of fragment search examines at most this many candidate rows.
FRAGMENT_CANDIDATES = 200
#: The name of the RUM index (see ``app.db.ddl.SEARCH_INDEXES``).
RUM_INDEX = "ix_analyses_search_rum"
#: A meter's analyses newest first: where it exists, the window of a meter-filtered search
#: walks it instead of the primary key.
METER_INDEX = "ix_analyses_meter_id_created_at"


@dataclass(frozen=True)
class AnalysisSearchHit:
    analysis: Analysis
    rank: float
    #: The original, vocalised text with each matched word wrapped in « ».
    headline: str


class SearchPage(list[AnalysisSearchHit]):
    """One page of hits: a list of them, shaped like :class:`~app.repositories.pagination.Page`.

    ``next_cursor`` goes back as ``after`` for the next page (None on the last page).
    ``windowed`` is True when ranking covered only the newest matches (a very common term);
    ``estimated_total`` is then the planner's estimate of all matches, otherwise the exact
    number of eligible matches (for fragment search, of the rows examined).
    """

    def __init__(
        self,
        hits: Sequence[AnalysisSearchHit] = (),
        *,
        next_cursor: str | None = None,
        windowed: bool = False,
        estimated_total: int = 0,
    ) -> None:
        super().__init__(hits)
        self.next_cursor = next_cursor
        self.windowed = windowed
        self.estimated_total = estimated_total

    @property
    def items(self) -> Sequence[AnalysisSearchHit]:
        return list(self)


# -- input --------------------------------------------------------------------------------


def _query_text(query: str, *, min_length: int = 1) -> str:
    if not isinstance(query, str):
        raise InvalidInput("query: must be text", field="query", rule="text")
    if len(query) > QUERY_RAW_MAX:  # before normalize: its cost grows with the input
        raise InvalidInput(
            f"query: must be at most {QUERY_MAX} characters", field="query", rule="max_length"
        )
    if (reason := storable.problem(query)) is not None:
        raise InvalidInput(f"query: {reason}", field="query", rule="storable_text")
    text_ = normalize(query)
    if not text_:
        raise InvalidInput("query: must not be empty or blank", field="query", rule="not_blank")
    if len(text_) > QUERY_MAX:
        raise InvalidInput(
            f"query: must be at most {QUERY_MAX} characters", field="query", rule="max_length"
        )
    if len(text_) < min_length:
        raise InvalidInput(
            f"query: must be at least {min_length} characters", field="query", rule="min_length"
        )
    return text_


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= 100:
        raise InvalidInput("limit: must be between 1 and 100", field="limit", rule="range")


def _encode_cursor(phase: int, rank: float, created_at: dt.datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([phase, rank, created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, float, dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        phase, rank, stamp, row_id = json.loads(raw)
        created_at = dt.datetime.fromisoformat(stamp)
        if phase not in (1, 2, 3, 4) or created_at.tzinfo is None:
            raise ValueError("not a search cursor")
        return int(phase), float(rank), created_at, uuid.UUID(row_id)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput(
            "after: not a cursor returned by this search", field="after", rule="cursor"
        ) from None


# -- bounded work -------------------------------------------------------------------------


@contextmanager
def _bounded(db: Session) -> Iterator[Connection]:
    """A transaction of the search's own, with ``SET LOCAL statement_timeout``.

    On an autocommit (read-only) session it is an explicit BEGIN … COMMIT, which a
    transaction-pooling PgBouncer keeps on one server connection; on a session already in a
    transaction it is a savepoint, and the caller's timeout is restored afterwards. A
    statement past the time limit becomes :class:`SearchTooBroad`; the transaction or
    savepoint is rolled back, so the connection stays usable.
    """
    timeout_ms = get_settings().search_timeout_ms
    # Custom plans only: psycopg prepares a statement on its 6th run, and a generic plan
    # cannot fold websearch_to_tsquery(bahr_search_fold($1)) to a constant, so it would
    # run the fold for every row it tests.
    settings = "set_config('plan_cache_mode', 'force_custom_plan', true)"
    if timeout_ms:
        settings += f", set_config('statement_timeout', '{int(timeout_ms)}', true)"
    conn = db.connection()
    autocommit = bool(getattr(conn.connection.dbapi_connection, "autocommit", False))
    try:
        if autocommit:
            conn.exec_driver_sql("BEGIN")
            try:
                conn.exec_driver_sql(f"SELECT {settings}")
                yield conn
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
        else:
            with db.begin_nested():
                conn = db.connection()  # emits the SAVEPOINT
                old = conn.execute(
                    text(
                        "SELECT current_setting('statement_timeout'), "
                        f"current_setting('plan_cache_mode'), {settings}"
                    )
                ).one()
                yield conn
                conn.execute(
                    text(
                        "SELECT set_config('statement_timeout', :t, true), "
                        "set_config('plan_cache_mode', :p, true)"
                    ),
                    {"t": old[0], "p": old[1]},
                )
    except DBAPIError as error:
        if isinstance(error.orig, psycopg.errors.QueryCanceled):
            raise SearchTooBroad(
                f"query: too broad, it would take longer than {timeout_ms} ms; add words, "
                "quote a phrase, or filter by user or meter",
                field="query",
                rule="too_broad",
            ) from None
        raise


_INDEXES: weakref.WeakKeyDictionary[Engine, dict[str, bool]] = weakref.WeakKeyDictionary()


def _has_index(conn: Connection, name: str) -> bool:
    """Whether the index ``name`` exists (looked up once per engine)."""
    known = _INDEXES.setdefault(conn.engine, {})
    if name not in known:
        known[name] = bool(
            conn.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}).scalar_one()
        )
    return known[name]


def has_rum_index(conn: Connection) -> bool:
    """Whether the RUM index exists (looked up once per engine)."""
    return _has_index(conn, RUM_INDEX)


def forget_rum_index() -> None:
    """Look the search indexes up again on next use (after creating or dropping one)."""
    _INDEXES.clear()


# -- statements ---------------------------------------------------------------------------

_TSQ = "websearch_to_tsquery('arabic'::regconfig, bahr_search_fold(:q))"
_PHRASE = "phraseto_tsquery('arabic'::regconfig, bahr_search_fold(:q))"
_HEADLINE = "ts_headline('arabic'::regconfig, bahr_search_fold(a.normalized_text), {tsq}, :opts)"
#: The newest matches of a very common term: walking the primary key backwards (ids are
#: time-ordered UUID v7) and testing each row, which stops after ``:window`` matches. ``IS
#: TRUE`` keeps the planner from reading every match through the GIN index first. A user's
#: rows are walked through the user's own (user_id, created_at, id) index instead.
_NEWEST = ("(search_vector @@ {tsq}) IS TRUE", "id DESC")
_NEWEST_IN_SCOPE = ("(search_vector @@ {tsq}) IS TRUE", "created_at DESC, id DESC")
#: Every match, through the GIN index (ranked exactly: the window is large enough for all).
_ALL = ("search_vector @@ {tsq}", "id DESC")


def _filters(user_id: int | None, meter_id: int | None) -> str:
    out = ""
    if user_id is not None:
        out += " AND user_id = :user_id"
    if meter_id is not None:
        out += " AND meter_id = :meter_id"
    return out


def _ranked_sql(tsq: str, *, scan: tuple[str, str], filters: str, cursor: bool) -> str:
    """Matches of ``tsq`` as ``scan`` finds them, at most ``:window`` (one more is fetched
    to tell "exactly the window" from "more"), ranked by ``ts_rank_cd``, one page; only the
    page's rows are joined back for their headlines."""
    match, order = scan[0].format(tsq=tsq), scan[1]
    after = (
        "AND (r.rank, r.created_at, r.id) < (CAST(:rank AS real), :created_at, :id)"
        if cursor
        else ""
    )
    return f"""
SELECT a.id, a.created_at, w.rank, w.matched, {_HEADLINE.format(tsq=tsq)} AS headline
  FROM (SELECT r.id, r.created_at, r.rank, r.matched
          FROM (SELECT id, created_at, ts_rank_cd(search_vector, {tsq}) AS rank,
                       count(*) OVER () AS matched,
                       row_number() OVER (ORDER BY {order}) AS age
                  FROM (SELECT id, created_at, search_vector FROM analyses
                         WHERE {match}{filters}
                         ORDER BY {order} LIMIT :window) AS newest) AS r
         WHERE r.age < :window {after}
         ORDER BY r.rank DESC, r.created_at DESC, r.id DESC
         LIMIT :limit) AS w
  JOIN analyses a ON a.id = w.id
 ORDER BY w.rank DESC, w.created_at DESC, w.id DESC"""  # noqa: S608 - constant fragments, values bound


def _rum_sql(*, filters: str, cursor: bool) -> str:
    """Every match ranked by the RUM index itself (``<=>``, the distance 1/score, from the
    positions it stores): only the rows of the page are read from the table."""
    dist = f"(search_vector <=> {_TSQ})"
    after = (
        f" AND ({dist} > CAST(:dist AS real) OR ({dist} = CAST(:dist AS real)"
        " AND (created_at, id) < (:created_at, :id)))"
        if cursor
        else ""
    )
    return f"""
SELECT a.id, a.created_at, w.dist AS rank, 0 AS matched, {_HEADLINE.format(tsq=_TSQ)} AS headline
  FROM (SELECT id, created_at, {dist} AS dist FROM analyses
         WHERE search_vector @@ {_TSQ}{filters}{after}
         ORDER BY {dist}, created_at DESC, id DESC LIMIT :limit) AS w
  JOIN analyses a ON a.id = w.id
 ORDER BY w.dist, w.created_at DESC, w.id DESC"""  # noqa: S608 - constant fragments, values bound


def _phrase_sql(*, common: bool, filters: str, cursor: bool) -> str:
    """Whole-word phrase matches of the fragment, newest (largest id) first, rank 1.0.

    A phrase of common words walks the primary key backwards and stops at ``:limit``
    matches; a rarer one reads its matches through the GIN index."""
    match = f"(search_vector @@ {_PHRASE}) IS TRUE" if common else f"search_vector @@ {_PHRASE}"
    after = " AND id < :id" if cursor else ""
    return f"""
SELECT a.id, a.created_at, 1.0::real AS rank, 0 AS matched,
       {_HEADLINE.format(tsq=_PHRASE)} AS headline
  FROM (SELECT id FROM analyses
         WHERE {match}{filters}{after}
         ORDER BY id DESC LIMIT :limit) AS p
  JOIN analyses a ON a.id = p.id
 ORDER BY p.id DESC"""  # noqa: S608 - constant fragments, values bound


#: Step 2 of fragment search: a substring of the text; step 3: a close (misspelt) match.
_SUBSTRING = "normalized_text ILIKE :like"
_CLOSE = ":q <% normalized_text AND normalized_text NOT ILIKE :like"


def _trigram_sql(match: str, *, filters: str, cursor: bool) -> str:
    """Trigram matches that are not whole-word phrase matches, from at most ``:window``
    candidate rows, best first (``word_similarity``, then newest)."""
    after = (
        "WHERE (w.rank, w.created_at, w.id) < (CAST(:rank AS real), :created_at, :id)"
        if cursor
        else ""
    )
    return f"""
SELECT a.id, a.created_at, w.rank, w.matched, NULL AS headline
  FROM (SELECT id, created_at, word_similarity(:q, normalized_text) AS rank,
               count(*) OVER () AS matched
          FROM (SELECT id, created_at, normalized_text FROM analyses
                 WHERE {match}{filters} AND NOT search_vector @@ {_PHRASE}
                 LIMIT :window) AS candidates) AS w
  JOIN analyses a ON a.id = w.id
 {after}
 ORDER BY w.rank DESC, w.created_at DESC, w.id DESC
 LIMIT :limit"""  # noqa: S608 - constant fragments, values bound


def _estimate(
    conn: Connection, filters: str, params: dict[str, Any], tsq: str = _TSQ, scope: str = ""
) -> tuple[int, int]:
    """The planner's estimates (from the statistics: no rows read) of the matches, and of
    the rows in ``scope`` (the rows a newest-first walk would visit), in one round trip."""
    sql = (
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM analyses WHERE search_vector @@ {tsq}{filters}"  # noqa: S608
        f" UNION ALL SELECT 1 FROM analyses WHERE TRUE{scope}"
    )
    plan = conn.execute(text(sql), params).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    matches, rows = plan[0]["Plan"]["Plans"]
    return int(matches["Plan Rows"]), int(rows["Plan Rows"])


def windowed_is_cheaper(matches: int, scope: int, *, filtered: bool, by_time: bool) -> bool:
    """Whether to rank among the newest :data:`RANK_WINDOW` matches only.

    A very common term (more than :data:`COMMON_MATCHES` matches) always is. With a user or
    meter filter no index ranks the matches: ranking all of them reads every matching row,
    each on a page of its own. A newest-first walk reads about ``RANK_WINDOW × scope /
    matches`` rows instead: through the filter's own index (``by_time``) one page each, along
    the primary key :data:`ROWS_PER_PAGE` to a page. The cheaper one is taken.
    """
    if matches > COMMON_MATCHES:
        return True
    if not filtered or matches <= RANK_WINDOW:
        return False
    walked = RANK_WINDOW * scope / matches
    return walked / (1 if by_time else ROWS_PER_PAGE) < matches


def _load(db: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, Analysis]:
    if not ids:
        return {}
    return {a.id: a for a in db.scalars(select(Analysis).where(Analysis.id.in_(ids)))}


def _headline(original: str, headline: str | None, words: list[str]) -> str:
    """Marks from ``ts_headline`` carried onto the original; on any mismatch (a stored text
    holding the private-use marker characters, say) the exact-form highlight instead."""
    if headline is not None:
        try:
            return highlight_from_headline(original, headline, MARK_START, MARK_STOP)
        except ValueError:
            pass
    return highlight(original, words, MARK_START, MARK_STOP)


@dataclass
class _Rows:
    rows: list[Any]
    matched: int
    phase: int


def _run(conn: Connection, sql: str, params: dict[str, Any], phase: int) -> _Rows:
    rows = list(conn.execute(text(sql), params).all())
    return _Rows(rows, int(rows[0].matched) if rows else 0, phase)


def _page(
    db: Session,
    parts: list[_Rows],
    *,
    limit: int,
    words: list[str],
    windowed: bool,
    total: int,
) -> SearchPage:
    tagged = [(part.phase, row) for part in parts for row in part.rows]
    # Read committed: a row deleted between the two statements is left out, not an error.
    found = _load(db, [row.id for _, row in tagged[:limit]])
    hits = [
        AnalysisSearchHit(
            analysis=found[row.id],
            rank=float(row.rank),
            headline=_headline(found[row.id].original_text, row.headline, words),
        )
        for _, row in tagged[:limit]
        if row.id in found
    ]
    next_cursor = None
    if len(tagged) > limit:
        phase, last = tagged[limit - 1]
        next_cursor = _encode_cursor(phase, float(last.rank), last.created_at, last.id)
    return SearchPage(hits, next_cursor=next_cursor, windowed=windowed, estimated_total=total)


def _params(text_: str, limit: int, user_id: int | None, meter_id: int | None) -> dict[str, Any]:
    return {
        "q": text_,
        "limit": limit + 1,
        "opts": HEADLINE_OPTIONS,
        "user_id": user_id,
        "meter_id": meter_id,
    }


def _after(params: dict[str, Any], cursor: tuple[int, float, dt.datetime, uuid.UUID]) -> None:
    params.update(rank=cursor[1], created_at=cursor[2], id=cursor[3])


def search(
    db: Session,
    query: str,
    *,
    limit: int = 20,
    user_id: int | None = None,
    meter_id: int | None = None,
    after: str | None = None,
) -> SearchPage:
    """Ranked word search, one page (``after``: the previous page's ``next_cursor``).

    An empty or blank query is an :class:`InvalidInput`; one that would run past
    ``search_timeout_ms`` is a :class:`SearchTooBroad`.
    """
    text_ = _query_text(query)
    _check_limit(limit)
    cursor = _decode_cursor(after) if after is not None else None
    filters = _filters(user_id, meter_id)
    params = _params(text_, limit, user_id, meter_id)
    words = text_.split()
    with _bounded(db) as conn:
        by_time = user_id is not None or (meter_id is not None and _has_index(conn, METER_INDEX))
        scope = _filters(user_id, None) if user_id is not None else filters if by_time else ""
        estimate, rows = _estimate(conn, filters, params, scope=scope)
        common = windowed_is_cheaper(estimate, rows, filtered=bool(filters), by_time=by_time)
        if cursor is not None:
            common = cursor[0] == 1  # a page continues the way its first page was made
            if cursor[0] == 4:
                params.update(dist=cursor[1], created_at=cursor[2], id=cursor[3])
            else:
                _after(params, cursor)
        if not common and (cursor is None or cursor[0] == 4) and has_rum_index(conn):
            sql = _rum_sql(filters=filters, cursor=cursor is not None)
            part = _run(conn, sql, params, 4)
            page = _page(db, [part], limit=limit, words=words, windowed=False, total=estimate)
            return _with_ranks(page)
        scan = (_NEWEST_IN_SCOPE if by_time else _NEWEST) if common else _ALL
        window = RANK_WINDOW if common else COMMON_MATCHES
        params["window"] = window + 1
        sql = _ranked_sql(_TSQ, scan=scan, filters=filters, cursor=cursor is not None)
        part = _run(conn, sql, params, 1 if common else 2)
        windowed = part.matched > window
        total = estimate if windowed else part.matched
        return _page(db, [part], limit=limit, words=words, windowed=windowed, total=total)


def _with_ranks(page: SearchPage) -> SearchPage:
    """RUM gives a distance (1/score): hits carry the score as their rank."""
    hits = [
        AnalysisSearchHit(
            analysis=h.analysis,
            rank=0.0 if h.rank == float("inf") or h.rank <= 0 else 1.0 / h.rank,
            headline=h.headline,
        )
        for h in page
    ]
    return SearchPage(
        hits,
        next_cursor=page.next_cursor,
        windowed=page.windowed,
        estimated_total=page.estimated_total,
    )


def search_fragment(
    db: Session,
    query: str,
    *,
    limit: int = 20,
    user_id: int | None = None,
    meter_id: int | None = None,
    after: str | None = None,
) -> SearchPage:
    """A half-remembered fragment (≥ 3 characters), one page.

    First the fragment as a phrase of whole words (rank 1.0, newest first, through the
    full-text index), then substrings and close (misspelt) matches from the trigram index
    (``rank`` is pg_trgm's ``word_similarity``), from at most :data:`FRAGMENT_CANDIDATES`
    candidate rows; ``windowed`` says when either step hit its bound.
    """
    text_ = _query_text(query, min_length=FRAGMENT_MIN)
    _check_limit(limit)
    cursor = _decode_cursor(after) if after is not None else None
    filters = _filters(user_id, meter_id)
    like = "%" + text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    params = _params(text_, limit, user_id, meter_id) | {"like": like}
    phase = 1 if cursor is None else cursor[0]
    parts: list[_Rows] = []
    windowed = False
    with _bounded(db) as conn:
        if phase == 1:
            phrase = dict(params)
            if cursor is not None:
                _after(phrase, cursor)
            estimate, _ = _estimate(conn, filters, phrase, _PHRASE)
            sql = _phrase_sql(
                common=estimate > COMMON_MATCHES, filters=filters, cursor=cursor is not None
            )
            parts.append(_run(conn, sql, phrase, 1))
        for step, match in ((2, _SUBSTRING), (3, _CLOSE)):
            if phase > step or sum(len(p.rows) for p in parts) > limit:
                continue
            trigram = params | {"window": FRAGMENT_CANDIDATES}
            resume = cursor is not None and cursor[0] == step
            if resume:
                _after(trigram, cursor)  # type: ignore[arg-type]
            part = _run(conn, _trigram_sql(match, filters=filters, cursor=resume), trigram, step)
            parts.append(part)
            windowed = windowed or part.matched >= FRAGMENT_CANDIDATES
        total = sum(p.matched if p.phase > 1 else len(p.rows) for p in parts)
        return _page(db, parts, limit=limit, words=text_.split(), windowed=windowed, total=total)
