"""Pin the search_path of every function that touches tables (security, issue 16).

``bahr_record_analysis_history`` is SECURITY DEFINER and ran with ``SET search_path FROM
CURRENT``, which leaves the session's ``pg_temp`` first: the application role could create a
temporary ``analysis_history`` and capture every history row. ``bahr_history_append_only``
read an unqualified ``pg_class``, which a temporary table of that name shadows. Each function
now runs with ``search_path = pg_catalog, public, pg_temp`` (pg_temp last) and names its
tables with their schema.

The SQL is frozen here, as this revision wrote it; ``app.db.ddl`` holds the same definitions
for ``create_all`` (the catalog test proves the two agree).

Downgrade restores the functions' previous settings (``FROM CURRENT`` for the definer
function, no setting for the others); the schema-qualified bodies stay, as they behave the
same for a path without temporary tables.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS: Sequence[str] = (
    # bahr_resolve_meter
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
    # bahr_record_analysis_history
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
    # bahr_history_append_only
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

PREVIOUS_SETTINGS: Sequence[str] = (
    "ALTER FUNCTION bahr_resolve_meter() RESET search_path",
    "ALTER FUNCTION bahr_record_analysis_history() SET search_path FROM CURRENT",
    "ALTER FUNCTION bahr_history_append_only() RESET search_path",
)


def upgrade() -> None:
    for statement in FUNCTIONS:
        op.execute(statement)


def downgrade() -> None:
    for statement in PREVIOUS_SETTINGS:
        op.execute(statement)
