"""Weights saved by this backend's process load in every other backend's process."""

import importlib.util
import json
import os
import subprocess
import sys

import cross_backend_worker
import pytest
from cross_backend_cases import CASES
from harness import BACKEND

OTHERS = [
    b
    for b in ("jax", "tensorflow", "torch")
    if b != BACKEND and importlib.util.find_spec(b) is not None
]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("cross_backend"))
    cross_backend_worker.save(directory)
    found = {}
    for other in OTHERS:
        env = dict(os.environ, KERAS_BACKEND=other, TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run(
            [sys.executable, cross_backend_worker.__file__, "check", directory],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULTS ")]
        if proc.returncode != 0 or not lines:
            found[other] = {"__failed__": proc.stderr[-3000:]}
        else:
            found[other] = json.loads(lines[-1][len("RESULTS ") :])
    return found


@pytest.mark.skipif(not OTHERS, reason="no other backend installed")
@pytest.mark.parametrize("name", sorted(CASES))
def test_weights_load_in_other_backends(results, name):
    for other, per_case in results.items():
        assert "__failed__" not in per_case, f"{other} worker failed:\n{per_case['__failed__']}"
        outcome = per_case[name]
        assert outcome["ok"], f"{BACKEND} -> {other}: {outcome}"
