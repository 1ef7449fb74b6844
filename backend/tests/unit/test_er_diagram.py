"""The README's ER diagram is generated from the models and must be current."""

import subprocess
import sys
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2]
README = BACKEND.parent / "README.md"


def test_readme_er_diagram_matches_the_models() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.er_diagram", "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=BACKEND,
    )
    assert result.returncode == 0, (
        "README.md's diagram is out of date: run `make docs`\n" + result.stdout + result.stderr
    )


def test_the_diagram_shows_postgresql_types() -> None:
    text = README.read_text(encoding="utf-8")
    diagram = text[text.index("erDiagram") : text.index("<!-- END_SQLALCHEMY_DOCS -->")]
    assert "UUID id PK" in diagram
    assert "TIMESTAMP WITH TIME ZONE created_at" in diagram
    assert "CHAR(32)" not in diagram
    assert "DATETIME" not in diagram
