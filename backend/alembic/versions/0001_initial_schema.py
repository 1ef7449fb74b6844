"""Initial schema: the five tables, their rules, functions and triggers.

Reviewed, not raw autogenerate output. Order: extensions, enum types, functions, tables
(parents first), triggers; the downgrade undoes it in reverse.

Frozen: the extensions, functions and triggers are written out here as ``app.db.ddl`` held
them; a later change there is a new migration, never a change of this one.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 03:59:23.421882
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

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

#: Created first: the trigram index needs pg_trgm.
EXTENSIONS: Sequence[str] = ("""CREATE EXTENSION IF NOT EXISTS pg_trgm""",)

#: The functions, created before the tables (the search column calls bahr_search_fold).
FUNCTIONS: Sequence[str] = (
    r"""
CREATE OR REPLACE FUNCTION bahr_search_fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN regexp_replace(regexp_replace(regexp_replace(t,
    -- Allah with clitics: والله بالله تالله فالله لله ولله -> الله
    '(^|[^ء-ي])(?:[وفبتك]?ال|[وف]?ل)له(?![ء-ي])', '\1الله', 'g'),
    -- و/ف + ال/بال/كال/لل dropped when 3+ letters remain, or 2 not starting with ا
    '(^|[^ء-ي])[وف]?(?:[بك]?ال|لل)(?!له(?![ء-ي]))([ء-ي]{3}|[ء-ئب-ي][ء-ي](?![ء-ي]))',
    '\1\2', 'g'),
    -- the conjunction و/ف before an alef-initial word, when 3+ letters remain
    '(^|[^ء-ي])[وف](ا[ء-ي]{2})', '\1\2', 'g')""",
    """
CREATE OR REPLACE FUNCTION bahr_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$""",
    """
CREATE OR REPLACE FUNCTION bahr_level_for_xp(xp integer) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT 1 + floor(sqrt((xp / 100)::double precision))::integer
$$""",
    """
CREATE OR REPLACE FUNCTION bahr_derive_level() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.level := bahr_level_for_xp(NEW.xp);
    RETURN NEW;
END $$""",
    """
CREATE OR REPLACE FUNCTION bahr_resolve_meter() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    -- The repositories resolve every accepted name form in Python; this keeps raw SQL
    -- honest for the canonical names, and clears a stale meter_id when the label changes.
    IF TG_OP = 'UPDATE' AND NEW.meter_id IS DISTINCT FROM OLD.meter_id THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'INSERT' AND NEW.meter_id IS NOT NULL THEN
        RETURN NEW;
    END IF;
    IF NEW.detected_meter IS NULL THEN
        NEW.meter_id := NULL;
    ELSIF TG_OP = 'INSERT' OR NEW.detected_meter IS DISTINCT FROM OLD.detected_meter THEN
        SELECT m.id INTO NEW.meter_id FROM public.meters m
         WHERE m.name_arabic = NEW.detected_meter
            OR lower(m.name_english) = lower(NEW.detected_meter)
         LIMIT 1;
    END IF;
    RETURN NEW;
END $$""",
    """
