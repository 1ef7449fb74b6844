"""Read-your-writes tokens: where a commit ended in the WAL, carried to the next read.

A token is a PostgreSQL LSN in its text form (``"0/3000148"``). After a session of a
:class:`~app.db.database.Database` with replicas commits, :func:`commit_token` gives the
primary's WAL write position right after that commit; a read session handed it
(``db.read_session(token=...)``) reads from a replica that has replayed at least that far,
or from the primary (:mod:`app.db.replicas`).

**Cost.** One round trip per commit, and only when replicas are configured: right after
``COMMIT``, on the same connection, before it goes back to the pool, ``SELECT
pg_current_wal_lsn()`` is sent in autocommit (switching psycopg's ``autocommit`` is
client-side, so there is no ``BEGIN``/``ROLLBACK`` around it). PostgreSQL's ``COMMIT`` does
not report its LSN, so there is no cheaper exact way.

**Why the write position.** With ``synchronous_commit`` on (the default, never changed by
this project) ``COMMIT`` returns once its record is flushed, so the WAL write position is at
or past the commit's end. It is also counted the way ``pg_last_wal_replay_lsn()`` is (the end
of a record), whereas ``pg_current_wal_insert_lsn()`` jumps past the next page header when a
record ends on a page boundary, a position no replica reports until more WAL arrives. A
transaction committed with ``synchronous_commit = off`` may end after the token.

**Across requests.** :func:`carry` holds the request's incoming token (a cookie or a header,
:mod:`app.api.read_your_writes`) in a context variable, which a read session uses when it
is given none, and collects the tokens of the request's commits for the response.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

#: ``session.info`` key: the LSN (an ``int``) of the session's latest commit.
COMMIT_LSN = "bahr.commit_lsn"
_CONNECTION = "bahr.commit_connection"
_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")
_log = logging.getLogger(__name__)


def parse_lsn(token: str) -> int:
    """``"16/B374D848"`` -> an integer that orders as the WAL does; ValueError otherwise."""
    match = _LSN.match(token.strip())
    if match is None:
        raise ValueError(f"not a PostgreSQL LSN: {token[:40]!r}")
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_lsn(lsn: int) -> str:
    """The text form of an LSN, as PostgreSQL prints it."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def as_lsn(token: str | int | None) -> int | None:
    """A token as an LSN (``None`` stays ``None``); ValueError when it is not one."""
    if token is None or isinstance(token, int):
        return token
    return parse_lsn(token)


def commit_token(session: Session) -> str | None:
    """The read-your-writes token of ``session``'s latest commit, or None (no commit yet, or
    no replicas configured, so no token is needed)::

        with db.transaction() as session:
            ...
        token = commit_token(session)        # e.g. "0/3000148"
        with db.read_session(token=token) as reader:
            ...                              # sees what the transaction wrote
    """
    lsn = session.info.get(COMMIT_LSN)
    return format_lsn(lsn) if isinstance(lsn, int) else None


# -- recording the commit LSN ------------------------------------------------------------------
def track_commits(factory: sessionmaker[Any]) -> None:
    """Record :data:`COMMIT_LSN` after every commit of the sessions ``factory`` makes."""
    event.listen(factory, "after_begin", _remember_connection)
    event.listen(factory, "after_commit", _record_commit_lsn)
    event.listen(factory, "after_transaction_end", _forget_connection)


def _remember_connection(session: Session, _trans: SessionTransaction, conn: Connection) -> None:
    session.info[_CONNECTION] = conn


def _forget_connection(session: Session, trans: SessionTransaction) -> None:
    if trans.parent is None:
        session.info.pop(_CONNECTION, None)


def _record_commit_lsn(session: Session) -> None:
    # after_commit runs after COMMIT and before the session releases its connection, so the
    # statement below runs on the committing connection, which nobody else can have yet.
    conn = session.info.pop(_CONNECTION, None)
    if not isinstance(conn, Connection) or conn.closed:
        return
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:
        return
    try:
        dbapi.autocommit = True
        try:
            row = dbapi.cursor().execute("SELECT pg_current_wal_lsn()::text").fetchone()
        finally:
            dbapi.autocommit = False
    except Exception:  # the commit itself succeeded: never turn it into an error
        _log.warning("read-your-writes: no LSN after a commit", exc_info=True)
        return
    if row is None:
        return
    lsn = parse_lsn(str(row[0]))
    session.info[COMMIT_LSN] = max(lsn, session.info.get(COMMIT_LSN, 0))
    tokens = _request.get()
    if tokens is not None:
        tokens.committed = max(lsn, tokens.committed or 0)


# -- tokens of one request ---------------------------------------------------------------------
@dataclass
class RequestTokens:
    """What one request (or any scope under :func:`carry`) reads after and has committed."""

    read_after: int | None = None
    committed: int | None = None


_request: contextvars.ContextVar[RequestTokens | None] = contextvars.ContextVar(
    "bahr_read_your_writes", default=None
)


@contextlib.contextmanager
def carry(read_after: str | None = None) -> Iterator[RequestTokens]:
    """Within this scope, read sessions given no token read after ``read_after`` (a token
    that is not an LSN is ignored: it came from a client), and every commit's LSN is
    collected in the yielded :class:`RequestTokens` (``committed``: the latest)."""
    try:
        start = as_lsn(read_after)
    except ValueError:
        start = None
    tokens = RequestTokens(read_after=start)
    reset = _request.set(tokens)
    try:
        yield tokens
    finally:
        _request.reset(reset)


def current_read_token() -> int | None:
    """The LSN reads in this context should see: the latest of the incoming token and
    what this context committed itself; None outside :func:`carry`."""
    tokens = _request.get()
    if tokens is None:
        return None
    known = [lsn for lsn in (tokens.read_after, tokens.committed) if lsn is not None]
    return max(known) if known else None


__all__ = [
    "COMMIT_LSN",
    "RequestTokens",
    "as_lsn",
    "carry",
    "commit_token",
    "current_read_token",
    "format_lsn",
    "parse_lsn",
    "track_commits",
]
