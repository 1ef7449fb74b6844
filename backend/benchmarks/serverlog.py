"""What the server saw: the statements (round trips) one operation sends, from its own log.

``log_statement = 'all'`` is switched on for the application role only while a block runs;
connections opened inside the block log every statement they send. Counting them is the
ground truth for round trips: it sees the driver's own ``BEGIN``/``ROLLBACK`` and the
pre-ping, which SQLAlchemy's statement events do not.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.database import BenchDatabase

_LINE = re.compile(r"\bLOG:  (?:statement|execute [^:]+): (.*)$")
_FROM = re.compile(r"\bFROM\s+([\w.]+)", re.IGNORECASE)


class StatementLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def statements(self) -> list[str]:
        time.sleep(0.05)  # the server writes its log asynchronously to us
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            text = handle.read().decode("utf-8", errors="replace")
        found: list[str] = []
        for line in text.splitlines():
            if line.startswith("\t") and found:
                found[-1] += " " + line.strip()
                continue
            match = _LINE.search(line)
            if match:
                found.append(match.group(1).strip())
        return [summarize(s) for s in found]


def summarize(statement: str) -> str:
    """``SELECT … FROM users`` for a SELECT; short statements as they are."""
    words = statement.split()
    if not words:
        return "(empty)"
    head = words[0].upper()
    if head == "SELECT":
        match = _FROM.search(statement)
        return f"SELECT … FROM {match.group(1)}" if match else "SELECT …"
    if head in {"INSERT", "UPDATE", "DELETE"}:
        return " ".join(words[:3]) + " …"
    return statement if len(statement) <= 40 else statement[:40] + "…"


@contextlib.contextmanager
def statement_log(db: BenchDatabase, role: str) -> Iterator[StatementLog]:
    """Log every statement of new connections of ``role`` while the block runs."""
    with db.admin() as conn:
        conn.execute(f'ALTER ROLE "{role}" IN DATABASE "{db.name}" SET log_statement = \'all\'')
    try:
        yield StatementLog(db.cluster.log_file)
    finally:
        with db.admin() as conn:
            conn.execute(f'ALTER ROLE "{role}" IN DATABASE "{db.name}" RESET log_statement')
