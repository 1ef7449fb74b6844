"""Checks on connect: is this PostgreSQL able to run Bahr's data layer?

Each check returns what it found and, when it fails, what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

MIN_SERVER_VERSION = 150000


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    found: str
    fix: str = ""
    #: A warning does not make the database unusable (e.g. connecting as a superuser).
    warning: bool = False


def _server_version(conn: Connection) -> Check:
    num = int(conn.execute(text("SHOW server_version_num")).scalar_one())
    shown = str(conn.execute(text("SHOW server_version")).scalar_one())
    return Check(
        "server version ≥ 15",
        num >= MIN_SERVER_VERSION,
        shown,
        "Upgrade to PostgreSQL 15 or later (or run `docker compose up -d` for the repo's).",
    )


def _encoding(conn: Connection) -> Check:
    enc = str(
        conn.execute(
            text(
                "SELECT pg_encoding_to_char(encoding) FROM pg_database "
                "WHERE datname = current_database()"
            )
        ).scalar_one()
    )
    return Check(
        "database encoding UTF8",
        enc == "UTF8",
        enc,
        "Recreate the database with: CREATE DATABASE … TEMPLATE template0 ENCODING 'UTF8'.",
    )


def _icu(conn: Connection) -> Check:
    found = conn.execute(
        text("SELECT collname FROM pg_collation WHERE collname = 'ar-x-icu' AND collprovider = 'i'")
    ).scalar_one_or_none()
    return Check(
        "ICU Arabic collation (ar-x-icu)",
        found is not None,
        "available" if found else "missing",
        "Use a PostgreSQL build with ICU support (the Debian, Homebrew and Docker builds have it).",
    )


def _trgm(conn: Connection) -> Check:
    """pg_trgm is required; rum is optional (search is correct without it, slower)."""
    row = conn.execute(
        text(
            "SELECT installed_version, default_version FROM pg_available_extensions "
            "WHERE name = 'pg_trgm'"
        )
    ).one_or_none()
    found = "missing" if row is None else f"installed {row[0]}" if row[0] else "available"
    return Check(
        "search extensions (pg_trgm; rum optional)",
        row is not None,
        f"pg_trgm {found}; rum {_rum(conn)}",
        "Install PostgreSQL's contrib modules (Debian: apt-get install postgresql-contrib). "
        "For the RUM index: apt-get install postgresql-15-rum, `CREATE EXTENSION rum;` in this "
        "database as a superuser, then as the owner `CREATE INDEX ix_analyses_search_rum ON "
        "analyses USING rum (search_vector rum_tsvector_ops);` (migration 0007 builds it "
        "when rum is installed before migrating).",
    )


def _rum(conn: Connection) -> str:
    """Whether word search has its RUM index, in words."""
    installed, available, indexed = conn.execute(
        text(
            "SELECT (SELECT installed_version FROM pg_available_extensions WHERE name = 'rum'), "
            "       EXISTS (SELECT FROM pg_available_extensions WHERE name = 'rum'), "
            "       to_regclass('public.ix_analyses_search_rum') IS NOT NULL"
        )
    ).one()
    if indexed:
        return f"{installed}, search index in use"
    slower = "word search ranks through GIN (same results, slower for mid-frequency words)"
    if installed:
        return f"{installed} but no search index (migrated before it was installed): {slower}"
    if available:
        return f"available, not installed in this database: {slower}"
    return f"missing: {slower}"


def _least_privilege(conn: Connection) -> Check:
    row = conn.execute(
        text(
            "SELECT current_user, r.rolsuper, "
            "       pg_has_role(current_user, d.datdba, 'MEMBER') AS owns_database, "
            "       coalesce(pg_has_role(current_user, c.relowner, 'MEMBER'), false) "
            "         AS owns_schema "
            "  FROM pg_roles r, pg_database d "
            "  LEFT JOIN pg_class c ON c.oid = to_regclass('public.users') "
            " WHERE r.rolname = current_user AND d.datname = current_database()"
        )
    ).one()
    user, superuser, owns_db, owns_schema = row
    problem = "a superuser" if superuser else "the owner" if owns_db or owns_schema else None
    return Check(
        "application role is least-privileged",
        problem is None,
        f"{user}" + (f" is {problem}" if problem else ""),
        "Connect the application as bahr_app (`bahr-db roles setup`); keep the owner for "
        "MIGRATION_DATABASE_URL.",
        warning=True,
    )


CHECKS = (_server_version, _encoding, _icu, _trgm, _least_privilege)


def run_checks(conn: Connection) -> list[Check]:
    """Run every check on ``conn``; none of them writes anything."""
    return [check(conn) for check in CHECKS]
