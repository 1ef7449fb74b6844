"""Sending reads to streaming replicas (hot standbys), and away from them when they fail.

A :class:`ReplicaRouter` picks the connection of each read session (:class:`ReadSession`,
the class of ``ReadSessionLocal``): once, when the session first needs one, and the session
keeps it until it is closed, so one session reads from one server.

* **No token:** the replicas in turn (round robin), skipping any that is down or lags.
* **A read-your-writes token** (:mod:`app.db.read_your_writes`): the replica that has
  replayed furthest; if it has not replayed up to the token, it is asked again
  (``pg_last_wal_replay_lsn()``, a few milliseconds apart) until ``wait_s`` has passed in
  all, then the next replica, then the primary.
* **Down:** a replica that refuses a connection, or drops one (a disconnect seen by its
  engine), is not tried again for ``down_backoff_s``: the next reads do not wait for it.
* **Lagging:** a replica's lag is measured at most once every ``check_interval_s``, on the
  connection a read just took from its pool (one round trip), by at most one thread at a
  time; a replica more than ``max_lag_s`` behind is skipped until a later measure says
  otherwise.
* **Writes** never come here: they always go to the primary.

Whenever a read passes over a replica, ``bahr_database_read_fallbacks_total{reason}`` counts
it (``replica_down``, ``replica_lagging``, ``token_not_replayed``; a read that passes over two
replicas counts twice), and ``token_ahead_of_primary`` counts reads whose token was past the
primary's own WAL position (crafted, or from another cluster): those read from the primary at
once instead of waiting for a replica that can never reach it.
``bahr_database_replica_lag_seconds{replica}`` is the last measure.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.orm import Session

from app.db.read_your_writes import as_lsn, current_read_token, parse_lsn

if TYPE_CHECKING:
    from app.metrics.collectors import DatabaseMetrics

#: ``session.info`` key: the name of the replica the read session reads from (None: the
#: primary). Set when the session takes its connection.
SERVED_BY = "bahr.served_by"

#: One round trip: how far the server has replayed, and how far behind that is in seconds:
#: 0 when it has replayed all it received, else the age of the last commit it replayed (of
#: its start, when it has replayed none since). A server that is not in recovery (a primary
#: named as a replica, or a promoted one) reports its WAL write position and no lag.
_MEASURE = """\
SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
            ELSE pg_current_wal_lsn() END::text,
       CASE WHEN pg_is_in_recovery()
                 AND pg_last_wal_receive_lsn() IS DISTINCT FROM pg_last_wal_replay_lsn()
            THEN extract(epoch FROM clock_timestamp()
                         - coalesce(pg_last_xact_replay_timestamp(), pg_postmaster_start_time()))
            ELSE 0 END::float8"""
_REPLAYED = "SELECT pg_last_wal_replay_lsn()::text"
#: The primary's WAL write position (its replay position, should it be in recovery).
_PRIMARY_POSITION = (
    "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_lsn() END::text"
)
_FIRST_POLL_S = 0.001
_MAX_POLL_S = 0.01


@dataclass(eq=False)
class Replica:
    """One replica: its engine and what the router last learnt about it."""

    name: str
    engine: Engine
    #: ``time.monotonic()`` before which the replica is not tried (it was found down).
    down_until: float = 0.0
    #: When its lag was last measured (``time.monotonic()``).
    checked_at: float = -math.inf
    #: The furthest replay position seen, as an integer LSN.
    replay_lsn: int = 0
    #: The last measured lag, in seconds.
    lag_s: float = 0.0
    measuring: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def is_down(self, now: float) -> bool:
        return now < self.down_until


class ReplicaRouter:
    """Chooses the server of each read: a healthy replica that is far enough, else the
    primary (``primary``: the primary's read engine)."""

    def __init__(
        self,
        primary: Engine,
        replicas: Sequence[tuple[str, Engine]],
        *,
        max_lag_s: float = 5.0,
        wait_s: float = 0.1,
        check_interval_s: float = 1.0,
        down_backoff_s: float = 5.0,
        metrics: DatabaseMetrics | None = None,
    ) -> None:
        self.primary = primary
        self.replicas = [Replica(name, engine) for name, engine in replicas]
        self.max_lag_s = max_lag_s
        self.wait_s = wait_s
        self.check_interval_s = check_interval_s
        self.down_backoff_s = down_backoff_s
        self.metrics = metrics
        #: The furthest WAL position seen on the primary, as an integer LSN.
        self.primary_lsn = 0
        self._turn = itertools.count()
        self._listeners = [(r.engine, self._disconnect_listener(r)) for r in self.replicas]
        for engine, listener in self._listeners:
            event.listen(engine, "handle_error", listener)

    def close(self) -> None:
        """Detach the listeners and drop the replicas' lag gauges (the engines are the
        caller's to dispose)."""
        for engine, listener in self._listeners:
            if event.contains(engine, "handle_error", listener):
                event.remove(engine, "handle_error", listener)
        if self.metrics is not None:
            for replica in self.replicas:
                with contextlib.suppress(KeyError):
                    self.metrics.replica_lag_seconds.remove(replica.name)

    # -- choosing ----------------------------------------------------------------------------
    def connect(self, token: int | None = None) -> tuple[Connection, Replica | None]:
        """A connection for one read session, and the replica it is on (None: the primary).

        ``token``: an LSN the read must see (read-your-writes), or None.
        """
        if token is not None and token > self.primary_lsn:
            primary = self._ahead_of_primary(token)
            if primary is not None:
                self._passed_over("token_ahead_of_primary")
                return primary, None
        deadline = time.monotonic() + self.wait_s
        for replica in self._order(token):
            conn, reason = self._try(replica, token, deadline)
            if conn is not None:
                return conn, replica
            self._passed_over(reason)
        return self.primary.connect(), None

    def _ahead_of_primary(self, token: int) -> Connection | None:
        """A primary connection when ``token`` is past the primary's own WAL position: no
        replica can ever replay it, so waiting for one would only hold a connection. Such a
        token is crafted (a client sets the cookie or header itself) or from another
        cluster; the read goes to the primary at once. One round trip on the primary, only
        for a token newer than any position seen so far."""
        conn = self.primary.connect()
        try:
            position = conn.exec_driver_sql(_PRIMARY_POSITION).scalar()
        except BaseException:
            conn.close()
            raise
        if position is not None:
            self.primary_lsn = max(self.primary_lsn, parse_lsn(str(position)))
        if token > self.primary_lsn:
            return conn
        conn.close()
        return None

    def mark_down(self, replica: Replica) -> None:
        """Skip ``replica`` for ``down_backoff_s``; its lag is unknown until it is back (the
        gauge loses its value rather than show a stale one)."""
        replica.down_until = time.monotonic() + self.down_backoff_s
        replica.checked_at = -math.inf
        if self.metrics is not None:
            with contextlib.suppress(KeyError):
                self.metrics.replica_lag_seconds.remove(replica.name)

    def _order(self, token: int | None) -> list[Replica]:
        if not self.replicas:
            return []
        start = next(self._turn) % len(self.replicas)
        turn = self.replicas[start:] + self.replicas[:start]
        if token is None:
            return turn
        # The furthest first: the one most likely to need no waiting.
        return sorted(turn, key=lambda r: r.replay_lsn, reverse=True)

    def _try(
        self, replica: Replica, token: int | None, deadline: float
    ) -> tuple[Connection | None, str]:
        now = time.monotonic()
        if replica.is_down(now):
            return None, "replica_down"
        due = now - replica.checked_at >= self.check_interval_s
        if replica.lag_s > self.max_lag_s and not due:
            return None, "replica_lagging"
        try:
            conn = replica.engine.connect()
        except exc.DBAPIError:
            self.mark_down(replica)
            return None, "replica_down"
        try:
            reason = self._refusal(replica, conn, token, deadline, due=due)
        except exc.DBAPIError:
            conn.close()
            self.mark_down(replica)
            return None, "replica_down"
        if reason is None:
            return conn, ""
        conn.close()
        return None, reason

    def _refusal(
        self, replica: Replica, conn: Connection, token: int | None, deadline: float, *, due: bool
    ) -> str | None:
        """Why ``replica`` may not serve this read (None: it may)."""
        if due and replica.measuring.acquire(blocking=False):
            try:
                self._measure(replica, conn)
            finally:
                replica.measuring.release()
        if replica.lag_s > self.max_lag_s:
            return "replica_lagging"
        if token is None or replica.replay_lsn >= token:
            return None
        pause = _FIRST_POLL_S
        while True:
            replayed = conn.exec_driver_sql(_REPLAYED).scalar()
            if replayed is not None:
                replica.replay_lsn = max(replica.replay_lsn, parse_lsn(str(replayed)))
            if replica.replay_lsn >= token:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return "token_not_replayed"
            time.sleep(min(pause, left))
            pause = min(pause * 2, _MAX_POLL_S)

    def _measure(self, replica: Replica, conn: Connection) -> None:
        row = conn.exec_driver_sql(_MEASURE).one()
        if row[0] is not None:
            replica.replay_lsn = max(replica.replay_lsn, parse_lsn(str(row[0])))
        replica.lag_s = float(row[1])
        replica.checked_at = time.monotonic()
        if self.metrics is not None:
            self.metrics.replica_lag_seconds.labels(replica.name).set(replica.lag_s)

    def _passed_over(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.read_fallbacks_total.labels(reason).inc()

    def _disconnect_listener(self, replica: Replica) -> Any:
        def on_error(ctx: ExceptionContext) -> None:
            # A stale pooled connection found by the pre-ping is replaced transparently; a
            # connection lost under a statement means the server went away.
            if ctx.is_disconnect and not ctx.is_pre_ping:
                self.mark_down(replica)

        return on_error


class ReadSession(Session):
    """The read sessions' class: with a router, the session's connection comes from
    :meth:`ReplicaRouter.connect` (taken on first use, kept until :meth:`close`).

    ``token``: a read-your-writes token (an LSN, text or integer); without one, the
    context's (:func:`app.db.read_your_writes.current_read_token`) is used. Without a
    router, this is a plain session on its bind.
    """

    def __init__(
        self,
        bind: Any = None,
        *,
        router: ReplicaRouter | None = None,
        token: str | int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(bind, **kw)
        self.router = router
        self.token = as_lsn(token)
        self._routed: Connection | None = None

    def get_bind(
        self,
        mapper: Any = None,
        *,
        clause: Any = None,
        bind: Any = None,
        **kw: Any,
    ) -> Engine | Connection:
        if self.router is None or bind is not None:
            return super().get_bind(mapper, clause=clause, bind=bind, **kw)
        if self._routed is None or self._routed.closed or self._routed.invalidated:
            self._release()
            token = self.token if self.token is not None else current_read_token()
            self._routed, replica = self.router.connect(token)
            self.info[SERVED_BY] = replica.name if replica is not None else None
        return self._routed

    def close(self) -> None:
        super().close()
        self._release()

    def reset(self) -> None:
        super().reset()
        self._release()

    def _release(self) -> None:
        routed, self._routed = self._routed, None
        if routed is not None:
            routed.close()


__all__ = ["SERVED_BY", "ReadSession", "Replica", "ReplicaRouter"]
