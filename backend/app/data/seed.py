"""Seeding the reference meters: an idempotent upsert shared by the migration and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from app.data.meters import METERS, lookup_name, seed_rows
from app.models.analysis import Analysis, Meter

_COLUMNS = ("name_english", "position", "feet", "pattern", "description", "examples", "metadata")


@dataclass(frozen=True)
class SeedResult:
    inserted: int
    updated: int
    unchanged: int


def seed_meters(conn: Connection) -> SeedResult:
    """Insert missing meters and update changed ones in place; unchanged rows are not touched.

    Rows are matched by ``name_arabic``. Running it twice changes nothing the second time,
    and takes no row lock when nothing changed: an upsert would lock every meter FOR UPDATE,
    which waits for every open transaction that inserted an analysis (their FK takes
    KEY SHARE locks on the meters they reference).
    """
    # Core, not ORM: the row dicts are keyed by column name ("metadata"), not attribute.
    table = cast(Table, Meter.__table__)
    current = {
        row.name_arabic: {c: row._mapping[c] for c in _COLUMNS}
        for row in conn.execute(select(table.c.name_arabic, *(table.c[c] for c in _COLUMNS)))
    }
    wanted = seed_rows()
    new = [row for row in wanted if row["name_arabic"] not in current]
    changed = [
        row
        for row in wanted
        if row["name_arabic"] in current
        and any(current[str(row["name_arabic"])][c] != row[c] for c in _COLUMNS)
    ]
    if new:
        conn.execute(insert(table), new)
    if changed:
        params: list[dict[str, Any]] = [
            {**{f"new_{c}": row[c] for c in _COLUMNS}, "key": row["name_arabic"]} for row in changed
        ]
        stmt = (
            update(table)
            .where(table.c.name_arabic == bindparam("key"))
            .values({c: bindparam(f"new_{c}") for c in _COLUMNS})
        )
        conn.execute(stmt, params)
    return SeedResult(len(new), len(changed), len(wanted) - len(new) - len(changed))


def relink_analyses(conn: Connection) -> int:
    """Set ``meter_id`` on analyses whose label names a known meter but which have none
    (stored before the meters were seeded, or unlinked by a downgrade). Returns the count."""
    table = cast(Table, Meter.__table__)
    analyses = cast(Table, Analysis.__table__)
    ids = {row.name_arabic: row.id for row in conn.execute(select(table.c.name_arabic, table.c.id))}
    labels = conn.execute(
        select(analyses.c.detected_meter)
        .where(analyses.c.meter_id.is_(None), analyses.c.detected_meter.is_not(None))
        .distinct()
    ).scalars()
    linked = 0
    for label in labels:
        canonical = lookup_name(label)
        if canonical is None or canonical not in ids:
            continue
        linked += conn.execute(
            update(analyses)
            .where(analyses.c.meter_id.is_(None), analyses.c.detected_meter == label)
            .values(meter_id=ids[canonical])
        ).rowcount
    return linked


def unseed_meters(conn: Connection) -> int:
    """Remove exactly the reference meters (rows added by people are kept)."""
    names = [m.name_arabic for m in METERS]
    return conn.execute(delete(Meter).where(Meter.name_arabic.in_(names))).rowcount
