"""Section: how long the command line takes to answer (issue 20, item 11).

Each command runs as a new process, as a user runs it: the console script ``bahr-db`` of this
venv, with ``DATABASE_URL`` pointing at the benchmark database (so nothing starts a cluster).
Variants run round-robin (anchor, ``--help``, ``--version``, ``meters``, floor, anchor, …) so
that load from other processes hits them alike. Anchor: ``python -c pass`` with the same
interpreter, the floor of any Python command. Floor: importing only the libraries that
``bahr-db meters`` cannot do without (Typer, Rich, pydantic-settings, psycopg, SQLAlchemy
and its psycopg dialect), no ``app`` code and no query. Targets: ``bahr-db --help`` under
0.3 s and ``bahr-db meters`` under 0.8 s (median wall time). One more run of ``bahr-db
meters`` under ``python -X importtime`` says where its imports go, by package.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.context import Context
from benchmarks.report import Section, Table, Target, ms, times
from benchmarks.timing import percentile

HELP_TARGET_S = 0.3
METERS_TARGET_S = 0.8
#: What any ``bahr-db meters`` through the data layer must import, and nothing of ``app``.
FLOOR_IMPORTS = (
    "import typer, rich.console, rich.table, pydantic_settings, psycopg, sqlalchemy, "
    "sqlalchemy.dialects.postgresql.psycopg"
)
FLOOR = "floor: the libraries of `meters`, no app code"
#: ``bahr-db meters`` as the console script runs it, for ``-X importtime``.
METERS_MAIN = "import sys; sys.argv = ['bahr-db', 'meters']; from app.cli import main; main()"


def _bytecode_note() -> str:
    """Whether imports read compiled bytecode: without it every run compiles SQLAlchemy,
    pydantic and the rest from source, which is most of a command's start-up."""
    import importlib.util

    spec = importlib.util.find_spec("sqlalchemy.orm.context")
    cached = spec is not None and spec.cached is not None and Path(spec.cached).exists()
    writes = not sys.flags.dont_write_bytecode and not os.environ.get("PYTHONDONTWRITEBYTECODE")
    return (
        f"Site-packages compiled to bytecode: {'yes' if cached else 'no'}; this environment "
        f"{'writes' if writes else 'does not write (PYTHONDONTWRITEBYTECODE)'} bytecode. "
        "`uv sync --compile-bytecode` compiles the venv once at install time."
    )


