"""One repository base: the common verbs, input validation, the commit policy and error
translation, each written once.

A table's repository states its model and schemas, and adds only what is specific to it::

    class MeterRepository(RepositoryBase[Meter, int]):
        model = Meter
        create_schema = MeterCreate
        update_schema = MeterUpdate
        id_field = "meter_id"

It then has ``get``, ``list`` (keyset), ``create``, ``update``, ``delete`` and ``_require``.
A read-only table uses :class:`ReadRepositoryBase` (``get``, ``list``, ``_require``).

**Commit policy** (see :mod:`app.db.database`): a write verb adds and flushes when its
session belongs to a unit of work (``with db.transaction() as session``, ``get_db`` once it
is one), which then commits once; on any other session (a plain ``SessionLocal()``, the
spec's code) it commits, as the spec's repositories do.

**Errors**: every public method of every repository built on this base (its own methods
included) turns a database or pool error into its typed error with
:func:`app.db.errors.translate`, so none leaves a repository untranslated. Outside a
unit of work the session is rolled back on such an error, as before; inside one the unit of
work rolls back everything, once (a repository never silently undoes work that the scope
would later commit, and a caught error cannot lead to a partial commit).

**Limits**: every ``list``-style method takes ``limit`` from 1 to :data:`LIMIT_MAX`
(:func:`check_limit`).
"""

from __future__ import annotations

import base64
import builtins
import datetime as dt
import inspect
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import update_wrapper
from typing import Any, ClassVar, Concatenate, Generic, ParamSpec, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Select, select, tuple_
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.db.base import Base
from app.db.database import in_unit_of_work, mark_failed
from app.db.errors import translate
from app.errors import AlreadyExists, InvalidInput, NotFound
from app.repositories.pagination import Page

ModelT = TypeVar("ModelT", bound=Base)
IdT = TypeVar("IdT")
SchemaT = TypeVar("SchemaT", bound=BaseModel)
P = ParamSpec("P")
R = TypeVar("R")

#: The one limit rule of every listing: 1 to ``LIMIT_MAX`` rows per page.
DEFAULT_LIMIT = 20
LIMIT_MAX = 100

Input = BaseModel | Mapping[str, Any]


def check_limit(limit: int) -> int:
    """``limit`` if it is an integer from 1 to :data:`LIMIT_MAX`, else :class:`InvalidInput`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIMIT_MAX:
        raise InvalidInput(f"limit: must be between 1 and {LIMIT_MAX}", field="limit", rule="range")
    return limit


def validated(schema: type[SchemaT], data: SchemaT | Mapping[str, Any]) -> SchemaT:
    """``data`` as ``schema``; the first problem becomes an :class:`InvalidInput` naming
    its field and the pydantic rule it broke."""
    if isinstance(data, schema):
        return data
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidInput(f"{field}: {first['msg']}", field=field, rule=first["type"]) from exc


# -- keyset cursors ----------------------------------------------------------------------------
def encode_key(values: Sequence[Any]) -> str:
    """An opaque cursor for the keyset values of the last row of a page."""
    plain = [v if isinstance(v, (int, float)) else v.isoformat() if isinstance(v, dt.date)
             else str(v) for v in values]  # fmt: skip
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_key(cursor: str, types: Sequence[type]) -> tuple[Any, ...]:
    """The keyset values of :func:`encode_key`, each converted back to its column's type."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong shape")
        return tuple(_parse(value, kind) for value, kind in zip(values, types, strict=True))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput(
            "after: not a cursor returned by this API", field="after", rule="cursor"
        ) from None


def _parse(value: Any, kind: type) -> Any:
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("not an integer")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("not a number")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("not text")
    if kind is dt.datetime:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed
    if kind is uuid.UUID:
        return uuid.UUID(value)
    return value


