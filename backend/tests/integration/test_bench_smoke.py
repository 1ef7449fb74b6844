"""The benchmark suite still works: ``python -m benchmarks --smoke`` (tiny sizes).

Not a performance test: the smoke run only proves that every section runs end to end on a
throwaway cluster of its own and writes its JSON and Markdown. The full run is ``make
bench`` (docs/benchmarks.md). The pure helpers (percentiles, the word list) are
checked here directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BACKEND_DIR = Path(__file__).resolve().parents[2]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from benchmarks.timing import percentile  # noqa: E402

SECTIONS = {"lookups", "ingest", "search", "history", "memory", "metrics", "startup", "scaling"}


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.95) == 95
    assert percentile(values, 1.0) == 100
    assert percentile([7], 0.95) == 7


def test_vocabulary_is_stable_and_normalised() -> None:
    from benchmarks.words import VOCABULARY_SIZE, check_vocabulary, vocabulary

    vocab = vocabulary()
    assert len(vocab) == VOCABULARY_SIZE
    assert len(set(vocab.normalised)) == len(vocab)
    check_vocabulary(vocab)


@pytest.mark.slow
def test_smoke_run_writes_every_section(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "MIGRATION_DATABASE_URL", "TEST_DATABASE_URL"}
    }
    json_path, md_path = tmp_path / "results.json", tmp_path / "benchmarks.md"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--smoke",
            "--json",
            str(json_path),
            "--markdown",
            str(md_path),
        ],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # a hang, not a slow machine: several suites may share the cores
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(json_path.read_text(encoding="utf-8"))
    assert results["meta"]["mode"] == "smoke"
    sections = {s["key"]: s for s in results["sections"]}
    assert set(sections) == SECTIONS
    for key, section in sections.items():
        assert section["skipped"] is None, (key, section["skipped"])
        assert section["tables"], key
    targets = [t for s in sections.values() for t in s["targets"]]
    assert len(targets) >= 10
    assert all(t["measured"] for t in targets)
    restart = sections["lookups"]["data"]["restart"]
    assert restart["socket check, SessionLocal (as shipped)"] == "ok"
    assert restart["socket check, ReadSessionLocal (as shipped)"] == "ok"
    assert restart["no liveness check"].startswith("FAILED")  # the restart really happened
    report = md_path.read_text(encoding="utf-8")
    assert "## Targets" in report
    assert "PostgreSQL" in report
    assert "Python" in report
