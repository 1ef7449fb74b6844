"""Text that may be stored: no NUL bytes, no lone surrogates, no headline markers.

PostgreSQL rejects NUL in text, and a lone surrogate cannot be encoded as UTF-8. The driver's
errors for both name no field, so every entry point checks first with :func:`problem`.

U+E000 and U+E001 are private-use characters that search puts around a matched word in a
headline (:mod:`app.repositories.analysis_search`). A stored text that already contained them
would make a headline ambiguous, so no stored text may contain them.
"""

from __future__ import annotations

import re

#: The headline markers (start, stop) that stored text may never contain.
HEADLINE_MARKERS = ("\ue000", "\ue001")

_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff\ue000\ue001]")
_UNENCODABLE = re.compile(r"[\x00\ud800-\udfff]")


def problem(value: str) -> str | None:
    """Why ``value`` cannot be stored, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return _reason(found.group())


def encoding_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent to PostgreSQL or hashed at all (NUL, lone surrogate).

    For secrets, which are never stored as text: they may contain any other character.
    """
    found = _UNENCODABLE.search(value)
    return None if found is None else _reason(found.group())


def _reason(char: str) -> str:
    if char == "\x00":
        return "must not contain NUL (\\x00) characters"
    if char in HEADLINE_MARKERS:
        return "must not contain U+E000 or U+E001 (reserved for search highlighting)"
    return "must be valid Unicode (lone surrogate found)"
