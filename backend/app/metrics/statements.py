"""Reading SQL for metrics and logs: which operation and table a statement is about, and
its text with every literal value redacted.

Compiled statements are read from their expression objects; only raw text is tokenised.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any, Final

from sqlalchemy.sql import CompoundSelect, Delete, Insert, Select, TableClause, Update
from sqlalchemy.sql.ddl import ExecutableDDLElement
from sqlalchemy.sql.selectable import (
    AliasedReturnsRows,
    FromGrouping,
    Join,
    SelectStatementGrouping,
)

#: Longest statement text written to a log line (after redaction).
MAX_LOGGED_SQL: Final = 2000
#: What a statement nobody can read is counted as.
FALLBACK: Final = ("OTHER", None)


def statement_labels(statement: Any) -> tuple[str, str | None] | None:
    """``(operation, table)`` of a SQL expression, or None when it is not one we read."""
    if isinstance(statement, Select | CompoundSelect | SelectStatementGrouping):
        return "SELECT", _main_table(statement)
    if isinstance(statement, Insert):
        return "INSERT", _main_table(statement.table)
    if isinstance(statement, Update):
        return "UPDATE", _main_table(statement.table)
    if isinstance(statement, Delete):
        return "DELETE", _main_table(statement.table)
    if isinstance(statement, ExecutableDDLElement):
        return "OTHER", _main_table(getattr(statement, "element", None))
    return None


def _main_table(element: Any, depth: int = 0) -> str | None:
    """The table a FROM element (or statement) is mainly about: the first one it reads."""
    if depth > 10 or element is None:
        return None
    if isinstance(element, TableClause):
        return str(element.fullname)
    if isinstance(element, Join):
        return _main_table(element.left, depth + 1)
    if isinstance(element, AliasedReturnsRows | FromGrouping | SelectStatementGrouping):
        # aliases, subqueries, CTEs; a table-valued function's element is no table
        return _main_table(element.element, depth + 1)
    if isinstance(element, Select):
        froms = element.get_final_froms()
        return _main_table(froms[0], depth + 1) if froms else None
    if isinstance(element, CompoundSelect):
        return _main_table(element.selects[0], depth + 1) if element.selects else None
    if isinstance(element, Insert | Update | Delete):
        return _main_table(element.table, depth + 1)
    return None


# -- SQL text: tokens, redaction, labels -----------------------------------------------------

_TOKEN_RE: Final = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<string>
          [eE]'(?:[^'\\]|\\.|'')*(?:'|\Z)                      # E'...' (backslash escapes)
        | '(?:[^']|'')*(?:'|\Z)                                # '...', also after B X N U&
        | \$\$.*?(?:\$\$|\Z)                                   # $$...$$
        | \$(?P<tag>[^\W\d]\w*)\$.*?(?:\$(?P=tag)\$|\Z)        # $tag$...$tag$
      )
    | (?P<quoted>"(?:[^"]|"")*(?:"|\Z))
    | (?P<symbol>::)
    | (?P<param>%\([^)]*\)[sbt]|%[sbt]|%%|\$\d+|:[^\W\d]\w*)
    | (?P<number>
          0[xXoObB][0-9a-fA-F_]+
        | (?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?
      )
    | (?P<word>[^\W\d][\w$]*)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokens(sql: str) -> Iterator[tuple[str, str]]:
    for match in _TOKEN_RE.finditer(sql):
        # lastgroup is the outermost group that matched ("string", never its inner "tag")
        yield match.lastgroup or "other", match.group()


def redact_sql(sql: str) -> str:
    """``sql`` on one line with every literal value removed.

    String literals (plain, ``E''``, dollar-quoted, unterminated ones too) become ``'?'``,
    numbers become ``?``, comments are dropped and whitespace is collapsed. Identifiers,
    keywords and parameter placeholders (``%(name)s``, ``%s``, ``:name``, ``$1``) stay.
    """
    out: list[str] = []
    pending_space = False
    for kind, text in _tokens(sql):
        if kind in ("space", "comment"):
            pending_space = bool(out)
            continue
        if pending_space:
            out.append(" ")
            pending_space = False
        if kind == "string":
            out.append("'?'")
        elif kind == "number":
            out.append("?")
        else:
            out.append(text)
    return "".join(out)


@functools.lru_cache(maxsize=256)
def redacted(sql: str) -> str:
    text = redact_sql(sql)
    if len(text) > MAX_LOGGED_SQL:
        text = text[:MAX_LOGGED_SQL] + "…"
    return text


_DML: Final = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
_STATEMENTS: Final = _DML | {"TABLE", "VALUES"}
_SELECT_END: Final = frozenset({"UNION", "INTERSECT", "EXCEPT", "WHERE", "GROUP", "ORDER"})


def parse_sql(sql: str) -> tuple[str, str | None]:
    """``(operation, table)`` read from SQL text; the table is None when there is none."""
    toks = [(k, t) for k, t in _tokens(sql) if k not in ("space", "comment")]
    i = _main_keyword(toks)
    if i is None:
        return FALLBACK
    keyword = toks[i][1].upper()
    if keyword == "TABLE":
        return "SELECT", _table_name(toks, i + 1)
    if keyword == "VALUES":
        return "SELECT", None
    if keyword == "SELECT":
        return "SELECT", _select_from(toks, i + 1)
    if keyword == "UPDATE":
        return "UPDATE", _table_name(toks, i + 1)
    # INSERT INTO t, DELETE FROM t
    into = "INTO" if keyword == "INSERT" else "FROM"
    return keyword, _table_name(toks, i + 2) if _is_word(toks, i + 1, into) else None


def _main_keyword(toks: list[tuple[str, str]]) -> int | None:
    """Index of the keyword of the main statement, past leading "(" and any WITH clause."""
    i = depth = 0
    while i < len(toks) and toks[i][1] == "(":  # "(SELECT ...) UNION (SELECT ...)"
        i += 1
        depth += 1
    if i >= len(toks) or toks[i][0] != "word":
        return None
    keyword = toks[i][1].upper()
    if keyword in _STATEMENTS:
        return i
    if keyword != "WITH":
        return None
    level = depth  # the main statement follows the CTEs, outside their parentheses
    for j in range(i + 1, len(toks)):
        kind, text = toks[j]
        if text == "(":
            level += 1
        elif text == ")":
            level -= 1
        elif level == depth and kind == "word" and text.upper() in _DML:
            return j
    return None


def _is_word(toks: list[tuple[str, str]], i: int, word: str) -> bool:
    return i < len(toks) and toks[i][0] == "word" and toks[i][1].upper() == word


def _select_from(toks: list[tuple[str, str]], i: int) -> str | None:
    """The first table of the FROM clause of the SELECT whose list starts at ``i``."""
    level = 0
    while i < len(toks):
        kind, text = toks[i]
        if text == "(":
            level += 1
        elif text == ")":
            level -= 1
            if level < 0:
                return None
        elif text == ";" and level == 0:
            return None
        elif level == 0 and kind == "word":
            upper = text.upper()
            if upper == "FROM":
                if _is_word(toks, i + 2, "SELECT") and toks[i + 1][1] == "(":  # FROM (SELECT
                    return _select_from(toks, i + 3)
                return _table_name(toks, i + 1, in_from=True)
            if upper in _SELECT_END:
                return None
        i += 1
    return None


def _identifier(toks: list[tuple[str, str]], i: int) -> str | None:
    if i >= len(toks):
        return None
    kind, text = toks[i]
    if kind == "word":
        return text.lower()
    if kind == "quoted" and len(text) >= 2 and text.endswith('"'):
        return text[1:-1].replace('""', '"')
    return None


def _table_name(toks: list[tuple[str, str]], i: int, *, in_from: bool = False) -> str | None:
    """The (possibly schema-qualified) table named at ``i``; None for anything else.

    In a FROM clause a name followed by "(" is a set-returning function, not a table.
    """
    if _is_word(toks, i, "ONLY"):
        i += 1
    if _is_word(toks, i, "LATERAL"):
        return None
    name = _identifier(toks, i)
    if name is None:
        return None
    schema = None
    if i + 2 < len(toks) and toks[i + 1][1] == ".":
        schema, name = name, _identifier(toks, i + 2)
        if name is None:
            return None
        i += 2
    if in_from and i + 1 < len(toks) and toks[i + 1][1] == "(":
        return None
    if schema is None or schema == "public":
        return name
    return f"{schema}.{name}"
