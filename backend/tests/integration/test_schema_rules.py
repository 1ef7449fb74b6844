"""Every rule of the schema, enforced by PostgreSQL itself: raw SQL cannot break it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from psycopg import errors as pg
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

USER = {
    "username": "rules_user",
    "email": "rules@example.com",
    "password_hash": "$argon2id$v=19$x",
    "full_name": "Rules User",
}


@pytest.fixture
def connection(owner_connection: Connection) -> Connection:
    """Raw SQL as the schema owner: the rules hold for every role, the owner included (the
    application role's narrower grants are tested in test_roles.py)."""
    return owner_connection


def insert(conn: Connection, table: str, row: dict[str, Any]) -> Any:
    cols = ", ".join(f'"{c}"' for c in row)
    params = ", ".join(f":{c}" for c in row)
    returning = "user_id" if table == "user_profiles" else "id"
    return conn.execute(
        text(f"INSERT INTO {table} ({cols}) VALUES ({params}) RETURNING {returning}"), row
    ).scalar_one()


@pytest.fixture
def user_id(connection: Connection) -> int:
    return int(insert(connection, "users", USER))


@pytest.fixture
def meter_id(connection: Connection) -> int:
    return int(
        insert(
            connection,
            "meters",
            {
                "name_arabic": "تجريبي",
                "name_english": "test-meter",
                "position": 99,
                "feet": "فعولن",
                "pattern": "//o/o",
            },
        )
    )


def rejects(
    conn: Connection,
    sql: str,
    params: dict[str, Any],
    sqlstate: type[Exception],
    constraint: str | None = None,
) -> None:
    nested = conn.begin_nested()
    with pytest.raises(DBAPIError) as info:
        conn.execute(text(sql), params)
    nested.rollback()
    assert isinstance(info.value.orig, sqlstate), info.value.orig
    if constraint is not None:
        assert info.value.orig.diag.constraint_name == constraint  # type: ignore[union-attr]


USER_VIOLATIONS = [
    ({"username": "ab"}, pg.CheckViolation, "ck_users_username_format"),
    ({"username": "x" * 51}, pg.StringDataRightTruncation, None),
    ({"username": "has space"}, pg.CheckViolation, "ck_users_username_format"),
    ({"username": "tab\tname"}, pg.CheckViolation, "ck_users_username_format"),
    ({"username": "nb\u00a0sp"}, pg.CheckViolation, "ck_users_username_format"),
    ({"username": "zw\u200bsp"}, pg.CheckViolation, "ck_users_username_format"),
    ({"username": "bell\u0007"}, pg.CheckViolation, "ck_users_username_format"),
    ({"email": "not-an-email"}, pg.CheckViolation, "ck_users_email_format"),
    ({"full_name": "   "}, pg.CheckViolation, "ck_users_full_name_not_blank"),
    ({"role": "guru"}, pg.InvalidTextRepresentation, None),
    ({"username": None}, pg.NotNullViolation, None),
    ({"email": None}, pg.NotNullViolation, None),
    ({"password_hash": None}, pg.NotNullViolation, None),
]


@pytest.mark.parametrize(("change", "error", "constraint"), USER_VIOLATIONS)
def test_users_rules(
    connection: Connection, change: dict[str, Any], error: type[Exception], constraint: str | None
) -> None:
    row = {**USER, **change}
    cols = ", ".join(row)
    vals = ", ".join(f":{c}" for c in row)
    rejects(connection, f"INSERT INTO users ({cols}) VALUES ({vals})", row, error, constraint)


@pytest.mark.parametrize(
    ("column", "value"), [("username", "RULES_USER"), ("email", "RULES@Example.COM")]
)
def test_username_and_email_are_unique_case_insensitively(
    connection: Connection, user_id: int, column: str, value: str
) -> None:
    other = {"username": "another", "email": "another@example.com"}
    row = {**USER, **other, column: value}
    rejects(
        connection,
        "INSERT INTO users (username, email, password_hash, full_name) "
        "VALUES (:username, :email, :password_hash, :full_name)",
        row,
        pg.UniqueViolation,
        f"uq_users_{column}_lower",
    )


def test_updated_at_is_kept_by_the_database(connection: Connection, user_id: int) -> None:
    before = connection.execute(
        text("SELECT updated_at FROM users WHERE id = :id"), {"id": user_id}
    ).scalar_one()
    assert before is None
    connection.execute(
        text("UPDATE users SET full_name = 'Renamed' WHERE id = :id"), {"id": user_id}
    )
    after = connection.execute(
        text("SELECT updated_at, now() FROM users WHERE id = :id"), {"id": user_id}
    ).one()
    assert after[0] == after[1]


def test_user_defaults_in_the_database(connection: Connection, user_id: int) -> None:
    row = connection.execute(
        text(
            "SELECT role::text, is_active, is_verified, created_at IS NOT NULL FROM users "
            "WHERE id = :id"
        ),
        {"id": user_id},
    ).one()
    assert tuple(row) == ("student", True, False, True)


PROFILE_VIOLATIONS = [
    ({"level": 0}, None),  # level is derived from xp; a 0 is overwritten, see below
    ({"xp": -1}, "ck_user_profiles_xp_not_negative"),
    ({"bio": "ب" * 2001}, "ck_user_profiles_bio_length"),
    ({"preferred_language": "fr"}, "ck_user_profiles_preferred_language_known"),
    ({"theme": "neon"}, "ck_user_profiles_theme_known"),
    ({"website": "javascript:alert(1)"}, "ck_user_profiles_website_http"),
    ({"avatar_url": "ftp://x/y.png"}, "ck_user_profiles_avatar_url_http"),
]


@pytest.mark.parametrize(("change", "constraint"), PROFILE_VIOLATIONS[1:])
def test_user_profiles_rules(
    connection: Connection, user_id: int, change: dict[str, Any], constraint: str
) -> None:
    row = {"user_id": user_id, **change}
    cols = ", ".join(row)
    vals = ", ".join(f":{c}" for c in row)
    rejects(
        connection,
        f"INSERT INTO user_profiles ({cols}) VALUES ({vals})",
        row,
        pg.CheckViolation,
        constraint,
    )


def test_level_is_derived_from_xp_whatever_sql_says(connection: Connection, user_id: int) -> None:
    insert(connection, "user_profiles", {"user_id": user_id, "level": 0, "xp": 450})
    level = connection.execute(
        text("SELECT level FROM user_profiles WHERE user_id = :id"), {"id": user_id}
    ).scalar_one()
    assert level == 3  # 1 + floor(sqrt(450 / 100))
    connection.execute(
        text("UPDATE user_profiles SET level = 99 WHERE user_id = :id"), {"id": user_id}
    )
    connection.execute(
        text("UPDATE user_profiles SET xp = 100 WHERE user_id = :id"), {"id": user_id}
    )
    level = connection.execute(
        text("SELECT level FROM user_profiles WHERE user_id = :id"), {"id": user_id}
    ).scalar_one()
    assert level == 2


def test_profile_needs_an_existing_user(connection: Connection) -> None:
    rejects(
        connection,
        "INSERT INTO user_profiles (user_id) VALUES (-5)",
        {},
        pg.ForeignKeyViolation,
        "fk_user_profiles_user_id_users",
    )


def test_profile_primary_key_is_the_user(connection: Connection, user_id: int) -> None:
    insert(connection, "user_profiles", {"user_id": user_id})
    rejects(
        connection,
        "INSERT INTO user_profiles (user_id) VALUES (:u)",
        {"u": user_id},
        pg.UniqueViolation,
        "pk_user_profiles",
    )


def _analysis(**change: Any) -> dict[str, Any]:
    return {"original_text": "قفا نبك", "normalized_text": "قفا نبك", "pattern": "//o/o", **change}


ANALYSIS_VIOLATIONS = [
    ({"original_text": ""}, pg.CheckViolation, "ck_analyses_original_text_length"),
    ({"original_text": "  \n "}, pg.CheckViolation, "ck_analyses_original_text_length"),
    ({"original_text": "ب" * 10_001}, pg.CheckViolation, "ck_analyses_original_text_length"),
    ({"normalized_text": "ب" * 10_001}, pg.CheckViolation, "ck_analyses_normalized_text_length"),
    ({"pattern": "//x/o"}, pg.CheckViolation, "ck_analyses_pattern_notation"),
    ({"pattern": "//o  /o"}, pg.CheckViolation, "ck_analyses_pattern_notation"),
    ({"pattern": ""}, pg.CheckViolation, "ck_analyses_pattern_notation"),
    ({"confidence": 1.5}, pg.CheckViolation, "ck_analyses_confidence_range"),
    ({"confidence": -0.1}, pg.CheckViolation, "ck_analyses_confidence_range"),
    ({"confidence": 12.5}, pg.NumericValueOutOfRange, None),
    ({"syllable_count": -1}, pg.CheckViolation, "ck_analyses_syllable_count_not_negative"),
    ({"processing_time_ms": -3}, pg.CheckViolation, "ck_analyses_processing_time_not_negative"),
    ({"metadata": "[1, 2]"}, pg.CheckViolation, "ck_analyses_metadata_is_object"),
    ({"metadata": '"text"'}, pg.CheckViolation, "ck_analyses_metadata_is_object"),
    ({"metadata": '{"x": "' + "a" * 17_000 + '"}'}, pg.CheckViolation, "ck_analyses_metadata_size"),
    ({"user_id": -7}, pg.ForeignKeyViolation, "fk_analyses_user_id_users"),
    ({"meter_id": -7}, pg.ForeignKeyViolation, "fk_analyses_meter_id_meters"),
    ({"original_text": None}, pg.NotNullViolation, None),
    ({"normalized_text": None}, pg.NotNullViolation, None),
    ({"pattern": None}, pg.NotNullViolation, None),
    ({"detected_meter": "x" * 51}, pg.StringDataRightTruncation, None),
]


@pytest.mark.parametrize(("change", "error", "constraint"), ANALYSIS_VIOLATIONS)
def test_analyses_rules(
    connection: Connection, change: dict[str, Any], error: type[Exception], constraint: str | None
) -> None:
    row = _analysis(**change)
    cols = ", ".join(f'"{c}"' for c in row)
    vals = ", ".join(f"CAST(:{c} AS jsonb)" if c == "metadata" else f":{c}" for c in row)
    rejects(connection, f"INSERT INTO analyses ({cols}) VALUES ({vals})", row, error, constraint)


def test_analysis_defaults_and_generated_vector(connection: Connection) -> None:
    aid = insert(connection, "analyses", _analysis(normalized_text="والليل والخيل"))
    row = connection.execute(
        text(
            "SELECT metadata, created_at IS NOT NULL, search_vector IS NOT NULL, "
            "search_vector @@ to_tsquery('arabic', 'الخيل') FROM analyses WHERE id = :id"
        ),
        {"id": aid},
    ).one()
    assert isinstance(aid, uuid.UUID)
    assert tuple(row) == ({}, True, True, True)
    rejects(
        connection,
        "UPDATE analyses SET search_vector = NULL WHERE id = :id",
        {"id": aid},
        pg.GeneratedAlways,
    )


METER_VIOLATIONS = [
    ({"pattern": "//o/o x"}, pg.CheckViolation, "ck_meters_pattern_notation"),
    ({"feet": " "}, pg.CheckViolation, "ck_meters_feet_not_blank"),
    ({"examples": "{}"}, pg.CheckViolation, "ck_meters_examples_is_array"),
    ({"metadata": "[]"}, pg.CheckViolation, "ck_meters_metadata_is_object"),
    ({"position": 0}, pg.CheckViolation, "ck_meters_position_positive"),
    ({"name_arabic": "تجريبي"}, pg.UniqueViolation, "uq_meters_name_arabic"),
    ({"name_english": "test-meter"}, pg.UniqueViolation, "uq_meters_name_english"),
    ({"position": 99}, pg.UniqueViolation, "uq_meters_position"),
]


@pytest.mark.parametrize(("change", "error", "constraint"), METER_VIOLATIONS)
def test_meters_rules(
    connection: Connection,
    meter_id: int,
    change: dict[str, Any],
    error: type[Exception],
    constraint: str,
) -> None:
    row = {
        "name_arabic": "آخر",
        "name_english": "other",
        "position": 98,
        "feet": "فعولن",
        "pattern": "//o/o",
        **change,
    }
    cols = ", ".join(f'"{c}"' for c in row)
    vals = ", ".join(
        f"CAST(:{c} AS jsonb)" if c in {"metadata", "examples"} else f":{c}" for c in row
    )
    rejects(connection, f"INSERT INTO meters ({cols}) VALUES ({vals})", row, error, constraint)


def test_deleting_a_user_deletes_the_profile_and_keeps_analyses_anonymous(
    connection: Connection, user_id: int
) -> None:
    insert(connection, "user_profiles", {"user_id": user_id})
    aid = insert(connection, "analyses", _analysis(user_id=user_id))
    connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})
    assert (
        connection.execute(
            text("SELECT count(*) FROM user_profiles WHERE user_id = :id"), {"id": user_id}
        ).scalar_one()
        == 0
    )
    assert connection.execute(
        text("SELECT user_id FROM analyses WHERE id = :id"), {"id": aid}
    ).one() == (None,)


