#!/usr/bin/env bash
# On the development machine: what a bare GPU machine of this workplace lacks.
# Its image has CUDA builds of jax and torch (Python 3.12) but no keras and no
# TensorFlow; keras, namex and optree travel as wheels in .whl/ (git-ignored by
# .git/info/exclude, not by .gitignore: the device tool carries ignored paths
# only when named). The arrow-pointing images are drawn here once and travel
# bit-packed (about 52 MB for 100,000 images).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .git/info .whl gpu_data
for p in /.whl/ /gpu_data/; do grep -qx "$p" .git/info/exclude 2>/dev/null || echo "$p" >> .git/info/exclude; done
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  "keras==$(.venv/bin/python -c 'import keras; print(keras.__version__)')" namex optree
if [ "${1:-}" = "--arrow" ]; then
  KERAS_BACKEND=jax .venv/bin/python -c "
from model_zoo.plstm2d_arrow import train
train.cached_data('gpu_data/arrow100k.npz', 64, 100000, 400, 0, train.ARROW_SCALE)"
fi
ls -la .whl gpu_data
