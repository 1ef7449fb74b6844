"""What ``bahr-db run`` (``make run``) tells a new user: what the seed did, where the data
lives, whether the server still runs, and what to try next."""

from __future__ import annotations

from rich.console import Console
from rich.rule import Rule
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
    (
        "serve --demo-user demo_poet",
        "the API on http://127.0.0.1:8000 (docs at /docs), as that user",
    ),
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


def print_what_now(console: Console, *, revision: str | None, server_stopped: bool) -> None:
    """Where the data is, whether the server still runs, and commands to try. Printed with
    ``soft_wrap``: a path, URL or command is never cut or split, whatever the width."""
    settings = get_settings()
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
    console.print(Rule("what now"))
    for line in (where, f"schema: {revision} (up to date)", *server, "try:"):
        console.print(Text(line), soft_wrap=True)
    width = max(len(args) for args, _ in TRY)
    for args, what in TRY:
        command = Text(f"  {CLI} {args:<{width}}  ", style="bold")
        console.print(command.append(what, style=""), soft_wrap=True)
