"""Database objects that are not tables: extensions, functions and triggers.

They are declared once here and used by both the initial migration and
``Base.metadata.create_all`` (through MetaData DDL events), so the two build the same
database. Every statement is idempotent (``IF NOT EXISTS``, ``CREATE OR REPLACE``).

These objects are part of the migration history: a later change to one of them must be a
new object (and a new migration), never an edit in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, MetaData, event, text

from app import rules


@dataclass(frozen=True)
class DbObject:
    name: str
    create: str
    drop: str


EXTENSIONS: Sequence[DbObject] = (
    DbObject(
        "pg_trgm",
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        # Other schemas may use it too; leaving an extension installed is harmless.
        "SELECT 1",
    ),
)

FUNCTIONS: Sequence[DbObject] = (
    DbObject(
        "bahr_search_fold",
        # Applied to both the indexed text and the query, after app.text.arabic.normalize:
        # the snowball stemmer never strips وال/فال, و before ا, or ال from short words
        # (docs/arabic-search-notes.md). Explicit [ء-ي] ranges keep it locale-independent.
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
        "DROP FUNCTION IF EXISTS bahr_search_fold(text)",
    ),
    DbObject(
        "bahr_set_updated_at",
        """
CREATE OR REPLACE FUNCTION bahr_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$""",
        "DROP FUNCTION IF EXISTS bahr_set_updated_at()",
    ),
    DbObject(
        "bahr_level_for_xp",
        f"""
CREATE OR REPLACE FUNCTION bahr_level_for_xp(xp integer) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT 1 + floor(sqrt((xp / {rules.XP_PER_LEVEL_STEP})::double precision))::integer
$$""",
        "DROP FUNCTION IF EXISTS bahr_level_for_xp(integer)",
    ),
    DbObject(
        "bahr_derive_level",
        """
CREATE OR REPLACE FUNCTION bahr_derive_level() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.level := bahr_level_for_xp(NEW.xp);
    RETURN NEW;
END $$""",
        "DROP FUNCTION IF EXISTS bahr_derive_level()",
    ),
    DbObject(
        "bahr_resolve_meter",
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
        "DROP FUNCTION IF EXISTS bahr_resolve_meter()",
    ),
    DbObject(
        "bahr_record_analysis_history",
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
        "DROP FUNCTION IF EXISTS bahr_record_analysis_history()",
    ),
    DbObject(
        "bahr_history_append_only",
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
        "DROP FUNCTION IF EXISTS bahr_history_append_only()",
    ),
)

TRIGGERS: Sequence[DbObject] = (
    DbObject(
        "users_set_updated_at",
        """
CREATE OR REPLACE TRIGGER users_set_updated_at BEFORE UPDATE ON users
FOR EACH ROW EXECUTE FUNCTION bahr_set_updated_at()""",
        "DROP TRIGGER IF EXISTS users_set_updated_at ON users",
    ),
    DbObject(
        "user_profiles_derive_level",
        """
CREATE OR REPLACE TRIGGER user_profiles_derive_level
BEFORE INSERT OR UPDATE OF xp, level ON user_profiles
FOR EACH ROW EXECUTE FUNCTION bahr_derive_level()""",
        "DROP TRIGGER IF EXISTS user_profiles_derive_level ON user_profiles",
    ),
    DbObject(
        "analyses_resolve_meter",
        """
CREATE OR REPLACE TRIGGER analyses_resolve_meter
BEFORE INSERT OR UPDATE OF detected_meter, meter_id ON analyses
FOR EACH ROW EXECUTE FUNCTION bahr_resolve_meter()""",
        "DROP TRIGGER IF EXISTS analyses_resolve_meter ON analyses",
    ),
    DbObject(
        "analyses_history_insert",
        """
CREATE OR REPLACE TRIGGER analyses_history_insert AFTER INSERT ON analyses
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION bahr_record_analysis_history()""",
        "DROP TRIGGER IF EXISTS analyses_history_insert ON analyses",
    ),
    DbObject(
        "analyses_history_update",
        """
CREATE OR REPLACE TRIGGER analyses_history_update AFTER UPDATE ON analyses
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION bahr_record_analysis_history()""",
        "DROP TRIGGER IF EXISTS analyses_history_update ON analyses",
    ),
    DbObject(
        "analyses_history_delete",
        """
