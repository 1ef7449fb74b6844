"""``bahr-db backup``, ``restore`` and ``metrics``.

The client tools never see a password on their command line (:mod:`app.commands.pgtools`),
a backup is written as a private new file (:mod:`app.commands.files`), and a restore ends
with the application role's grants applied again, in the same transaction as the data.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import IO

import typer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from app.commands.common import console, database, fail, user_errors
from app.commands.files import private_output
from app.commands.pgtools import client_environment, client_target
from app.commands.terminal import shown
from app.config import get_settings
from app.db import roles
from app.db.server import find_binaries


def _last_line(stderr: str) -> str:
    return (stderr.strip().splitlines() or ["(no output)"])[-1]


def _user_tables(url: URL) -> int:
    # NullPool: the connection is closed on exit, so nothing lingers during the restore.
    engine = create_engine(url, poolclass=NullPool, hide_parameters=True)
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
def backup(
    path: Path = typer.Argument(..., dir_okay=False, help="the dump file to write"),
    force: bool = typer.Option(False, "--force", help="replace an existing file"),
) -> None:
    """Dump the whole database (pg_dump custom format) to a new file only you can read."""
    with database():
        target = client_target(get_settings().migration_url())
        with client_environment(target) as (env, _), private_output(path, force=force) as out:
            argv = [find_binaries().tool("pg_dump"), "--format=custom", "--no-owner"]
            proc = subprocess.run(
                [*argv, f"--dbname={target.conninfo}"],
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                check=False,
            )
            if proc.returncode != 0:
                raise fail(f"pg_dump failed: {_last_line(proc.stderr)}")
    console.print(f"backup written to {shown(path)} ({path.stat().st_size:,} bytes)")


def _grants_script(folder: Path) -> Path:
    """The application role's grants, as ``roles setup`` and the migrations give them."""
    script = folder / "grants.sql"
    script.write_text("\n".join(roles.object_grant_statements()) + "\n", encoding="utf-8")
    return script


#: A dump's extension entries: ``CREATE``/``DROP EXTENSION`` and ``COMMENT ON EXTENSION``.
_EXTENSION_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:EXTENSION - (\S+)|COMMENT - EXTENSION \S+)")


def _restore_list(path: Path, env: dict[str, str], folder: Path) -> tuple[Path, Path]:
    """The dump's table of contents without its extensions, and a prelude creating them.

    The owner cannot drop, re-create or comment on an extension it does not own: ``rum``
    belongs to the superuser who ran ``roles setup``. So the extensions are not restored as
    objects; ``CREATE EXTENSION IF NOT EXISTS`` for each one comes first instead, which is a
    no-op where the extension exists and creates a trusted one (``pg_trgm``) where not.
    """
    listing = subprocess.run(
        [find_binaries().tool("pg_restore"), "--list", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if listing.returncode != 0:
        raise fail(f"pg_restore failed: {_last_line(listing.stderr)}")
    kept, extensions = [], []
    for line in listing.stdout.splitlines():
        if match := _EXTENSION_ENTRY.match(line):
            if match.group(1):
                extensions.append(match.group(1))
            continue
        kept.append(line)
    toc = folder / "restore.list"
    toc.write_text("\n".join(kept) + "\n", encoding="utf-8")
    prelude = folder / "extensions.sql"
    prelude.write_text(
        "".join(f'CREATE EXTENSION IF NOT EXISTS "{name}";\n' for name in extensions),
        encoding="utf-8",
    )
    return toc, prelude


def _restore(path: Path, conninfo: str, env: dict[str, str], folder: Path) -> None:
    """pg_restore's script piped into one psql transaction that ends with the grants.

    ``--no-privileges`` leaves each restored table with the owner's default privileges, which
    would give ``bahr_app`` writes on ``meters``, ``analysis_history`` and ``alembic_version``;
    the grants script that follows the data, before the COMMIT, puts back exactly the grants
    of ``roles setup`` and the migrations, so no other session ever sees anything else. If
    pg_restore fails, psql is killed before its input ends: the transaction never commits.
    """
    bins = find_binaries()
    env = {**env, "PGOPTIONS": "-c client_min_messages=warning"}
    restore_err = folder / "pg_restore.err"
    psql_err = folder / "psql.err"
    toc, prelude = _restore_list(path, env, folder)
    dump = [
        bins.tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        f"--use-list={toc}",
    ]
    with restore_err.open("w") as err1, psql_err.open("w") as err2:
        producer = subprocess.Popen(
            [*dump, "--file=-", str(path)], stdout=subprocess.PIPE, stderr=err1, env=env
        )
        consumer = subprocess.Popen(
            [
                bins.tool("psql"),
                "--no-psqlrc",
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                "--single-transaction",
                f"--file={prelude}",
                "--file=-",
                f"--file={_grants_script(folder)}",
                f"--dbname={conninfo}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=err2,
            env=env,
        )
        psql_stopped = not _relay(producer.stdout, consumer.stdin)
        restored = producer.wait()
        if psql_stopped or restored != 0:
            # psql stopped on an error, or its input is incomplete: end it before the COMMIT.
            consumer.kill()
            consumer.wait()
            if psql_stopped:
                raise fail(f"restore failed, nothing changed: {_last_line(psql_err.read_text())}")
            raise fail(f"pg_restore failed: {_last_line(restore_err.read_text())}")
        assert consumer.stdin is not None
        consumer.stdin.close()
        if consumer.wait() != 0:
            raise fail(f"restore failed, nothing changed: {_last_line(psql_err.read_text())}")


def _relay(source: IO[bytes] | None, sink: IO[bytes] | None) -> bool:
    """Copy pg_restore's script into psql; False when psql stopped reading (an error)."""
    assert source is not None
    assert sink is not None
    try:
        shutil.copyfileobj(source, sink, 1 << 16)
        sink.flush()
    except BrokenPipeError:
        return False
    finally:
        source.close()
    return True


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
        target = client_target(url)
        with client_environment(target) as (env, folder):
            _restore(path, target.conninfo, env, folder)
    console.print(f"restored {shown(path)}")


def metrics() -> None:
    """Print the Prometheus metrics of this process (text exposition format)."""
    from app.metrics.database_metrics import metrics_text

    typer.echo(metrics_text().decode(), nl=False)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.command("metrics")(metrics)
