"""Run-wide settings: sizes (full or smoke), the database, progress output."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.database import BenchDatabase


@dataclass(frozen=True)
class Sizes:
    users: int
    lookups: int  # per variant and mode
    block: int
    warmup: int
    metrics_lookups: int
    ingest_rows: int
    ingest_rounds: int
    search_rows: int
    load_chunk: int
    word_queries: int
    search_repeats: int
    scan_queries: int
    heavy_user_rows: int
    page_depth: int
    page_samples: int

    def describe(self) -> str:
        return (
            f"{self.users:,} users, {self.lookups:,} lookups per variant, "
            f"{self.ingest_rows:,} rows per ingest run × {self.ingest_rounds} rounds, "
            f"{self.search_rows:,} analyses for search/history/export, "
            f"{self.heavy_user_rows:,} analyses for the history user, page depth "
            f"{self.page_depth}"
        )


FULL = Sizes(
    users=10_000,
    lookups=3_000,
    block=50,
    warmup=30,
    metrics_lookups=5_000,
    ingest_rows=100_000,
    ingest_rounds=2,
    search_rows=1_000_000,
    load_chunk=100_000,
    word_queries=120,
    search_repeats=3,
    scan_queries=12,
    heavy_user_rows=50_000,
    page_depth=1_000,
    page_samples=300,
)

SMOKE = Sizes(
    users=200,
    lookups=40,
    block=10,
    warmup=6,
    metrics_lookups=60,
    ingest_rows=200,
    ingest_rounds=1,
    search_rows=3_000,
    load_chunk=3_000,
    word_queries=6,
    search_repeats=1,
    scan_queries=2,
    heavy_user_rows=300,
    page_depth=10,
    page_samples=8,
)


@dataclass
class Context:
    db: BenchDatabase
    sizes: Sizes
    smoke: bool
    state: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def log(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)

    def sizes_dict(self) -> dict[str, Any]:
        return asdict(self.sizes)
