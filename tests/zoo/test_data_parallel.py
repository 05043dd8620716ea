"""Scale-out: a zoo model trained under keras.distribution.DataParallel on 2 JAX CPU
devices gives the same losses and weights as on one device (float tolerance).

keras.distribution is implemented for JAX only in Keras 3, so on the other
backends the test is skipped. The 2-device run needs a fresh JAX process
(XLA_FLAGS=--xla_force_host_platform_device_count=2 must be set before JAX starts).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from harness import BACKEND

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")


@pytest.mark.skipif(
    BACKEND != "jax", reason="keras.distribution.DataParallel is JAX-only in Keras 3"
)
def test_data_parallel_on_two_devices_matches_one_device():
    flags = os.environ.get("XLA_FLAGS", "")
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"{flags} --xla_force_host_platform_device_count=2".strip(),
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
    )
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "data_parallel_worker.py")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    assert result["devices"] == 2 and result["mesh_shape"] == [2]
    # Data parallelism: weights replicated on both devices, batches split over them.
    assert result["parallel_placement"] == {"devices": 2, "replicated": True}
    assert result["single_placement"]["devices"] == 1
    assert result["batch_layout"] == ["batch", None, None, None]
    single, parallel = np.array(result["single"]), np.array(result["parallel"])
    assert single.shape == (3,) and single[-1] < single[0]  # it trains
    np.testing.assert_allclose(parallel, single, rtol=1e-5)
    assert result["max_weight_difference"] < 1e-5
