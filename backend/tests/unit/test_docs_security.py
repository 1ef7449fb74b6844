"""docs/security.md names, for every guarantee, the test that proves it: each named test exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TESTS = ROOT / "backend" / "tests"


def _defined_tests() -> set[str]:
    return {
        match
        for path in TESTS.rglob("test_*.py")
        for match in re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M)
    }


def test_every_test_named_in_security_md_exists() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\b(test_\w+)\b(?!\.py)", text))
    assert len(named) >= 20
    assert named - _defined_tests() == set()


def test_the_readme_links_security_md() -> None:
    assert "(docs/security.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
