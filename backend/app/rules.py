"""The data rules, stated once.

The models turn these into CHECK constraints and the pydantic schemas into friendly
validation, so the database and Python can never disagree about a limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal, get_args

USERNAME_MIN = 3
USERNAME_MAX = 50
EMAIL_MAX = 255
FULL_NAME_MAX = 100
BIO_MAX = 2_000
PASSWORD_MIN = 8
PASSWORD_MAX = 1_024

#: Characters a username may not contain: ASCII controls, every Unicode space and line or
#: paragraph separator, every Default_Ignorable_Code_Point (soft hyphen, combining grapheme
#: joiner, Hangul fillers, zero-width and bidi controls, variation selectors, tag
#: characters, ...), the braille blank, and private-use characters. Written so that both
#: Python's ``re`` and PostgreSQL's regex engine read it the same way (PostgreSQL's own
#: ``[[:space:]]`` is ASCII-only under the C collation). The schemas refuse every format,
#: unassigned and private-use character besides (:mod:`app.text.identifiers`).
USERNAME_FORBIDDEN = (
    r"[\u0001-\u0020\u007f-\u00a0\u00ad\u034f\u061c\u115f\u1160\u1680\u17b4\u17b5"
    r"\u180b-\u180f\u2000-\u200f\u2028-\u202f\u205f-\u206f\u2800\u3000\u3164"
    r"\ue000-\uf8ff\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    r"\U0001d173-\U0001d17a\U000e0000-\U000e0fff\U000f0000-\U0010ffff]"
)
USERNAME_FORBIDDEN_SQL = USERNAME_FORBIDDEN
#: A login is a username or an email: nothing longer can name an account.
LOGIN_MAX = max(USERNAME_MAX, EMAIL_MAX)
#: A deliberately loose shape check for the database; pydantic's EmailStr does the real work.
EMAIL_SQL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

Language = Literal["ar", "en"]
Theme = Literal["light", "dark", "system"]
LANGUAGES: tuple[str, ...] = get_args(Language)
THEMES: tuple[str, ...] = get_args(Theme)
URL_MAX = 500
WEBSITE_MAX = 255
LOCATION_MAX = 100
PASSWORD_HASH_MAX = 255

#: A verse, or a short poem (≈ 100 lines), in characters.
TEXT_MAX = 10_000
#: The platform's prosody notation: ``/`` moving letter, ``o`` still letter, one space
#: between feet.
PATTERN_RE = r"^[/o]+( [/o]+)*$"
PATTERN_MAX = 20_000
METER_LABEL_MAX = 50
#: Serialised size of ``analyses.metadata`` (bytes of its JSON text).
METADATA_MAX_BYTES = 16_384
METADATA_MAX_DEPTH = 8

XP_PER_LEVEL_STEP = 100


def level_for_xp(xp: int) -> int:
    """The one level rule: ``level = 1 + floor(sqrt(xp / 100))``.

    0 xp is level 1, 100 xp level 2, 400 xp level 3, 900 xp level 4: each level costs a
    little more than the one before. The ``bahr_level_for_xp`` SQL function is the same rule,
    and a trigger applies it on every write, so ``level`` is never out of step with ``xp``.
    """
    if xp < 0:
        raise ValueError("xp must be >= 0")
    return 1 + math.isqrt(xp // XP_PER_LEVEL_STEP)


def sql_list(values: Iterable[str]) -> str:
    """``('a', 'b')`` → ``'a', 'b'`` for an ``IN`` list of trusted constants."""
    return ", ".join(f"'{v}'" for v in values)