def history(conn: Connection, aid: uuid.UUID) -> list[Any]:
    return list(
        conn.execute(
            text(
                "SELECT event::text, user_id, old_pattern, new_pattern, old_detected_meter, "
                "new_detected_meter, old_meter_id, new_meter_id, old_engine_version, "
                "new_engine_version FROM analysis_history WHERE analysis_id = :id ORDER BY id"
            ),
            {"id": aid},
        )
    )


def test_history_records_create_update_delete_without_text(
    connection: Connection, user_id: int, meter_id: int
) -> None:
    aid = insert(connection, "analyses", _analysis(user_id=user_id, detected_meter="تجريبي"))
    connection.execute(
        text(
            "UPDATE analyses SET pattern = '//o/o/o', detected_meter = 'مجهول', "
            'metadata = \'{"engine_version": "2.0"}\' WHERE id = :id'
        ),
        {"id": aid},
    )
    # A change that does not touch the result is not an event.
    connection.execute(
        text("UPDATE analyses SET processing_time_ms = 5 WHERE id = :id"), {"id": aid}
    )
    connection.execute(text("DELETE FROM analyses WHERE id = :id"), {"id": aid})
    rows = history(connection, aid)
    assert [tuple(r) for r in rows] == [
        ("created", user_id, None, "//o/o", None, "تجريبي", None, meter_id, None, None),
        ("updated", user_id, "//o/o", "//o/o/o", "تجريبي", "مجهول", meter_id, None, None, "2.0"),
        ("deleted", user_id, "//o/o/o", None, "مجهول", None, None, None, "2.0", None),
    ]
    columns = (
        connection.execute(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'analysis_history'"
            )
        )
        .scalars()
        .all()
    )
    assert not {"original_text", "normalized_text"} & set(columns)


