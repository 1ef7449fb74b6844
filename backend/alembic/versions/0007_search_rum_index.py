"""The RUM index behind word search, where the ``rum`` extension is installed (issue 15).

``ix_analyses_search_rum`` (``rum_tsvector_ops``) stores each word's positions in the index,
so ``search_vector <=> query`` ranks every match inside the index and only the rows of the
page are read from the table: a word in thousands of verses is ranked without reading
thousands of rows (docs/benchmarks.md, section 3). Very common words do not use it (their
newest matches are ranked instead, see ``app.repositories.analysis_search``).

``rum`` is not a trusted extension: creating it is a superuser's step, done once per
database before migrating (a DBA runs ``CREATE EXTENSION rum``). This revision never creates
the extension. Where it is installed the index is built; where it is not, nothing is:
search ranks through the GIN index (the same results, ranked by ``ts_rank_cd``, slower for
mid-frequency words) and ``bahr-db doctor`` reports it. Installing the extension later and
running this revision's statement by hand (it is idempotent) adds the index.

The GIN index stays: filtered searches, phrase fragments and very common words use it, and
it exists in every database, with or without RUM.

The SQL is frozen here, as this revision wrote it; ``app.db.ddl.SEARCH_INDEXES`` holds the
same statement for ``create_all`` (the catalog test proves the two agree).

On a large live table, build the index by hand first with ``CREATE INDEX CONCURRENTLY``;
this revision builds it inside its transaction (writes to ``analyses`` wait meanwhile).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CREATE_RUM_INDEX = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'rum') THEN
        EXECUTE 'CREATE INDEX IF NOT EXISTS ix_analyses_search_rum ON public.analyses '
                'USING rum (search_vector rum_tsvector_ops)';
    END IF;
END $$"""


def upgrade() -> None:
    op.execute(CREATE_RUM_INDEX)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS public.ix_analyses_search_rum")
