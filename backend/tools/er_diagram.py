"""The README's ER diagram, drawn from the models with PostgreSQL's own type names.

paracelsus prints each column type with ``str(type)``, which compiles it for SQLAlchemy's
generic dialect: ``CHAR(32)`` for a UUID, ``DATETIME`` for a ``timestamptz``. Here ``str``
compiles for PostgreSQL instead, so the diagram shows what the database holds.

``python -m tools.er_diagram`` (``make docs``) rewrites the diagram in README.md;
``--check`` only says whether it is current (the test suite runs that).
"""

from __future__ import annotations

import sys
from pathlib import Path

from paracelsus.cli import app
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

README = Path(__file__).resolve().parents[2] / "README.md"
ARGS = [
    "inject",
    str(README),
    "app.db.base:Base",
    "--import-module",
    "app.models",
    "--max-enum-members",
    "6",
]


_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _postgresql_name(self: TypeEngine[object]) -> str:
    return str(self.compile(dialect=_DIALECT))


def main(argv: list[str]) -> None:
    TypeEngine.__str__ = _postgresql_name  # type: ignore[method-assign,assignment]
    app([*ARGS, *argv], prog_name="paracelsus")


if __name__ == "__main__":
    main(sys.argv[1:])
