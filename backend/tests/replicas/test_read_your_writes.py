"""Read-your-writes: a commit's token makes a read see the commit, from a replica that has
replayed it or else from the primary. The replica is held behind by pausing its replay, so
nothing here depends on how fast it would have caught up."""

from __future__ import annotations

import threading
import time
import uuid

from sqlalchemy import text

from app.db.database import Database
from app.db.read_your_writes import carry, commit_token, current_read_token, parse_lsn
from app.db.replicas import SERVED_BY
from app.repositories.user_repository import UserRepository
from tests.factories import user_create
from tests.replicas.conftest import Topology, Wired, wired_database

REPLICA = "app-replica-0"


def _register(db: Database) -> tuple[int, str]:
    """A committed new user (one unit of work): its id and the commit's token."""
    name = f"ryw_{uuid.uuid4().hex[:12]}"
    with db.transaction() as session:
        user = UserRepository(session).register(user_create(username=name, email=f"{name}@x.org"))
    token = commit_token(session)
    assert token is not None
    return user.id, token


def _sees(db: Database, user_id: int, token: str | None = None) -> tuple[bool, str | None]:
    """Whether a read session (with ``token``) sees the user, and which server it read."""
    with db.read_session(token=token) as session:
        found = UserRepository(session).get(user_id) is not None
        return found, session.info[SERVED_BY]


def test_a_token_sees_the_commit_the_replica_has_not_replayed(
    standby_running: Topology, wired: Wired
) -> None:
    with standby_running.replay_paused():
        user_id, token = _register(wired.db)
        # Without the token the replica answers, from before the commit.
        assert _sees(wired.db, user_id) == (False, REPLICA)
        # With it, the replica cannot serve the read; the primary does.
        assert _sees(wired.db, user_id, token) == (True, None)
        assert wired.fallbacks("token_not_replayed") == 1
    standby_running.standby.wait_for_replay(token)
    assert _sees(wired.db, user_id, token) == (True, REPLICA)
    assert wired.fallbacks("token_not_replayed") == 1


def test_a_token_the_replica_has_replayed_reads_from_the_replica(
    topology: Topology, wired: Wired
) -> None:
    user_id, token = _register(wired.db)
    topology.standby.wait_for_replay(token)
    assert _sees(wired.db, user_id, token) == (True, REPLICA)


def test_a_token_read_waits_for_a_replica_that_catches_up_within_the_wait(
    standby_running: Topology,
) -> None:
    db = Database.from_settings(standby_running.settings(read_your_writes_wait_ms=30_000))
    assert db.router is not None
    replica = db.router.replicas[0]
    result: list[tuple[bool, str | None]] = []
    try:
        with standby_running.replay_paused():
            user_id, token = _register(db)
            measured_before = replica.checked_at
            reader = threading.Thread(target=lambda: result.append(_sees(db, user_id, token)))
            reader.start()
            # Resume only once the read has measured the replica: it is then waiting.
            deadline = time.monotonic() + 30
            while replica.checked_at == measured_before and time.monotonic() < deadline:
                time.sleep(0.001)
            assert replica.replay_lsn < parse_lsn(token)
        reader.join(30)
        assert result == [(True, REPLICA)]
    finally:
        db.dispose()


def test_with_no_wait_a_token_read_goes_to_the_primary_at_once(
    standby_running: Topology,
) -> None:
    db = Database.from_settings(standby_running.settings(read_your_writes_wait_ms=0))
    try:
        with standby_running.replay_paused():
            user_id, token = _register(db)
            assert _sees(db, user_id, token) == (True, None)
    finally:
        db.dispose()


def test_every_commit_of_a_session_moves_its_token_forward(wired: Wired) -> None:
    with wired.db.session() as session:
        repo = UserRepository(session)
        name = f"ryw_{uuid.uuid4().hex[:12]}"
        user = repo.register(user_create(username=name, email=f"{name}@x.org"))
        first = commit_token(session)
        repo.update_user(user.id, {"full_name": "بعد"})
        second = commit_token(session)
    assert first is not None
    assert second is not None
    assert parse_lsn(second) > parse_lsn(first)


def test_a_rolled_back_unit_of_work_makes_no_token(wired: Wired) -> None:
    try:
        with wired.db.transaction() as session:
            session.execute(text("SELECT 1"))
            raise RuntimeError("undo")
    except RuntimeError:
        pass
    assert commit_token(session) is None


def test_a_request_scope_carries_the_token_to_reads_without_one(
    standby_running: Topology, wired: Wired
) -> None:
    # What the API middleware does: the scope collects the commit's token, and a read
    # session given none reads after it.
    with standby_running.replay_paused(), carry() as tokens:
        user_id, token = _register(wired.db)
        assert tokens.committed == parse_lsn(token)
        assert current_read_token() == parse_lsn(token)
        assert _sees(wired.db, user_id) == (True, None)
    assert current_read_token() is None


def test_a_token_from_a_client_that_is_not_an_lsn_is_ignored() -> None:
    with carry("not-an-lsn") as tokens:
        assert tokens.read_after is None
        assert current_read_token() is None


def test_a_token_past_the_primarys_wal_reads_from_the_primary_without_waiting(
    standby_running: Topology,
) -> None:
    """A client can set the token itself (cookie, header): one no server can ever reach
    must not hold a replica connection for the whole wait."""
    with wired_database(standby_running.settings(read_your_writes_wait_ms=30_000)) as wired:
        user_id, token = _register(wired.db)
        forged = "FFFFFFFF/0"
        assert _sees(wired.db, user_id, forged) == (True, None)
        assert wired.fallbacks("token_ahead_of_primary") == 1
        assert wired.fallbacks("token_not_replayed") == 0
        # A real token, newer than any position seen before, still reads from the replica.
        standby_running.standby.wait_for_replay(token)
        assert _sees(wired.db, user_id, token) == (True, REPLICA)
