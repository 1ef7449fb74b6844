"""The one place where database and driver errors become :mod:`app.errors` errors.

A violated constraint is mapped to the field it guards, read from the models' own metadata
(``diag.constraint_name`` → table and column), so a new CHECK gets a field name for free.
Text that PostgreSQL cannot store (NUL bytes, lone surrogates) is caught before it is sent,
because the driver's own errors for it name no field.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import psycopg.errors as pg
from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from app.db.base import Base
from app.errors import (
    AlreadyExists,
    BahrDataError,
    DatabaseUnavailable,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ReadOnlySession,
)
from app.rules import METADATA_MAX_DEPTH
from app.text import storable


def check_text(value: str, field: str) -> str:
    """Refuse text that PostgreSQL cannot store, naming the field."""
    if (reason := storable.problem(value)) is not None:
        raise InvalidInput(f"{field}: {reason}", field=field, rule="storable_text")
    return value


def check_json(value: Any, field: str) -> None:
    """:func:`check_text` over every key and string of a JSON document, nested at most
    ``METADATA_MAX_DEPTH`` levels (:func:`app.text.storable.json_problem`)."""
    if (found := storable.json_problem(value, METADATA_MAX_DEPTH)) is not None:
        rule, reason = found
        raise InvalidInput(f"{field}: {reason}", field=field, rule=rule)


@cache
def _constraint_fields() -> dict[str, tuple[str, str]]:
    """constraint or index name → (field, rule), from the models' metadata."""
    fields: dict[str, tuple[str, str]] = {}
    for table in Base.metadata.tables.values():
        columns = [c.name for c in table.columns]
        for constraint in table.constraints:
            name = str(constraint.name)
            if isinstance(constraint, CheckConstraint):
                sql = str(constraint.sqltext)
                found = [c for c in columns if re.search(rf"\b{c}\b", sql)]
                rule = name.removeprefix(f"ck_{table.name}_")
                fields[name] = (found[0] if found else table.name, rule)
            elif isinstance(constraint, UniqueConstraint | ForeignKeyConstraint):
                kind = "unique" if isinstance(constraint, UniqueConstraint) else "must_exist"
                fields[name] = (next(iter(constraint.columns)).name, kind)
            elif isinstance(constraint, PrimaryKeyConstraint):
                fields[name] = (next(iter(constraint.columns)).name, "unique")
        for index in table.indexes:
            if isinstance(index, Index) and index.unique:
                expr = " ".join(str(e) for e in index.expressions)
                found = [c for c in columns if re.search(rf"\b{c}\b", expr)]
                field = index.info.get("field", found[0] if found else table.name)
                fields[str(index.name)] = (field, index.info.get("rule", "unique"))
    return fields


#: What a unique rule other than plain equality means, for the message.
_TAKEN = {"not_confusable": "looks like a name that is already taken"}


def translate(exc: Exception) -> BahrDataError:
    """A typed error for a database exception (the original is kept as ``__cause__``)."""
    if isinstance(exc, PoolTimeout):
        return DatabaseUnavailable(
            "no database connection became free in time (pool exhausted); try again",
            rule="pool_timeout",
        )
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    diag = getattr(orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    column = getattr(diag, "column_name", None)
    field, rule = _constraint_fields().get(constraint or "", (column, None))
    detail = getattr(diag, "message_primary", None) or str(orig).splitlines()[0]
    if isinstance(orig, pg.UniqueViolation):
        taken = _TAKEN.get(rule or "", "already taken (case-insensitive)")
        return AlreadyExists(f"{field}: {taken}", field=field, rule=rule or "unique")
    if isinstance(orig, pg.CheckViolation):
        return InvalidInput(f"{field}: breaks the rule {rule}", field=field, rule=rule)
    if isinstance(orig, pg.ForeignKeyViolation):
        return NotFound(
            f"{field}: refers to a row that does not exist", field=field, rule="must_exist"
        )
    if isinstance(orig, pg.NotNullViolation):
        return InvalidInput(f"{column}: is required", field=column, rule="required")
    if isinstance(orig, pg.StringDataRightTruncation | pg.NumericValueOutOfRange):
        return InvalidInput(
            f"{column or 'value'}: too long or out of range ({detail})",
            field=column,
            rule="max_length",
        )
    if isinstance(orig, pg.DataError):
        return InvalidInput(f"invalid value: {detail}", field=column, rule="invalid")
    if isinstance(orig, pg.QueryCanceled):
        return DatabaseUnavailable(
            "the statement took too long and was cancelled (statement_timeout)",
            rule="statement_timeout",
        )
    if isinstance(orig, pg.LockNotAvailable):
        return DatabaseUnavailable(
            "a row was locked for too long (lock_timeout)", rule="lock_timeout"
        )
    if isinstance(orig, pg.ReadOnlySqlTransaction):
        return ReadOnlySession(
            f"this session only reads; write through SessionLocal / get_db ({detail})",
            rule="read_only",
        )
    if isinstance(orig, pg.InsufficientPrivilege):
        return PermissionDenied(f"permission denied: {detail}", rule="permission")
    if isinstance(orig, pg.OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return DatabaseUnavailable(f"the database is unavailable: {detail}", rule="unavailable")
    return BahrDataError(f"database error: {detail}", rule="database")


@contextlib.contextmanager
def translated(session: Session | None = None) -> Iterator[None]:
    """Run a unit of work; on a database error roll back and raise the typed error."""
    try:
        yield
    except (DBAPIError, PoolTimeout) as exc:
        if session is not None:
            session.rollback()
        raise translate(exc) from exc
    except BahrDataError:
        if session is not None:
            session.rollback()
        raise


@event.listens_for(Session, "before_flush")
def _refuse_unstorable_text(session: Session, _ctx: object, _instances: object) -> None:
    """Every ORM write, whatever its path, gets the field-naming NUL/surrogate check, and a
    text column gets text (psycopg would store a list as an array literal, ``'{a}'``)."""
    for obj in (*session.new, *session.dirty):
        mapper = obj.__mapper__
        for attr in mapper.column_attrs:
            value = obj.__dict__.get(attr.key)
            column = attr.columns[0]
            if isinstance(value, str):
                check_text(value, column.name)
            elif value is not None and isinstance(column.type, String):
                raise InvalidInput(f"{column.name}: must be text", field=column.name, rule="type")
            elif isinstance(value, dict | list):
                check_json(value, column.name)
