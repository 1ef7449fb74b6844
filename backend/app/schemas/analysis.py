"""Pydantic schemas for analyses. The rules are :mod:`app.rules`."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    Field,
    field_serializer,
    field_validator,
)

from app import rules
from app.schemas.common import READ_CONFIG, WRITE_CONFIG, not_blank, storable
from app.text.arabic import contains_arabic, normalize
from app.text.storable import json_problem


def _verse(value: str) -> str:
    if not contains_arabic(value):
        raise ValueError("must contain Arabic text")
    if not normalize(value):
        raise ValueError("must not be empty once normalised")
    return value


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    if (found := json_problem(value, rules.METADATA_MAX_DEPTH)) is not None:
        raise ValueError(found[1])
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"must be plain JSON ({exc})") from None
    if size > rules.METADATA_MAX_BYTES:
        raise ValueError(f"must be at most {rules.METADATA_MAX_BYTES} bytes as JSON, got {size}")
    return value


#: The raw length is checked first: ``_verse`` normalises, and must never see unbounded text.
VerseText = Annotated[
    str,
    Field(max_length=rules.TEXT_MAX),
    AfterValidator(storable),
    AfterValidator(not_blank),
    AfterValidator(_verse),
]
Pattern = Annotated[
    str, Field(min_length=1, max_length=rules.PATTERN_MAX, pattern=rules.PATTERN_RE)
]
MeterLabel = Annotated[
    str, Field(min_length=1, max_length=rules.METER_LABEL_MAX), AfterValidator(storable)
]
Confidence = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
Metadata = Annotated[dict[str, Any], AfterValidator(_metadata)]
#: ``metadata`` is ``meta`` on the ORM object (Declarative reserves the name), so reading
#: from attributes must look for ``meta`` first, or it would find ``Base.metadata``.
_META_ALIAS = AliasChoices("meta", "metadata")


class _Result(BaseModel):
    @field_validator("detected_meter", mode="before", check_fields=False)
    @classmethod
    def _blank_meter_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


class AnalysisCreate(_Result):
    """What the prosody engine produced for one verse."""

    model_config = WRITE_CONFIG

    original_text: VerseText
    pattern: Pattern
    detected_meter: MeterLabel | None = None
    confidence: Confidence | None = None
    syllable_count: Count | None = None
    processing_time_ms: Count | None = None
    metadata: Metadata = Field(default_factory=dict, validation_alias=_META_ALIAS)


class AnalysisResultUpdate(_Result):
    """A re-run or a correction: the result fields only (the text never changes)."""

    model_config = WRITE_CONFIG

    pattern: Pattern | None = None
    detected_meter: MeterLabel | None = None
    confidence: Confidence | None = None
    syllable_count: Count | None = None
    processing_time_ms: Count | None = None
    metadata: Metadata | None = Field(default=None, validation_alias=_META_ALIAS)


class AnalysisRead(BaseModel):
    model_config = READ_CONFIG

    id: uuid.UUID
    user_id: int | None
    original_text: str
    normalized_text: str
    pattern: str
    detected_meter: str | None
    meter_id: int | None
    confidence: Decimal | None
    syllable_count: int | None
    processing_time_ms: int | None
    metadata: dict[str, Any] = Field(validation_alias=_META_ALIAS)
    created_at: dt.datetime

    @field_serializer("confidence", when_used="json")
    def _confidence_as_number(self, value: Decimal | None) -> float | None:
        """A JSON number (``0.93``), as in ``bahr-db export`` and ``--json``."""
        return None if value is None else float(value)

    @field_serializer("created_at", when_used="json")
    def _created_at_in_utc(self, value: dt.datetime) -> str:
        """ISO 8601 in UTC with ``Z``, the one timestamp style of the project."""
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AnalysisHistoryRead(BaseModel):
    model_config = READ_CONFIG

    id: int
    analysis_id: uuid.UUID
    event: str
    user_id: int | None
    old_pattern: str | None
    new_pattern: str | None
    old_detected_meter: str | None
    new_detected_meter: str | None
    old_confidence: Decimal | None
    new_confidence: Decimal | None
    old_engine_version: str | None
    new_engine_version: str | None
    changed_at: dt.datetime
