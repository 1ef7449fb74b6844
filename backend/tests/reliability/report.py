"""Figures the reliability tests produce, collected for docs/reliability.md.

``make stress`` runs the suite at full size with ``BAHR_RELIABILITY_REPORT`` set, then
renders the collected figures with ``python -m tests.reliability.report FILE``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any


def record(name: str, **figures: Any) -> None:
    """Append one test's figures to the file named by BAHR_RELIABILITY_REPORT (if set)."""
    out = os.environ.get("BAHR_RELIABILITY_REPORT")
    if not out:
        return
    with Path(out).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"test": name, **figures}, ensure_ascii=False, default=str))
        handle.write("\n")


WHAT = {
    "concurrency": "16 threads of mixed register / create / update_result / search / add_xp / "
    "delete through the production pool (5 + 10); xp totals and history rows must add up "
    "exactly, unique-key races must end in AlreadyExists",
    "pool_exhaustion": "all 15 connections held; the 16th caller waits pool_timeout, gets "
    "DatabaseUnavailable, and the pool serves again afterwards",
    "restart": "the server is stopped (fast) and started while 4 workers insert; committed "
    "rows must all be there, no uncommitted one, every analysis with its history row",
    "hostile_users": "hostile text (NUL, lone surrogates, 1 MB, RTL overrides, SQL injection, "
    "control characters…) in every user and profile field",
    "hostile_analyses": "the same corpus in every analysis field, hostile metadata (200-deep, "
    "1 MB, NaN, NUL keys), NaN/Infinity confidences, invalid UUIDs and search queries",
    "backup_restore": "bahr-db backup then restore into an empty database; every row of every "
    "table compared as UTF-8 bytes",
    "migrations_with_data": "rows written at revision 0001, upgraded, filled, downgraded to "
    "0001 and upgraded again; rows compared",
    "pgbouncer_kill": "writers through a real PgBouncer (transaction pooling); PgBouncer is "
    "stopped mid-run and started again: writes fail only while it is down, typed; no "
    "committed write is lost, none half-committed; every pooled read connection is replaced",
    "replica_kill": "3 readers on a real hot standby and a writer on the primary; the standby "
    "is stopped (immediate) mid-run and started again: only reads in flight at the kill may "
    "fail, the others fall back to the primary and return to the replica; no write fails or "
    "is lost, all reach the replica",
}


def render(path: Path) -> str:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    lines = [
        "# Reliability figures",
        "",
        "Produced by `make stress` (the reliability suite at full size, "
        "`BAHR_STRESS=1`), on this machine:",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}.",
        "",
        "Every test below passed in that run; a failure would have stopped it.",
        "",
        "| test | what it proves | figures |",
        "|---|---|---|",
    ]
    for row in rows:
        name = row.pop("test")
        figures = ", ".join(f"{k} = {v}" for k, v in row.items())
        lines.append(f"| {name} | {WHAT.get(name, '')} | {figures} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(Path(sys.argv[1])))