# -- error translation, applied once -------------------------------------------------------------
def _translating(method: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[Any, P], R]:
    def wrapper(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:  # nothing is added to a call that succeeds: lookups stay as fast as before
            return method(self, *args, **kwargs)
        except (DBAPIError, PoolTimeout) as exc:
            # PostgreSQL aborted the transaction. A unit of work rolls back once, for
            # everyone, at its end; any other session is rolled back here, as before.
            session: Session = self.db
            if in_unit_of_work(session):
                mark_failed(session)
            else:
                session.rollback()
            raise translate(exc) from exc

    wrapper.__translating__ = True  # type: ignore[attr-defined]
    return update_wrapper(wrapper, method)


def _translate_public_methods(cls: type) -> None:
    for name, member in builtins.list(vars(cls).items()):
        if (
            not name.startswith("_")
            and inspect.isfunction(member)
            and not getattr(member, "__translating__", False)
        ):
            setattr(cls, name, _translating(member))


class ReadRepositoryBase(Generic[ModelT, IdT]):
    """``get``, keyset ``list`` and ``_require`` over one model."""

    model: type[ModelT]
    #: The name errors give the id (``meter_id``, ``user_id``, …).
    id_field: ClassVar[str] = "id"
    #: Attribute names of the keyset order (ascending, unique); by default the primary key.
    keyset: ClassVar[tuple[str, ...]] = ()

    def __init__(self, db: Session) -> None:
        self.db = db

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _translate_public_methods(cls)

    def get(self, id_: IdT, /) -> ModelT | None:
        """The row with this primary key, or None (no query if the session holds it)."""
        return self.db.get(self.model, id_)

    def list(self, *, limit: int = DEFAULT_LIMIT, after: str | None = None) -> Page[ModelT]:
        """Rows in keyset order; pass ``next_cursor`` back as ``after`` for the next page."""
        return self._page(select(self.model), limit=limit, after=after)

    # -- for subclasses ---------------------------------------------------------------------
    def _require(self, id_: IdT) -> ModelT:
        """The row, or :class:`NotFound` naming :attr:`id_field`."""
        row = self.get(id_)
        if row is None:
            table = self.model.__tablename__
            raise NotFound(
                f"{self.id_field}: no row in {table} with id {id_}",
                field=self.id_field,
                rule="exists",
            )
        return row

    def _page(
        self,
        stmt: Select[ModelT],
        *,
        limit: int,
        after: str | None,
        descending: bool = False,
    ) -> Page[ModelT]:
        """One keyset page of ``stmt`` (a ``select(model)`` with any filters), in
        :attr:`keyset` order, or its reverse (newest first, say) with ``descending``."""
        check_limit(limit)
        columns = self._keyset_columns()
        order = [c.desc() for c in columns] if descending else columns
        stmt = stmt.order_by(*order).limit(limit + 1)
        if after is not None:
            key = decode_key(after, [c.type.python_type for c in columns])
            if len(columns) == 1:
                past = columns[0] < key[0] if descending else columns[0] > key[0]
            else:
                row, seen = tuple_(*columns), tuple_(*key)
                past = row < seen if descending else row > seen
            stmt = stmt.where(past)
        rows = builtins.list(self.db.scalars(stmt))
        items = rows[:limit]
        cursor = None
        if len(rows) > limit:
            cursor = encode_key([getattr(items[-1], c.key) for c in columns])
        return Page(items=items, next_cursor=cursor)

    def _keyset_columns(self) -> builtins.list[InstrumentedAttribute[Any]]:
        names = self.keyset or tuple(
            sa_inspect(self.model).get_property_by_column(c).key
            for c in sa_inspect(self.model).primary_key
        )
        return [getattr(self.model, name) for name in names]


_translate_public_methods(ReadRepositoryBase)


class RepositoryBase(ReadRepositoryBase[ModelT, IdT]):
    """The read verbs plus ``create``, ``update`` and ``delete``, validated by the model's
    pydantic schemas (a schema instance or a plain mapping is accepted)."""

    create_schema: ClassVar[type[BaseModel]]
    update_schema: ClassVar[type[BaseModel]]

    def create(self, data: Input, /) -> ModelT:
        """Validate ``data`` with :attr:`create_schema` and add the new row."""
        row = self.model(**self._values(validated(self.create_schema, data), partial=False))
        self._refuse_known_key(row)
        self.db.add(row)
        self._save()
        return row

    def update(self, id_: IdT, data: Input, /) -> ModelT:
        """Apply the fields set in ``data`` (validated by :attr:`update_schema`)."""
        changes = self._values(validated(self.update_schema, data), partial=True)
        row = self._require(id_)
        for key, value in changes.items():
            setattr(row, key, value)
        self._save()
        return row

    def delete(self, id_: IdT, /) -> bool:
        """Delete the row; False when there is none."""
        row = self.get(id_)
        if row is None:
            return False
        self.db.delete(row)
        self._save()
        return True

    # -- for subclasses ---------------------------------------------------------------------
    def _values(self, data: BaseModel, *, partial: bool) -> dict[str, Any]:
        """Column values for ``data``: fields named like a column become that column's
        attribute (``metadata`` → ``meta``). Override to derive columns (and call super)."""
        keys = _attribute_keys(self.model)
        dumped = data.model_dump(exclude_unset=partial)
        return {keys.get(name, name): value for name, value in dumped.items()}

    def _refuse_known_key(self, row: ModelT) -> None:
        """A new row whose given primary key this session already holds is refused here,
        as the database would refuse it (the ORM would not even send the INSERT)."""
        mapper = sa_inspect(self.model)
        key = mapper.identity_key_from_instance(row)
        if None not in key[1] and key in self.db.identity_map:
            field = mapper.get_property_by_column(mapper.primary_key[0]).key
            raise AlreadyExists(f"{field}: already taken", field=field, rule="unique")

    def _save(self) -> None:
        """Flush inside a unit of work (it commits once); commit otherwise (the spec)."""
        if in_unit_of_work(self.db):
            self.db.flush()
        else:
            self.db.commit()


def _attribute_keys(model: type[Base]) -> dict[str, str]:
    """column name → attribute key, for the columns whose attribute is named otherwise."""
    return {
        prop.columns[0].name: prop.key
        for prop in sa_inspect(model).column_attrs
        if prop.columns[0].name != prop.key
    }


__all__ = [
    "DEFAULT_LIMIT",
    "LIMIT_MAX",
    "Page",
    "ReadRepositoryBase",
    "RepositoryBase",
    "check_limit",
    "decode_key",
    "encode_key",
    "validated",
]
