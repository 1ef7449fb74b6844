"""Least privilege: the role that owns and migrates the schema, and the application's role.

* ``bahr_owner`` owns the database, its schema and every object in it, and runs migrations.
* ``bahr_app`` may SELECT / INSERT / UPDATE / DELETE the data tables, use their sequences and
  execute the functions its queries call. It owns nothing, has no DDL, no TRUNCATE and no
  TEMPORARY (so no temporary table can shadow a real one), and is not a member of
  ``bahr_owner`` (so ``SET ROLE bahr_owner`` is refused).
* ``analysis_history`` is append-only for the application: SELECT only. Its rows are written by
  a SECURITY DEFINER trigger function owned by ``bahr_owner``; a trigger refuses UPDATE, DELETE
  and TRUNCATE to everyone but the owner. ``meters`` is read-only for the application: the
  admin path is ``bahr-db seed`` / migrations, which run as the owner.
* Default privileges give tables and sequences that future migrations create the same grants.

The SQL is idempotent and can be printed for a DBA (``bahr-db roles setup --print``).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

OWNER = "bahr_owner"
APP = "bahr_app"

#: Tables the application reads and writes.
DATA_TABLES = ("users", "user_profiles", "analyses")
#: Tables the application may only read.
READ_ONLY_TABLES = ("meters", "analysis_history")
#: Functions the application's own statements call.
APP_FUNCTIONS = ("bahr_search_fold(text)", "bahr_level_for_xp(integer)", "bahr_uuid7()")


@dataclass(frozen=True)
class RolePasswords:
    owner: str | None = None
    app: str | None = None


def _role(name: str, password: str | None) -> sql.Composed:
    # Attributes are set at creation only: changing SUPERUSER/REPLICATION/BYPASSRLS on an
    # existing role needs a superuser, and a DBA with CREATEROLE must be able to run this.
    attrs = sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
    pw = sql.SQL(" PASSWORD {}").format(sql.Literal(password)) if password else sql.SQL("")
    return sql.SQL(
        "DO $$ BEGIN\n"
        "  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {lit}) THEN\n"
        "    CREATE ROLE {ident} {attrs};\n"
        "  END IF;\n"
        "END $$;\n"
        "ALTER ROLE {ident} LOGIN{pw};"
    ).format(lit=sql.Literal(name), ident=sql.Identifier(name), attrs=attrs, pw=pw)


_TAKE_OWNERSHIP = """
DO $$
DECLARE obj record;
BEGIN
  FOR obj IN SELECT format('ALTER TABLE %I.%I OWNER TO {owner}', n.nspname, c.relname) AS cmd
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
                AND c.relowner <> '{owner}'::regrole
  LOOP EXECUTE obj.cmd; END LOOP;
  FOR obj IN SELECT format('ALTER FUNCTION %s OWNER TO {owner}', p.oid::regprocedure) AS cmd
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'public' AND p.proname LIKE 'bahr\\_%'
                AND p.proowner <> '{owner}'::regrole
  LOOP EXECUTE obj.cmd; END LOOP;
  FOR obj IN SELECT format('ALTER TYPE %I.%I OWNER TO {owner}', n.nspname, t.typname) AS cmd
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
              WHERE n.nspname = 'public' AND t.typtype = 'e'
                AND t.typowner <> '{owner}'::regrole
  LOOP EXECUTE obj.cmd; END LOOP;
