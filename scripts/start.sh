#!/usr/bin/env bash
# Set up and start the app on the embedded default (SQLite, jobs inline) and print a demo login.
# Re-running is safe: it reuses the virtualenv and the database.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
.venv/bin/pybabel compile -d translations 2>/dev/null
export FLASK_APP=wsgi.py
.venv/bin/flask db upgrade
export HOST=${HOST:-127.0.0.1}
export PORT=${PORT:-5000}
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://$HOST:$PORT}  # where SMS, e-mail and QR code links point
.venv/bin/flask demo seed                                      # staff login + a demo company on SQLite
.venv/bin/flask tenants upgrade --if-behind                    # tenant databases to this code's schema (after a pull)
.venv/bin/flask crm demo "$(cat instance/demo-tenant.txt)"     # its CRM: people, customers, follow-ups
echo "Open http://$HOST:$PORT/  (registration page: http://$HOST:$PORT/register)"
# gunicorn.conf.py: one process with threads unless Redis shares the throttles' counts between processes
exec .venv/bin/gunicorn -c gunicorn.conf.py wsgi:app
