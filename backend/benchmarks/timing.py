"""Timing helpers: percentiles, and interleaved runs of a subject beside its anchor.

Variants are run round-robin in small blocks (A×k, B×k, C×k, A×k, …) rather than one after
the other, so that drift of the machine (CPU frequency, caches, other load) hits every
variant alike and the ratios stay honest.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NS_PER_MS = 1_000_000


def percentile(sorted_values: Sequence[int | float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (``q`` in 0..1)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


@dataclass
class Series:
    """Latencies of one variant, in nanoseconds."""

    name: str
    samples_ns: list[int]

    def _sorted(self) -> list[int]:
        return sorted(self.samples_ns)

    @property
    def n(self) -> int:
        return len(self.samples_ns)

    @property
    def p50_ms(self) -> float:
        return percentile(self._sorted(), 0.50) / NS_PER_MS

    @property
    def p95_ms(self) -> float:
        return percentile(self._sorted(), 0.95) / NS_PER_MS

    @property
    def p99_ms(self) -> float:
        return percentile(self._sorted(), 0.99) / NS_PER_MS

    @property
    def mean_ms(self) -> float:
        return sum(self.samples_ns) / max(1, self.n) / NS_PER_MS

    def summary(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "p50_ms": round(self.p50_ms, 4),
            "p95_ms": round(self.p95_ms, 4),
            "p99_ms": round(self.p99_ms, 4),
            "mean_ms": round(self.mean_ms, 4),
        }


def interleaved(
    variants: Mapping[str, Callable[[int], object]],
    *,
    n: int,
    block: int = 50,
    warmup: int = 20,
) -> dict[str, Series]:
    """Call every variant ``n`` times, round-robin in blocks of ``block`` calls.

    Each variant is called with a running index ``i`` (0..n-1), so all variants see the
    same sequence of inputs when they index one shared list with it. ``warmup`` calls per
    variant, with the indices n..n+warmup-1 (so inputs list ``n + warmup`` values), fill
    pools, caches and prepared statements first.
    """
    for fn in variants.values():
        for i in range(n, n + warmup):
            fn(i)
    gc.collect()
    clock = time.perf_counter_ns
    samples: dict[str, list[int]] = {name: [] for name in variants}
    done = 0
    while done < n:
        size = min(block, n - done)
        for name, fn in variants.items():
            out = samples[name]
            for i in range(done, done + size):
                start = clock()
                fn(i)
                out.append(clock() - start)
        done += size
    return {name: Series(name, values) for name, values in samples.items()}


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call."""
    start = time.perf_counter_ns()
    result = fn()
    return (time.perf_counter_ns() - start) / 1e9, result


def ratio(value: float, anchor: float) -> float:
    return value / anchor if anchor else math.nan
