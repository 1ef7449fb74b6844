"""What the API reads and returns.

Response models list their fields explicitly, so nothing else of a row can leak: no
``password_hash``, ``search_vector`` or ``normalized_text``. The ``metadata`` columns are
called ``metadata``, as the spec names them, in requests and responses alike (the ORM
attribute is ``meta``). Decimals (confidence) are JSON numbers.

Request models reuse the rules of :mod:`app.schemas`; where a schema is not fit to be a
request body as it is, a subclass here says why.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, Field, PlainSerializer, SecretStr

from app import rules
from app.schemas import meter as schemas_meter
from app.schemas.analysis import AnalysisCreate, AnalysisHistoryRead, AnalysisResultUpdate, Metadata
from app.schemas.common import READ_CONFIG, WRITE_CONFIG
from app.schemas.user import Password, ProfileRead, UserCreate, UserRead

__all__ = [
    "AnalysisCreateBody",
    "AnalysisPage",
    "AnalysisRead",
    "AnalysisResultUpdateBody",
    "Health",
    "HistoryEntry",
    "MeterCreate",
    "MeterRead",
    "MeterUpdate",
    "PasswordChange",
    "PoolUsage",
    "ProfileRead",
    "SearchHit",
    "SearchPage",
    "UserCreate",
    "UserRead",
]

Number = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
_META = AliasChoices("meta", "metadata")


# -- analyses -----------------------------------------------------------------------------
class AnalysisCreateBody(AnalysisCreate):
    """:class:`~app.schemas.analysis.AnalysisCreate` as a request body: ``metadata`` by its
    own name only (the library schema also accepts ``meta``, and would document that)."""

    metadata: Metadata = Field(default_factory=dict)


class AnalysisResultUpdateBody(AnalysisResultUpdate):
    """:class:`~app.schemas.analysis.AnalysisResultUpdate` as a request body (``metadata``)."""

    metadata: Metadata | None = None


class AnalysisRead(BaseModel):
    """An analysis as the API shows it (no ``normalized_text``, no ``search_vector``)."""

    model_config = READ_CONFIG

    id: uuid.UUID
    user_id: int | None
    original_text: str
    pattern: str
    detected_meter: str | None
    meter_id: int | None
    confidence: Number | None
    syllable_count: int | None
    processing_time_ms: int | None
    metadata: dict[str, Any] = Field(validation_alias=_META)
    created_at: dt.datetime


class AnalysisPage(BaseModel):
    """One page, newest first; pass ``next_cursor`` back as ``cursor`` for the next one."""

    items: list[AnalysisRead]
    next_cursor: str | None


class HistoryEntry(AnalysisHistoryRead):
    """One recorded event of an analysis's result (the verse text is never kept here)."""

    old_confidence: Number | None
    new_confidence: Number | None


# -- search -------------------------------------------------------------------------------
class SearchHit(BaseModel):
    analysis: AnalysisRead
    rank: float
    #: The original, vocalised text with each matched word wrapped in « ».
    headline: str


class SearchPage(BaseModel):
    """Best hits first; pass ``next_cursor`` back as ``cursor`` for the next page.

    ``windowed``: a very common term was ranked among its newest matches only;
    ``estimated_total`` is then the planner's estimate of all matches, otherwise the exact
    number of matches.
    """

    items: list[SearchHit]
    next_cursor: str | None
    windowed: bool
    estimated_total: int


# -- meters -------------------------------------------------------------------------------
class MeterRead(BaseModel):
    model_config = READ_CONFIG

    id: int
    name_arabic: str
    name_english: str | None
    position: int
    feet: str
    pattern: str
    description: str | None
    examples: list[dict[str, Any]]
    metadata: dict[str, Any] = Field(validation_alias=_META)


class MeterCreate(schemas_meter.MeterCreate):
    """A new meter (admin only); the pattern is derived from the feet. ``metadata`` by its
    own name only, as for analyses."""

    metadata: Metadata = Field(default_factory=dict)


class MeterUpdate(schemas_meter.MeterUpdate):
    """A correction to a meter (admin only); unset fields are left alone."""

    metadata: Metadata | None = None


# -- users --------------------------------------------------------------------------------
class PasswordChange(BaseModel):
    model_config = WRITE_CONFIG

    old_password: Annotated[SecretStr, Field(max_length=rules.PASSWORD_MAX)]
    new_password: Password


# -- operations ---------------------------------------------------------------------------
class PoolUsage(BaseModel):
    """``size``: the pool's configured size; ``overflow``: connections open beyond it."""

    size: int
    checked_out: int
    overflow: int


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable", "timeout"]
    pools: dict[str, PoolUsage]
