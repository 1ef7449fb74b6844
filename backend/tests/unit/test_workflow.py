"""The GitHub Actions workflow (.github/workflows/ci.yml), checked here since CI can't run it.

* It is valid against the GitHub workflow JSON schema that check-jsonschema vendors
  (``--builtin-schema vendor.github-workflows``: offline, no download).
* zizmor finds nothing of medium severity or above (``--offline``).
* Structural facts the spec and the project rely on: pinned actions, read-only permissions,
  the postgres:15 service with a pg_isready health check and ``DATABASE_URL``, and a second
  job with no service that proves the embedded-cluster path.
* scripts/ci-local.sh runs the same steps as the service job, in the same order.

The workflow is read with ruamel.yaml (a dependency of check-jsonschema), whose YAML 1.2
keeps the ``on:`` key a string (PyYAML's YAML 1.1 would turn it into ``True``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

REPO_ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"
CI_LOCAL = REPO_ROOT / "scripts" / "ci-local.sh"

SCHEMA_CHECK = (
    sys.executable,
    "-m",
    "check_jsonschema",
    "--builtin-schema",
    "vendor.github-workflows",
)
ZIZMOR_ARGS = ("--offline", "--no-progress", "--color", "never", "--min-severity", "medium")
SERVICE_URL = "postgresql://test:test@localhost:5432/test_db"
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
# The service job's commands, in order; scripts/ci-local.sh must run the same ones.
SERVICE_STEPS = (
    "make lint",
    "alembic upgrade head",
    "alembic check",
    "make test",
)


def _load(text: str) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(text)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    assert WORKFLOW.is_file(), f"{WORKFLOW} is missing"
    return _load(WORKFLOW.read_text(encoding="utf-8"))


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps = job.get("steps", [])
    assert isinstance(steps, list)
    return steps


def _all_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in _steps(job)]


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in _steps(job))


def _index_of(lines: list[str], needle: str) -> int:
    for i, line in enumerate(lines):
        if needle in line:
            return i
    raise AssertionError(f"no step runs {needle!r}")


# -- validators ----------------------------------------------------------------------------


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SCHEMA_CHECK, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_workflow_matches_the_github_workflow_schema() -> None:
    result = _check_jsonschema(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """The schema check is live: a job whose steps are not a list fails it."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      run: echo\n",
        encoding="utf-8",
    )
    result = _check_jsonschema(broken)
    assert result.returncode != 0, result.stdout + result.stderr


def _zizmor_executable() -> str | None:
    beside = Path(sys.executable).parent / "zizmor"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("zizmor")


