"""Primary keys of ``analyses``: UUID version 7 (RFC 9562), time-ordered.

A 48-bit Unix millisecond timestamp, then random bits. Time-ordered ids go to the right
edge of the primary-key btree instead of a random leaf: the benchmark suite measured 15%
faster inserts and a 28% smaller ``pk_analyses`` than random (v4) ids at 100k rows
(docs/benchmarks.md, section 2), so :func:`new_id` is the model's default. The server
default, for raw SQL inserts, is the SQL function ``bahr_uuid7()`` (:mod:`app.db.ddl`).

Python 3.11's :mod:`uuid` has no ``uuid7``, hence this module. The ids give away their
creation time to the millisecond, as ``created_at`` does anyway.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_MS_MASK = (1 << 48) - 1
_RAND_A_MASK = (1 << 12) - 1
_RAND_B_MASK = (1 << 62) - 1


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    """``unix_ts_ms`` (48) | ver=7 (4) | rand_a (12) | var=0b10 (2) | rand_b (62)."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    rand = int.from_bytes(os.urandom(10), "big")  # 80 random bits, 74 used
    rand_a = (rand >> 62) & _RAND_A_MASK
    rand_b = rand & _RAND_B_MASK
    value = ((ms & _MS_MASK) << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)


def timestamp_ms(value: uuid.UUID) -> int:
    """The millisecond timestamp of a version-7 UUID."""
    return value.int >> 80


class MonotonicUuid7:
    """uuid7 values that increase strictly, even within one millisecond (RFC 9562 §6.2,
    method 1: ``rand_a`` is a 12-bit counter, started at a random value below 2048 in each
    new millisecond; on overflow the timestamp is advanced by one)."""

    def __init__(self) -> None:
        self.ms = -1
        self.counter = 0
        self._lock = threading.Lock()

    def __call__(self) -> uuid.UUID:
        rand_b = int.from_bytes(os.urandom(8), "big") & _RAND_B_MASK
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms > self.ms:
                self.ms = ms
                self.counter = int.from_bytes(os.urandom(2), "big") & 0x7FF
            else:
                self.counter += 1
                if self.counter > _RAND_A_MASK:
                    self.ms += 1
                    self.counter = 0
            ms, counter = self.ms, self.counter
        value = ((ms & _MS_MASK) << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b
        return uuid.UUID(int=value)


#: The default id of a new analysis: strictly increasing within this process.
new_id = MonotonicUuid7()