def test_history_of_a_bulk_insert_has_one_row_per_analysis(connection: Connection) -> None:
    connection.execute(
        text(
            "INSERT INTO analyses (original_text, normalized_text, pattern) "
            "SELECT 'بيت ' || g, 'بيت ' || g, '//o/o' FROM generate_series(1, 50) g"
        )
    )
    assert (
        connection.execute(
            text("SELECT count(*) FROM analysis_history h JOIN analyses a ON a.id = h.analysis_id")
        ).scalar_one()
        == 50
    )


def test_meter_id_is_resolved_from_a_known_label_and_cleared_for_an_unknown_one(
    connection: Connection, meter_id: int
) -> None:
    aid = insert(connection, "analyses", _analysis(detected_meter="TEST-METER"))
    get = text("SELECT detected_meter, meter_id FROM analyses WHERE id = :id")
    assert tuple(connection.execute(get, {"id": aid}).one()) == ("TEST-METER", meter_id)
    connection.execute(
        text("UPDATE analyses SET detected_meter = 'غريب' WHERE id = :id"), {"id": aid}
    )
    assert tuple(connection.execute(get, {"id": aid}).one()) == ("غريب", None)


def test_arabic_collation_orders_alphabetically_ignoring_harakat_and_hamza(
    connection: Connection,
) -> None:
    names = ["يوسف", "أحمد", "بَدْر", "إبراهيم", "ثامر", "آمنة", "تَمّام", "باسل"]
    for i, name in enumerate(names):
        insert(
            connection,
            "users",
            {**USER, "username": f"coll{i}", "email": f"c{i}@x.org", "full_name": name},
        )
    ordered = (
        connection.execute(
            text("SELECT full_name FROM users WHERE username LIKE 'coll%' ORDER BY full_name")
        )
        .scalars()
        .all()
    )
    assert ordered == ["آمنة", "إبراهيم", "أحمد", "باسل", "بَدْر", "تَمّام", "ثامر", "يوسف"]
