"""``alembic heads``, ``alembic history`` and ``alembic check`` work from the command line, in
a fresh interpreter as a developer runs them, against the migrated test database.

(In-process, ``app`` is already imported by the test session, so an import cycle that
breaks the command line would not show; hence the subprocess.)
"""

from __future__ import annotations

import os
import subprocess
import sys

from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from tests.conftest import BACKEND_DIR, CHILD_PYCACHE, make_alembic_config


def _alembic(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)  # DATABASE_URL / MIGRATION_DATABASE_URL: the test database
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = CHILD_PYCACHE
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(make_alembic_config())


def test_alembic_heads_names_the_one_head(migrated: URL) -> None:
    done = _alembic("heads")
    assert done.returncode == 0, done.stderr
    (head,) = _scripts().get_heads()
    assert done.stdout.split() == [head, "(head)"]


def test_alembic_history_lists_every_revision(migrated: URL) -> None:
    done = _alembic("history")
    assert done.returncode == 0, done.stderr
    revisions = [script.revision for script in _scripts().walk_revisions()]
    assert len(done.stdout.strip().splitlines()) == len(revisions)
    for revision in revisions:
        assert f"-> {revision}" in done.stdout


def test_alembic_check_finds_the_models_and_the_migrated_database_equal(migrated: URL) -> None:
    done = _alembic("check")
    assert done.returncode == 0, done.stderr
    assert "No new upgrade operations detected" in done.stdout + done.stderr
