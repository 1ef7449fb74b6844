"""Analyses, the classical meters, and the history of each analysis's result."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import rules
from app.db.base import Base
from app.db.ids import new_id
from app.models.types import ArabicSortable, CreatedAt

if TYPE_CHECKING:
    from app.models.user import User

#: The indexed search document; queries go through the same ``bahr_search_fold``.
SEARCH_VECTOR_SQL = "to_tsvector('arabic'::regconfig, bahr_search_fold(normalized_text))"
_PATTERN_CHECK = f"{{col}} ~ '{rules.PATTERN_RE}'"


class Analysis(Base):
    """One prosody analysis of a verse: its text and what the engine found."""

    __tablename__ = "analyses"
    __table_args__ = (
        CheckConstraint(
            f"char_length(original_text) BETWEEN 1 AND {rules.TEXT_MAX} AND original_text ~ '\\S'",
            name="original_text_length",
        ),
        CheckConstraint(
            f"char_length(normalized_text) <= {rules.TEXT_MAX}", name="normalized_text_length"
        ),
        CheckConstraint(
            _PATTERN_CHECK.format(col="pattern")
            + f" AND char_length(pattern) <= {rules.PATTERN_MAX}",
            name="pattern_notation",
        ),
        CheckConstraint("confidence BETWEEN 0 AND 1", name="confidence_range"),
        CheckConstraint("syllable_count >= 0", name="syllable_count_not_negative"),
        CheckConstraint("processing_time_ms >= 0", name="processing_time_not_negative"),
        CheckConstraint("jsonb_typeof(metadata) = 'object'", name="metadata_is_object"),
        CheckConstraint(
            f"octet_length(metadata::text) <= {rules.METADATA_MAX_BYTES}", name="metadata_size"
        ),
        # A user's history, newest first, with ``id`` as the keyset tie-breaker. It also
        # serves every lookup by ``user_id`` alone (the FK's ON DELETE SET NULL included),
        # so a separate single-column index would only slow down writes.
        Index(
            "ix_analyses_user_id_created_at",
            "user_id",
            text("created_at DESC"),
            text("id DESC"),
        ),
        # BRIN: tiny, and right for a column that grows with the table. A btree here let
        # the planner walk all recent rows backwards, filtering on user_id, for the history
        # of a user whose analyses are all old (257 ms instead of 1.7 ms at 1M rows,
        # docs/benchmarks.md section 4); a BRIN index cannot return rows in order.
        Index("ix_analyses_created_at", "created_at", postgresql_using="brin"),
        Index("ix_analyses_detected_meter", "detected_meter"),
        # A meter's analyses newest first (migration 0008): search walks it for a word
        # common in that meter; it serves lookups by meter_id alone too.
        Index(
            "ix_analyses_meter_id_created_at", "meter_id", text("created_at DESC"), text("id DESC")
        ),
        Index("ix_analyses_search_vector", "search_vector", postgresql_using="gin"),
        Index(
            "ix_analyses_normalized_text_trgm",
            "normalized_text",
            postgresql_using="gin",
            postgresql_ops={"normalized_text": "gin_trgm_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, default=new_id, server_default=func.bahr_uuid7()
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    original_text: Mapped[str] = mapped_column(Text)
    normalized_text: Mapped[str] = mapped_column(Text)

    pattern: Mapped[str] = mapped_column(Text)
    detected_meter: Mapped[str | None] = mapped_column(String(rules.METER_LABEL_MAX))
    #: Set when ``detected_meter`` names a known meter, NULL otherwise (the label is kept).
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id", ondelete="SET NULL"))
    confidence: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    syllable_count: Mapped[int | None] = mapped_column(Integer)
    processing_time_ms: Mapped[int | None] = mapped_column(Integer)

    #: The ``metadata`` column; the attribute cannot be called ``metadata`` (Declarative
    #: reserves the name for ``Base.metadata``).
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[CreatedAt]

    #: Arabic full-text vector of the normalised, prefix-folded text, kept by PostgreSQL.
    search_vector: Mapped[str | None] = mapped_column(
        TSVECTOR,
        Computed(SEARCH_VECTOR_SQL, persisted=True),
        deferred=True,
    )

    user: Mapped[User | None] = relationship(back_populates="analyses", lazy="raise_on_sql")
    meter: Mapped[Meter | None] = relationship(back_populates="analyses", lazy="raise_on_sql")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id())
        kwargs.setdefault("meta", {})
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        return (
            f"<Analysis(id={self.id}, meter='{self.detected_meter}', confidence={self.confidence})>"
        )


class Meter(Base):
    """One of the 16 classical meters (reference data, seeded by a migration)."""

    __tablename__ = "meters"
    __table_args__ = (
        CheckConstraint(_PATTERN_CHECK.format(col="pattern"), name="pattern_notation"),
        CheckConstraint("btrim(feet) <> ''", name="feet_not_blank"),
        CheckConstraint("jsonb_typeof(examples) = 'array'", name="examples_is_array"),
        CheckConstraint("jsonb_typeof(metadata) = 'object'", name="metadata_is_object"),
        CheckConstraint("position >= 1", name="position_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name_arabic: Mapped[str] = mapped_column(ArabicSortable(50), unique=True)
    name_english: Mapped[str | None] = mapped_column(String(50), unique=True)
    #: Canonical order of the meters (al-Khalil's circles, al-mutadarik last).
    position: Mapped[int] = mapped_column(SmallInteger, unique=True)
    #: The tafa'il of one hemistich, as Arabic text.
    feet: Mapped[str] = mapped_column(Text)
    pattern: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    examples: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, default=dict, server_default=text("'{}'::jsonb")
    )

    analyses: Mapped[list[Analysis]] = relationship(
        back_populates="meter", passive_deletes=True, lazy="raise_on_sql"
    )

    def __repr__(self) -> str:
        return f"<Meter(id={self.id}, name='{self.name_arabic}')>"


class AnalysisEvent(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class AnalysisHistory(Base):
    """Append-only record of every change to an analysis's result.

    Rows are written by the ``analyses_history_*`` triggers, so raw SQL changes count too.
    ``analysis_id`` is deliberately not a foreign key: the history outlives the analysis.
    The verse text is never stored here, so a deleted analysis's text is gone for good.
    """

    __tablename__ = "analysis_history"
    __table_args__ = (
        Index("ix_analysis_history_analysis_id", "analysis_id", "id"),
        Index("ix_analysis_history_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    analysis_id: Mapped[uuid.UUID]
    event: Mapped[AnalysisEvent] = mapped_column(
        Enum(
            AnalysisEvent,
            name="analysis_event",
            values_callable=lambda e: [m.value for m in e],
        )
    )
    #: The owner at the time of the event (not a FK: history survives the user).
    user_id: Mapped[int | None]
    old_pattern: Mapped[str | None] = mapped_column(Text)
    new_pattern: Mapped[str | None] = mapped_column(Text)
    old_detected_meter: Mapped[str | None] = mapped_column(String(rules.METER_LABEL_MAX))
    new_detected_meter: Mapped[str | None] = mapped_column(String(rules.METER_LABEL_MAX))
    old_meter_id: Mapped[int | None]
    new_meter_id: Mapped[int | None]
    old_confidence: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    new_confidence: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    old_syllable_count: Mapped[int | None]
    new_syllable_count: Mapped[int | None]
    old_engine_version: Mapped[str | None] = mapped_column(Text)
    new_engine_version: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[dt.datetime] = mapped_column(server_default=func.clock_timestamp())

    def __repr__(self) -> str:
        return (
            f"<AnalysisHistory(id={self.id}, analysis_id={self.analysis_id}, event='{self.event}')>"
        )
