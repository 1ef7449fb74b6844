"""Arabic search over analyses: ranked word search and fragment search, bounded in time.

Word search: the query goes through :func:`~app.text.arabic.normalize` in Python and
``bahr_search_fold`` in SQL, exactly like the indexed text, then ``websearch_to_tsquery``
(quotes for phrases, ``or``, ``-`` to exclude) against ``search_vector``. Harakat, hamza forms
of alef, tatweel, ى/ي, ة/ه and the ال / و / ب / وال / فال prefixes match on either side.

How a query is answered depends on the planner's estimates (one ``EXPLAIN``, from the
statistics, no rows read) of its matches and of the rows its filter keeps:

* a very common term (more than :data:`COMMON_MATCHES` matches), or a term common enough
  among a user's or a meter's rows that walking them is cheaper than reading every match
  (:func:`windowed_is_cheaper`): an index is walked newest first until :data:`RANK_WINDOW`
  matches are found, and those are ranked with ``ts_rank_cd``. The page says so:
  ``windowed`` is True and ``estimated_total`` is the estimate. The walk follows the user's
  (user_id, created_at, id) index, the meter's (:data:`METER_INDEX`) where it exists, or
  else the primary key (time-ordered UUID v7);
* otherwise, with the RUM index (``ix_analyses_search_rum``, migration 0007, where the
  ``rum`` extension is installed): ranked by RUM's ``<=>``, the score computed from the
  positions in the index. Every match is still read from the table: ties go to the newer
  analysis, RUM orders by its score only, and single words tie in thousands (the planner
  reads them through the GIN bitmap);
* otherwise (no RUM): every match through the GIN index, ranked with ``ts_rank_cd``.

Ties go to the newer analysis (``created_at``, then ``id``). Pages are keyset cursors on the
ranking order. Design notes: RUM's other operator class, ``rum_tsvector_addon_ops`` with
``created_at`` attached (with or without ``order_by_attach``), was tried for the newest
matches: on rum 1.3 its index scan still collects and sorts every match (a tuplesort
spilling to disk for a common word), so it cannot serve a bounded window; a btree walk does.
Function words are not stop words: they stay matchable and inside quoted phrases, and the
window keeps them cheap.

Fragment search tries the fragment as a phrase of whole words (``<->``, newest first), then
as a substring, then as a close (misspelt) match from the trigram index, each trigram step
from at most :data:`FRAGMENT_CANDIDATES` candidate rows.

Every search runs in a transaction of its own with ``SET LOCAL statement_timeout`` (the
``search_timeout_ms`` setting) and custom plans only: past the time limit the caller gets
:class:`~app.errors.SearchTooBroad`, and the connection goes back to the pool healthy. Every
query string is a bound parameter (the statements are in :mod:`app.repositories.search_sql`,
the checks of the input in :mod:`app.repositories.search_input`). A page costs three round
trips on a read-only session: BEGIN with the settings and the estimate in one message (sent
through psycopg's client-side binding cursor, so SQLAlchemy's statement events do not see
it), the page (hits and their analyses in one statement, the deferred ``search_vector``
left unloaded), COMMIT.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.config import get_settings
from app.errors import InvalidInput, SearchTooBroad
from app.models.analysis import Analysis
from app.repositories import search_sql as sql_
from app.repositories.search_input import (
    FRAGMENT_MIN,
    QUERY_MAX,
    QUERY_RAW_MAX,
    Cursor,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from app.text import storable
from app.text.arabic import HEADLINE_OPTIONS, highlight, highlight_from_headline, normalize

__all__ = [
    "COMMON_MATCHES",
    "FRAGMENT_CANDIDATES",
    "FRAGMENT_MIN",
    "MARK_START",
    "MARK_STOP",
    "QUERY_MAX",
    "QUERY_RAW_MAX",
    "RANK_WINDOW",
    "AnalysisSearchHit",
    "SearchPage",
    "forget_rum_index",
    "has_rum_index",
    "phrase_walk_is_cheaper",
    "search",
    "search_fragment",
    "windowed_is_cheaper",
]

#: Markers around matched words in :attr:`AnalysisSearchHit.headline`.
MARK_START = "«"
MARK_STOP = "»"
#: A query estimated to match more rows than this is a very common term: it is ranked among
#: its newest :data:`RANK_WINDOW` matches only (and without RUM, it is the most any query
#: ranks: past it a page is ranked among its newest matches as well).
COMMON_MATCHES = 20_000
RANK_WINDOW = 500
#: A walk along the primary key tests rows in table order, about 13 to a page at 1M rows;
#: measured there, it tests about this many rows in the time one scattered match is read
#: (1.3-1.8 µs a row walked, 7-12 µs a match read).
WALK_ROWS_PER_READ = 5
#: How many times the planner's estimate of a phrase's matches exceeds them, typically (it
#: counts rows holding the words anywhere): used to choose how to find phrase matches.
PHRASE_OVERESTIMATE = 10
#: The trigram step of fragment search examines at most this many candidate rows.
FRAGMENT_CANDIDATES = 200
#: With a user or meter filter, the close (misspelt) step tests the filter's newest this
#: many rows (see :func:`app.repositories.search_sql.trigram`).
FRAGMENT_FILTERED_ROWS = 2_000
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


def _query_text(query: str, *, min_length: int = 1) -> str:
    """The query, normalised as the stored text is; refused when blank, too long or too short."""
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


# -- bounded work -------------------------------------------------------------------------


@contextmanager
def _bounded(
    db: Session, estimate: tuple[str, dict[str, Any]] | None = None
) -> Iterator[tuple[Connection, tuple[int, int] | None]]:
    """A transaction of the search's own, with ``SET LOCAL statement_timeout``; with
    ``estimate`` (a statement of :func:`app.repositories.search_sql.estimate` and its
    parameters), also the planner's estimates it gives (see :func:`_estimate`).

    On an autocommit (read-only) session it is an explicit BEGIN … COMMIT, which a
    transaction-pooling PgBouncer keeps on one server connection: BEGIN, the settings and
    the estimate go in one message (the estimate's parameters bound by psycopg on the client,
    which the simple query protocol needs for several statements in one message). On a
    session already in a transaction it is a savepoint, and the caller's settings are
    restored afterwards. A statement past the time limit becomes :class:`SearchTooBroad`;
    the transaction or savepoint is rolled back, so the connection stays usable.
    """
    timeout_ms = int(get_settings().search_timeout_ms or 0)
    # Custom plans only: psycopg prepares a statement on its 6th run, and a generic plan
    # cannot fold websearch_to_tsquery(bahr_search_fold($1)) to a constant, so it would
    # run the fold for every row it tests.
    settings = "set_config('plan_cache_mode', 'force_custom_plan', true)"
    if timeout_ms:
        settings += f", set_config('statement_timeout', '{timeout_ms}', true)"
    conn = db.connection()
    raw = conn.connection.dbapi_connection
    autocommit = bool(getattr(raw, "autocommit", False))
    try:
        if autocommit:
            try:
                if estimate is None:
                    conn.exec_driver_sql(f"BEGIN; SELECT {settings}")
                    found = None
                else:
                    found = _first_message(raw, settings, *estimate)
                yield conn, found
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
                found = None if estimate is None else _estimate(conn, *estimate)
                yield conn, found
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


def _first_message(raw: Any, settings: str, sql: str, params: dict[str, Any]) -> tuple[int, int]:
    """BEGIN, the settings and the estimate in one round trip (simple query protocol; the
    parameters are bound by psycopg's client-side cursor, quoted for this connection)."""
    statement = f"BEGIN; SELECT {settings}; {sql_.pyformat(sql)}"
    try:
        with psycopg.ClientCursor(raw) as cur:
            cur.execute(statement, params)
            while cur.nextset():
                pass
            row = cur.fetchone()
    except psycopg.Error as error:
        raise DBAPIError.instance(statement, params, error, psycopg.Error) from error
    assert row is not None
    return _plan_rows(row[0])


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


# -- choosing the plan --------------------------------------------------------------------


def _estimate(conn: Connection, sql: str, params: dict[str, Any]) -> tuple[int, int]:
    """The planner's estimates (from the statistics: no rows read) of the matches, and of
    the rows in the scope (the rows a newest-first walk would visit), in one round trip:
    ``sql`` is :func:`app.repositories.search_sql.estimate`."""
    return _plan_rows(conn.execute(text(sql), params).scalar_one())


def _plan_rows(plan: Any) -> tuple[int, int]:
    plan = json.loads(plan) if isinstance(plan, str) else plan
    matches, rows = plan[0]["Plan"]["Plans"]
    return int(matches["Plan Rows"]), int(rows["Plan Rows"])


def windowed_is_cheaper(matches: int, scope: int, *, by_time: bool) -> bool:
    """Whether to rank among the newest :data:`RANK_WINDOW` matches only.

    A very common term (more than :data:`COMMON_MATCHES` matches) always is. Below that,
    ranking every match reads every matching row from the table, each on a page of its own:
    ties go to the newer analysis, and no index orders the matches by rank and then by time
    (RUM orders by its distance only, and single words tie in thousands). A newest-first
    walk reads about ``RANK_WINDOW × scope / matches`` rows instead: through a filter's own
    index (``by_time``) one read each, along the primary key :data:`WALK_ROWS_PER_READ` rows
    for one read. The cheaper one is taken: at 1M rows, a word in more than ~10,000 verses
    is windowed, or in more than ~5,000 of a user's 50,000.
    """
    if matches > COMMON_MATCHES:
        return True
    if matches <= RANK_WINDOW:
        return False
    walked = RANK_WINDOW * scope / matches
    return walked / (1 if by_time else WALK_ROWS_PER_READ) < matches


def phrase_walk_is_cheaper(matches: int, scope: int, *, limit: int, by_time: bool) -> bool:
    """Whether a fragment's phrase step walks an index newest first (or reads its matches
    through the GIN index).

    The planner estimates a phrase like the same words anywhere in the verse: about
    :data:`PHRASE_OVERESTIMATE` times too many (``لا به``: 14,279 estimated, 1,290 real at
    1M rows). The walk reads about ``(limit + 1) × scope / phrase matches`` rows (one read
    each through a filter's index, :data:`WALK_ROWS_PER_READ` per read along the primary key);
    the GIN index, every candidate row holding the words.
    """
    if matches <= 0:
        return False
    walked = (limit + 1) * scope * PHRASE_OVERESTIMATE / matches
    return walked / (1 if by_time else WALK_ROWS_PER_READ) < matches


# -- pages --------------------------------------------------------------------------------


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
    """The rows of one step: (analysis, rank, matched, headline) each."""

    rows: list[tuple[Analysis, float, int, str | None]]
    matched: int
    phase: int


def _run(db: Session, sql: str, params: dict[str, Any], phase: int) -> _Rows:
    rows: list[tuple[Analysis, float, int, str | None]] = [
        (analysis, rank, matched, headline)
        for analysis, rank, matched, headline in db.execute(sql_.entities(sql), params)
    ]
    return _Rows(rows, int(rows[0][2]) if rows else 0, phase)


def _page(
    parts: list[_Rows], *, limit: int, words: list[str], windowed: bool, total: int
) -> SearchPage:
    tagged = [(part.phase, row) for part in parts for row in part.rows]
    hits = [
        AnalysisSearchHit(
            analysis=analysis,
            rank=float(rank),
            headline=_headline(analysis.original_text, headline, words),
        )
        for _, (analysis, rank, _matched, headline) in tagged[:limit]
    ]
    next_cursor = None
    if len(tagged) > limit:
        phase, (last, rank, _, _) = tagged[limit - 1]
        next_cursor = encode_cursor(Cursor(phase, float(rank), last.created_at, last.id))
    return SearchPage(hits, next_cursor=next_cursor, windowed=windowed, estimated_total=total)


def _params(text_: str, limit: int, user_id: int | None, meter_id: int | None) -> dict[str, Any]:
    return {
        "q": text_,
        "limit": limit + 1,
        "opts": HEADLINE_OPTIONS,
        "user_id": user_id,
        "meter_id": meter_id,
    }


def _after(params: dict[str, Any], cursor: Cursor) -> None:
    params.update(rank=cursor.rank, created_at=cursor.created_at, id=cursor.id)


# -- the two searches ---------------------------------------------------------------------


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
    check_limit(limit)
    cursor = decode_cursor(after)
    filters = sql_.filters(user_id, meter_id)
    params = _params(text_, limit, user_id, meter_id)
    words = text_.split()
    by_time = user_id is not None or (
        meter_id is not None and _has_index(db.connection(), METER_INDEX)
    )
    scope = sql_.filters(user_id, None) if user_id is not None else filters if by_time else ""
    with _bounded(db, (sql_.estimate(sql_.TSQ, filters, scope), params)) as (conn, found):
        assert found is not None
        estimate, rows = found
        # A quoted phrase is estimated like its words anywhere in the verse: the walk would
        # find its matches far more slowly than the estimate promises.
        expected = estimate // PHRASE_OVERESTIMATE if '"' in text_ else estimate
        common = windowed_is_cheaper(expected, rows, by_time=by_time)
        if cursor is not None:
            common = cursor.phase == 1  # a page continues the way its first page was made
            if cursor.phase == 4:
                params.update(dist=cursor.rank, created_at=cursor.created_at, id=cursor.id)
            else:
                _after(params, cursor)
        if not common and (cursor is None or cursor.phase == 4) and has_rum_index(conn):
            sql = sql_.rum(filters_=filters, cursor=cursor is not None)
            part = _run(db, sql, params, 4)
            page = _page([part], limit=limit, words=words, windowed=False, total=estimate)
            return _with_ranks(page)
        scan = (sql_.NEWEST_IN_SCOPE if by_time else sql_.NEWEST) if common else sql_.ALL
        window = RANK_WINDOW if common else COMMON_MATCHES
        params["window"] = window + 1
        sql = sql_.ranked(sql_.TSQ, scan=scan, filters_=filters, cursor=cursor is not None)
        part = _run(db, sql, params, 1 if common else 2)
        windowed = part.matched > window
        total = estimate if windowed else part.matched
        return _page([part], limit=limit, words=words, windowed=windowed, total=total)


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
    check_limit(limit)
    cursor = decode_cursor(after)
    filters = sql_.filters(user_id, meter_id)
    like = "%" + text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    params = _params(text_, limit, user_id, meter_id) | {"like": like}
    phase = 1 if cursor is None else cursor.phase
    parts: list[_Rows] = []
    windowed = False
    scope = 0
    by_time = user_id is not None or (
        meter_id is not None and _has_index(db.connection(), METER_INDEX)
    )
    phrase = dict(params)
    if phase == 1 and cursor is not None:
        _after(phrase, cursor)
    walked = sql_.filters(user_id, None) if user_id is not None else filters
    ask = (sql_.estimate(sql_.PHRASE, filters, walked), phrase) if phase == 1 else None
    with _bounded(db, ask) as (_conn, found):
        if found is not None:
            estimate, scope = found
            walk = phrase_walk_is_cheaper(estimate, scope, limit=limit, by_time=by_time)
            sql = sql_.phrase(
                walk=walk, by_time=by_time, filters_=filters, cursor=cursor is not None
            )
            parts.append(_run(db, sql, phrase, 1))
        for step, match in ((2, sql_.SUBSTRING), (3, sql_.CLOSE)):
            if phase > step or sum(len(p.rows) for p in parts) > limit:
                continue
            newest = step == 3 and bool(filters)
            bound = FRAGMENT_FILTERED_ROWS if newest else FRAGMENT_CANDIDATES
            trigram = params | {"window": bound}
            resume = cursor is not None and cursor.phase == step
            if resume:
                _after(trigram, cursor)  # type: ignore[arg-type]
            sql = sql_.trigram(match, filters_=filters, cursor=resume, newest=newest)
            part = _run(db, sql, trigram, step)
            parts.append(part)
            windowed = windowed or (scope > bound if newest else part.matched >= bound)
        total = sum(p.matched if p.phase > 1 else len(p.rows) for p in parts)
        return _page(parts, limit=limit, words=text_.split(), windowed=windowed, total=total)
