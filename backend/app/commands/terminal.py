"""Text from the database or from outside, made safe to print on an operator's terminal.

Two things can go wrong when data reaches a terminal through Rich:

* control characters (ESC, CSI, BEL, carriage return, …) drive the terminal itself: an ESC
  sequence in a verse can clear the screen, retitle the window or fake other output;
* square brackets are Rich markup, so a username such as ``[/x]`` is parsed as a closing tag
  and the command dies with a ``MarkupError``.

Every value the CLI prints from data goes through :func:`cell` (a ``Text``, never parsed as
markup) or :func:`shown` (escaped, for use inside a markup string). Tab and newline are kept;
every other C0 and C1 control character and DEL becomes U+FFFD, so it is visible but inert.
"""

from __future__ import annotations

import re

from rich.markup import escape
from rich.text import Text

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: JSON escapes C0 itself; DEL and C1 (U+0080–U+009F, among them CSI U+009B) it leaves raw.
_JSON_C1 = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


def printable(value: object) -> str:
    """``value`` as text without terminal control characters."""
    return _CONTROL.sub("\ufffd", str(value))


def shown(value: object) -> str:
    """``value`` for a Rich markup string: no control characters, brackets escaped."""
    return escape(printable(value))


def cell(value: object, style: str = "") -> Text:
    """``value`` as a Rich ``Text`` (never parsed as markup), without control characters."""
    return Text(printable(value), style=style)


def json_safe(text: str) -> str:
    """JSON text with DEL and the C1 controls escaped too (still the same JSON value)."""
    return text.translate(_JSON_C1)
