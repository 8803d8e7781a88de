#!/usr/bin/env bash
# Before and after, interleaved: bench/run.py's django-jobs rows for an older
# commit and for this checkout, each side with its own venv and databases.
#   bench/before-after.sh REV [ROUNDS] [RUN.PY OPTIONS...]  (default 3 rounds: B A, A B, ...)
# The older commit is checked out once in $TMPDIR/django-jobs-before-REV (a git worktree);
# each side runs its own bench/run.py, so each raw-SQL ceiling matches its own schema.
# Given options (say --latency --probes 1000), both sides run this checkout's bench/run.py
# with them instead: the older one may not have the options.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
rev="$(git -C "$root" rev-parse --short "${1:?usage: bench/before-after.sh REV [ROUNDS]}")"
rounds="${2:-3}"
extra=("${@:3}")
python="${PYTHON:-python3}"
before="${TMPDIR:-/tmp}/django-jobs-before-$rev"

if [ ! -d "$before" ]; then
  git -C "$root" worktree add --detach "$before" "$rev" >/dev/null
fi
for side in "$before" "$root"; do
  venv="$side/bench/.venv"
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet -e "$side[postgres]"
  fi
done

out="$here/results/before-after.md"
mkdir -p "$here/results"
echo "# before ($rev) and after ($(git -C "$root" rev-parse --short HEAD)), $(date -u '+%Y-%m-%d %H:%M') UTC" >"$out"
run_side() {
  local name="$1" venv="$2/bench/.venv/bin/python" prefix="$3"
  echo "... round $round: $name" >&2
  echo "uptime: $(uptime)" >>"$out"
  local harness="$2/bench/run.py"
  if [ ${#extra[@]} -gt 0 ]; then harness="$here/run.py"; fi
  BENCH_DB_PREFIX="$prefix" "$venv" "$harness" --systems django-jobs --no-sqlite "${extra[@]}" \
    | grep -E '^\| (django-jobs|raw SQL)' | sed "s/^| /| $round | $name | /" >>"$out"
}
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then
    run_side before "$before" bench_before_
    run_side after "$root" bench_after_
  else
    run_side after "$root" bench_after_
    run_side before "$before" bench_before_
  fi
done
cat "$out"
