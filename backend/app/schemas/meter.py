"""Pydantic schemas for the meters (admin writes). The pattern is never typed: it is derived
from the feet (:func:`app.data.meters.derive_pattern`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AliasChoices, BaseModel, Field

from app.data.meters import derive_pattern
from app.schemas.analysis import Metadata
from app.schemas.common import WRITE_CONFIG, NonBlankStr

NAME_MAX = 50  # the VARCHAR(50) of meters.name_arabic / name_english
POSITION_MAX = 32_767  # SMALLINT


def _feet(value: str) -> str:
    derive_pattern(value)  # a ValueError names the unknown foot
    return value


MeterName = Annotated[NonBlankStr, Field(max_length=NAME_MAX)]
Feet = Annotated[NonBlankStr, AfterValidator(_feet)]
Position = Annotated[int, Field(ge=1, le=POSITION_MAX)]


class MeterExample(BaseModel):
    """One attested verse (both hemistichs in ``text``), its poet and source."""

    model_config = WRITE_CONFIG

    text: NonBlankStr
    poet: NonBlankStr
    source: NonBlankStr


_META_ALIAS = AliasChoices("meta", "metadata")


class MeterCreate(BaseModel):
    model_config = WRITE_CONFIG

    name_arabic: MeterName
    name_english: MeterName | None = None
    position: Position
    feet: Feet
    description: NonBlankStr | None = None
    examples: list[MeterExample] = Field(default_factory=list)
    metadata: Metadata = Field(default_factory=dict, validation_alias=_META_ALIAS)


class MeterUpdate(BaseModel):
    """An admin's correction; unset fields are left alone."""

    model_config = WRITE_CONFIG

    name_arabic: MeterName | None = None
    name_english: MeterName | None = None
    position: Position | None = None
    feet: Feet | None = None
    description: NonBlankStr | None = None
    examples: list[MeterExample] | None = None
    metadata: Metadata | None = Field(default=None, validation_alias=_META_ALIAS)
