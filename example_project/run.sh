#!/usr/bin/env bash
# Set up and run the example on SQLite: migrate, seed jobs, start a worker and the web server.
# It needs only the package (scripts/bootstrap installs it into .venv): no database client.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap
cd example_project
PY=../.venv/bin/python
$PY manage.py migrate --noinput
$PY manage.py seedjobs
$PY manage.py runjobs &
WORKER=$!
trap 'kill -TERM $WORKER 2>/dev/null; wait $WORKER 2>/dev/null' EXIT INT TERM
echo
echo "  Admin:  http://127.0.0.1:${PORT:-8000}/admin/   (user admin, password admin)"
echo "  API:    http://127.0.0.1:${PORT:-8000}/api/jobs"
echo
$PY manage.py runserver "127.0.0.1:${PORT:-8000}"
