"""The meters as a listing reads them: one Core statement, no ORM models.

``bahr-db meters`` only shows the 16 rows. Through :class:`MeterRepository` it would import
every mapped class, the pydantic schemas and PyICU, and configure the mappers, before its
one query: 16-18 % of the command's CPU time on the benchmark machine (issue 20, item 11).
This module imports none of them: the statement names its six columns on a lightweight
``table()`` clause, and ``tests/integration/test_cli_startup.py`` checks that they are
columns of :class:`app.models.analysis.Meter` and that the rows equal
:meth:`MeterRepository.list_all`, in the same order.

Use :class:`~app.repositories.meter_repository.MeterRepository` for everything else
(lookups by name, writes, ORM objects).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import column, select, table

from app.db.errors import translated

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class MeterRow(NamedTuple):
    """What a listing shows of one meter (``meta`` is the ``metadata`` column)."""

    position: int
    name_arabic: str
    name_english: str | None
    feet: str
    pattern: str
    meta: dict[str, Any]


_METERS = table(
    "meters",
    column("id"),
    column("position"),
    column("name_arabic"),
    column("name_english"),
    column("feet"),
    column("pattern"),
    column("metadata"),
)
#: Canonical order, as :meth:`MeterRepository.list_all`.
_LIST = select(
    _METERS.c.position,
    _METERS.c.name_arabic,
    _METERS.c.name_english,
    _METERS.c.feet,
    _METERS.c.pattern,
    _METERS.c["metadata"].label("meta"),
).order_by(_METERS.c.position, _METERS.c.id)


def list_meters(session: Session) -> list[MeterRow]:
    """All meters in canonical order; a database error is raised typed (and the session
    rolled back), as a repository's would be."""
    with translated(session):
        return [MeterRow(*row) for row in session.execute(_LIST)]