CREATE OR REPLACE TRIGGER analyses_history_delete AFTER DELETE ON analyses
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION bahr_record_analysis_history()""",
        "DROP TRIGGER IF EXISTS analyses_history_delete ON analyses",
    ),
    DbObject(
        "analysis_history_append_only",
        """
CREATE OR REPLACE TRIGGER analysis_history_append_only
BEFORE UPDATE OR DELETE ON analysis_history
FOR EACH ROW EXECUTE FUNCTION bahr_history_append_only()""",
        "DROP TRIGGER IF EXISTS analysis_history_append_only ON analysis_history",
    ),
    DbObject(
        "analysis_history_no_truncate",
        """
CREATE OR REPLACE TRIGGER analysis_history_no_truncate
BEFORE TRUNCATE ON analysis_history
FOR EACH STATEMENT EXECUTE FUNCTION bahr_history_append_only()""",
        "DROP TRIGGER IF EXISTS analysis_history_no_truncate ON analysis_history",
    ),
)


#: Added by migration 0004 (kept apart so that 0001 keeps creating exactly what it did).
ID_FUNCTIONS: Sequence[DbObject] = (
    DbObject(
        "bahr_uuid7",
        # RFC 9562 version 7: the Unix time in ms in the first 48 bits of a random (v4)
        # UUID, then the version nibble 0100 -> 0111 (bits 52 and 53 of the bytea).
        """
CREATE OR REPLACE FUNCTION bahr_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
RETURN encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
    FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid""",
        "DROP FUNCTION IF EXISTS bahr_uuid7()",
    ),
)


#: Added by migration 0007: the RUM index behind word search (ranks every match inside the
#: index, from the word positions it stores). Created only where the ``rum`` extension
#: is installed (a superuser's step: ``CREATE EXTENSION rum``); without it search uses the
#: GIN index (the same results, slower for mid-frequency words); ``bahr-db doctor`` says so.
SEARCH_INDEXES: Sequence[DbObject] = (
    DbObject(
        "ix_analyses_search_rum",
        """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'rum') THEN
        EXECUTE 'CREATE INDEX IF NOT EXISTS ix_analyses_search_rum ON public.analyses '
                'USING rum (search_vector rum_tsvector_ops)';
    END IF;
END $$""",
        "DROP INDEX IF EXISTS public.ix_analyses_search_rum",
    ),
)


def execute_all(conn: Connection, statements: Sequence[str]) -> None:
    for statement in statements:
        conn.execute(text(statement))


def create_extensions(conn: Connection) -> None:
    execute_all(conn, [o.create for o in EXTENSIONS])


def create_functions(conn: Connection, objects: Sequence[DbObject] = FUNCTIONS) -> None:
    # SQL functions are checked at creation and the generated search column needs
    # bahr_search_fold, so functions come before tables; PL/pgSQL bodies that name tables
    # are only resolved when they run.
    execute_all(conn, [o.create for o in objects])


def create_triggers(conn: Connection) -> None:
    execute_all(conn, [o.create for o in TRIGGERS])


def drop_functions(conn: Connection, objects: Sequence[DbObject] = FUNCTIONS) -> None:
    # Triggers go with their tables; the functions stay unless dropped.
    execute_all(conn, [o.drop for o in reversed(objects)])


def attach(metadata: MetaData) -> None:
    """Make ``create_all`` / ``drop_all`` build and remove these objects too."""

    @event.listens_for(metadata, "before_create")
    def _before_create(_target: MetaData, connection: Connection, **_kw: object) -> None:
        create_extensions(connection)
        create_functions(connection)
        create_functions(connection, ID_FUNCTIONS)

    @event.listens_for(metadata, "after_create")
    def _after_create(_target: MetaData, connection: Connection, **_kw: object) -> None:
        create_triggers(connection)
        execute_all(connection, [o.create for o in SEARCH_INDEXES])

    @event.listens_for(metadata, "after_drop")
    def _after_drop(_target: MetaData, connection: Connection, **_kw: object) -> None:
        drop_functions(connection, ID_FUNCTIONS)
        drop_functions(connection)
