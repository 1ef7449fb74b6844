"""The ``bahr-db`` command line. The commands are listed in :mod:`app.commands.catalog`,
whose group imports a command's module only when that command runs."""

from __future__ import annotations

import typer

from app.commands.catalog import LazyGroup

app = typer.Typer(
    name="bahr-db",
    cls=LazyGroup,
    rich_markup_mode=None,
    help="Bahr's data layer: the database, its schema, and the data in it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"bahr-db {version('bahr-db')}")
        raise typer.Exit


@app.callback()
def options(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="also show INFO log lines (Alembic's steps, bulk COPYs)"
    ),
    _version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="print the version"
    ),
) -> None:
    from app.commands.common import err_console
    from app.commands.output import setup_logging

    setup_logging(err_console, verbose=verbose)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
