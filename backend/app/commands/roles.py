"""``bahr-db roles setup``: the owner and application roles (see :mod:`app.db.roles`)."""

from __future__ import annotations

import typer
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from app.commands.common import console, database, fail, user_errors
from app.config import get_settings, mask_url, normalize_url
from app.db import roles

roles_app = typer.Typer(
    help="Least-privilege roles: bahr_owner and bahr_app.", no_args_is_help=True
)


def _admin_url(admin_url: str | None) -> URL:
    if admin_url:
        return normalize_url(admin_url)
    settings = get_settings()
    if settings.uses_embedded:
        from app.db.server import EmbeddedCluster

        return EmbeddedCluster.persistent(settings.embedded_dir).url()
    raise fail(
        "give --admin-url (or ADMIN_DATABASE_URL): a superuser, or a role with "
        "CREATEROLE that owns the database"
    )


@roles_app.command("setup")
@user_errors
def setup(
    print_only: bool = typer.Option(False, "--print", help="print the SQL, change nothing"),
    database_name: str | None = typer.Option(
        None, "--database", help="default: the database of DATABASE_URL"
    ),
    admin_url: str | None = typer.Option(None, "--admin-url", envvar="ADMIN_DATABASE_URL"),
    owner_password: str | None = typer.Option(None, envvar="BAHR_OWNER_PASSWORD"),
    app_password: str | None = typer.Option(None, envvar="BAHR_APP_PASSWORD"),
) -> None:
    """Create bahr_owner and bahr_app and apply every grant (idempotent)."""
    name = database_name or make_url(get_settings().app_url()).database or "bahr"
    passwords = roles.RolePasswords(owner=owner_password, app=app_password)
    if print_only:
        # Passwords are never printed: a DBA sets them with ALTER ROLE … PASSWORD.
        typer.echo(roles.setup_script(name), nl=False)
        return
    from app.db.base import make_engine

    with database():
        url = _admin_url(admin_url).set(database=name)
        engine = make_engine(url, pooled=False)
        with engine.begin() as conn:
            for statement in roles.setup_statements(name, passwords):
                conn.execute(text(statement))
        engine.dispose()
    console.print(
        f"roles {roles.OWNER} and {roles.APP} are set up on {name} (as {mask_url(url)})",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(roles_app, name="roles")
