#!/usr/bin/env bash
# The test suite once per backend, each backend in its own pytest process. The
# processes run side by side (their logs are printed in order afterwards); the
# script fails if any backend fails.  Usage: tests/run_backends.sh PYTHON [BACKENDS...]
# PYTEST_MARKERS is passed as pytest's -m expression (e.g. "not slow"), PYTEST_ARGS as is.
set -u
python=$1
shift
backends=${*:-jax tensorflow torch}
logs=$(mktemp -d)
pids=()
# The jax process is the longest: it keeps the default priority, the others run
# under `nice` so that it gets the cores first and finishes with them.
for backend in $backends; do
  priority=0
  [ "$backend" = jax ] || priority=5
  KERAS_BACKEND=$backend TF_CPP_MIN_LOG_LEVEL=3 nice -n $priority "$python" -m pytest -p no:cacheprovider \
    ${PYTEST_MARKERS:+-m "$PYTEST_MARKERS"} ${PYTEST_ARGS:-} tests >"$logs/$backend.log" 2>&1 &
  pids+=($!)
done
status=0
i=0
for backend in $backends; do
  wait "${pids[$i]}" || { status=1; failed="${failed:-} $backend"; }
  i=$((i + 1))
done
for backend in $backends; do
  echo "===== pytest, KERAS_BACKEND=$backend ====="
  cat "$logs/$backend.log"
done
rm -rf "$logs"
if [ $status -ne 0 ]; then echo "FAILED backends:${failed}"; fi
exit $status
