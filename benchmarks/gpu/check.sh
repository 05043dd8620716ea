#!/usr/bin/env bash
# On the GPU machine (the device tool's `run`, carrying .whl): the checks this
# project records in benchmarks/RESULTS.md, section "GPU". About 5 minutes.
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 3
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
for b in jax torch; do
  echo "== tests on $b"
  KERAS_BACKEND=$b timeout 200 python3 -m pytest -q -p no:cacheprovider -rf --tb=line \
    tests/ops tests/layers/test_ncgru.py tests/layers/test_plstm_layers.py 2>&1 | tail -15
done | tee "$OUT/tests.log"
for b in jax torch; do
  KERAS_BACKEND=$b timeout 120 python3 -m keras_gradstab bench scan recurrent --full \
    --backend $b --json "$OUT/bench_$b.json"
done 2>&1 | grep -v -i "warning\|absl" | tee "$OUT/bench.log"
