#!/usr/bin/env bash
# Run the whole test suite against real MariaDB and Redis (and SQLite), plus the browser test.
# Needs MariaDB on 127.0.0.1:3306 (root, no password) and Redis on 127.0.0.1:6379; see README.
set -euo pipefail
cd "$(dirname "$0")/.."
# Bytecode cached (some machines set PYTHONDONTWRITEBYTECODE): without it every test process, and every rq worker
# and CLI a test starts, compiles the app from source, and pytest rewrites its plugins' modules again (schemathesis,
# hypothesis, faker: 341 modules per process); the job tests took 22 % more CPU.
unset PYTHONDONTWRITEBYTECODE
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
.venv/bin/pybabel compile -d translations 2>/dev/null
exec .venv/bin/python -m pytest "$@"
