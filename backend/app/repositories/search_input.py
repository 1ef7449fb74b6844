"""What a search accepts besides its query: the page size and the cursor of the next page.

Checked before any SQL runs; each refusal is an :class:`~app.errors.InvalidInput` naming the
field. Used by :mod:`app.repositories.analysis_search` (which checks the query text itself).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import NamedTuple

from app.errors import InvalidInput

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


def check_limit(limit: int) -> None:
    if not 1 <= limit <= 100:
        raise InvalidInput("limit: must be between 1 and 100", field="limit", rule="range")


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps(
        [cursor.phase, cursor.rank, cursor.created_at.isoformat(), str(cursor.id)]
    ).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Cursor | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        phase, rank, stamp, row_id = json.loads(raw)
        created_at = dt.datetime.fromisoformat(stamp)
        if phase not in (1, 2, 3, 4) or created_at.tzinfo is None:
            raise ValueError("not a search cursor")
        return Cursor(int(phase), float(rank), created_at, uuid.UUID(row_id))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise InvalidInput(
            "after: not a cursor returned by this search", field="after", rule="cursor"
        ) from None
