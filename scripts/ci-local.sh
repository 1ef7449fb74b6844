#!/usr/bin/env bash
# Run the steps of the GitHub Actions `postgres` job (.github/workflows/ci.yml) on this
# machine, on the same service-style path: a PostgreSQL server on localhost:5432 with role
# `test`/`test` owning `test_db`, and DATABASE_URL pointing at it.
#
# Instead of the postgres:15 container, the server is a throwaway cluster of the project's
# own (app.db.server.EmbeddedCluster) listening on 127.0.0.1:5432. It is removed at the end,
# however the script ends (trap; and a watchdog if even that is skipped by a SIGKILL).
#
# Usage: bash scripts/ci-local.sh      (or: make ci-local)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PORT=5432
SERVICE_URL="postgresql://test:test@localhost:5432/test_db"  # as in ci.yml

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'ci-local: %s\n' "$*" >&2; exit 1; }

# -- the port must be free: the spec's example test hard-codes localhost:5432 -----------------
port_free() {
  python3 - "$PORT" <<'EOF'
import socket, sys

port = int(sys.argv[1])
for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    try:
        probe = socket.socket(family, socket.SOCK_STREAM)
    except OSError:
        continue  # no IPv6 here
    with probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == 99:  # EADDRNOTAVAIL: ::1 not configured
                continue
            sys.exit(1)
EOF
}
if ! port_free; then
  die "port ${PORT} on localhost is busy (another PostgreSQL, or a container from compose.yaml?).
Stop whatever listens there (e.g. 'docker compose down', or: ss -ltnp 'sport = :${PORT}'), then run again."
fi

say "make install"
make install
# make install puts uv in .tools/ when the machine has none (see the Makefile).
if command -v uv >/dev/null 2>&1; then UV=(uv); else UV=("$ROOT/.tools/bin/uv"); fi

# -- the "service": a throwaway cluster on 127.0.0.1:5432, in the background ------------------
PY="$(cd backend && "${UV[@]}" run --locked --no-sync python -c 'import sys; print(sys.executable)')"
STATE="$(mktemp -d "${TMPDIR:-/tmp}/bahr-ci-local-XXXXXX")"
SERVER_PID=""

cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "ci-local: stopping the PostgreSQL server on port ${PORT}" >&2
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$STATE"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "start PostgreSQL on 127.0.0.1:${PORT} (role test, database test_db)"
(cd backend && exec "$PY" - "$STATE/ready" "$PORT" "$$" <<'EOF') &
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import psycopg

from app.db.server import EmbeddedCluster

ready, port, parent = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


signal.signal(signal.SIGTERM, _stop)
signal.signal(signal.SIGINT, _stop)

cluster = EmbeddedCluster.create_throwaway(tcp_port=port)
try:
    # The watchdog removes the cluster even if this process is killed with SIGKILL.
    cluster.start(stop_with_pid=os.getpid())
    # What the postgres:15 service gives the workflow (POSTGRES_USER/PASSWORD/DB): the
    # image makes POSTGRES_USER a superuser owning POSTGRES_DB. The suite needs that much:
    # it creates test_db_test beside it and sets up the bahr_owner / bahr_app roles.
    with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
        conn.execute("CREATE ROLE test LOGIN SUPERUSER PASSWORD 'test'")
        conn.execute("CREATE DATABASE test_db OWNER test TEMPLATE template0 ENCODING 'UTF8'")
    ready.write_text(str(cluster.root), encoding="utf-8")
    # Serve until told to stop, or until the script that started us is gone.
    while True:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
finally:
    cluster.destroy()
    shutil.rmtree(ready.parent, ignore_errors=True)  # the script's state folder, if it was killed
EOF
SERVER_PID=$!

for _ in $(seq 1 600); do
  [ -f "$STATE/ready" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || die "the PostgreSQL server did not start (see above)"
  sleep 0.2
done
[ -f "$STATE/ready" ] || die "the PostgreSQL server did not come up within 120 s"
echo "cluster: $(cat "$STATE/ready")"

# -- the workflow's steps, with its environment -----------------------------------------------
export DATABASE_URL="$SERVICE_URL"
unset MIGRATION_DATABASE_URL TEST_DATABASE_URL

STEPS_RUN=0
run_step() {  # run_step DIR COMMAND...
  local dir=$1
  shift
  say "$* (in ${dir})"
  local start=$SECONDS
  (cd "$dir" && "$@")
  STEPS_RUN=$((STEPS_RUN + 1))
  echo "ci-local: ok in $((SECONDS - start)) s: $*"
}

run_step . make lint
run_step backend "${UV[@]}" run --locked --no-sync alembic upgrade head
run_step backend "${UV[@]}" run --locked --no-sync alembic check
run_step . make test
run_step . make test-slow
run_step backend "${UV[@]}" run --locked --no-sync coverage xml -o coverage.xml

say "ci-local: all ${STEPS_RUN} steps passed (coverage report: backend/coverage.xml)"
