"""The embedded cluster's folders cannot be redirected by another local user (issue 16: 15).

The socket folder of a deep repository (``/tmp/bahr-sock-<hash>``) and root's cluster folder
(``/var/tmp/bahr-db-<hash>``) have predictable names in shared folders. A symbolic link
planted there must be refused, and its target left exactly as it was (never chowned, never
chmodded). And a repository path with a space in it must work.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from app.db.server import EmbeddedCluster
from app.errors import BahrDataError


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    folder = tmp_path / "victim"
    folder.mkdir()
    folder.chmod(0o755)
    return folder


@pytest.fixture
def deep_root() -> Iterator[Path]:
    """A cluster root so deep that its socket goes to the shared temp folder."""
    base = Path(tempfile.mkdtemp(prefix="bahr-deep-"))
    root = base / ("d" * 110) / "bahr"
    yield root
    shutil.rmtree(base, ignore_errors=True)


def _unchanged(folder: Path, before: os.stat_result) -> None:
    after = folder.stat()
    assert (after.st_uid, after.st_gid, after.st_mode) == (
        before.st_uid,
        before.st_gid,
        before.st_mode,
    )


def test_a_symlink_at_the_shared_socket_folder_is_refused(deep_root: Path, victim: Path) -> None:
    cluster = EmbeddedCluster(deep_root)
    assert cluster.socket_dir.parent == Path(tempfile.gettempdir())
    cluster.socket_dir.unlink(missing_ok=True)
    cluster.socket_dir.symlink_to(victim)
    before = victim.stat()
    try:
        with pytest.raises(BahrDataError, match="symbolic link"):
            cluster.start()
        _unchanged(victim, before)
        assert cluster.socket_dir.is_symlink()
    finally:
        cluster.socket_dir.unlink()


def test_a_symlink_at_the_cluster_folder_is_refused(tmp_path: Path, victim: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="bahr-link-")) / "bahr-db-planted"
    root.symlink_to(victim)
    before = victim.stat()
    try:
        with pytest.raises(BahrDataError, match="symbolic link"):
            EmbeddedCluster(root).start()
        _unchanged(victim, before)
        assert not (victim / "pgdata").exists()
    finally:
        shutil.rmtree(root.parent)


def test_a_file_at_the_cluster_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "not-a-folder"
    root.write_text("x")
    with pytest.raises(BahrDataError, match="not a folder"):
        EmbeddedCluster(root).start()


def test_a_cluster_in_a_path_with_a_space_starts() -> None:
    root = Path(tempfile.mkdtemp(prefix="bahr space ")) / "cluster"
    root.parent.chmod(0o755)  # as root, the server's own user must reach the folder
    cluster = EmbeddedCluster(root, throwaway=True)
    try:
        assert " " in str(cluster.socket_dir)
        assert cluster.start() is True
        with psycopg.connect(cluster.conninfo("postgres")) as conn:
            assert conn.execute("SHOW unix_socket_directories").fetchone() == (
                str(cluster.socket_dir),
            )
        assert cluster.socket_dir.stat().st_mode & 0o777 == 0o700
    finally:
        cluster.destroy()
        shutil.rmtree(root.parent, ignore_errors=True)
