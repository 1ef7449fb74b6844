"""Grants for the application role (bahr_app), when it exists.

`bahr-db roles setup` creates the roles and default privileges; this revision applies the
grants on the objects that 0001 and 0002 created, so the order in which a database gets its
roles and its migrations does not matter: read/write on users, user_profiles and analyses,
read-only on meters and analysis_history, EXECUTE on the functions the application calls.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

from app.db.roles import object_grant_statements, revoke_object_grant_statements

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in object_grant_statements():
        op.execute(statement)


def downgrade() -> None:
    for statement in revoke_object_grant_statements():
        op.execute(statement)
