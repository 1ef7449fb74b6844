"""Every module of ``app`` imports on its own, first, in an interpreter where no other
``app`` module was imported: no import cycle, and no import that needs a database.

One child interpreter per module. To keep that fast, one parent interpreter first imports
the third-party libraries that ``app`` uses (never an ``app`` module: that is asserted),
then forks a child per module, which imports that one module and exits. The order in which
``app`` modules load, which is what makes or breaks a cycle, is exactly that of a fresh
interpreter. ``DATABASE_URL`` points at a port where nothing listens, so an import that
tried to connect would fail too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import CHILD_PYCACHE

BACKEND = Path(__file__).resolve().parents[2]
APP = BACKEND / "app"

_CHILDREN = r"""
import ast, json, os, pathlib, sys, traceback

app = pathlib.Path(sys.argv[1])
modules = json.loads(sys.argv[2])
third_party = set()
for path in app.rglob("*.py"):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            third_party.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            third_party.add(node.module)
for name in sorted(third_party):
    if name.split(".")[0] != "app":
        try:
            __import__(name)
        except Exception:
            pass  # the child will report it if an app module needs it
assert not [m for m in sys.modules if m == "app" or m.startswith("app.")], "app preloaded"

results = {}
running = {}

def reap():
    pid, status = os.wait()
    module, read_end = running.pop(pid)
    with os.fdopen(read_end) as pipe:
        error = pipe.read()
    results[module] = error or ("" if os.waitstatus_to_exitcode(status) == 0 else "crashed")

for module in modules:
    if len(running) >= 2:
        reap()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        code = 0
        try:
            __import__(module)
        except BaseException:
            os.write(write_end, traceback.format_exc().encode())
            code = 1
        os._exit(code)
    os.close(write_end)
    running[pid] = (module, read_end)
while running:
    reap()
print(json.dumps(results))
"""


def _modules() -> list[str]:
    names = []
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(BACKEND).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _env() -> dict[str, str]:
    """No database to be found, and bytecode cached outside the tree."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    env["DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:9/nothing_listens_here"
    # Compiled bytecode is kept outside the tree and reused by every child (and run):
    # without it each child compiles its modules again, which doubles the time.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = CHILD_PYCACHE
    return env


def _python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=BACKEND,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@cache
def _import_each() -> dict[str, str]:
    done = _python(_CHILDREN, str(APP), json.dumps(_modules()))
    assert done.returncode == 0, done.stderr
    results: dict[str, str] = json.loads(done.stdout)
    return results


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("module", _modules())
def test_module_imports_on_its_own(module: str) -> None:
    error = _import_each()[module]
    assert not error, error


def test_every_module_of_app_is_checked() -> None:
    modules = _modules()
    assert "app.db.database" in modules
    assert "app.repositories.base" in modules
    assert len(modules) == len(set(modules)) >= 50


_NOTHING_BUILT = r"""
import gc
import app.db.database, app.db.base, app.models, app.repositories.base
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
engines = [o for o in gc.get_objects() if isinstance(o, Engine)]
assert not engines, f"{len(engines)} engine(s) built at import"
assert not event.contains(Session, "before_commit", app.db.database._refuse_inner_commits)
assert not event.contains(Session, "before_flush", app.db.database._refuse_writes)
"""


def test_importing_the_data_layer_builds_no_engine() -> None:
    done = _python(_NOTHING_BUILT)
    assert done.returncode == 0, done.stderr
