"""Seeding the reference meters: an idempotent upsert shared by the migration and the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, Connection, Table, delete, literal_column, tuple_
from sqlalchemy.dialects.postgresql import insert

from app.data.meters import METERS, seed_rows
from app.models.analysis import Meter

_COLUMNS = ("name_english", "position", "feet", "pattern", "description", "examples", "metadata")


@dataclass(frozen=True)
class SeedResult:
    inserted: int
    updated: int
    unchanged: int


def seed_meters(conn: Connection) -> SeedResult:
    """Insert missing meters and update changed ones in place; unchanged rows are not touched.

    Rows are matched by ``name_arabic``. Running it twice changes nothing the second time.
    """
    # Core, not ORM: the row dicts are keyed by column name ("metadata"), not attribute.
    table = cast(Table, Meter.__table__)
    stmt = insert(table).values(seed_rows())
    new = {c: stmt.excluded[c] for c in _COLUMNS}
    changed = tuple_(*(table.c[c] for c in _COLUMNS)).is_distinct_from(tuple_(*new.values()))
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.name_arabic], set_=new, where=changed)
    # xmax = 0 marks a freshly inserted row, so one statement tells inserts from updates.
    fresh: ColumnElement[bool] = literal_column("xmax = 0")
    written: Sequence[bool] = conn.execute(stmt.returning(fresh)).scalars().all()
    inserted = sum(1 for fresh in written if fresh)
    return SeedResult(inserted, len(written) - inserted, len(METERS) - len(written))


def unseed_meters(conn: Connection) -> int:
    """Remove exactly the reference meters (rows added by people are kept)."""
    names = [m.name_arabic for m in METERS]
    return conn.execute(delete(Meter).where(Meter.name_arabic.in_(names))).rowcount
