"""Backups and exports are private, never clobber a file and never follow a link (issue 16: 12).

Each case runs the real command through the CLI: a new file is mode 0600 whatever the umask;
an existing file, or a symbolic link planted at the target, is refused without ``--force``
and left as it was; with ``--force`` the link itself is replaced by the new file, and what
it pointed to is never written.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from typer.testing import CliRunner, Result

from app.cli import app
from app.db.base import SessionLocal

COMMANDS = ["backup", "export"]


@pytest.fixture
def umask_022(connection: Connection) -> Iterator[None]:
    """umask 022, and one analysis for ``export`` to write (rolled back with the test)."""
    original = dict(SessionLocal.kw)
    SessionLocal.configure(bind=connection, join_transaction_mode="create_savepoint")
    connection.execute(
        text(
            "INSERT INTO analyses (original_text, normalized_text, pattern) "
            "VALUES ('قفا نبك', 'قفا نبك', '//o/o')"
        )
    )
    old = os.umask(0o022)
    yield
    os.umask(old)
    SessionLocal.kw.clear()
    SessionLocal.kw.update(original)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _private_regular_file(path: Path) -> None:
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_size > 0


@pytest.mark.parametrize("command", COMMANDS)
def test_a_new_file_is_private(
    command: str, tmp_path: Path, umask_022: None, migrated: URL
) -> None:
    target = tmp_path / "out"
    result = run(command, str(target))
    assert result.exit_code == 0, result.output
    _private_regular_file(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("command", COMMANDS)
def test_an_existing_file_is_kept_without_force(
    command: str, tmp_path: Path, umask_022: None, migrated: URL
) -> None:
    target = tmp_path / "out"
    target.write_text("precious")
    refused = run(command, str(target))
    assert refused.exit_code == 1
    assert "--force" in refused.stderr
    assert target.read_text() == "precious"
    replaced = run(command, str(target), "--force")
    assert replaced.exit_code == 0, replaced.output
    _private_regular_file(target)
    assert target.read_bytes() != b"precious"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_symlink_at_the_target_is_never_followed(
    command: str, tmp_path: Path, umask_022: None, migrated: URL
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("not yours")
    victim.chmod(0o644)
    target = tmp_path / "out"
    target.symlink_to(victim)
    refused = run(command, str(target))
    assert refused.exit_code == 1
    assert target.is_symlink()
    assert victim.read_text() == "not yours"
    replaced = run(command, str(target), "--force")
    assert replaced.exit_code == 0, replaced.output
    assert not target.is_symlink()
    _private_regular_file(target)
    assert victim.read_text() == "not yours"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644


@pytest.mark.parametrize("command", COMMANDS)
def test_a_dangling_symlink_is_not_created_through(
    command: str, tmp_path: Path, umask_022: None, migrated: URL
) -> None:
    """A link to a file that does not exist yet: following it would create that file."""
    elsewhere = tmp_path / "elsewhere"
    target = tmp_path / "out"
    target.symlink_to(elsewhere)
    assert run(command, str(target)).exit_code == 1
    assert not elsewhere.exists()


def test_import_rejects_file_is_private_and_new(
    tmp_path: Path, umask_022: None, migrated: URL
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("{not json\n")
    rejects = tmp_path / "rejects.jsonl"
    result = run("import", str(source), "--rejects", str(rejects))
    assert result.exit_code == 3, result.output
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600
    planted = tmp_path / "planted"
    planted.symlink_to(tmp_path / "victim")
    assert run("import", str(source), "--rejects", str(planted)).exit_code == 1
    assert not (tmp_path / "victim").exists()
