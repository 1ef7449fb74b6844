"""Usernames that cannot impersonate each other (Unicode UTS #39).

A username is kept in NFKC form (fullwidth ``ａｄｍｉｎ`` is ``admin``), may not contain
format characters, fillers or anything invisible, and is unique on its *confusable
skeleton*: ``admin``, ``аdmin`` (Cyrillic а) and ``adrnin`` share one skeleton, so only the
first of them can be registered. The skeleton is ICU's own implementation of UTS #39
(``SpoofChecker.getSkeleton``), taken of the case-folded name because usernames are
case-insensitive.

Every function here bounds the raw length before it normalises: a caller hands in text
from outside, and NFKC and the skeleton cost time in proportion to it.
"""

from __future__ import annotations

import re
import threading
import unicodedata

import icu

from app import rules

#: General categories never allowed in a username: controls, format characters, surrogates,
#: private use, unassigned code points and every kind of separator.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_FORBIDDEN = re.compile(rules.USERNAME_FORBIDDEN)
_local = threading.local()


def nfkc(value: str) -> str:
    """``value`` in NFKC form; the caller has bounded its length."""
    return unicodedata.normalize("NFKC", value)


def username_problem(name: str) -> str | None:
    """Why the NFKC-normalised ``name`` may not be a username, or None."""
    if "@" in name:
        return "must not contain '@' (a login with '@' is an email)"
    if _FORBIDDEN.search(name) or any(
        unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in name
    ):
        return "must not contain spaces, control, format, filler or private-use characters"
    if unicodedata.normalize("NFKC", name) != name:
        return "must be in Unicode NFKC form"
    return None


def _checker() -> icu.SpoofChecker:
    # An ICU SpoofChecker is not documented as thread-safe: one per thread.
    checker: icu.SpoofChecker | None = getattr(_local, "checker", None)
    if checker is None:
        checker = _local.checker = icu.SpoofChecker()
    return checker


def skeleton(name: str) -> str:
    """The UTS #39 confusable skeleton of a username, case-insensitively.

    Two usernames whose skeletons are equal look alike; the ``uq_users_username_skeleton``
    index lets only one of them exist.
    """
    if len(name) > rules.USERNAME_MAX:
        raise ValueError(f"a username has at most {rules.USERNAME_MAX} characters")
    folded = unicodedata.normalize("NFKC", name).casefold()
    return str(_checker().getSkeleton(0, folded))
