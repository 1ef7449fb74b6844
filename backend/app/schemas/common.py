"""Validators shared by the schemas: text that PostgreSQL can store, non-blank text.

A length limit is declared before the validators (``Annotated[str, Field(max_length=…),
AfterValidator(…)]``), so pydantic checks the raw length first and no validator ever works
on unbounded input.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict

from app.text import storable as _storable


def storable(value: str) -> str:
    """PostgreSQL refuses NUL, a lone surrogate cannot be encoded as UTF-8, and U+E000 /
    U+E001 are reserved for search highlighting (:mod:`app.text.storable`)."""
    if (reason := _storable.problem(value)) is not None:
        raise ValueError(reason)
    return value


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank")
    return value


StorableStr = Annotated[str, AfterValidator(storable)]
NonBlankStr = Annotated[str, AfterValidator(storable), AfterValidator(not_blank)]

WRITE_CONFIG = ConfigDict(extra="forbid", str_strip_whitespace=False, frozen=True)
READ_CONFIG = ConfigDict(from_attributes=True)
