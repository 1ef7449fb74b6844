"""The README's ER diagram is generated from the models and must be current."""

import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_er_diagram_matches_the_models() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "paracelsus.cli",
            "inject",
            str(README),
            "app.db.base:Base",
            "--import-module",
            "app.models",
            "--max-enum-members",
            "6",
            "--check",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, (
        "README.md's diagram is out of date: run `make docs`\n" + result.stdout + result.stderr
    )
    assert "erDiagram" in README.read_text(encoding="utf-8")
