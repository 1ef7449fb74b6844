"""The ``bahr-db`` command line."""

from __future__ import annotations

import typer

from app.commands import db
from app.commands.common import console, database, user_errors

app = typer.Typer(
    name="bahr-db",
    help="Bahr's data layer: the database, its schema, and the data in it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db.register(app)


@app.command("run")
@user_errors
def run() -> None:
    """The main job (`make run`): bring the database up, migrate, and report its state."""
    with database():
        console.rule("[bold]bahr-db")
        db.migrate("head")
        db.doctor(as_json=False)
        db.current(as_json=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
