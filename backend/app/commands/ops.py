"""``bahr-db backup``, ``restore`` and ``metrics``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import typer
from rich.markup import escape
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from app.commands.common import console, database, fail, user_errors
from app.config import get_settings
from app.db.server import find_binaries


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password (it travels in PGPASSWORD, not in argv)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _run(argv: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise fail(f"{Path(argv[0]).name} failed: {last}")


def _user_tables(url: URL) -> int:
    # NullPool: the connection is closed on exit, so nothing lingers during the restore.
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
                )
            ).scalar_one()
        )


@user_errors
def backup(path: Path = typer.Argument(..., dir_okay=False, help="the dump file to write")) -> None:
    """Dump the whole database (pg_dump custom format)."""
    with database():
        uri, env = _libpq(get_settings().migration_url())
        _run(
            [
                find_binaries().tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                f"--file={path}",
                f"--dbname={uri}",
            ],
            env,
        )
    console.print(f"backup written to {escape(str(path))} ({path.stat().st_size:,} bytes)")


@user_errors
def restore(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    force: bool = typer.Option(False, "--force", help="replace a non-empty database"),
) -> None:
    """Restore a `backup` file, in one transaction: all of it or nothing."""
    with database():
        url = get_settings().migration_url()
        if _user_tables(url) and not force:
            raise fail("the database is not empty; add --force to replace its contents")
        uri, env = _libpq(url)
        _run(
            [
                find_binaries().tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={uri}",
                str(path),
            ],
            env,
        )
    console.print(f"restored {escape(str(path))}")


def metrics() -> None:
    """Print the Prometheus metrics of this process (text exposition format)."""
    from app.metrics.database_metrics import metrics_text

    typer.echo(metrics_text().decode(), nl=False)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.command("metrics")(metrics)
