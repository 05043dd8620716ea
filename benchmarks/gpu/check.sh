#!/usr/bin/env bash
# The GPU checks recorded in benchmarks/RESULTS.md, section "GPU": per backend (jax,
# torch, and tensorflow where installed) a few fast tests of the scan and the
# recurrent layers, then the recurrent benchmark (NCGRU, ScoRNN, ENRNN, SBORNN
# against keras.layers.GRU, `python -m keras_gradstab bench recurrent`); then, on
# torch, the CUDA fast path of the fused recurrences: the tests of
# tests/backend/test_torch_cuda.py (the CUDA-graph and Triton ones run on a GPU
# only) and benchmarks/gpu/graph_counts.py (the capture/replay counters of an NCGRU
# layer, and the eager loop against the graph replay and the Triton kernel).
#
#   bash benchmarks/gpu/check.sh            on the GPU machine (the device tool's `run`,
#                                           carrying .whl from benchmarks/gpu/prepare.sh):
#                                           full sizes, under 5 minutes
#   bash benchmarks/gpu/check.sh --dry-run  on a CPU machine with the project installed
#                                           (PYTHON=... or .venv/bin/python): the same
#                                           steps at the benchmark's quick sizes
#
# Logs and the benchmark rows (JSON) go to $OUT (default /tmp/gpu_out). Exits 0 when
# every step passed, 1 otherwise (each step still runs).
set -uo pipefail
cd "$(dirname "$0")/../.."
DRY=0
case "${1:-}" in
  --dry-run) DRY=1 ;;
  "") ;;
  *) echo "usage: bash benchmarks/gpu/check.sh [--dry-run]" >&2; exit 2 ;;
esac
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"

if [ "$DRY" = 1 ]; then
  PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
  SIZE=()                         # the benchmark's quick sizes (T=32)
  QUICK=(--quick)
  export PYTHONPATH=$PWD
  TEST_LIMIT=600 BENCH_LIMIT=600  # a loaded CPU: limits only against a hang
else
  PY=python3
  export XLA_PYTHON_CLIENT_PREALLOCATE=false
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  SIZE=(--full)                   # B=32, T=256, 128 units
  QUICK=()
  TEST_LIMIT=60 BENCH_LIMIT=80    # two backends: under 5 minutes in all
fi

BACKENDS=(jax torch)
"$PY" -c "import tensorflow" 2>/dev/null && BACKENDS+=(tensorflow)
# The scan and each layer against its references; the layers' Keras checks,
# save/reload and long training runs are left to the full suite.
TESTS=(tests/ops/test_scan.py tests/layers/test_ncgru.py tests/layers/test_scornn.py
  tests/layers/test_enrnn.py tests/layers/test_sbornn.py)
SELECT="not check_layer and not layer_checks and not saves and not adam and not _500_"

status=0
for b in "${BACKENDS[@]}"; do
  echo "== $b: tests"
  KERAS_BACKEND=$b timeout "$TEST_LIMIT" "$PY" -m pytest -q -p no:cacheprovider -m "not slow" \
    -k "$SELECT" -rf --tb=line "${TESTS[@]}" >"$OUT/tests_$b.log" 2>&1 || status=1
  tail -3 "$OUT/tests_$b.log"
  echo "== $b: bench recurrent ${SIZE[*]}"
  timeout "$BENCH_LIMIT" "$PY" -m keras_gradstab bench recurrent "${SIZE[@]}" --backend "$b" \
    --json "$OUT/bench_$b.json" >"$OUT/bench_$b.log" 2>&1 || status=1
  grep "^|" "$OUT/bench_$b.log" || tail -5 "$OUT/bench_$b.log"
  if [ "$b" = torch ]; then
    echo "== torch: CUDA graphs and the Triton kernel (tests, then counters and times)"
    KERAS_BACKEND=torch timeout "$TEST_LIMIT" "$PY" -m pytest -q -p no:cacheprovider -rfs \
      --tb=line tests/backend/test_torch_cuda.py >"$OUT/tests_torch_cuda.log" 2>&1 || status=1
    grep -E "^(SKIPPED|FAILED)" "$OUT/tests_torch_cuda.log" | head -12
    tail -1 "$OUT/tests_torch_cuda.log"
    KERAS_BACKEND=torch timeout "$BENCH_LIMIT" "$PY" benchmarks/gpu/graph_counts.py "${QUICK[@]}" \
      --json "$OUT/graph_counts.json" >"$OUT/graph_counts.log" 2>&1 || status=1
    grep -E "^(device|NCGRU|ncgru|cuda_graphs|\|)" "$OUT/graph_counts.log" || tail -5 "$OUT/graph_counts.log"
  fi
done
echo "check.sh: $([ $status = 0 ] && echo "all steps passed" || echo "a step failed") (logs in $OUT)"
exit $status
