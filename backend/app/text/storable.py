"""Text that may be stored: no NUL bytes, no lone surrogates, no headline markers.

PostgreSQL rejects NUL in text, and a lone surrogate cannot be encoded as UTF-8. The driver's
errors for both name no field, so every entry point checks first with :func:`problem`.

U+E000 and U+E001 are private-use characters that search puts around a matched word in a
headline (:mod:`app.repositories.analysis_search`). A stored text that already contained them
would make a headline ambiguous, so no stored text may contain them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

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


def json_problem(value: object, max_depth: int, _depth: int = 0) -> tuple[str, str] | None:
    """``(rule, reason)`` for a JSON document that cannot be stored, or None when it can.

    Every key and string is checked with :func:`problem` (rule ``storable_text``), and the
    document may nest at most ``max_depth`` levels (rule ``max_depth``): deeper would exhaust
    Python's recursion limit before PostgreSQL's own.
    """
    if _depth > max_depth:
        return "max_depth", f"must not nest deeper than {max_depth} levels"
    if isinstance(value, str):
        reason = problem(value)
        return None if reason is None else ("storable_text", reason)
    if isinstance(value, Mapping):
        for key, item in value.items():
            if (reason := problem(str(key))) is not None:
                return "storable_text", reason
            if (found := json_problem(item, max_depth, _depth + 1)) is not None:
                return found
    elif isinstance(value, list | tuple):
        for item in value:
            if (found := json_problem(item, max_depth, _depth + 1)) is not None:
                return found
    return None
