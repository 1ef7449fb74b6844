"""``bahr-db roles setup``: the owner and application roles (see :mod:`app.db.roles`).

The statements carry the role passwords as literals, so they go to the server through a
plain psycopg connection: never through SQLAlchemy's ``text()`` (which would read ``:word``
in a password as a bind parameter), and never through an engine that ``ECHO`` would log.
"""

from __future__ import annotations

import psycopg
import typer
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL, make_url

from app.commands.common import console, database, fail, user_errors
from app.commands.pgtools import client_target
from app.commands.terminal import shown
from app.config import get_settings, mask_url, normalize_url
from app.db import roles

roles_app = typer.Typer(
    help="Least-privilege roles: bahr_owner and bahr_app.", no_args_is_help=True
)

_VISIBLE = (
    "A value given on the command line is visible to other users in `ps`: prefer the "
    "environment variable or --prompt-passwords."
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


def _ask(role: str) -> str | None:
    value: str = typer.prompt(
        f"password for {role} (empty: leave it as it is)",
        default="",
        show_default=False,
        hide_input=True,
        confirmation_prompt=True,
    )
    return value or None


@roles_app.command("setup")
@user_errors
def setup(
    *,
    print_only: bool = typer.Option(False, "--print", help="print the SQL, change nothing"),
    database_name: str | None = typer.Option(
        None, "--database", help="default: the database of DATABASE_URL"
    ),
    admin_url: str | None = typer.Option(
        None,
        "--admin-url",
        envvar="ADMIN_DATABASE_URL",
        help="a superuser's URL. If it holds a password, " + _VISIBLE,
    ),
    owner_password: str | None = typer.Option(
        None, envvar="BAHR_OWNER_PASSWORD", help="bahr_owner's password. " + _VISIBLE
    ),
    app_password: str | None = typer.Option(
        None, envvar="BAHR_APP_PASSWORD", help="bahr_app's password. " + _VISIBLE
    ),
    prompt_passwords: bool = typer.Option(
        False, "--prompt-passwords", help="ask for the passwords not given (hidden input)"
    ),
) -> None:
    """Create bahr_owner and bahr_app and apply every grant (idempotent)."""
    name = database_name or make_url(get_settings().app_url()).database or "bahr"
    if print_only:
        # Passwords are never printed: a DBA sets them with ALTER ROLE … PASSWORD.
        typer.echo(roles.setup_script(name), nl=False)
        return
    owner_password, app_password = owner_password or None, app_password or None
    if prompt_passwords:
        owner_password = owner_password or _ask(roles.OWNER)
        app_password = app_password or _ask(roles.APP)
    passwords = roles.RolePasswords(owner=owner_password, app=app_password)
    with database():
        url = _admin_url(admin_url).set(database=name)
        target = client_target(url)
        try:
            with psycopg.connect(make_conninfo(target.conninfo, **target.secrets)) as conn:
                for statement in roles.setup_statements(name, passwords):
                    conn.execute(statement.encode())
        except psycopg.Error as exc:
            raise fail(f"roles setup failed: {str(exc).strip().splitlines()[0]}") from None
    console.print(
        f"roles {roles.OWNER} and {roles.APP} are set up on {shown(name)} "
        f"(as {shown(mask_url(url))})",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(roles_app, name="roles")