CREATE OR REPLACE FUNCTION bahr_record_analysis_history() RETURNS trigger
LANGUAGE plpgsql
-- Runs as the table owner: the application role may read the history but not write it.
-- The path is pinned with pg_temp last and every table is schema-qualified, so a caller's
-- temporary table can never stand in for one (a definer function's path is a boundary).
SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    -- Statement-level with transition tables: one INSERT … SELECT per statement, so a
    -- bulk import pays for its history once, not once per row.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.analysis_history (analysis_id, event, user_id, new_pattern,
            new_detected_meter, new_meter_id, new_confidence, new_syllable_count,
            new_engine_version)
        SELECT n.id, 'created', n.user_id, n.pattern, n.detected_meter, n.meter_id,
               n.confidence, n.syllable_count, n.metadata ->> 'engine_version'
          FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.analysis_history (analysis_id, event, user_id,
            old_pattern, new_pattern, old_detected_meter, new_detected_meter,
            old_meter_id, new_meter_id, old_confidence, new_confidence,
            old_syllable_count, new_syllable_count, old_engine_version, new_engine_version)
        SELECT n.id, 'updated', n.user_id,
               o.pattern, n.pattern, o.detected_meter, n.detected_meter,
               o.meter_id, n.meter_id, o.confidence, n.confidence,
               o.syllable_count, n.syllable_count,
               o.metadata ->> 'engine_version', n.metadata ->> 'engine_version'
          FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE (o.pattern, o.detected_meter, o.meter_id, o.confidence, o.syllable_count,
                o.metadata ->> 'engine_version')
               IS DISTINCT FROM
               (n.pattern, n.detected_meter, n.meter_id, n.confidence, n.syllable_count,
                n.metadata ->> 'engine_version');
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.analysis_history (analysis_id, event, user_id, old_pattern,
            old_detected_meter, old_meter_id, old_confidence, old_syllable_count,
            old_engine_version)
        SELECT o.id, 'deleted', o.user_id, o.pattern, o.detected_meter, o.meter_id,
               o.confidence, o.syllable_count, o.metadata ->> 'engine_version'
          FROM old_rows o;
    END IF;
    RETURN NULL;
END $$""",
    """
CREATE OR REPLACE FUNCTION bahr_history_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    -- Only the table's owner (who runs the migrations) may rewrite history. pg_catalog is
    -- named: an unqualified pg_class would find a caller's temporary table first.
    IF NOT pg_catalog.pg_has_role(current_user,
            (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID),
            'MEMBER') THEN
        RAISE EXCEPTION 'analysis_history is append-only: % is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$""",
)

#: Triggers, once the tables exist.
TRIGGERS: Sequence[str] = (
    """
CREATE OR REPLACE TRIGGER users_set_updated_at BEFORE UPDATE ON users
FOR EACH ROW EXECUTE FUNCTION bahr_set_updated_at()""",
    """
CREATE OR REPLACE TRIGGER user_profiles_derive_level
BEFORE INSERT OR UPDATE OF xp, level ON user_profiles
FOR EACH ROW EXECUTE FUNCTION bahr_derive_level()""",
    """
CREATE OR REPLACE TRIGGER analyses_resolve_meter
BEFORE INSERT OR UPDATE OF detected_meter, meter_id ON analyses
FOR EACH ROW EXECUTE FUNCTION bahr_resolve_meter()""",
    """
CREATE OR REPLACE TRIGGER analyses_history_insert AFTER INSERT ON analyses
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION bahr_record_analysis_history()""",
    """
CREATE OR REPLACE TRIGGER analyses_history_update AFTER UPDATE ON analyses
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION bahr_record_analysis_history()""",
    """
CREATE OR REPLACE TRIGGER analyses_history_delete AFTER DELETE ON analyses
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION bahr_record_analysis_history()""",
    """
CREATE OR REPLACE TRIGGER analysis_history_append_only
BEFORE UPDATE OR DELETE ON analysis_history
FOR EACH ROW EXECUTE FUNCTION bahr_history_append_only()""",
    """
CREATE OR REPLACE TRIGGER analysis_history_no_truncate
BEFORE TRUNCATE ON analysis_history
FOR EACH STATEMENT EXECUTE FUNCTION bahr_history_append_only()""",
)

#: Triggers go with their tables; the functions are dropped after them.
FUNCTION_DROPS: Sequence[str] = (
    """DROP FUNCTION IF EXISTS bahr_history_append_only()""",
    """DROP FUNCTION IF EXISTS bahr_record_analysis_history()""",
    """DROP FUNCTION IF EXISTS bahr_resolve_meter()""",
    """DROP FUNCTION IF EXISTS bahr_derive_level()""",
    """DROP FUNCTION IF EXISTS bahr_level_for_xp(integer)""",
    """DROP FUNCTION IF EXISTS bahr_set_updated_at()""",
    """DROP FUNCTION IF EXISTS bahr_search_fold(text)""",
)


def _execute(bind: sa.Connection, statements: Sequence[str]) -> None:
    for statement in statements:
        bind.execute(sa.text(statement))


def upgrade() -> None:
    bind = op.get_bind()
    _execute(bind, EXTENSIONS)
    USER_ROLE.create(bind, checkfirst=True)
    ANALYSIS_EVENT.create(bind, checkfirst=True)
    _execute(bind, FUNCTIONS)

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

    _execute(bind, TRIGGERS)


def downgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        op.drop_table(table)
    _execute(bind, FUNCTION_DROPS)
    ANALYSIS_EVENT.drop(bind, checkfirst=True)
    USER_ROLE.drop(bind, checkfirst=True)
