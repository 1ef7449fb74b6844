"""The classical meters (read-only reference data)."""

from __future__ import annotations

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from app.data.meters import lookup_name
from app.db.errors import translate_errors
from app.models.analysis import Analysis, Meter
from app.text.arabic import normalize

_ALL = select(Meter).order_by(Meter.position, Meter.id)
_BY_ID = select(Meter).where(Meter.id == bindparam("meter_id"))
_BY_ARABIC = select(Meter).where(Meter.name_arabic == bindparam("name"))
_BY_ANY = select(Meter).where(
    or_(Meter.name_arabic == bindparam("name"), func.lower(Meter.name_english) == bindparam("low"))
)
_COUNTS = (
    select(Meter, func.count(Analysis.id))
    .outerjoin(Analysis, Analysis.meter_id == Meter.id)
    .group_by(Meter.id)
    .order_by(Meter.position, Meter.id)
)


@translate_errors
class MeterRepository:
    """Lookups of the 16 meters; names are accepted in every form people type."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def list_all(self) -> list[Meter]:
        """All meters in canonical order (al-Khalil's circles, al-mutadarik last)."""
        return list(self.db.scalars(_ALL))

    def get(self, meter_id: int) -> Meter | None:
        return self.db.execute(_BY_ID, {"meter_id": meter_id}).scalar_one_or_none()

    def get_by_name(self, name: str) -> Meter | None:
        """The meter for 'الطويل', 'طويل', 'الطَّوِيل', 'Tawil', 'al-Tawil', 'Ṭawīl', …

        Known spellings are resolved in Python (:func:`app.data.meters.lookup_name`), then one
        indexed lookup by ``name_arabic``; a meter added outside the reference data is still
        found by its exact Arabic or (case-insensitive) English name.
        """
        canonical = lookup_name(name)
        if canonical is not None:
            return self.db.execute(_BY_ARABIC, {"name": canonical}).scalar_one_or_none()
        text = normalize(name)
        if not text:
            return None
        return self.db.execute(_BY_ANY, {"name": text, "low": text.lower()}).scalars().first()

    def analysis_counts(self) -> list[tuple[Meter, int]]:
        """Every meter with its number of analyses (0 included), in canonical order."""
        return [(meter, int(n)) for meter, n in self.db.execute(_COUNTS)]