END $$;"""


def _if_table(table: str, statement: str) -> str:
    """Run ``statement`` only once the migrations have created ``table``."""
    body = statement.replace("'", "''")
    return (
        f"DO $$ BEGIN IF to_regclass('public.{table}') IS NOT NULL THEN "
        f"EXECUTE '{body}'; END IF; END $$;"
    )


_CREATE_RUM = """DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = 'rum')
       AND (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        CREATE EXTENSION IF NOT EXISTS rum;
    END IF;
END $$;"""


def setup_statements(database: str, passwords: RolePasswords | None = None) -> list[str]:
    """The SQL that creates both roles and applies every grant, in order; idempotent.

    Run it as a superuser (or a role with CREATEROLE that owns ``database``). It can run
    before the first migration and again after any: grants on tables that do not exist yet
    are skipped, and default privileges cover tables created later by ``bahr_owner``.
    """
    passwords = passwords or RolePasswords()
    db = sql.Identifier(database).as_string(None)
    owner, app = OWNER, APP
    statements = [
        # RUM is not a trusted extension: only a superuser can create it, and migration 0007
        # builds the RUM search index only where it exists. Skipped (search falls back to
        # GIN) when the package is not installed or a non-superuser DBA runs this.
        _CREATE_RUM,
        _role(owner, passwords.owner).as_string(None),
        _role(app, passwords.app).as_string(None),
        f"REVOKE {owner} FROM {app};",
        f"ALTER DATABASE {db} OWNER TO {owner};",
        # No TEMPORARY: the application never needs a temporary table, and one is how a
        # caller shadows a table. PUBLIC has it by default, so it is taken from PUBLIC too.
        f"REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC, {app};",
        f"GRANT CONNECT ON DATABASE {db} TO {app};",
        # In PostgreSQL 15 the public schema belongs to the database owner; make it explicit.
        f"ALTER SCHEMA public OWNER TO {owner};",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        f"GRANT USAGE ON SCHEMA public TO {app};",
        _TAKE_OWNERSHIP.format(owner=owner).strip(),
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {app};",
    ]
    return statements + object_grant_statements()


def object_grant_statements() -> list[str]:
    """Grants on the existing tables, sequences and functions; idempotent.

    Used by ``roles setup`` and by the migration that introduced the roles, so a database
    migrated before or after the roles were created ends up with the same grants. Does
    nothing when the application role does not exist (a deployment without split roles),
    and skips objects that the migrations have not created yet.
    """
    app = APP
    lines = [f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{app}') THEN RETURN; END IF;"]
    for table in DATA_TABLES:
        lines.append(
            f"IF to_regclass('public.{table}') IS NOT NULL THEN "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON public.{table} TO {app}; END IF;"
        )
    for table in READ_ONLY_TABLES:
        lines.append(
            f"IF to_regclass('public.{table}') IS NOT NULL THEN "
            f"REVOKE ALL ON public.{table} FROM {app}; "
            f"GRANT SELECT ON public.{table} TO {app}; END IF;"
        )
    # Migration state is the owner's alone (default privileges would have granted it).
    lines.append(
        f"IF to_regclass('public.alembic_version') IS NOT NULL THEN "
        f"REVOKE ALL ON public.alembic_version FROM {app}; END IF;"
    )
    lines.append(
        "FOR obj IN SELECT c.oid::regclass AS seq FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'S' LOOP "
        f"EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO {app}', obj.seq); END LOOP;"
    )
    for function in APP_FUNCTIONS:
        lines.append(
            f"IF to_regprocedure('public.{function}') IS NOT NULL THEN "
            f"REVOKE ALL ON FUNCTION public.{function} FROM PUBLIC; "
            f"GRANT EXECUTE ON FUNCTION public.{function} TO {app}; END IF;"
        )
    body = "\n  ".join(lines)
    return [f"DO $$\nDECLARE obj record;\nBEGIN\n  {body}\nEND $$;"]


def setup_script(database: str, passwords: RolePasswords | None = None) -> str:
    """The statements as one script, for ``--print``."""
    return "\n".join(setup_statements(database, passwords)) + "\n"


def revoke_object_grant_statements() -> list[str]:
    """The reverse of :func:`object_grant_statements` (used by its migration's downgrade)."""
    app = APP
    return [
        "DO $$ BEGIN\n"
        f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{app}') THEN RETURN; END IF;\n"
        f"  REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {app};\n"
        f"  REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {app};\n"
        f"  REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM {app};\n"
        "  GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO PUBLIC;\n"
        "END $$;"
    ]
