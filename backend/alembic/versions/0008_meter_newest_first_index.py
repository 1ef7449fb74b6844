"""A meter's analyses newest first: ``ix_analyses_meter_id_created_at`` (issue 15).

Word search with a meter filter ranks a word that is common among that meter's analyses
among its newest matches (``app.repositories.analysis_search``). Walking them newest first
needs an index in that order; the single-column ``ix_analyses_meter_id`` could only hand
the planner every match to read and sort (about 700 ms for ما in one meter of 1M rows,
against a few ms for the walk; docs/benchmarks.md, section 3). The new index is
(meter_id, created_at DESC, id DESC), the shape of ``ix_analyses_user_id_created_at``, and
it serves every lookup by ``meter_id`` alone too, so the old index goes.

On a large live table, build the new index by hand first with ``CREATE INDEX
CONCURRENTLY``; this revision builds it inside its transaction (writes to ``analyses`` wait
meanwhile).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_analyses_meter_id_created_at",
        "analyses",
        ["meter_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.drop_index("ix_analyses_meter_id", table_name="analyses")


def downgrade() -> None:
    op.create_index("ix_analyses_meter_id", "analyses", ["meter_id"])
    op.drop_index("ix_analyses_meter_id_created_at", table_name="analyses")
