"""How the command line says things: counts, timestamps, numbers, errors, logs, progress.

This module is imported by ``app.cli`` before any command runs, so it imports nothing heavy
at module level (no SQLAlchemy, pydantic or Rich console): ``bahr-db --help`` stays fast.

Conventions (issue 20):

* timestamps are ISO 8601 in UTC with a ``Z`` and microseconds, ``2026-12-01T20:33:50.123456Z``
  (:func:`timestamp`), in exports and in every ``--json``;
* ``confidence`` is a JSON number (:func:`number`);
* a count is followed by the right form of its noun: ``1 hit``, ``2 hits`` (:func:`plural`);
* a validation problem reads ``field rule``: ``password must be at least 8 characters long``
  (:func:`describe_validation`).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import Progress, Task
    from rich.text import Text

#: Marks a bulk statement (an import's COPY) in the metrics and the slow-query log; such
#: log lines are shown with ``-v`` only.
BULK_MARK = "/* bahr-db import: bulk */"
#: Loggers whose INFO lines ``-v`` shows (Alembic's migration steps, this project's own).
VERBOSE_LOGGERS = ("alembic", "app", "bahr")


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 line``, ``0 lines``, ``2 analyses`` (give ``nouns`` when it is not ``noun + s``)."""
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


def timestamp(value: dt.datetime) -> str:
    """ISO 8601 in UTC, always with microseconds and a ``Z``; sorts as text."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def number(value: Decimal | None) -> float | None:
    """A NUMERIC as a JSON number (``0.93``, never the string ``"0.9300"``)."""
    return None if value is None else float(value)


def json_value(value: object) -> object:
    """``json.dumps``'s ``default`` for ``--json``: numbers stay numbers, times are
    :func:`timestamp`, anything else (ids, paths) is its text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return timestamp(value)
    return str(value)


_PREFIXES = ("Value error, ", "Assertion failed, ")


def _rule(error: dict[str, Any]) -> str:
    """One pydantic error as the rule that was broken, in plain words."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    unit = "characters" if isinstance(value, str) or "string" in kind else "items"
    if "secret" in str(type(value)).lower():
        unit = "characters"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not an accepted field"
    if kind in ("too_short", "string_too_short"):
        return f"must be at least {ctx['min_length']} {unit} long"
    if kind in ("too_long", "string_too_long"):
        return f"must be at most {ctx['max_length']} {unit} long"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "string_pattern_mismatch":
        return f"must match the pattern {ctx['pattern']}"
    if kind == "decimal_max_places":
        return f"must have at most {ctx['decimal_places']} decimal places"
    message = str(error["msg"])
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    if message[:1].isupper() and not message[1:2].isupper():
        message = message[0].lower() + message[1:]
    return message if message.startswith(("must", "is ", "not ")) else f"is invalid: {message}"


def describe_validation(exc: ValidationError) -> str:
    """``field rule`` for the first problem pydantic found (the others are counted)."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "the value"
    more = f" (and {plural(len(errors) - 1, 'more problem')})" if len(errors) > 1 else ""
    return f"{where} {_rule(dict(first))}{more}"


def setup_logging(console: Console, *, verbose: bool) -> None:
    """Log lines go through ``console`` (so they never break a progress bar); INFO lines
    of Alembic and of this project only with ``-v``, warnings always."""
    from rich.logging import RichHandler

    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_bahr_cli", False):
            root.removeHandler(handler)
    handler = RichHandler(console=console, show_time=False, show_path=False, markup=False)
    handler._bahr_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if verbose:
        for name in VERBOSE_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
    else:
        # The loggers keep their levels (a host process may have set them); this handler
        # shows warnings only, and not those of an import's bulk COPY.
        handler.setLevel(logging.WARNING)
        handler.addFilter(lambda record: BULK_MARK not in record.getMessage())


def progress(
    console: Console,
    description: str,
    unit: str,
    units: str | None = None,
    *,
    disable: bool = False,
) -> Progress:
    """A progress bar with percentage, count, rate and time left.

    ``unit`` names what is counted (``line``); the bar itself may measure something else
    (an import advances by bytes of the file, and sets the ``count`` field to its lines).
    """
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Count(ProgressColumn):
        def render(self, task: Task) -> Text:
            done = int(task.fields.get("count", task.completed))
            elapsed = task.elapsed or 0.0
            speed = f" · {done / elapsed:,.0f}/s" if elapsed > 0.5 else ""
            return Text(f"{plural(done, unit, units)}{speed}", style="progress.data.speed")

    return Progress(
        TextColumn(description),
        BarColumn(),
        TaskProgressColumn(),
        Count(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        disable=disable,
    )
