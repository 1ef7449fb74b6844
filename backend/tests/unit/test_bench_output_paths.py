"""The benchmark suite leaves no empty ``/tmp/bahr-bench-smoke-*`` folder behind (issue 20,
item 15): a smoke run given both output paths makes no temporary folder at all."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parents[2]
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))

from benchmarks.cli import output_paths, parse_args  # noqa: E402


def smoke_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("bahr-bench-smoke-*"))


def test_a_smoke_run_given_both_paths_makes_no_folder(tmp_path: Path) -> None:
    before = smoke_folders()
    json_path, md_path = tmp_path / "r.json", tmp_path / "r.md"
    args = parse_args(["--smoke", "--json", str(json_path), "--markdown", str(md_path)])
    assert output_paths(args) == (json_path, md_path)
    assert smoke_folders() == before


def test_a_smoke_run_without_paths_writes_to_one_new_folder() -> None:
    before = smoke_folders()
    json_path, md_path = output_paths(parse_args(["--smoke"]))
    made = smoke_folders() - before
    try:
        assert made == {json_path.parent} == {md_path.parent}
    finally:
        for folder in made:
            shutil.rmtree(folder)
