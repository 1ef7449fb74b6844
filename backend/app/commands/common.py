"""What every command shares: the console, the database lifetime, errors and exit codes.

Exit codes: 0 success, 1 a user error (one line, no traceback), 2 a usage error (Typer's),
3 an import that skipped at least one bad line (the good ones are stored).

Every command imports this module, so it imports nothing heavy at module level: the
settings, the database and pydantic are imported when a command uses them (issue 20,
item 11).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from app.commands.output import describe_validation, json_value
from app.commands.terminal import json_safe, shown
from app.errors import BahrDataError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# No emoji codes: ``:word:`` in a verse or a username is text, not a picture.
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)

#: ``bahr-db import`` stored the good lines but skipped at least one bad one.
EXIT_LINES_SKIPPED = 3

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str) -> typer.Exit:
    """Print a one-line error and return the exit to raise (code 1)."""
    # soft_wrap: a long path, URL or cursor in the message stays on one line to copy.
    err_console.print(f"[bold red]error:[/] {shown(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the data layer's typed errors into exit code 1 with a one-line message."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except BahrDataError as exc:
            raise fail(exc.message) from None
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise fail(f"{where}{exc.strerror or exc}") from None
        except Exception as exc:
            # pydantic is imported here, on the error path: a ValidationError can only
            # come from a command that has imported pydantic already.
            from pydantic import ValidationError

            if isinstance(exc, ValidationError):
                raise fail(describe_validation(exc)) from None
            raise

    return wrapper


@contextlib.contextmanager
def owner_session() -> Iterator[Session]:
    """One unit of work as the schema owner (``MIGRATION_DATABASE_URL``): the admin path for
    the reference data, which the application role may only read. Committed once at the
    end (never commit inside it), rolled back on error; its engine is disposed."""
    from app.db.database import Database

    owner = Database.for_owner()
    try:
        with owner.transaction() as db:
            yield db
    finally:
        owner.dispose()


@contextlib.contextmanager
def session() -> Iterator[Session]:
    """A plain application session of the default :class:`~app.db.database.Database`
    (repositories commit per call), rolled back on error, always closed."""
    from app.db.database import get_database

    with get_database().session() as db:
        yield db


@contextlib.contextmanager
def database() -> Iterator[None]:
    """Make sure the database is up for the duration of a command.

    With ``DATABASE_URL`` set nothing is started. Otherwise the embedded cluster is started
    if it is not running, and stopped again afterwards (a watchdog stops it even if the
    command is killed); a cluster started with ``bahr-db db start`` is left running.
    """
    from app.config import get_settings

    settings = get_settings()
    if not settings.uses_embedded:
        yield
        return
    from app.db.server import EmbeddedCluster

    cluster = EmbeddedCluster.persistent(settings.embedded_dir)
    started = cluster.start(stop_with_pid=os.getpid())
    try:
        yield
    finally:
        if started:
            from app.db.database import get_database

            # Close the pooled connections before the server stops. The default Database is
            # kept (not reset): a new one would be built from whatever the settings are then.
            get_database().close_connections()
            cluster.stop()


def print_json(data: Any) -> None:
    """Machine-readable output for ``--json``: UTF-8, Arabic kept as is, numbers as
    numbers and times in one style (:func:`app.commands.output.json_value`)."""
    typer.echo(json_safe(json.dumps(data, ensure_ascii=False, indent=2, default=json_value)))
