"""Text that PostgreSQL can store: no NUL bytes, no lone surrogates.

PostgreSQL rejects NUL in text, and a lone surrogate cannot be encoded as UTF-8. The driver's
errors for both name no field, so every entry point checks first with :func:`problem`.
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def problem(value: str) -> str | None:
    """Why ``value`` cannot be stored, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain NUL (\\x00) characters"
    return "must be valid Unicode (lone surrogate found)"
