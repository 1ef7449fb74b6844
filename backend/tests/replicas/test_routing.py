"""Reads go to the replica, writes to the primary; without replicas nothing changes."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.config import Settings
from app.db.database import Database
from app.db.read_your_writes import commit_token, format_lsn, parse_lsn
from app.db.replicas import SERVED_BY
from tests.replicas.conftest import Topology, Wired

IN_RECOVERY = text("SELECT pg_is_in_recovery()")


def test_read_sessions_read_from_the_replica(wired: Wired) -> None:
    with wired.db.read_session() as session:
        assert session.execute(IN_RECOVERY).scalar_one() is True
        assert session.info[SERVED_BY] == "app-replica-0"
    # ReadSessionLocal is this sessionmaker: it routes the same way.
    with wired.db.read_sessionmaker() as session:
        assert session.execute(IN_RECOVERY).scalar_one() is True


def test_read_session_dependency_reads_from_the_replica(wired: Wired) -> None:
    gen = wired.db.read_session_dependency()
    session = next(gen)
    assert session.execute(IN_RECOVERY).scalar_one() is True
    gen.close()
    assert wired.db.router is not None
    assert wired.db.router.replicas[0].engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_one_read_session_keeps_one_server_across_its_transactions(wired: Wired) -> None:
    with wired.db.read_session() as session:
        first = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        session.commit()
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() == first


def test_writes_go_to_the_primary(wired: Wired) -> None:
    with wired.db.transaction() as session:
        assert session.execute(IN_RECOVERY).scalar_one() is False
    with wired.db.session() as session:
        assert session.execute(IN_RECOVERY).scalar_one() is False


def test_without_replicas_reads_stay_on_the_primary_and_commits_make_no_token(
    topology: Topology,
) -> None:
    db = Database.from_settings(topology.settings(read_database_url=None))
    try:
        assert db.router is None
        with db.read_session() as session:
            assert session.execute(IN_RECOVERY).scalar_one() is False
            assert SERVED_BY not in session.info
            assert session.get_bind() is db.read_engines[0]
        with db.transaction() as session:
            session.execute(text("SELECT 1"))
        assert commit_token(session) is None
    finally:
        db.dispose()


def test_replica_engines_are_instrumented_by_name(topology: Topology) -> None:
    from app.metrics.database_metrics import default_metrics, is_instrumented

    db = Database.from_settings(topology.settings(metrics_enabled=True), name="replica-names")
    try:
        assert db.router is not None
        (replica,) = db.router.replicas
        assert replica.name == "replica-names-replica-0"
        assert is_instrumented(replica.engine)
        assert db.router.metrics is default_metrics()
        # A short libpq connect timeout, so a replica that does not answer is given up fast.
        assert replica.engine.url.query["connect_timeout"] == "2"
    finally:
        db.dispose()
    assert not is_instrumented(replica.engine)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgresql://a/x", ["a"]),
        ("postgresql://a/x, postgres://b/y", ["a", "b"]),
        ('["postgresql://a/x", "postgresql://b/y"]', ["a", "b"]),
        # A libpq multi-host URL is one replica, not two.
        ("postgresql://u@h1,h2/x", ["h1,h2"]),
        ("  ", []),
    ],
)
def test_read_database_url_takes_one_or_more_urls(value: str, expected: list[str]) -> None:
    urls = Settings(_env_file=None, read_database_url=value).read_urls()
    assert [u.host for u in urls] == expected
    assert all(u.drivername == "postgresql+psycopg" for u in urls)


@pytest.mark.parametrize("lsn", ["0/0", "0/3000148", "16/B374D848", "FFFFFFFF/FFFFFFFF"])
def test_lsn_tokens_round_trip_and_order(lsn: str) -> None:
    assert format_lsn(parse_lsn(lsn)) == lsn
    assert parse_lsn("1/0") > parse_lsn("0/FFFFFFFF")


@pytest.mark.parametrize("bad", ["", "0", "0/", "/1", "0x1/2", "1/2/3", "+1/2", "1/ 2", "G/1"])
def test_a_token_that_is_not_an_lsn_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="LSN"):
        parse_lsn(bad)


def test_replicas_behind_a_transaction_pooler_setting_read_and_record_tokens(
    topology: Topology,
) -> None:
    # DATABASE_POOLER=transaction applies to the replica URLs too: read connections are then
    # not in autocommit (BEGIN READ ONLY ... ROLLBACK), and a read session joins the
    # transaction the router's lag check began.
    db = Database.from_settings(topology.settings(database_pooler="transaction"))
    try:
        with db.read_session() as session:
            assert session.execute(IN_RECOVERY).scalar_one() is True
            assert session.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
            session.commit()
            assert session.execute(IN_RECOVERY).scalar_one() is True
        with db.transaction() as session:
            session.execute(text("SELECT 1"))
        token = commit_token(session)
        assert token is not None
        topology.standby.wait_for_replay(token)
        with db.read_session(token=token) as session:
            assert session.execute(IN_RECOVERY).scalar_one() is True
    finally:
        db.dispose()


def test_an_invalidated_read_session_takes_a_new_connection(wired: Wired) -> None:
    with wired.db.read_session() as session:
        first = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        session.invalidate()
        second = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert second != first
        assert session.execute(IN_RECOVERY).scalar_one() is True


def test_close_connections_closes_the_replicas_pools_too_and_keeps_the_database_usable(
    wired: Wired,
) -> None:
    assert wired.db.router is not None
    replica_pool = wired.db.router.replicas[0].engine.pool
    with wired.db.read_session() as session:
        session.execute(IN_RECOVERY)
    with wired.db.transaction() as session:
        session.execute(text("SELECT 1"))
    assert replica_pool.checkedin() == 1  # type: ignore[attr-defined]
    wired.db.close_connections()
    assert replica_pool.checkedin() == 0  # type: ignore[attr-defined]
    assert wired.db.write_engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    with wired.db.read_session() as session:  # routed again, metrics still attached
        assert session.execute(IN_RECOVERY).scalar_one() is True