def _bahr_db() -> list[str]:
    script = Path(sys.executable).with_name("bahr-db")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def run(ctx: Context) -> Section:
    section = Section(
        key="startup",
        title="8. Start-up: how soon a command answers",
        method=(
            "Wall time of a new process per run, `bahr-db` being this venv's console script "
            "and `DATABASE_URL` the benchmark database; variants interleaved. Anchor: "
            "`python -c pass` with the same interpreter. Floor: a process that only imports "
            "the libraries `meters` needs (Typer, Rich, pydantic-settings, psycopg, SQLAlchemy "
            "and its psycopg dialect)."
        ),
    )
    env = dict(os.environ)
    env["DATABASE_URL"] = ctx.db.app_url.render_as_string(hide_password=False)
    env["MIGRATION_DATABASE_URL"] = ctx.db.owner_url.render_as_string(hide_password=False)
    env["COLUMNS"] = "100"
    cli = _bahr_db()
    variants = {
        "python -c pass (anchor)": [sys.executable, "-c", "pass"],
        "bahr-db --help": [*cli, "--help"],
        "bahr-db --version": [*cli, "--version"],
        "bahr-db meters": [*cli, "meters"],
        FLOOR: [sys.executable, "-c", FLOOR_IMPORTS],
    }
    if ctx.smoke:  # the smoke run checks that the section works, on the two cheap commands
        variants = {
            name: argv for name, argv in variants.items() if "meters" not in name and name != FLOOR
        }
    rounds = 1 if ctx.smoke else 15
    warmup = 0 if ctx.smoke else 1  # a first round warms the page cache and is dropped
    load = os.getloadavg()[0]
    samples: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for round_number in range(1 - warmup, rounds + 1):
        for name, argv in variants.items():
            used = _children_cpu()
            start = time.perf_counter()
            subprocess.run(
                argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True
            )
            if round_number:
                samples[name].append(time.perf_counter() - start)
                cpu[name].append(_children_cpu() - used)
    medians = {name: percentile(sorted(s), 0.5) for name, s in samples.items()}
    cpu_medians = {name: percentile(sorted(c), 0.5) for name, c in cpu.items()}
    anchor = medians["python -c pass (anchor)"]
    section.tables.append(
        Table(
            title=f"wall time per run, {rounds} runs each (load average at start "
            f"{load:.1f} on {os.cpu_count()} cores)",
            columns=["command", "median ms", "p90 ms", "× anchor", "median CPU ms"],
            rows=[
                [
                    name,
                    ms(medians[name] * 1000),
                    ms(percentile(sorted(s), 0.9) * 1000),
                    times(medians[name] / anchor),
                    ms(cpu_medians[name] * 1000),
                ]
                for name, s in samples.items()
            ],
            note="The targets judge wall time. CPU ms: user + system time of the process "
            "itself, which depends less than wall time on what else runs on the machine.",
        )
    )
    for name, goal in (("bahr-db --help", HELP_TARGET_S), ("bahr-db meters", METERS_TARGET_S)):
        if name not in medians:
            continue
        section.targets.append(
            Target(
                name=f"`{name}` answers fast",
                goal=f"median < {goal * 1000:.0f} ms",
                measured=f"{ms(medians[name] * 1000)} ms ({times(medians[name] / anchor)} anchor)",
                met=medians[name] < goal,
                why=_why_missed(name, medians, cpu_medians, load),
            )
        )
    breakdown: dict[str, float] = {}
    if not ctx.smoke:
        breakdown = _import_breakdown(env)
        section.tables.append(_breakdown_table(breakdown))
    section.notes.append(_bytecode_note())
    section.data = {
        "medians_s": medians,
        "samples_s": samples,
        "cpu_s": cpu,
        "import_self_ms": breakdown,
    }
    return section


def _children_cpu() -> float:
    """User + system seconds of every child process that has ended so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _why_missed(name: str, wall: dict[str, float], cpu: dict[str, float], load: float) -> str:
    """The figures that explain a missed target: the command's own CPU time against its
    wall time under the machine's load and, for ``meters``, the libraries' floor."""
    why = (
        f"median CPU time {ms(cpu[name] * 1000)} ms against {ms(wall[name] * 1000)} ms wall "
        f"(load average {load:.1f} on {os.cpu_count()} cores)"
    )
    if name.endswith("meters") and FLOOR in wall:
        why += (
            f"; the libraries alone, no app code (floor), take {ms(wall[FLOOR] * 1000)} ms "
            f"wall, {ms(cpu[FLOOR] * 1000)} ms CPU"
        )
    return why


def _import_breakdown(env: dict[str, str]) -> dict[str, float]:
    """Self time (ms) of each imported package in one ``bahr-db meters`` under
    ``-X importtime``; ``app`` is split by its sub-package."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", METERS_MAIN],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    spent: dict[str, float] = {}
    for line in done.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        parts = fields[2].strip().split(".")
        package = ".".join(parts[:2]) if parts[0] == "app" else parts[0]
        spent[package] = spent.get(package, 0.0) + int(fields[0]) / 1000
    return dict(sorted(spent.items(), key=lambda item: -item[1]))


def _breakdown_table(spent: dict[str, float]) -> Table:
    total = sum(spent.values())
    top = list(spent.items())[:12]
    rest = total - sum(ms_ for _, ms_ in top)
    return Table(
        title=f"where `bahr-db meters` spends its imports: self time by package, one run "
        f"under `-X importtime` (which slows imports), {ms(total)} ms in all",
        columns=["package", "self ms", "share"],
        rows=[
            *([name, ms(ms_), f"{ms_ / total:.0%}"] for name, ms_ in top),
            ["everything else", ms(rest), f"{rest / total:.0%}"],
        ],
    )
