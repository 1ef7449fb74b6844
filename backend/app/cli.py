"""The ``bahr-db`` command line."""

from __future__ import annotations

import typer

from app.commands import data, db, demo, ops, read, roles

app = typer.Typer(
    name="bahr-db",
    help="Bahr's data layer: the database, its schema, and the data in it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for module in (db, data, read, ops, roles):
    module.register(app)
app.command("run")(demo.run)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
