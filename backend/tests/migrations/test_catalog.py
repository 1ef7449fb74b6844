"""What ``alembic check`` does not compare: CHECK constraints, triggers, functions, index
definitions and server defaults. The migrated database and ``Base.metadata.create_all`` must
build exactly the same catalog, and ``drop_all`` must leave nothing of ours behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from app.db.base import Base
from tests.conftest import ADMIN_URL, fresh_database, migrated_database

CATALOG = {
    "checks": "SELECT conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid) "
    "FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "triggers": "SELECT tgrelid::regclass::text || '.' || tgname, pg_get_triggerdef(oid) "
    "FROM pg_trigger WHERE NOT tgisinternal",
    "functions": "SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid) FROM pg_proc p "
    "WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'bahr\\_%'",
    "defaults": "SELECT table_name || '.' || column_name, coalesce(column_default, '') || "
    "coalesce(generation_expression, '') FROM information_schema.columns "
    "WHERE table_schema = 'public' AND table_name <> 'alembic_version'",
    "types": "SELECT t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) "
    "FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname",
    "collations": "SELECT table_name || '.' || column_name, collation_name "
    "FROM information_schema.columns WHERE table_schema = 'public' AND collation_name IS "
    "NOT NULL",
}


def catalog(conn: Connection) -> dict[str, dict[str, str]]:
    return {name: dict(conn.execute(text(sql)).all()) for name, sql in CATALOG.items()}


@pytest.fixture(scope="module")
def two_databases() -> Iterator[tuple[Engine, Engine]]:
    migrated_url, _ = migrated_database("catalog_migrated")
    created_url, _ = fresh_database(f"{ADMIN_URL.database}_catalog_created")
    migrated, created = create_engine(migrated_url), create_engine(created_url)
    with created.begin() as conn:
        Base.metadata.create_all(conn)
    yield migrated, created
    migrated.dispose()
    created.dispose()


@pytest.mark.parametrize("part", sorted(CATALOG))
def test_migrations_and_create_all_build_the_same_catalog(
    two_databases: tuple[Engine, Engine], part: str
) -> None:
    migrated, created = two_databases
    with migrated.connect() as a, created.connect() as b:
        from_migrations = catalog(a)[part]
        from_models = catalog(b)[part]
    from_migrations.pop("alembic_version.alembic_version_pkc", None)
    from_migrations.pop("alembic_version_pkc", None)
    assert from_migrations == from_models
    assert from_models, f"no {part} found at all"


def test_drop_all_removes_our_functions_too(two_databases: tuple[Engine, Engine]) -> None:
    _, created = two_databases
    with created.begin() as conn:
        Base.metadata.drop_all(conn)
        left = catalog(conn)
    assert left["functions"] == {}
    assert left["triggers"] == {}
    assert left["types"] == {}
    with created.begin() as conn:
        Base.metadata.create_all(conn)  # and it builds again on top
