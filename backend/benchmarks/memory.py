"""Section 5: peak memory of ``bahr-db export`` over the large data set.

``bahr-db export FILE`` runs in a child process (``python -m benchmarks.peak_rss``, which
calls the console script's ``app.cli:main`` in-process, with ``DATABASE_URL`` pointing at
the benchmark database, so it starts no cluster). Its peak RSS is the child's own
``VmHWM`` when it ends (see :mod:`benchmarks.peak_rss` for why not ``ru_maxrss``). Anchor:
the peak RSS of ``bahr-db --help``, which imports the same modules and exports nothing (the
interpreter + imports baseline).
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


def run_child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``bahr-db ARGS``; its wall time and peak RSS (MiB, the child's own VmHWM)."""
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as err:
        report = Path(tmp) / "peak"
        argv = [sys.executable, "-m", "benchmarks.peak_rss", str(report), *args]
        start = time.perf_counter()
        code = subprocess.call(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
        seconds = time.perf_counter() - start
        err.seek(0)
        tail = err.read()[-2000:].decode("utf-8", errors="replace")
        if code != 0:
            raise RuntimeError(f"bahr-db {' '.join(args)} failed ({code}):\n{tail}")
        rss_kib = int(report.read_text())
    return {"seconds": seconds, "peak_rss_mib": rss_kib / 1024}


def run(ctx: Context) -> Section:
    section = Section(
        key="memory",
        title="5. Memory: exporting the large data set",
        method=(
            f"`bahr-db export FILE` of all {ctx.sizes.search_rows:,} analyses in a child "
            "process; peak RSS is the child's own `VmHWM` when it ends. Anchor: "
            "`bahr-db --help` (interpreter + imports, no data)."
        ),
    )
    env = dict(os.environ)
    env["DATABASE_URL"] = ctx.db.app_url.render_as_string(hide_password=False)
    env["MIGRATION_DATABASE_URL"] = ctx.db.owner_url.render_as_string(hide_password=False)
    env["COLUMNS"] = "100"
    out_dir = Path(tempfile.mkdtemp(prefix="bahr-bench-export-"))
    out = out_dir / "export.jsonl"
    try:
        ctx.log("memory: bahr-db --help")
        baseline = run_child(["--help"], env)
        ctx.log(f"memory: bahr-db export ({ctx.sizes.search_rows:,} rows)")
        export = run_child(["export", str(out)], env)
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
        "command": ["python -m benchmarks.peak_rss", "export"],
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
