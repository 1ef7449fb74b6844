"""What a search accepts besides its query: the page size and the cursor of the next page.

Checked before any SQL runs; each refusal is an :class:`~app.errors.InvalidInput` naming the
field. The limit rule and the cursor encoding are the repositories' own
(:mod:`app.repositories.base`): a search page is keyset-paged like any listing. Used by
:mod:`app.repositories.analysis_search` (which checks the query text itself).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple

from app.errors import InvalidInput
from app.repositories.base import check_limit, decode_key, encode_key

QUERY_MAX = 500
#: Checked on the raw query, before any normalising work: a huge query is refused cheaply.
QUERY_RAW_MAX = 4 * QUERY_MAX
FRAGMENT_MIN = 3


class Cursor(NamedTuple):
    """Where the previous page ended: the step (phase) that made it and its last row."""

    phase: int
    rank: float
    created_at: dt.datetime
    id: uuid.UUID


_CURSOR_TYPES = (int, float, dt.datetime, uuid.UUID)

__all__ = [
    "FRAGMENT_MIN",
    "QUERY_MAX",
    "QUERY_RAW_MAX",
    "Cursor",
    "check_limit",
    "decode_cursor",
    "encode_cursor",
]


def encode_cursor(cursor: Cursor) -> str:
    return encode_key(cursor)


def decode_cursor(cursor: str | None) -> Cursor | None:
    if cursor is None:
        return None
    phase, rank, created_at, row_id = decode_key(cursor, _CURSOR_TYPES)
    if phase not in (1, 2, 3, 4):
        raise InvalidInput(
            "after: not a cursor returned by this search", field="after", rule="cursor"
        )
    return Cursor(phase, rank, created_at, row_id)
