"""``/meters``: the classical meters, by any accepted name; admin corrections.

Reading is public. Creating, correcting and deleting a meter need
:data:`~app.api.dependencies.AdminUser` and run as the schema owner
(:data:`~app.api.dependencies.OwnerDbSession`): the application role may only read
reference data, and the database enforces it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from sqlalchemy.orm import Session

from app.api.dependencies import AdminUser, OwnerDbSession, ReadDbSession
from app.api.models import MeterCreate, MeterRead, MeterUpdate
from app.api.problems import problems
from app.errors import NotFound
from app.models.analysis import Meter
from app.repositories.meter_repository import MeterRepository

router = APIRouter(prefix="/meters", tags=["meters"], responses=problems(503))
_ADMIN = problems(401, 403, 422)

Name = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        description="'الطويل', 'طويل', 'الطَّوِيل', 'Tawil', 'al-Tawil', 'Ṭawīl', …",
    ),
]


def _require(db: Session, name: str) -> Meter:
    meter = MeterRepository(db).get_by_name(name)
    if meter is None:
        raise NotFound(f"name: no meter called {name!r}", field="name", rule="exists")
    return meter


@router.get("", response_model=list[MeterRead])
def list_meters(db: ReadDbSession) -> list[MeterRead]:
    """All meters in canonical order (al-Khalil's circles, al-mutadarik last)."""
    return [MeterRead.model_validate(m) for m in MeterRepository(db).list_all()]


@router.get("/{name}", response_model=MeterRead, responses=problems(404, 422))
def get_meter(name: Name, db: ReadDbSession) -> MeterRead:
    return MeterRead.model_validate(_require(db, name))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MeterRead,
    responses={**_ADMIN, **problems(400, 409)},
)
def create_meter(body: MeterCreate, _admin: AdminUser, db: OwnerDbSession) -> MeterRead:
    """A new meter; its ``pattern`` is derived from the ``feet``."""
    return MeterRead.model_validate(MeterRepository(db).create(body))


@router.patch("/{name}", response_model=MeterRead, responses={**_ADMIN, **problems(400, 404, 409)})
def update_meter(name: Name, body: MeterUpdate, _admin: AdminUser, db: OwnerDbSession) -> MeterRead:
    repo = MeterRepository(db)
    return MeterRead.model_validate(repo.update(_require(db, name).id, body))


@router.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, responses={**_ADMIN, **problems(404)}
)
def delete_meter(name: Name, _admin: AdminUser, db: OwnerDbSession) -> Response:
    """Analyses of the meter keep their label; their ``meter_id`` becomes null."""
    MeterRepository(db).delete(_require(db, name).id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