def _zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    exe = _zizmor_executable()
    if exe is None:
        pytest.skip("zizmor is not installed (it is a dev dependency: run `make install`)")
    env = {k: v for k, v in os.environ.items() if k not in {"GH_TOKEN", "GITHUB_TOKEN"}}
    return subprocess.run(
        [exe, *ZIZMOR_ARGS, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_zizmor_finds_nothing_of_medium_severity_or_above() -> None:
    result = _zizmor(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_flags_a_checkout_that_keeps_its_credentials(tmp_path: Path) -> None:
    """zizmor is live at this severity: without persist-credentials it reports artipacked."""
    text = WORKFLOW.read_text(encoding="utf-8")
    weakened = re.sub(r"\n\s+with:\n\s+persist-credentials: false", "", text)
    assert weakened != text
    copy = tmp_path / ".github" / "workflows" / "ci.yml"
    copy.parent.mkdir(parents=True)
    copy.write_text(weakened, encoding="utf-8")
    result = _zizmor(copy)
    assert result.returncode != 0
    assert "artipacked" in result.stdout + result.stderr


# -- structure -----------------------------------------------------------------------------


def test_runs_on_push_and_pull_request(workflow: dict[str, Any]) -> None:
    assert {"push", "pull_request"} <= set(workflow["on"])


def test_every_action_is_pinned_to_a_full_commit_sha(workflow: dict[str, Any]) -> None:
    uses = [step["uses"] for step in _all_steps(workflow) if "uses" in step]
    uses += [job["uses"] for job in workflow["jobs"].values() if "uses" in job]
    assert uses
    for ref in uses:
        if ref.startswith("./"):
            continue
        assert PINNED.match(ref), f"{ref} is not pinned to a 40-hex commit SHA"
    # ... and every pin names its release in a trailing comment, for people and Dependabot.
    for line in WORKFLOW.read_text(encoding="utf-8").splitlines():
        if re.match(r"\s*(-\s+)?uses:", line) and "@" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+(\.\d+)*$", line), line


def test_permissions_are_read_only(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        perms = job.get("permissions", {})
        assert isinstance(perms, dict), f"job {name}: permissions must be a mapping"
        assert all(v in {"read", "none"} for v in perms.values()), f"job {name}: {perms}"


def test_hardening(workflow: dict[str, Any]) -> None:
    assert "group" in workflow["concurrency"]
    for name, job in workflow["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 60, f"job {name} has no sane timeout"
    checkouts = [
        s for s in _all_steps(workflow) if s.get("uses", "").startswith("actions/checkout@")
    ]
    assert len(checkouts) == len(workflow["jobs"])
    for step in checkouts:
        assert step["with"]["persist-credentials"] is False


def test_uv_installs_from_the_lock_with_its_cache(workflow: dict[str, Any]) -> None:
    for name, job in workflow["jobs"].items():
        setup = [s for s in _steps(job) if s.get("uses", "").startswith("astral-sh/setup-uv@")]
        assert len(setup) == 1, f"job {name} does not set up uv"
        assert setup[0]["with"]["enable-cache"] is True
        assert str(setup[0]["with"]["python-version"]) == "3.11"
    service_job = _service_job(workflow)
    assert re.search(r"^make install$|uv sync --locked", _runs(service_job), re.M)


def _service_job(workflow: dict[str, Any]) -> dict[str, Any]:
    jobs = [job for job in workflow["jobs"].values() if "postgres" in job.get("services", {})]
    assert len(jobs) == 1, "exactly one job should use the postgres service"
    return jobs[0]


def test_postgres_service(workflow: dict[str, Any]) -> None:
    job = _service_job(workflow)
    service = job["services"]["postgres"]
    assert service["image"] == "postgres:15"
    # The spec's example test connects to postgresql://test:test@localhost:5432/test_db.
    assert service["env"]["POSTGRES_USER"] == "test"
    assert service["env"]["POSTGRES_PASSWORD"] == "test"
    assert service["env"]["POSTGRES_DB"] == "test_db"
    initdb_args = service["env"]["POSTGRES_INITDB_ARGS"]
    assert "--encoding=UTF8" in initdb_args
    assert "--lc-ctype=C.UTF-8" in initdb_args
    assert "5432:5432" in [str(p) for p in service["ports"]]
    assert "--health-cmd" in service["options"]
    assert "pg_isready" in service["options"]
    # DATABASE_URL set: the test suite starts no embedded cluster there.
    assert job["env"]["DATABASE_URL"] == SERVICE_URL


def test_service_job_steps_in_order(workflow: dict[str, Any]) -> None:
    job = _service_job(workflow)
    lines = _runs(job).splitlines()
    positions = [_index_of(lines, step) for step in SERVICE_STEPS]
    assert positions == sorted(positions), f"steps out of order: {SERVICE_STEPS}"
    alembic = [s for s in _steps(job) if "alembic" in str(s.get("run", ""))]
    assert alembic
    assert all(s.get("working-directory") == "backend" for s in alembic)
    assert "--cov-fail-under" not in _runs(job), "the coverage gate belongs to `make test`"
    uploads = [s for s in _steps(job) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert len(uploads) == 1
    assert "coverage" in uploads[0]["with"]["path"]
    assert "coverage xml" in _runs(job)


def test_a_job_without_services_proves_the_embedded_cluster(workflow: dict[str, Any]) -> None:
    jobs = [
        job
        for job in workflow["jobs"].values()
        if not job.get("services") and re.search(r"^\s*make test$", _runs(job), re.M)
    ]
    assert len(jobs) == 1
    job = jobs[0]
    assert "DATABASE_URL" not in workflow.get("env", {})
    assert "DATABASE_URL" not in job.get("env", {})
    assert "runs-on" in job


def test_ci_local_runs_the_same_steps() -> None:
    assert CI_LOCAL.is_file(), f"{CI_LOCAL} is missing"
    assert os.access(CI_LOCAL, os.X_OK), f"{CI_LOCAL} is not executable"
    text = CI_LOCAL.read_text(encoding="utf-8")
    assert SERVICE_URL in text
    commands = [line.strip() for line in text.splitlines() if line.strip().startswith("run_step")]
    positions = [_index_of(commands, step) for step in SERVICE_STEPS]
    assert positions == sorted(positions), commands
    bash = shutil.which("bash")
    assert bash is not None
    syntax = subprocess.run(
        [bash, "-n", str(CI_LOCAL)], capture_output=True, text=True, check=False
    )
    assert syntax.returncode == 0, syntax.stderr
