"""Seed the 16 classical meters.

The rows come from app.data.meters, the one reference module that `bahr-db seed` uses too.
The downgrade removes exactly those rows.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

from app.data.seed import seed_meters, unseed_meters

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    seed_meters(op.get_bind())


def downgrade() -> None:
    unseed_meters(op.get_bind())
