"""Usernames that cannot squat a login or impersonate another user (security, issue 16).

* ``ck_users_username_no_at``: no ``@`` in a username, so a login containing ``@`` is an
  email and names at most one account (finding 6, login squatting).
* ``ck_users_username_nfkc``: usernames are stored in NFKC form (fullwidth ``ａｄｍｉｎ`` is
  ``admin``), and ``ck_users_username_format`` now also refuses every
  Default_Ignorable_Code_Point (soft hyphen, combining grapheme joiner, Hangul fillers, tag
  characters, variation selectors, ...), the braille blank and private-use characters.
* ``users.username_skeleton`` with ``uq_users_username_skeleton``: the UTS #39 confusable
  skeleton of the case-folded username, so ``admin`` and ``аdmin`` (Cyrillic а) cannot both
  exist (finding 16). PostgreSQL cannot compute the skeleton; the application sets it on
  every write, and this revision fills it for existing rows with ICU's SpoofChecker, as the
  application does.

Existing rows that break a new rule, or that share a skeleton, stop the upgrade with a list
of their ids: rename them first (an upgrade must not rename accounts on its own).

The regular expression and the skeleton computation are frozen here as this revision wrote
them; ``app.rules`` and ``app.text.identifiers`` hold the same for the application.

Revision ID: 0006
Revises: 0005
"""

import unicodedata
from collections import defaultdict
from collections.abc import Sequence

import icu
import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_FORBIDDEN = (
    r"[\u0001-\u0020\u007f-\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000"
    r"\ufeff]"
)
NEW_FORBIDDEN = (
    r"[\u0001-\u0020\u007f-\u00a0\u00ad\u034f\u061c\u115f\u1160\u1680\u17b4\u17b5"
    r"\u180b-\u180f\u2000-\u200f\u2028-\u202f\u205f-\u206f\u2800\u3000\u3164"
    r"\ue000-\uf8ff\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    r"\U0001d173-\U0001d17a\U000e0000-\U000e0fff\U000f0000-\U0010ffff]"
)
CHECKS = {
    "ck_users_username_no_at": "strpos(username, '@') = 0",
    "ck_users_username_nfkc": "username IS NFKC NORMALIZED",
}


def _format_check(forbidden: str) -> str:
    return f"char_length(username) BETWEEN 3 AND 50 AND username !~ '{forbidden}'"


def _skeleton(checker: icu.SpoofChecker, username: str) -> str:
    return str(checker.getSkeleton(0, unicodedata.normalize("NFKC", username).casefold()))


def _refuse(problem: str, rows: Sequence[tuple[int, str]]) -> None:
    listed = ", ".join(f"id {row_id} ({name!r})" for row_id, name in rows[:20])
    more = f" and {len(rows) - 20} more" if len(rows) > 20 else ""
    raise RuntimeError(f"users whose username {problem}: {listed}{more}; rename them first")


def upgrade() -> None:
    bind = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.Text))
    for problem, condition in (
        ("contains '@'", "strpos(username, '@') > 0"),
        ("is not in NFKC form", "username IS NOT NFKC NORMALIZED"),
        ("contains a format, filler or private-use character", f"username ~ '{NEW_FORBIDDEN}'"),
    ):
        query = sa.select(users.c.id, users.c.username).where(sa.text(condition))
        rows = bind.execute(query.order_by(users.c.id)).all()
        if rows:
            _refuse(problem, [(r.id, r.username) for r in rows])

    op.add_column("users", sa.Column("username_skeleton", sa.Text(), nullable=True))
    checker = icu.SpoofChecker()
    by_skeleton: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row_id, username in bind.execute(sa.select(users.c.id, users.c.username)).all():
        by_skeleton[_skeleton(checker, username)].append((row_id, username))
    clashes = [row for rows in by_skeleton.values() if len(rows) > 1 for row in rows]
    if clashes:
        _refuse("looks like another one (same UTS #39 skeleton)", clashes)
    skeleton = sa.table(
        "users", sa.column("id", sa.Integer), sa.column("username_skeleton", sa.Text)
    )
    # Filling a derived column is not a change to the account: updated_at stays as it was.
    op.execute("ALTER TABLE users DISABLE TRIGGER users_set_updated_at")
    for key, rows in by_skeleton.items():
        bind.execute(
            skeleton.update().where(skeleton.c.id == rows[0][0]).values(username_skeleton=key)
        )
    op.execute("ALTER TABLE users ENABLE TRIGGER users_set_updated_at")

    op.execute("ALTER TABLE users DROP CONSTRAINT ck_users_username_format")
    op.execute(
        "ALTER TABLE users ADD CONSTRAINT ck_users_username_format "
        f"CHECK ({_format_check(NEW_FORBIDDEN)})"
    )
    for name, condition in CHECKS.items():
        op.execute(f"ALTER TABLE users ADD CONSTRAINT {name} CHECK ({condition})")
    op.create_index("uq_users_username_skeleton", "users", ["username_skeleton"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_username_skeleton", table_name="users")
    for name in CHECKS:
        op.execute(f"ALTER TABLE users DROP CONSTRAINT {name}")
    op.execute("ALTER TABLE users DROP CONSTRAINT ck_users_username_format")
    op.execute(
        "ALTER TABLE users ADD CONSTRAINT ck_users_username_format "
        f"CHECK ({_format_check(OLD_FORBIDDEN)})"
    )
    op.drop_column("users", "username_skeleton")
