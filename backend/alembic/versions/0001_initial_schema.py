"""Initial schema: the five tables, their rules, functions and triggers.

Reviewed, not raw autogenerate output. Order: extensions, enum types, functions, tables
(parents first), triggers; the downgrade undoes it in reverse.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 03:59:23.421882
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.db import ddl

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_ROLE = postgresql.ENUM(
    "student", "poet", "teacher", "admin", name="user_role", create_type=False
)
ANALYSIS_EVENT = postgresql.ENUM(
    "created", "updated", "deleted", name="analysis_event", create_type=False
)
TABLES = ("analysis_history", "analyses", "meters", "user_profiles", "users")


def upgrade() -> None:
    bind = op.get_bind()
    ddl.create_extensions(bind)
    USER_ROLE.create(bind, checkfirst=True)
    ANALYSIS_EVENT.create(bind, checkfirst=True)
    ddl.create_functions(bind)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("full_name", sa.String(length=100, collation="ar-x-icu"), nullable=False),
        sa.Column(
            "role",
            USER_ROLE,
            server_default="student",
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("is_verified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("btrim(full_name) <> ''", name=op.f("ck_users_full_name_not_blank")),
        sa.CheckConstraint(
            "char_length(username) BETWEEN 3 AND 50 AND username !~ '[\\u0001-\\u0020\\u007f-\\u00a0\\u1680\\u180e\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u206f\\u3000\\ufeff]'",
            name=op.f("ck_users_username_format"),
        ),
        sa.CheckConstraint(
            "email ~ '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$'", name=op.f("ck_users_email_format")
        ),
        sa.CheckConstraint(
            "deleted_at IS NULL OR deleted_at >= created_at",
            name=op.f("ck_users_deleted_after_created"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index("ix_users_role", "users", ["role"], unique=False)
    op.create_index(
        "uq_users_email_lower", "users", [sa.literal_column("lower(email)")], unique=True
    )
    op.create_index(
        "uq_users_username_lower", "users", [sa.literal_column("lower(username)")], unique=True
    )
    op.create_table(
        "user_profiles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("avatar_url", sa.String(length=500), nullable=True),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.Column("website", sa.String(length=255), nullable=True),
        sa.Column("level", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("xp", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "preferred_language",
            sa.String(length=5),
            server_default=sa.text("'ar'"),
            nullable=False,
        ),
        sa.Column("theme", sa.String(length=10), server_default=sa.text("'light'"), nullable=False),
        sa.CheckConstraint(
            "avatar_url IS NULL OR avatar_url ~ '^https?://'",
            name=op.f("ck_user_profiles_avatar_url_http"),
        ),
        sa.CheckConstraint(
            "preferred_language IN ('ar', 'en')",
            name=op.f("ck_user_profiles_preferred_language_known"),
        ),
        sa.CheckConstraint(
            "theme IN ('light', 'dark', 'system')", name=op.f("ck_user_profiles_theme_known")
        ),
        sa.CheckConstraint(
            "website IS NULL OR website ~ '^https?://'", name=op.f("ck_user_profiles_website_http")
        ),
        sa.CheckConstraint("char_length(bio) <= 2000", name=op.f("ck_user_profiles_bio_length")),
        sa.CheckConstraint("level >= 1", name=op.f("ck_user_profiles_level_positive")),
        sa.CheckConstraint("xp >= 0", name=op.f("ck_user_profiles_xp_not_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_profiles")),
    )
    op.create_table(
        "meters",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name_arabic", sa.String(length=50, collation="ar-x-icu"), nullable=False),
        sa.Column("name_english", sa.String(length=50), nullable=True),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("feet", sa.Text(), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "examples",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint("btrim(feet) <> ''", name=op.f("ck_meters_feet_not_blank")),
        sa.CheckConstraint(
            "jsonb_typeof(examples) = 'array'", name=op.f("ck_meters_examples_is_array")
        ),
        sa.CheckConstraint(
            "jsonb_typeof(metadata) = 'object'", name=op.f("ck_meters_metadata_is_object")
        ),
        sa.CheckConstraint("pattern ~ '^[/o]+( [/o]+)*$'", name=op.f("ck_meters_pattern_notation")),
        sa.CheckConstraint("position >= 1", name=op.f("ck_meters_position_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meters")),
        sa.UniqueConstraint("name_arabic", name=op.f("uq_meters_name_arabic")),
        sa.UniqueConstraint("name_english", name=op.f("uq_meters_name_english")),
        sa.UniqueConstraint("position", name=op.f("uq_meters_position")),
    )
    op.create_table(
        "analyses",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("original_text", sa.Text(), nullable=False),
        sa.Column("normalized_text", sa.Text(), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=False),
        sa.Column("detected_meter", sa.String(length=50), nullable=True),
        sa.Column("meter_id", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.Numeric(precision=5, scale=4), nullable=True),
        sa.Column("syllable_count", sa.Integer(), nullable=True),
        sa.Column("processing_time_ms", sa.Integer(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('arabic'::regconfig, bahr_search_fold(normalized_text))",
                persisted=True,
            ),
            nullable=True,
        ),
        sa.CheckConstraint(
            "char_length(original_text) BETWEEN 1 AND 10000 AND original_text ~ '\\S'",
            name=op.f("ck_analyses_original_text_length"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(metadata) = 'object'", name=op.f("ck_analyses_metadata_is_object")
        ),
        sa.CheckConstraint(
            "pattern ~ '^[/o]+( [/o]+)*$' AND char_length(pattern) <= 20000",
            name=op.f("ck_analyses_pattern_notation"),
        ),
        sa.CheckConstraint(
            "char_length(normalized_text) <= 10000", name=op.f("ck_analyses_normalized_text_length")
        ),
        sa.CheckConstraint("confidence BETWEEN 0 AND 1", name=op.f("ck_analyses_confidence_range")),
        sa.CheckConstraint(
            "octet_length(metadata::text) <= 16384", name=op.f("ck_analyses_metadata_size")
        ),
        sa.CheckConstraint(
            "processing_time_ms >= 0", name=op.f("ck_analyses_processing_time_not_negative")
        ),
        sa.CheckConstraint(
            "syllable_count >= 0", name=op.f("ck_analyses_syllable_count_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meters.id"],
            name=op.f("fk_analyses_meter_id_meters"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_analyses_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analyses")),
    )
    op.create_index("ix_analyses_created_at", "analyses", ["created_at"], unique=False)
    op.create_index("ix_analyses_detected_meter", "analyses", ["detected_meter"], unique=False)
    op.create_index("ix_analyses_meter_id", "analyses", ["meter_id"], unique=False)
    op.create_index(
        "ix_analyses_normalized_text_trgm",
        "analyses",
        ["normalized_text"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"normalized_text": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_analyses_search_vector",
        "analyses",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_analyses_user_id_created_at",
        "analyses",
        ["user_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_table(
        "analysis_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("analysis_id", sa.Uuid(), nullable=False),
        sa.Column("event", ANALYSIS_EVENT, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("old_pattern", sa.Text(), nullable=True),
        sa.Column("new_pattern", sa.Text(), nullable=True),
        sa.Column("old_detected_meter", sa.String(length=50), nullable=True),
        sa.Column("new_detected_meter", sa.String(length=50), nullable=True),
        sa.Column("old_meter_id", sa.Integer(), nullable=True),
        sa.Column("new_meter_id", sa.Integer(), nullable=True),
        sa.Column("old_confidence", sa.Numeric(precision=5, scale=4), nullable=True),
        sa.Column("new_confidence", sa.Numeric(precision=5, scale=4), nullable=True),
        sa.Column("old_syllable_count", sa.Integer(), nullable=True),
        sa.Column("new_syllable_count", sa.Integer(), nullable=True),
        sa.Column("old_engine_version", sa.Text(), nullable=True),
        sa.Column("new_engine_version", sa.Text(), nullable=True),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_history")),
    )
    op.create_index(
        "ix_analysis_history_analysis_id", "analysis_history", ["analysis_id", "id"], unique=False
    )
    op.create_index("ix_analysis_history_user_id", "analysis_history", ["user_id"], unique=False)

    ddl.create_triggers(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        op.drop_table(table)
    ddl.drop_functions(bind)
    ANALYSIS_EVENT.drop(bind, checkfirst=True)
    USER_ROLE.drop(bind, checkfirst=True)
