"""``bahr-db seed``, ``users …``, ``import`` and ``export``."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.table import Table

from app.commands.common import (
    EXIT_LINES_SKIPPED,
    console,
    database,
    err_console,
    fail,
    owner_session,
    print_json,
    session,
    user_errors,
)
from app.commands.files import new_private_text, private_output
from app.commands.jsonl import LineError, export_line, export_rows, import_lines
from app.commands.output import describe_validation, plural, progress
from app.commands.terminal import cell, shown
from app.models.user import UserRole
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.user_repository import UserRepository
from app.schemas.user import AdminUserCreate, UserRead

users_app = typer.Typer(help="Accounts.", no_args_is_help=True)


@user_errors
def seed(as_json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """Insert or update the 16 classical meters (idempotent)."""
    from app.data.seed import relink_analyses, seed_meters

    with database(), owner_session() as db:
        result = seed_meters(db.connection())
        relinked = relink_analyses(db.connection())
    if as_json:
        print_json({**result.__dict__, "relinked": relinked})
    else:
        console.print(
            f"meters: {result.inserted} inserted, {result.updated} updated, "
            f"{result.unchanged} unchanged; analyses relinked: {relinked}"
        )


@users_app.command("create")
@user_errors
def users_create(
    username: str = typer.Option(..., help="3–50 characters, no spaces"),
    email: str = typer.Option(...),
    full_name: str = typer.Option(..., "--full-name"),
    role: UserRole = typer.Option(UserRole.STUDENT, case_sensitive=False),
    password: str = typer.Option(
        None,  # not "[required]": it is prompted for when missing
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="BAHR_PASSWORD",
        help="prompted for (hidden) when not given, or read from BAHR_PASSWORD; a value on "
        "the command line is visible to other users in `ps`",
    ),
) -> None:
    """Register a user (with an empty profile)."""
    try:
        # The operator is the administrator: this is the admin path, which may set a role.
        data = AdminUserCreate(
            username=username, email=email, password=password, full_name=full_name, role=role
        )
    except ValidationError as exc:
        raise fail(describe_validation(exc)) from None
    with database(), session() as db:
        user = UserRepository(db).admin_create(data)
    console.print(f"created user {shown(user.username)} (id {user.id}, {user.role.value})")


@users_app.command("list")
@user_errors
def users_list(
    role: UserRole | None = typer.Option(None, case_sensitive=False),
    include_deleted: bool = typer.Option(False, "--include-deleted"),
    limit: int = typer.Option(50, min=1, max=100),
    as_json: bool = typer.Option(False, "--json", help="JSON output"),
) -> None:
    """List users, oldest first."""
    with database(), session() as db:
        users = UserRepository(db).list_users(
            role=role, include_deleted=include_deleted, limit=limit
        )
        rows = [UserRead.model_validate(u).model_dump(mode="json") for u in users]
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"users ({len(rows)})")
    for col in ("id", "username", "full name", "role", "active", "deleted"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            cell(r["username"]),
            cell(r["full_name"]),
            r["role"],
            "yes" if r["is_active"] else "no",
            "yes" if r["deleted_at"] else "",
        )
    console.print(table)


@user_errors
def import_file(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    *,
    strict: bool = typer.Option(
        False, "--strict", help="stop at the first bad line and store nothing"
    ),
    update: bool = typer.Option(
        False, "--update", help="lines whose id is stored already replace its result fields"
    ),
    allow_unknown_meter: bool = typer.Option(
        False, "--allow-unknown-meter", help="store meter labels that name no known meter"
    ),
    rejects: Path | None = typer.Option(
        None, "--rejects", dir_okay=False, help="write each skipped line and why to this file"
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON summary"),
) -> None:
    """Load analyses from a JSONL file (one object per line, as `export` writes them).

    A line whose id is stored already is left alone (--update replaces its result). Exit
    code 3 when any line was skipped.
    """
    with (
        database(),
        session() as db,
        progress(err_console, "importing", "line", disable=as_json) as bar,
        contextlib.ExitStack() as files,
    ):
        task = bar.add_task("import", total=path.stat().st_size, count=0)
        out = files.enter_context(new_private_text(rejects)) if rejects else None
        try:
            report = import_lines(
                db,
                path,
                strict=strict,
                update=update,
                allow_unknown_meter=allow_unknown_meter,
                rejects=out,
                on_progress=lambda done, lines: bar.update(task, completed=done, count=lines),
            )
        except LineError as exc:
            db.rollback()
            bar.update(task, visible=False)  # the error is the last word, not a bar at 0%
            bar.stop()
            raise fail(f"{path.name}: {exc}; nothing was stored") from None
    if as_json:
        print_json(report.as_json())
    else:
        for number, reason in report.errors:
            err_console.print(
                f"[yellow]line {number}:[/] {shown(reason)} (skipped)",
                highlight=False,
                soft_wrap=True,
            )
        parts = [f"{report.stored:,} stored"]
        if report.updated or update:
            parts.append(f"{report.updated:,} updated")
        if report.present:
            parts.append(f"{report.present:,} already there" + ("" if update else " (kept)"))
        if report.unknown_meter:
            parts.append(f"{report.unknown_meter:,} with an unknown meter")
        parts.append(f"{report.skipped:,} skipped")
        summary = f"{plural(report.lines, 'line')}: {', '.join(parts)}"
        if rejects is not None and report.skipped:
            summary += f"; skipped lines are in {shown(rejects)}"
        console.print(summary, highlight=False)
    if report.skipped:
        raise typer.Exit(code=EXIT_LINES_SKIPPED)


@user_errors
def export_file(
    path: Path = typer.Argument(..., dir_okay=False),
    force: bool = typer.Option(False, "--force", help="replace an existing file"),
) -> None:
    """Write every analysis to a JSONL file that `import` reads back (constant memory).

    The file is new and only you can read it (mode 0600); it appears only once complete.
    """
    count = 0
    with (
        database(),
        session() as db,
        private_output(path, force=force) as out,
        progress(err_console, "exporting", "analysis", "analyses", disable=False) as bar,
    ):
        task = bar.add_task("export", total=AnalysisRepository(db).count())
        for row in export_rows(db):
            out.write(export_line(row).encode("utf-8"))
            count += 1
            if count % 1_000 == 0:
                bar.update(task, completed=count)
        bar.update(task, completed=count)
    console.print(f"exported {plural(count, 'analysis', 'analyses')} to {shown(path)}")


def register(app: typer.Typer) -> None:
    app.command("seed")(seed)
    app.add_typer(users_app, name="users")
    app.command("import")(import_file)
    app.command("export")(export_file)
