"""What ``bahr-db run`` (``make run``) tells a new user: what the seed did, where the data
lives, whether the server still runs, and what to try next."""

from __future__ import annotations

from rich.console import Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from app.config import get_settings, mask_url
from app.data.seed import SeedResult
from app.db.server import EmbeddedCluster

#: The command as a new user types it, from the repository's root after ``make``.
CLI = "backend/.venv/bin/bahr-db"
TRY = (
    ("search الليل", "search the verses; harakat and hamza forms match"),
    ("history demo_poet", "a user's analyses, newest first"),
    ("stats", "analyses per meter"),
    ("export analyses.jsonl", "every analysis as JSON lines; `import` reads them back"),
    ("serve", "the API on http://127.0.0.1:8000 (its docs at /docs)"),
    ("--help", "every command; `COMMAND --help` for one"),
)


def server_will_stop() -> bool:
    """True when this command starts the embedded server and so stops it at the end."""
    settings = get_settings()
    if not settings.uses_embedded:
        return False
    return not EmbeddedCluster.persistent(settings.embedded_dir).is_running()


def meters_line(seeded: SeedResult, *, first_run: bool) -> str:
    if first_run and not seeded.inserted:
        return f"meters: all {seeded.unchanged} seeded by the migration"
    return (
        f"meters: {seeded.inserted} inserted, {seeded.updated} updated, "
        f"{seeded.unchanged} unchanged"
    )


def what_now(*, revision: str | None, server_stopped: bool) -> Group:
    settings = get_settings()
    commands = Table.grid(padding=(0, 2))
    commands.add_column(no_wrap=True)
    commands.add_column()
    for args, what in TRY:
        commands.add_row(Text(f"  {CLI} {args}", style="bold"), Text(what))
    if settings.uses_embedded:
        where = f"data:   the project's PostgreSQL cluster in {settings.embedded_dir}"
        if server_stopped:
            server = [
                "server: started for this run, and stopped again now",
                "        make db-start keeps it running, make db-stop stops it",
            ]
        else:
            server = ["server: still running, as before (make db-stop stops it)"]
    else:
        where = f"data:   {mask_url(settings.app_url())} (DATABASE_URL)"
        server = ["server: yours (DATABASE_URL); nothing was started or stopped"]
    lines = [where, f"schema: {revision} (up to date)", *server, "try:"]
    return Group(
        Rule("what now"),
        *(Text(line, no_wrap=True, overflow="ignore") for line in lines),
        commands,
    )
