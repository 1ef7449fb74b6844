"""``python -m benchmarks [--smoke] [--only SECTIONS] [--json PATH] [--markdown PATH]``.

The full run writes ``docs/benchmarks.md`` and ``benchmarks-out/results.json`` (at the
repository root; git-ignored). ``--smoke`` uses tiny sizes and writes both to a temporary
folder unless paths are given: it only checks that the suite works. Exit code 1 when a
section failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import database
from benchmarks.context import FULL, SMOKE, Context
from benchmarks.report import Results, Section

PROJECT_ROOT = database.BACKEND_DIR.parent
DEFAULT_MARKDOWN = PROJECT_ROOT / "docs" / "benchmarks.md"
DEFAULT_JSON = PROJECT_ROOT / "benchmarks-out" / "results.json"
SECTIONS = ("lookups", "ingest", "search", "history", "memory", "metrics", "startup", "scaling")
NEEDS_DATA_SET = {"search", "history", "memory"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks the suite works")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )
    parser.add_argument("--json", type=Path, default=None, help="results JSON path")
    parser.add_argument(
        "--no-rum",
        action="store_true",
        help="do not install the rum extension (search on the GIN index alone)",
    )
    parser.add_argument("--markdown", type=Path, default=None, help="Markdown report path")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections: {', '.join(unknown)}")
    args.sections = [s for s in SECTIONS if s in chosen]
    return args


def output_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """Where the JSON and the Markdown go. A smoke run without both paths writes them to a
    new temporary folder (which it names at the end); with both, it makes no folder."""
    if not args.smoke:
        json_path = args.json or DEFAULT_JSON
        complete = args.sections == list(SECTIONS)
        return json_path, args.markdown or (
            DEFAULT_MARKDOWN if complete else json_path.with_suffix(".md")
        )
    if args.json is not None and args.markdown is not None:
        return args.json, args.markdown
    out_dir = Path(tempfile.mkdtemp(prefix="bahr-bench-smoke-"))
    return args.json or out_dir / "results.json", args.markdown or out_dir / "benchmarks.md"


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram,
        "os": f"{platform.system()} {platform.release()}",
        "loadavg_start": os.getloadavg(),
    }


def _meta(ctx: Context, argv: list[str], json_path: Path) -> dict[str, Any]:
    import psycopg
    import sqlalchemy

    from app.config import get_settings

    with ctx.db.admin() as conn:
        shown = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in (
                "fsync",
                "full_page_writes",
                "shared_buffers",
                "work_mem",
                "max_parallel_workers_per_gather",
            )
        }
    settings = get_settings()
    from benchmarks.engines import app_engine_instrumented

    return {
        "command": " ".join(["python -m benchmarks", *argv]).strip(),
        "mode": "smoke" if ctx.smoke else "full",
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(),
        "postgres": ctx.db.server_version(),
        "cluster_settings": ", ".join(f"{k}={v}" for k, v in shown.items()),
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "psycopg": psycopg.__version__,
        "app_settings": (
            f"pool_size={settings.pool_size}, max_overflow={settings.max_overflow}, "
            f"pool_pre_ping={settings.pool_pre_ping}, "
            f"statement_timeout_ms={settings.statement_timeout_ms}, "
            f"metrics on the app engine={app_engine_instrumented()}"
        ),
        "sizes": ctx.sizes_dict(),
        "sizes_text": ctx.sizes.describe(),
        "json_path": _display(json_path),
    }


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _run_section(ctx: Context, key: str, fn: Callable[[Context], Section]) -> Section:
    ctx.log(f"== {key}")
    start = time.monotonic()
    try:
        section = fn(ctx)
    except Exception as error:
        traceback.print_exc()
        section = Section(key=key, title=key, skipped=f"failed: {type(error).__name__}: {error}")
        ctx.state.setdefault("failed", []).append(key)
    section.seconds = time.monotonic() - start
    ctx.log(f"== {key} done in {section.seconds:.0f} s")
    return section


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    json_path, md_path = output_paths(args)

    started = time.monotonic()
    db = database.start()
    ctx = Context(db=db, sizes=sizes, smoke=args.smoke)
    # A smoke run draws the search plot beside its report, never into docs/.
    ctx.state["plot_dir"] = md_path.parent if args.smoke else None
    ctx.log(f"throwaway cluster in {db.cluster.root}; migrating")
    try:
        if not args.no_rum and not db.install_rum():
            ctx.log("the rum extension is not installed on this server: search uses GIN")
        db.migrate()
        # Everything below imports app.db.base, now pointed at the benchmark database.
        logging.getLogger("bahr.db.slow").disabled = True  # slow set-up statements
        from benchmarks import (
            dataset,
            history,
            ingest,
            lookups,
            memory,
            metrics_overhead,
            scaling,
            search,
            startup,
        )

        meta = _meta(ctx, argv, json_path)
        lookups.seed_users(ctx)
        runners: dict[str, Callable[[Context], Section]] = {
            "lookups": lookups.run,
            "metrics": metrics_overhead.run,
            "ingest": ingest.run,
            "search": search.run,
            "history": history.run,
            "memory": memory.run,
            "startup": startup.run,
            "scaling": scaling.run,
        }
        results = Results(meta=meta)
        order = [
            "startup",
            "lookups",
            "metrics",
            "scaling",
            "ingest",
            "search",
            "history",
            "memory",
        ]
        loaded = False
        for key in order:
            if key not in args.sections:
                continue
            if key == "search":  # grows the data set itself, measuring at each size
                loaded = True
            elif key in NEEDS_DATA_SET and not loaded:
                ctx.log(f"data set: loading {sizes.search_rows:,} analyses")
                ctx.state["data_set"] = dataset.load(ctx)
                loaded = True
            results.sections.append(_run_section(ctx, key, runners[key]))
        results.sections.sort(key=lambda s: SECTIONS.index(s.key) if s.key in SECTIONS else 99)
        if loaded and "data_set" in ctx.state:
            _add_data_set_note(results, ctx.state["data_set"])
        meta["duration_s"] = time.monotonic() - started
        meta["machine"]["loadavg_end"] = os.getloadavg()
        results.write_json(json_path)
        results.write_markdown(md_path)
        if (
            args.sections != list(SECTIONS)
            and not args.smoke
            and args.markdown is None
            and not ctx.state.get("failed")
        ):
            # A partial run (--only …) replaces its own sections in the full report.
            for key in args.sections:
                splice_section(results, key, DEFAULT_MARKDOWN)
                ctx.log(f"{key} section and targets replaced in {DEFAULT_MARKDOWN}")
        ctx.log(f"results: {json_path}")
        ctx.log(f"report:  {md_path}")
    finally:
        db.destroy()
    failed = ctx.state.get("failed", [])
    if failed:
        ctx.log(f"FAILED sections: {', '.join(failed)}")
        return 1
    return 0


def splice_section(results: Results, key: str, path: Path) -> None:
    """Put one section of this run, and its targets, into an existing full report."""
    from benchmarks.report import render_markdown

    if not path.exists():
        results.write_markdown(path)
        return
    fresh = render_markdown(results)
    section = next(s for s in results.sections if s.key == key)
    new_block = _block(fresh, f"## {section.title}")
    names = {t.name for t in section.targets}
    new_targets = [ln for ln in fresh.splitlines() if any(ln.startswith(f"| {n} |") for n in names)]
    old = path.read_text(encoding="utf-8")
    lines = old.splitlines()
    prefix = section.title.split(" ", 1)[0]  # "3."
    start = next((i for i, ln in enumerate(lines) if ln.startswith(f"## {prefix} ")), None)
    if start is None:
        lines += ["", *new_block]
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        lines[start:end] = new_block
    # Targets: drop this section's old rows (same leading words), add the new ones.
    lead: tuple[str, ...] = ("| word search", "| fragment search") if key == "search" else ()
    lead += tuple(f"| {name} |" for name in names)
    kept = [ln for ln in lines if not ln.startswith(lead)] if lead else lines
    at = next((i for i, ln in enumerate(kept) if ln.startswith("|---|---|---|---|---|")), None)
    if at is not None:
        end = at + 1
        while end < len(kept) and kept[end].startswith("| "):
            end += 1
        kept[end:end] = new_targets
    path.write_text("\n".join(kept).rstrip() + "\n", encoding="utf-8")


def _block(markdown: str, heading: str) -> list[str]:
    lines = markdown.splitlines()
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return [*lines[start:end]]


def _add_data_set_note(results: Results, facts: dict[str, Any]) -> None:
    for section in results.sections:
        if section.key == "search" and not section.skipped:
            section.notes.append(
                f"Data set: {facts['rows']:,} analyses ({facts['heavy_user_rows']:,} of them "
                f"the history user's), {facts['avg_chars']:.0f} characters per verse on "
                f"average, {facts['vocabulary']:,} distinct word forms drawn with Zipf "
                f"s = {facts['zipf_s']}; table + indexes "
                f"{facts['total_bytes'] / 1024**3:.2f} GiB. Streamed by COPY "
                "(`benchmarks/words.py`, `benchmarks/dataset.py`) with the secondary indexes "
                f"dropped ({facts['insert_s']:.0f} s for the last step), then the indexes "
                f"rebuilt (seconds: {facts['index_build_s']}) and `VACUUM (ANALYZE)` run; "
                f"{facts['load_s']:.0f} s in all for the last step."
            )
            section.data["data_set"] = facts
