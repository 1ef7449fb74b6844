"""Time-ordered analysis ids (UUID v7) and a BRIN index on analyses.created_at.

Both from the benchmark suite (the figures are in docs/benchmarks.md):

* ``analyses.id`` defaults to ``bahr_uuid7()`` on the server (the models send a v7 id from
  Python anyway): faster bulk inserts and a smaller primary key than random ids. Existing
  ids are left as they are; v4 and v7 ids coexist in one uuid column.
* ``ix_analyses_created_at`` becomes a BRIN index. As a btree it let the planner answer a
  user's history by walking all recent rows backwards and filtering on ``user_id`` (slow
  for a user whose analyses are all old); BRIN cannot return rows in order, so the history
  uses ``ix_analyses_user_id_created_at``, and range filters on ``created_at`` still have
  an index.

Frozen: the function and the grant are written out here, not read from ``app.db``.

On a large live table, build the new index first with ``CREATE INDEX CONCURRENTLY`` by hand;
this migration swaps it inside its transaction (a short ACCESS EXCLUSIVE lock on a small
table, a long one on a large table).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: RFC 9562 version 7: the Unix time in ms in the first 48 bits of a random (v4) UUID, then
#: the version nibble 0100 -> 0111 (bits 52 and 53 of the bytea).
ID_FUNCTIONS: Sequence[str] = (
    """
CREATE OR REPLACE FUNCTION bahr_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
RETURN encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
    FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid""",
)

ID_FUNCTION_DROPS: Sequence[str] = ("""DROP FUNCTION IF EXISTS bahr_uuid7()""",)

#: What this revision's re-run of 0003's grants added: EXECUTE on bahr_uuid7 for the
#: application role only (the rest of those grants is idempotent and already in place).
GRANTS: Sequence[str] = (
    """DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bahr_app') THEN RETURN; END IF;
  IF to_regprocedure('public.bahr_uuid7()') IS NOT NULL THEN REVOKE ALL ON FUNCTION public.bahr_uuid7() FROM PUBLIC; GRANT EXECUTE ON FUNCTION public.bahr_uuid7() TO bahr_app; END IF;
END $$;""",
)


def upgrade() -> None:
    bind = op.get_bind()
    for statement in ID_FUNCTIONS:
        bind.execute(sa.text(statement))
    op.execute("ALTER TABLE analyses ALTER COLUMN id SET DEFAULT bahr_uuid7()")
    op.drop_index("ix_analyses_created_at", table_name="analyses")
    op.create_index("ix_analyses_created_at", "analyses", ["created_at"], postgresql_using="brin")
    for statement in GRANTS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_analyses_created_at", table_name="analyses")
    op.create_index("ix_analyses_created_at", "analyses", ["created_at"])
    op.execute("ALTER TABLE analyses ALTER COLUMN id SET DEFAULT gen_random_uuid()")
    for statement in ID_FUNCTION_DROPS:
        op.get_bind().execute(sa.text(statement))
