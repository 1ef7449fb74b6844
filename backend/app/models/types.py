"""Column shapes used more than once, as ``Annotated`` aliases."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from sqlalchemy import String, func
from sqlalchemy.orm import mapped_column

#: ICU Arabic collation: ``ORDER BY`` follows the Arabic alphabet, ignoring harakat and
#: hamza forms. Built into every PostgreSQL compiled with ICU.
ARABIC_COLLATION = "ar-x-icu"

CreatedAt = Annotated[dt.datetime, mapped_column(server_default=func.now())]


def ArabicSortable(length: int) -> String:  # noqa: N802 - reads as a type
    """A VARCHAR that sorts in Arabic alphabetical order."""
    return String(length, collation=ARABIC_COLLATION)
