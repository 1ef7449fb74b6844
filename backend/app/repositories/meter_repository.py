"""The classical meters: reference data that the application reads and an admin corrects.

The application role (``bahr_app``) may only read meters; the database refuses its writes
(a typed error, rule ``permission``). ``create``, ``update`` and ``delete`` are for the admin
path, a session as the schema owner::

    with Database.for_owner().transaction() as session:
        MeterRepository(session).update(meter_id, {"description": "..."})
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, func, or_, select

from app.data.meters import derive_pattern, lookup_name
from app.models.analysis import Analysis, Meter
from app.repositories.base import RepositoryBase
from app.schemas.meter import MeterCreate, MeterUpdate
from app.text.arabic import normalize

_ALL = select(Meter).order_by(Meter.position, Meter.id)
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


class MeterRepository(RepositoryBase[Meter, int]):
    """Lookups of the meters, names accepted in every form people type; CRUD for admins.

    ``get``, ``list`` (keyset in canonical order), ``create``, ``update`` and ``delete``
    come from :class:`~app.repositories.base.RepositoryBase`; the ``pattern`` is always
    derived from the ``feet``, never given.
    """

    model = Meter
    create_schema = MeterCreate
    update_schema = MeterUpdate
    id_field = "meter_id"
    keyset = ("position", "id")

    def list_all(self) -> list[Meter]:
        """All meters in canonical order (al-Khalil's circles, al-mutadarik last)."""
        return list(self.db.scalars(_ALL))

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

    def _values(self, data: BaseModel, *, partial: bool) -> dict[str, Any]:
        values = super()._values(data, partial=partial)
        if values.get("feet") is not None:
            values["pattern"] = derive_pattern(values["feet"])
        return values
