"""``bahr-db seed``, ``users …``, ``import`` and ``export``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.commands.common import (
    console,
    database,
    err_console,
    fail,
    owner_session,
    print_json,
    session,
    user_errors,
    validation_message,
)
from app.models.analysis import Analysis
from app.models.user import User, UserRole
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.user_repository import UserRepository
from app.schemas.analysis import AnalysisCreate
from app.schemas.user import UserCreate, UserRead

users_app = typer.Typer(help="Accounts.", no_args_is_help=True)

#: Keys an export line carries besides the AnalysisCreate fields; import ignores them.
EXPORT_ONLY = ("id", "created_at")


@user_errors
def seed(as_json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """Insert or update the 16 classical meters (idempotent)."""
    from app.data.seed import relink_analyses, seed_meters

    with database(), owner_session() as db:
        result = seed_meters(db.connection())
        relinked = relink_analyses(db.connection())
        db.commit()
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
        ...,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="BAHR_PASSWORD",
        help="prompted for when not given (or BAHR_PASSWORD)",
    ),
) -> None:
    """Register a user (with an empty profile)."""
    try:
        data = UserCreate(
            username=username, email=email, password=password, full_name=full_name, role=role
        )
    except ValidationError as exc:
        raise fail(validation_message(exc)) from None
    with database(), session() as db:
        user = UserRepository(db).register(data)
    console.print(f"created user {escape(user.username)} (id {user.id}, {user.role.value})")


@users_app.command("list")
@user_errors
def users_list(
    role: UserRole | None = typer.Option(None, case_sensitive=False),
    include_deleted: bool = typer.Option(False, "--include-deleted"),
    limit: int = typer.Option(50, min=1, max=500),
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
            Text(r["username"]),
            Text(r["full_name"]),
            r["role"],
            "yes" if r["is_active"] else "no",
            "yes" if r["deleted_at"] else "",
        )
    console.print(table)


@dataclass
class ImportReport:
    lines: int = 0
    stored: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _parse_line(raw: str, owners: dict[str, int | None], db: Session) -> tuple[Any, int | None]:
    obj = json.loads(raw)
    if not isinstance(obj, dict):
        raise ValueError("a line must be a JSON object")
    for key in EXPORT_ONLY:
        obj.pop(key, None)
    username = obj.pop("username", None)
    owner = None
    if username is not None:
        if username not in owners:
            user = UserRepository(db).get_by_username(str(username))
            owners[username] = None if user is None else user.id
        owner = owners[username]
        if owner is None:
            raise ValueError(f"username: no user {username!r}")
    return AnalysisCreate.model_validate(obj), owner


def import_lines(
    db: Session, path: Path, *, strict: bool, progress: Progress | None = None
) -> ImportReport:
    """Validate every line; store the good ones in one transaction via ``bulk_create``.

    With ``strict`` the first bad line aborts the import and nothing is stored.
    """
    report = ImportReport()
    owners: dict[str, int | None] = {}
    task = progress.add_task("importing", total=path.stat().st_size) if progress else None

    def good_lines() -> Iterator[tuple[Any, int | None]]:
        with path.open("rb") as handle:
            for number, raw_bytes in enumerate(handle, start=1):
                if progress is not None and task is not None:
                    progress.update(task, advance=len(raw_bytes))
                if not raw_bytes.strip():
                    continue
                report.lines += 1
                try:
                    # A bad byte sequence is a bad line (UnicodeDecodeError is a ValueError).
                    yield _parse_line(raw_bytes.decode("utf-8"), owners, db)
                except (ValueError, ValidationError) as exc:
                    reason = (
                        validation_message(exc) if isinstance(exc, ValidationError) else str(exc)
                    )
                    if strict:
                        raise typer.BadParameter(f"line {number}: {reason}") from None
                    report.errors.append((number, reason))

    report.stored = len(AnalysisRepository(db).bulk_create(good_lines()))
    return report


@user_errors
def import_file(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    strict: bool = typer.Option(False, "--strict", help="abort on the first bad line"),
    as_json: bool = typer.Option(False, "--json", help="JSON summary"),
) -> None:
    """Load analysis results from a JSONL file (one AnalysisCreate object per line)."""
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with (
        database(),
        session() as db,
        Progress(*columns, console=err_console, disable=as_json) as progress,
    ):
        try:
            report = import_lines(db, path, strict=strict, progress=progress)
        except typer.BadParameter as exc:
            db.rollback()
            raise fail(f"{path.name}: {exc.message}; nothing was stored") from None
    if as_json:
        print_json(
            {
                "lines": report.lines,
                "stored": report.stored,
                "skipped": len(report.errors),
                "errors": [{"line": n, "error": e} for n, e in report.errors],
            }
        )
        return
    for number, reason in report.errors:
        err_console.print(f"[yellow]line {number}:[/] {escape(reason)} (skipped)", highlight=False)
    console.print(f"{report.lines} lines: {report.stored} stored, {len(report.errors)} skipped")


def export_rows(db: Session) -> Iterator[dict[str, Any]]:
    """Every analysis in import shape, streamed with a server-side cursor."""
    stmt = (
        select(Analysis, User.username)
        .outerjoin(User, User.id == Analysis.user_id)
        .order_by(Analysis.created_at, Analysis.id)
        .execution_options(yield_per=1_000)
    )
    for analysis, username in db.execute(stmt):
        yield {
            "id": str(analysis.id),
            "created_at": analysis.created_at.isoformat(),
            "original_text": analysis.original_text,
            "pattern": analysis.pattern,
            "detected_meter": analysis.detected_meter,
            "confidence": None if analysis.confidence is None else str(analysis.confidence),
            "syllable_count": analysis.syllable_count,
            "processing_time_ms": analysis.processing_time_ms,
            "metadata": analysis.meta,
            "username": username,
        }
        db.expunge(analysis)


@user_errors
def export_file(path: Path = typer.Argument(..., dir_okay=False)) -> None:
    """Write every analysis to a JSONL file that `import` reads back (constant memory)."""
    count = 0
    columns = (TextColumn("exporting"), MofNCompleteColumn(), TimeElapsedColumn())
    # Written beside the target and renamed at the end: a failed export leaves no half file.
    partial = path.with_name(path.name + ".partial")
    try:
        with (
            database(),
            session() as db,
            partial.open("w", encoding="utf-8") as out,
            Progress(*columns, console=err_console) as progress,
        ):
            task = progress.add_task("export", total=None)
            for row in export_rows(db):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
                if count % 1_000 == 0:
                    progress.update(task, completed=count)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    console.print(f"exported {count} analyses to {escape(str(path))}")


def register(app: typer.Typer) -> None:
    app.command("seed")(seed)
    app.add_typer(users_app, name="users")
    app.command("import")(import_file)
    app.command("export")(export_file)
