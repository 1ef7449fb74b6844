"""Seed the 16 classical meters.

The rows come from app.data.meters, the one reference module that `bahr-db seed` uses too.
The downgrade removes exactly those rows (analyses keep their labels; their meter_id is
set to NULL by the foreign key and restored from the label by the next upgrade).

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

from app.data.seed import relink_analyses, seed_meters, unseed_meters

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    seed_meters(bind)
    # Analyses stored before the meters existed (or unlinked by a downgrade) get their
    # meter_id back from their label.
    relink_analyses(bind)


def downgrade() -> None:
    unseed_meters(op.get_bind())
