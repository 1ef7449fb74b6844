"""Section 5: peak memory of ``bahr-db export`` over the large data set.

``bahr-db export FILE`` runs in a child process (the installed console script, with
``DATABASE_URL`` pointing at the benchmark database, so it starts no cluster). Its peak RSS
is read from the kernel when it exits (``os.wait4`` returns that child's own ``rusage``;
``ru_maxrss`` is in KiB on Linux). Anchor: the peak RSS of ``bahr-db --help``, which
imports the same modules and exports nothing (the interpreter + imports baseline).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.context import Context
from benchmarks.report import Section, Table, Target, rate, times

TARGET_MIB = 150.0


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("bahr-db")
    if script.exists():
        return [str(script)]
    found = shutil.which("bahr-db")
    return [found] if found else [sys.executable, "-m", "app.cli"]


def run_child(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``argv``; its exit code, wall time and peak RSS (MiB) from ``wait4``."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{tail}")
    rss_kib = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss // 1024
    return {"seconds": seconds, "peak_rss_mib": rss_kib / 1024}


def run(ctx: Context) -> Section:
    section = Section(
        key="memory",
        title="5. Memory: exporting the large data set",
        method=(
            f"`bahr-db export FILE` of all {ctx.sizes.search_rows:,} analyses in a child "
            "process; peak RSS from `os.wait4` (the child's own `ru_maxrss`). Anchor: "
            "`bahr-db --help` (interpreter + imports, no data)."
        ),
    )
    env = dict(os.environ)
    env["DATABASE_URL"] = ctx.db.app_url.render_as_string(hide_password=False)
    env["MIGRATION_DATABASE_URL"] = ctx.db.owner_url.render_as_string(hide_password=False)
    env["COLUMNS"] = "100"
    cli = _console_script()
    out_dir = Path(tempfile.mkdtemp(prefix="bahr-bench-export-"))
    out = out_dir / "export.jsonl"
    try:
        ctx.log("memory: bahr-db --help")
        baseline = run_child([*cli, "--help"], env)
        ctx.log(f"memory: bahr-db export ({ctx.sizes.search_rows:,} rows)")
        export = run_child([*cli, "export", str(out)], env)
        with out.open("rb") as handle:
            lines = sum(1 for _ in handle)
        size = out.stat().st_size
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    if lines != ctx.sizes.search_rows:
        raise AssertionError(f"export wrote {lines} lines, expected {ctx.sizes.search_rows}")
    peak, base = export["peak_rss_mib"], baseline["peak_rss_mib"]
    section.data = {
        "baseline": baseline,
        "export": export,
        "rows": lines,
        "file_bytes": size,
        "command": [Path(cli[0]).name, *cli[1:]],
    }
    section.tables.append(
        Table(
            "Peak RSS",
            ["command", "peak RSS MiB", "ratio", "wall s", "rows/s"],
            [
                [
                    "`bahr-db --help` (anchor)",
                    f"{base:.1f}",
                    "1.00×",
                    f"{baseline['seconds']:.1f}",
                    "",
                ],
                [
                    f"`bahr-db export` ({lines:,} rows, {size / 1024 / 1024:.0f} MiB file)",
                    f"{peak:.1f}",
                    times(peak / base),
                    f"{export['seconds']:.1f}",
                    rate(lines / export["seconds"]),
                ],
            ],
            note=f"Growth over the baseline: {peak - base:.1f} MiB.",
        )
    )
    met = peak < TARGET_MIB
    section.targets.append(
        Target(
            name=f"export peak RSS at {lines:,} rows",
            goal=f"< {TARGET_MIB:g} MB",
            measured=f"{peak:.0f} MiB ({peak - base:+.0f} MiB over `--help`: {base:.0f} MiB)",
            met=met,
            why="" if met else "see the table: growth over the imports baseline",
        )
    )
    return section
