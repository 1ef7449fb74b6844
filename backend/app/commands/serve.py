"""``bahr-db serve``: the API (:mod:`app.api`) with uvicorn, on loopback only.

Same database as every other command: the embedded cluster unless ``DATABASE_URL`` is set.
There is no login here (that is the host application's); ``--demo-user NAME`` makes every
request act as that user, and only when it is given.
"""

from __future__ import annotations

import typer
from rich.markup import escape

from app.commands.common import console, database, err_console, fail, session, user_errors
from app.repositories.user_repository import UserRepository

HOST = "127.0.0.1"


@user_errors
def serve(
    port: int = typer.Option(8000, min=0, max=65535, help="0 picks a free port"),
    demo_user: str | None = typer.Option(
        None,
        "--demo-user",
        metavar="NAME",
        help="act as this existing user on every request (a demo: no authentication)",
    ),
    log_level: str = typer.Option("info", help="uvicorn's log level"),
) -> None:
    """Run the API on 127.0.0.1 (the routers of app.api, OpenAPI docs at /docs)."""
    try:
        import uvicorn

        from app.api import create_app
    except ImportError as exc:
        raise fail(
            f"the API needs the 'api' extra ({exc.name} is missing): "
            "cd backend && uv sync --extra api"
        ) from None
    with database():
        if demo_user is not None:
            with session() as db:
                if UserRepository(db).get_by_username(demo_user) is None:
                    raise fail(f"--demo-user: no user called {demo_user!r}")
            err_console.print(
                f"[bold red]DEMO MODE: every request acts as the user {escape(repr(demo_user))}, "
                "without any authentication. Never expose this server.[/]",
                highlight=False,
            )
        else:
            console.print(
                "No --demo-user: routes that need a user answer 401 (the host application "
                "provides authentication).",
                highlight=False,
            )
        app = create_app(demo_user=demo_user)
        try:
            uvicorn.run(app, host=HOST, port=port, log_level=log_level)
        finally:
            from app.db.database import get_database

            get_database().close_connections()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
