"""Analysis ids: UUID version 7, time-ordered, strictly increasing within a process."""

from __future__ import annotations

import threading
import time
import uuid

from app.db.ids import MonotonicUuid7, new_id, timestamp_ms, uuid7


def test_uuid7_layout_and_order() -> None:
    value = uuid7(unix_ms=1_700_000_000_123)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert timestamp_ms(value) == 1_700_000_000_123
    assert uuid7(unix_ms=1_000) < uuid7(unix_ms=1_001)


def test_monotonic_ids_increase_within_one_millisecond() -> None:
    make = MonotonicUuid7()
    ids = [make() for _ in range(5_000)]  # many per millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert abs(timestamp_ms(ids[0]) - time.time_ns() // 1_000_000) < 5_000


def test_new_id_is_unique_and_ordered_across_threads() -> None:
    per_thread: list[list[uuid.UUID]] = [[] for _ in range(8)]

    def work(out: list[uuid.UUID]) -> None:
        out.extend(new_id() for _ in range(2_000))

    threads = [threading.Thread(target=work, args=(out,)) for out in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in per_thread for i in out]
    assert len(set(every)) == len(every)
    for out in per_thread:  # each thread sees its own ids strictly increasing
        assert out == sorted(out)
