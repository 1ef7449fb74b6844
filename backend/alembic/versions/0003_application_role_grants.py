"""Grants for the application role (bahr_app), when it exists.

`bahr-db roles setup` creates the roles and default privileges; this revision applies the
grants on the objects that 0001 and 0002 created, so the order in which a database gets its
roles and its migrations does not matter: read/write on users, user_profiles and analyses,
read-only on meters and analysis_history, EXECUTE on the functions the application calls.

Frozen: the statements are written out here as ``app.db.roles`` wrote them.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Idempotent; nothing happens without the role, and objects not created yet are skipped.
GRANTS: Sequence[str] = (
    """DO $$
DECLARE obj record;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bahr_app') THEN RETURN; END IF;
  IF to_regclass('public.users') IS NOT NULL THEN GRANT SELECT, INSERT, UPDATE, DELETE ON public.users TO bahr_app; END IF;
  IF to_regclass('public.user_profiles') IS NOT NULL THEN GRANT SELECT, INSERT, UPDATE, DELETE ON public.user_profiles TO bahr_app; END IF;
  IF to_regclass('public.analyses') IS NOT NULL THEN GRANT SELECT, INSERT, UPDATE, DELETE ON public.analyses TO bahr_app; END IF;
  IF to_regclass('public.meters') IS NOT NULL THEN REVOKE ALL ON public.meters FROM bahr_app; GRANT SELECT ON public.meters TO bahr_app; END IF;
  IF to_regclass('public.analysis_history') IS NOT NULL THEN REVOKE ALL ON public.analysis_history FROM bahr_app; GRANT SELECT ON public.analysis_history TO bahr_app; END IF;
  IF to_regclass('public.alembic_version') IS NOT NULL THEN REVOKE ALL ON public.alembic_version FROM bahr_app; END IF;
  FOR obj IN SELECT c.oid::regclass AS seq FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'S' LOOP EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO bahr_app', obj.seq); END LOOP;
  IF to_regprocedure('public.bahr_search_fold(text)') IS NOT NULL THEN REVOKE ALL ON FUNCTION public.bahr_search_fold(text) FROM PUBLIC; GRANT EXECUTE ON FUNCTION public.bahr_search_fold(text) TO bahr_app; END IF;
  IF to_regprocedure('public.bahr_level_for_xp(integer)') IS NOT NULL THEN REVOKE ALL ON FUNCTION public.bahr_level_for_xp(integer) FROM PUBLIC; GRANT EXECUTE ON FUNCTION public.bahr_level_for_xp(integer) TO bahr_app; END IF;
  IF to_regprocedure('public.bahr_uuid7()') IS NOT NULL THEN REVOKE ALL ON FUNCTION public.bahr_uuid7() FROM PUBLIC; GRANT EXECUTE ON FUNCTION public.bahr_uuid7() TO bahr_app; END IF;
END $$;""",
)

#: The reverse of GRANTS.
REVOKES: Sequence[str] = (
    """DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bahr_app') THEN RETURN; END IF;
  REVOKE ALL ON ALL TABLES IN SCHEMA public FROM bahr_app;
  REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM bahr_app;
  REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM bahr_app;
  GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO PUBLIC;
END $$;""",
)


def upgrade() -> None:
    for statement in GRANTS:
        op.execute(statement)


def downgrade() -> None:
    for statement in REVOKES:
        op.execute(statement)
