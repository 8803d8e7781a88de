#!/usr/bin/env bash
# Create bench/.venv with django-jobs (editable) and the peers it is measured beside.
# The peers are benchmark-only: they are never dependencies of django-jobs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-python3}"

if [ ! -x "$here/.venv/bin/python" ]; then
    "$python" -m venv "$here/.venv"
fi
pip="$here/.venv/bin/pip"
"$pip" install --quiet --upgrade pip
"$pip" install --quiet -e "$root[postgres]"
"$pip" install --quiet \
    "django-tasks-db>=0.13" "django-tasks>=0.9" \
    "django-q2>=1.7" \
    "procrastinate[django]>=3" \
    "huey>=2.5" "peewee>=3.17" \
    "py-spy>=0.4"
"$here/.venv/bin/python" -c "import django_jobs, django_tasks_db, django_q, procrastinate, huey, peewee"
echo "bench/.venv ready: $("$here/.venv/bin/python" --version)"
