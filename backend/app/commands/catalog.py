"""Every ``bahr-db`` command, and the group that imports a command's module only to run it.

``bahr-db --help`` lists the commands from :data:`COMMANDS` without importing any of their
modules (SQLAlchemy, pydantic, Alembic and the models take about a second to import), so it
answers at once; ``bahr-db meters`` imports ``app.commands.read`` and nothing else.

A new command: write it in its module (registered by the module's ``register(app)``, or a
plain function for a module without one), then add a line here. A test checks that this
list and the modules agree, help text included.
"""

from __future__ import annotations

import importlib
from difflib import get_close_matches
from typing import Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup


class Entry(NamedTuple):
    name: str
    #: ``app.commands.read`` (its ``register(app)`` defines the command) or
    #: ``app.commands.demo:run`` (the function is the command).
    target: str
    #: The first line of the command's help, shown by ``bahr-db --help``.
    summary: str


COMMANDS: tuple[Entry, ...] = (
    Entry(
        "run",
        "app.commands.demo:run",
        "The main job: database up, migrate, seed, load the sample, show what is stored.",
    ),
    Entry(
        "search",
        "app.commands.read",
        "Search analyses: ranked hits with the matches highlighted, a page at a time.",
    ),
    Entry("history", "app.commands.read", "A user's analyses, newest first."),
    Entry("stats", "app.commands.read", "Analyses per meter, with a bar chart."),
    Entry("meters", "app.commands.read", "The meters, in canonical order."),
    Entry(
        "import",
        "app.commands.data",
        "Load analyses from a JSONL file (one object per line, as `export` writes them).",
    ),
    Entry(
        "export",
        "app.commands.data",
        "Write every analysis to a JSONL file that `import` reads back (constant memory).",
    ),
    Entry("seed", "app.commands.data", "Insert or update the 16 classical meters (idempotent)."),
    Entry("users", "app.commands.data", "Accounts."),
    Entry(
        "serve",
        "app.commands.serve",
        "Run the API on 127.0.0.1 (the routers of app.api, OpenAPI docs at /docs).",
    ),
    Entry(
        "db",
        "app.commands.db",
        "The embedded PostgreSQL cluster (used when DATABASE_URL is unset).",
    ),
    Entry("migrate", "app.commands.db", "Upgrade the schema (default: to head)."),
    Entry("downgrade", "app.commands.db", "Downgrade the schema to REVISION."),
    Entry("current", "app.commands.db", "Show the database's revision and the code's head."),
    Entry(
        "check",
        "app.commands.db",
        "Fail when the models and the migrations disagree (alembic check).",
    ),
    Entry(
        "doctor",
        "app.commands.db",
        "Check that the server can run this layer: version, encoding, ICU, pg_trgm.",
    ),
    Entry(
        "backup",
        "app.commands.ops",
        "Dump the whole database (pg_dump custom format) to a new file only you can read.",
    ),
    Entry(
        "restore",
        "app.commands.ops",
        "Restore a `backup` file, in one transaction: all of it or nothing.",
    ),
    Entry(
        "metrics",
        "app.commands.ops",
        "Print the Prometheus metrics of this process (text exposition format).",
    ),
    Entry("roles", "app.commands.roles", "Least-privilege roles: bahr_owner and bahr_app."),
)
_BY_NAME = {entry.name: entry for entry in COMMANDS}


def load(target: str) -> TyperGroup:
    """The click group of the commands ``target`` defines (imports its module)."""
    module_name, _, function = target.partition(":")
    module = importlib.import_module(module_name)
    holder = typer.Typer()
    # A callback makes Typer build a group even for a module with one command.
    holder.callback()(lambda: None)
    if function:
        holder.command(function)(getattr(module, function))
    else:
        module.register(holder)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    return group


class LazyGroup(TyperGroup):
    """Lists :data:`COMMANDS` from their summaries; imports a command's module when the
    command is run (or its own ``--help`` is asked for)."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [
            *super().list_commands(ctx),
            *(e.name for e in COMMANDS if e.name not in self.commands),
        ]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        entry = _BY_NAME.get(cmd_name)
        if command is not None or entry is None:
            return command
        if self._listing:
            return TyperCommand(cmd_name, help=entry.summary)
        command = load(entry.target).commands[cmd_name]
        self.add_command(command, cmd_name)
        return command

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except Exception as exc:  # click's UsageError; Typer suggests from loaded commands only
            message = getattr(exc, "message", None)
            if args and isinstance(message, str) and "Did you mean" not in message:
                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    names = ", ".join(repr(m) for m in matches)
                    exc.message = f"{message.rstrip('.')}. Did you mean {names}?"  # type: ignore[attr-defined]
            raise

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
