"""What the README names exists: file paths, module paths, the layout, migrations and make
targets. A rename or a new migration that the README does not follow fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BACKEND = ROOT / "backend"
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def _layout() -> str:
    start = README.index("## Layout")
    block = README.index("```", start)
    return README[block + 3 : README.index("```", block + 3)]


def test_every_file_path_the_readme_names_exists() -> None:
    paths = set(
        re.findall(
            r"(?<![\w/.])((?:backend/)?(?:app|tests|benchmarks|docs|alembic|tools)/[\w/.-]*\w)",
            README,
        )
    )
    missing = [p for p in paths if not ((ROOT / p).exists() or (BACKEND / p).exists())]
    assert len(paths) >= 10
    assert missing == []


def _module_exists(dotted: str) -> bool:
    parts = dotted.split(".")
    for end in range(len(parts), 1, -1):
        base = BACKEND.joinpath(*parts[:end])
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return True
    return False


def test_every_module_path_the_readme_names_exists() -> None:
    dotted = set(re.findall(r"`(app(?:\.\w+)+)", README)) | set(
        re.findall(
            r"\b(app\.(?:db|models|schemas|repositories|api|metrics|text|commands)(?:\.\w+)*)",
            README,
        )
    )
    assert len(dotted) >= 5
    assert [d for d in dotted if not _module_exists(d)] == []


def test_the_layout_lists_files_that_exist() -> None:
    folder = ROOT
    missing = []
    for line in _layout().splitlines():
        head = line.split()[0] if line and not line[0].isspace() else None
        if head and head.rstrip(",").endswith("/"):
            folder = ROOT / head.rstrip(",")
        for name in re.findall(r"(?<![\w/])([\w]+\.py)\b", line):
            if not (folder / name).exists() and not (folder.parent / name).exists():
                missing.append(f"{folder.relative_to(ROOT)}/{name}")
    assert missing == []


def test_the_layout_names_every_migration_and_no_other() -> None:
    line = "".join(x for x in _layout().splitlines(True) if "0001" in x or x.startswith(" " * 20))
    named = set(re.findall(r"\b(\d{4})\b", line))
    on_disk = {p.name[:4] for p in (BACKEND / "alembic" / "versions").glob("[0-9]*.py")}
    assert named == on_disk


def test_the_layout_names_every_module_folder_of_app() -> None:
    layout = _layout()
    folders = {p.name for p in (BACKEND / "app").iterdir() if (p / "__init__.py").is_file()}
    assert [f for f in sorted(folders) if f"{f}/" not in layout] == []


def _targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", MAKEFILE, re.M))


def test_every_make_target_the_readme_names_exists() -> None:
    named = set(re.findall(r"\bmake ([a-z][\w-]*)", README))
    assert {"run", "test"} <= named
    assert named - _targets() == set()


def test_make_help_lists_every_target() -> None:
    help_text = MAKEFILE[MAKEFILE.index("help:") : MAKEFILE.index("\nuv:")]
    internal = {"help", "install", "uv"}
    assert [
        t
        for t in sorted(_targets() - internal)
        if f"make {t}" not in help_text and f"/ {t}" not in help_text
    ] == []
