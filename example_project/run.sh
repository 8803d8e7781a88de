#!/usr/bin/env bash
# Set up and run the example on SQLite: migrate, seed jobs, start the web server.
# The example sets DJANGO_JOBS["AUTO_START"], so runserver's process runs the jobs too.
# It needs only the package (scripts/bootstrap installs it into .venv): no database client.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap
cd example_project
PY=../.venv/bin/python
$PY manage.py migrate --noinput
$PY manage.py seedjobs
echo
echo "  Admin:  http://127.0.0.1:${PORT:-8000}/admin/   (user admin, password admin)"
echo "  API:    http://127.0.0.1:${PORT:-8000}/api/jobs"
echo "  Dashboard: http://127.0.0.1:${PORT:-8000}/dashboard/"
echo
$PY manage.py runserver "127.0.0.1:${PORT:-8000}"
