"""``bahr-db search``, ``history``, ``stats`` and ``meters``: reading, with ``--json``.

Each command imports the repositories it uses when it runs, not at module level: loading
this module for ``bahr-db meters`` must not import search, users and analyses (issue 20,
item 11; ``tests/integration/test_cli_startup.py`` checks what each command imports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table
from rich.text import Text

from app.commands.common import console, database, fail, print_json, session, user_errors
from app.commands.output import plural
from app.commands.terminal import cell, printable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.repositories.analysis_repository import MeterStat
    from app.repositories.analysis_search import AnalysisSearchHit


def marked(headline: str) -> Text:
    """A headline with its « » marks turned into highlighting."""
    from app.repositories.analysis_search import MARK_START, MARK_STOP

    out = Text()
    for i, part in enumerate(headline.replace(MARK_STOP, MARK_START).split(MARK_START)):
        out.append(printable(part), style="bold black on yellow" if i % 2 else "")
    return out


def hits_table(title: str, hits: list[AnalysisSearchHit]) -> Table:
    table = Table(title=cell(title), show_lines=True)
    # Only the verse folds: a rank or a meter's name is never split over two lines.
    table.add_column("rank", justify="right", no_wrap=True)
    table.add_column("verse")
    table.add_column("meter", no_wrap=True)
    for hit in hits:
        table.add_row(
            f"{hit.rank:.3f}", marked(hit.headline), cell(hit.analysis.detected_meter or "")
        )
    return table


def _hit_json(hit: AnalysisSearchHit) -> dict[str, Any]:
    a = hit.analysis
    return {
        "id": str(a.id),
        "rank": hit.rank,
        "headline": hit.headline,
        "original_text": a.original_text,
        "detected_meter": a.detected_meter,
        "created_at": a.created_at,
    }


@user_errors
def search(  # noqa: PLR0917 - typer reads each option by name
    query: str = typer.Argument(..., help='words; "quotes" for a phrase, or, -exclude'),
    limit: int = typer.Option(10, min=1, max=100),
    meter: str | None = typer.Option(None, help="any form of a meter's name"),
    fragment: bool = typer.Option(False, "--fragment", help="substring / fuzzy search"),
    after: str | None = typer.Option(None, "--after", help="cursor: the next page (--more)"),
    as_json: bool = typer.Option(False, "--json", help="JSON output"),
) -> None:
    """Search analyses: ranked hits with the matches highlighted, a page at a time."""
    from app.db.errors import translated
    from app.repositories import analysis_search
    from app.repositories.analysis_repository import AnalysisRepository

    with database(), session() as db:
        if fragment and meter is not None:
            raise fail("--meter does not apply to --fragment search")
        meter_id = None
        if meter is not None:
            found = AnalysisRepository(db).meters.get_by_name(meter)
            if found is None:
                raise fail(f"meter: unknown meter {meter!r}")
            meter_id = found.id
        run = analysis_search.search_fragment if fragment else analysis_search.search
        with translated(db):
            hits = run(db, query, limit=limit, meter_id=meter_id, after=after)
        if as_json:
            print_json([_hit_json(h) for h in hits])
            return
        console.print(hits_table(f"search: {query} ({plural(len(hits), 'hit')})", hits))
        if hits.windowed:
            console.print(
                "a very common term: ranked among its newest matches "
                f"(about {hits.estimated_total:,} in all); add words to narrow it",
                highlight=False,
            )
        if hits.next_cursor:
            # Outside the table and unwrapped, so the cursor is copied whole.
            console.print(f"more: --after {hits.next_cursor}", highlight=False, soft_wrap=True)


@user_errors
def history(
    username: str = typer.Argument(...),
    limit: int = typer.Option(20, min=1, max=100),
    before: str | None = typer.Option(None, help="cursor from the previous page"),
    as_json: bool = typer.Option(False, "--json", help="JSON output"),
) -> None:
    """A user's analyses, newest first."""
    from app.repositories.analysis_repository import AnalysisRepository
    from app.repositories.user_repository import UserRepository

    with database(), session() as db:
        user = UserRepository(db).get_by_username(username)
        if user is None:
            raise fail(f"username: no user {username!r}")
        page = AnalysisRepository(db).list_for_user(user.id, limit=limit, before=before)
        if as_json:
            print_json(
                {
                    "items": [
                        {
                            "id": str(a.id),
                            "original_text": a.original_text,
                            "detected_meter": a.detected_meter,
                            "confidence": a.confidence,
                            "created_at": a.created_at,
                        }
                        for a in page.items
                    ],
                    "next_cursor": page.next_cursor,
                }
            )
            return
        table = Table(title=cell(f"history of {user.username} ({len(page.items)})"))
        for col in ("when", "verse", "meter", "confidence"):
            table.add_column(col, no_wrap=col != "verse")
        for a in page.items:
            table.add_row(
                a.created_at.strftime("%Y-%m-%d %H:%M"),
                cell(a.original_text),
                cell(a.detected_meter or ""),
                "" if a.confidence is None else str(a.confidence),
            )
        console.print(table)
        if page.next_cursor:
            # soft_wrap: the cursor stays one token, whatever the terminal's width.
            console.print(
                f"next page: --before {page.next_cursor}", highlight=False, soft_wrap=True
            )


def stats_table(stats: list[MeterStat]) -> Table:
    table = Table(title="analyses per meter")
    table.add_column("meter")
    table.add_column("count", justify="right")
    table.add_column("mean confidence", justify="right")
    table.add_column("")
    widest = max((s.count for s in stats), default=0) or 1
    for s in stats:
        name = (s.name or "") if s.known else f"{s.name or '(none)'} (unknown)"
        bar = "█" * max(1, round(30 * s.count / widest))
        mean = "" if s.mean_confidence is None else f"{s.mean_confidence:.4f}"
        table.add_row(cell(name), str(s.count), mean, Text(bar, style="cyan"))
    return table


@user_errors
def stats(as_json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """Analyses per meter, with a bar chart."""
    from app.repositories.analysis_repository import AnalysisRepository

    with database(), session() as db:
        rows = AnalysisRepository(db).meter_stats()
    if as_json:
        print_json([r.__dict__ for r in rows])
    else:
        console.print(stats_table(rows))


def meters_table(db: Session) -> Table:
    from app.repositories.meter_catalog import list_meters

    table = Table(title="the 16 classical meters")
    for col in ("#", "meter", "in English", "feet", "pattern"):
        table.add_column(col)
    for m in list_meters(db):
        table.add_row(
            str(m.position),
            *(cell(v or "") for v in (m.name_arabic, m.name_english, m.feet, m.pattern)),
        )
    return table


@user_errors
def meters(as_json: bool = typer.Option(False, "--json", help="JSON output")) -> None:
    """The meters, in canonical order."""
    # A Core statement, not MeterRepository: importing the ORM models, schemas and PyICU
    # would add about a sixth to this command's start-up (app.repositories.meter_catalog).
    from app.repositories.meter_catalog import list_meters

    with database(), session() as db:
        if as_json:
            print_json(
                [
                    {
                        "position": m.position,
                        "name_arabic": m.name_arabic,
                        "name_english": m.name_english,
                        "feet": m.feet,
                        "pattern": m.pattern,
                        "metadata": m.meta,
                    }
                    for m in list_meters(db)
                ]
            )
        else:
            console.print(meters_table(db))


def register(app: typer.Typer) -> None:
    for func, name in (
        (search, "search"),
        (history, "history"),
        (stats, "stats"),
        (meters, "meters"),
    ):
        app.command(name)(func)
