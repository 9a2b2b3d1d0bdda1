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
.venv/bin/flask demo seed
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
echo "Open http://$HOST:$PORT/  (registration page: http://$HOST:$PORT/register)"
exec .venv/bin/gunicorn --bind "$HOST:$PORT" --workers 2 --threads 4 --access-logfile - wsgi:app
