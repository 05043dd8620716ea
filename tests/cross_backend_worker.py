"""Saves or checks the cross-backend cases on the backend of this process.

python tests/cross_backend_worker.py save DIR   # weights + outputs per case
python tests/cross_backend_worker.py check DIR  # load them, print JSON results
"""

import importlib
import json
import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
# The checkout's own package first (a worktree's copy over an editable install).
sys.path[:0] = [_TESTS, os.path.dirname(_TESTS)]

import keras  # noqa: E402
import numpy as np  # noqa: E402
from cross_backend_cases import CASES  # noqa: E402

import keras_gradstab  # noqa: E402,F401  (registers the library's classes)


def build(spec):
    module, name = spec["layer"].split(":")
    layer_cls = getattr(importlib.import_module(module), name)
    model = keras.Sequential(
        [keras.Input(shape=spec["input_shape"][1:]), layer_cls(**spec["kwargs"])]
    )
    return model


def inputs(spec):
    return np.random.default_rng(123).normal(size=spec["input_shape"]).astype("float32")


def save(directory):
    keras.utils.set_random_seed(0)
    for name, spec in CASES.items():
        model = build(spec)
        model.save_weights(os.path.join(directory, f"{name}.weights.h5"))
        np.save(os.path.join(directory, f"{name}.npy"), model.predict(inputs(spec), verbose=0))


def check(directory):
    keras.utils.set_random_seed(1)  # different init, so only loaded weights can match
    results = {}
    for name, spec in CASES.items():
        try:
            model = build(spec)
            model.load_weights(os.path.join(directory, f"{name}.weights.h5"))
            got = model.predict(inputs(spec), verbose=0)
            want = np.load(os.path.join(directory, f"{name}.npy"))
            err = float(np.max(np.abs(got - want)))
            results[name] = {"ok": err <= spec["atol"], "max_abs_error": err}
        except Exception as e:  # noqa: BLE001 - reported to the test
            results[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    print("RESULTS " + json.dumps(results))


if __name__ == "__main__":
    verb, directory = sys.argv[1], sys.argv[2]
    {"save": save, "check": check}[verb](directory)
