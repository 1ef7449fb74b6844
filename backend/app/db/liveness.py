"""A liveness check for pooled connections that costs no round trip.

SQLAlchemy's ``pool_pre_ping`` sends a statement to the server on every checkout: one
extra round trip per request, which the benchmark suite measured as the largest single
cost of a one-query request after the query itself (docs/benchmarks.md, section 1).

This check gives the same guarantee for the failures pre-ping catches in practice. An
idle pooled connection has nothing to read. When the server restarts, or its backend is
terminated (``pg_terminate_backend``, ``idle_session_timeout``, a crash), the server sends
an error and closes the socket, so the socket becomes readable. On checkout we ask the
kernel, without blocking and without a round trip, whether the socket is readable:

* not readable: the connection is handed out as it is;
* readable: something arrived while it was idle, so we fall back to a real ping (the
  dialect's own); if that fails, ``DisconnectionError`` makes the pool discard the
  connection and check out a fresh one, exactly as pre-ping does. A harmless message
  (a ``ParameterStatus`` after a configuration reload) costs only that one ping.

Neither this nor pre-ping detects a peer that vanished without closing the connection (a
silent network drop): both would wait on TCP. ``pool_ping = "roundtrip"`` restores
SQLAlchemy's own pre-ping for those who want it anyway.
"""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine


def socket_readable(dbapi_connection: Any) -> bool:
    """True when the server sent something, or closed the socket, while we were idle."""
    try:
        fd = dbapi_connection.pgconn.socket
    except Exception:  # psycopg raises when there is no socket any more
        return True
    if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fd], [], [], 0)  # pragma: no cover - Windows
    return bool(readable)


def install_socket_check(engine: Engine) -> None:
    """Check each connection's socket on checkout; ping only when it is readable."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.closed or dbapi_connection.broken:
            raise exc.DisconnectionError("the pooled connection is closed")
        if not socket_readable(dbapi_connection):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(
                "the server closed the pooled connection while it was idle"
            ) from error
