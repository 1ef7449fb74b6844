"""``bahr-db run``: the main job that ``make run`` shows.

Brings the database up, migrates and seeds, loads the bundled sample of famous verses, then
shows the meters, a search across harakat and hamza variants, a user's history and the stats.
Running it twice gives the same result: the sample is loaded once.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from rich.rule import Rule
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.commands import db as db_commands
from app.commands.common import console, database, owner_session, session, user_errors
from app.commands.guide import meters_line, print_what_now, server_will_stop
from app.commands.jsonl import import_lines
from app.commands.output import plural
from app.commands.read import hits_table, meters_table, stats_table
from app.commands.terminal import cell, printable, shown
from app.data.seed import seed_meters
from app.models.analysis import Analysis
from app.repositories.analysis_repository import AnalysisRepository
from app.repositories.user_repository import UserRepository
from app.schemas.user import AdminUserCreate

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_analyses.jsonl"
DEMO_USERS = {"demo_student": "student", "demo_poet": "poet", "demo_teacher": "teacher"}
#: The same word typed two ways: bare, and with harakat and a hamza form.
DEMO_QUERIES = ("الليل", "الا")


def _ensure_demo_users(db: Session) -> None:
    repo = UserRepository(db)
    for username, role in DEMO_USERS.items():
        if repo.get_by_username(username) is None:
            repo.admin_create(
                AdminUserCreate(
                    username=username,
                    email=f"{username}@example.com",
                    password=secrets.token_urlsafe(16),  # nobody logs in as a demo user
                    full_name=username.replace("_", " ").title(),
                    role=role,
                )
            )


def _load_sample(db: Session) -> int:
    """Load the sample unless it is already there; returns the rows stored now."""
    lines = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line]
    texts = [line["original_text"] for line in lines]
    present = db.scalar(
        select(func.count(func.distinct(Analysis.original_text)))
        .where(Analysis.original_text.in_(texts))
        .where(Analysis.meta["reference_values"].as_boolean())
    )
    if present == len(set(texts)):
        return 0
    return import_lines(db, SAMPLE, strict=True).stored


@user_errors
def run() -> None:
    """The main job: database up, migrate, seed, load the sample, show what is stored."""
    stops = server_will_stop()
    with database():
        console.print(Rule("[bold]bahr-db — Bahr's data layer"))
        first_run = db_commands.current_revision()[0] is None
        db_commands.migrate("head")
        with owner_session() as admin:
            seeded = seed_meters(admin.connection())
        with session() as db:
            _ensure_demo_users(db)
            stored = _load_sample(db)
            db.commit()
            repo = AnalysisRepository(db)
            total = repo.count()
            console.print(
                f"{meters_line(seeded, first_run=first_run)} · sample: {stored} stored now · "
                f"analyses in the database: {total}"
            )
            console.print(meters_table(db))
            for query in DEMO_QUERIES:
                hits = repo.search(query, limit=5)
                console.print(hits_table(f"search: {query} ({plural(len(hits), 'hit')})", hits))
            user = UserRepository(db).get_by_username("demo_poet")
            if user is not None:
                page = repo.list_for_user(user.id, limit=5)
                console.print(Rule(f"history of {shown(user.username)}: {len(page.items)} newest"))
                for a in page.items:
                    line = cell(f"  {a.original_text}  ")
                    line.append(printable(f"({a.detected_meter})"), style="dim")
                    console.print(line)
            console.print(stats_table(repo.meter_stats()))
        revision = db_commands.current_revision()[0]
    print_what_now(console, revision=revision, server_stopped=stops)
