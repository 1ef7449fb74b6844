# Bahr's data layer. Two commands on a fresh clone: `make run` and `make test`.
# With DATABASE_URL unset, both start the project's own PostgreSQL (see README).

SHELL := /bin/bash
BACKEND := backend
# uv installs everything from backend/uv.lock. When it is missing, pip installs it into a
# private venv (.tools/), never into the system Python (which PEP 668 may forbid anyway).
TOOLS := $(CURDIR)/.tools
UV = $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
RUN := cd $(BACKEND) && $(UV) run --locked --no-sync
COV_MIN ?= 90

.PHONY: help install uv run cli test test-slow lint format docs db-start db-stop bench stress ci-local clean

help:
	@echo "make run      install, start the database if needed, migrate, run the demo"
	@echo "make test     install, run the whole suite on a throwaway database, with coverage"
	@echo "make test-slow the suites too slow for make test (the benchmark smoke run); CI runs both"
	@echo "make cli ARGS='search الليل'   run bahr-db with ARGS (or backend/.venv/bin/bahr-db)"
	@echo "make lint     ruff, mypy, workflow schema and zizmor"
	@echo "make format   ruff format and ruff check --fix"
	@echo "make docs     redraw the ER diagram in README.md from the models"
	@echo "make ci-local the GitHub workflow's steps against a local server on :5432"
	@echo "make db-start / db-stop   the embedded PostgreSQL cluster (.bahr/)"
	@echo "make stress   the reliability suite at full size -> docs/reliability.md"
	@echo "make bench    the benchmark suite -> docs/benchmarks.md"
	@echo "make clean    stop the embedded cluster, remove it, the venv and .tools/"

uv:
	@command -v uv >/dev/null 2>&1 || test -x $(TOOLS)/bin/uv || { \
	  echo "installing uv into $(TOOLS)"; \
	  python3 -m venv $(TOOLS) && $(TOOLS)/bin/python -m pip install --quiet \
	    --disable-pip-version-check uv; }

install: uv
	cd $(BACKEND) && $(UV) sync --locked --all-extras --compile-bytecode --quiet

run: install
	$(RUN) bahr-db run

# Any bahr-db command: make cli ARGS="search الليل --json"
cli: install
	$(RUN) bahr-db $(ARGS)

test: install
	$(RUN) pytest -m "not slow" --cov --cov-report=term --cov-fail-under=$(COV_MIN)

# Tests marked slow: too heavy for make test's five minutes (the benchmark suite's smoke
# run, every section end to end on a cluster of its own). CI runs them after make test.
test-slow: install
	$(RUN) pytest -m slow

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) check-jsonschema --builtin-schema vendor.github-workflows ../.github/workflows/ci.yml
	$(RUN) zizmor --offline --min-severity medium ../.github/workflows/

format: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

# The reliability suite at full size (16 threads x 500 operations, 3 restarts); its figures
# go to docs/reliability.md.
stress: install
	rm -f $(CURDIR)/docs/.reliability.jsonl
	cd $(BACKEND) && BAHR_STRESS=1 BAHR_RELIABILITY_REPORT=$(CURDIR)/docs/.reliability.jsonl \
		$(UV) run --locked --no-sync pytest tests/reliability tests/pgbouncer/test_reliability.py \
		tests/replicas/test_failover.py -p no:randomly -q
	$(RUN) python -m tests.reliability.report $(CURDIR)/docs/.reliability.jsonl \
		> $(CURDIR)/docs/reliability.md.new && mv $(CURDIR)/docs/reliability.md.new $(CURDIR)/docs/reliability.md
	rm -f $(CURDIR)/docs/.reliability.jsonl

# The benchmark suite on its own throwaway cluster -> docs/benchmarks.md and
# benchmarks-out/results.json. BENCH_ARGS="--only lookups" (or --smoke) narrows it.
bench: install
	$(RUN) python -m benchmarks $(BENCH_ARGS)

# The ER diagram in README.md, generated from the models (PostgreSQL type names).
docs: install
	$(RUN) python -m tools.er_diagram

db-start: install
	$(RUN) bahr-db db start

db-stop: install
	$(RUN) bahr-db db stop

# The GitHub workflow's steps, here, against a server on 127.0.0.1:5432 started by the project.
ci-local: install
	bash scripts/ci-local.sh

clean:
	-$(RUN) bahr-db db stop
	rm -rf .bahr $(BACKEND)/.venv $(BACKEND)/.pytest-pycache $(TOOLS)
