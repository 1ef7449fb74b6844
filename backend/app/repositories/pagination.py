"""A page of a keyset-paginated listing (the cursors: :func:`app.repositories.base.encode_key`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results; pass ``next_cursor`` back as ``before`` for the next one."""

    items: Sequence[T]
    next_cursor: str | None
