"""Every zoo recipe runs in its `--quick` mode (a few steps) on this backend, and the
preset it writes is checked as a shipped one is.

The convention of `model_zoo/<name>/train.py`: a `main(argv)` function; with
`--quick --out DIR` it trains a tiny version for a few steps and writes whatever
it produces (a preset, a metrics JSON) under DIR, never into the package. The
recipe of a shipped preset must write a preset there: it loads, predicts finite
values of the right shape, its metadata follows the schema (baseline included),
and its metric re-measures to the recorded value.
"""

import glob
import os
import pathlib
import runpy
import subprocess
import sys

import numpy as np
import pytest

from keras_gradstab import zoo
from keras_gradstab.zoo import presets

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
RECIPES = sorted(glob.glob(os.path.join(ROOT, "model_zoo", "*", "train.py")))
PRESETS_DIR = os.path.join(ROOT, "keras_gradstab", "zoo", "presets")


def _snapshot(directory):
    found = {}
    for path in glob.glob(os.path.join(directory, "**", "*"), recursive=True):
        if os.path.isfile(path):
            found[path] = os.path.getmtime(path)
    return found


def check_written_preset(directory, name):
    """What a quick run wrote: the same checks as a shipped preset's."""
    metadata = zoo.preset_metadata(directory)  # the files' sha256 and the schema
    assert metadata["name"] == name
    assert metadata["recipe"] == f"model_zoo/{name}/train.py"
    model = zoo.from_preset(directory)
    x, y = presets._test_data(metadata["data"])
    predictions = np.asarray(model.predict(x[:4], verbose=0))
    assert predictions.shape[0] == 4 and np.all(np.isfinite(predictions))
    if metadata["metric"] in ("accuracy", "symbol_accuracy"):
        assert predictions.shape[-1] > int(np.max(y))  # one output per class
    result = zoo.evaluate(directory)
    assert zoo.within_tolerance(result["metric"], result["measured"], result["recorded"]), result


@pytest.mark.parametrize(
    "recipe", RECIPES, ids=[os.path.basename(os.path.dirname(r)) for r in RECIPES]
)
def test_recipe_quick_mode(recipe, tmp_path):
    name = os.path.basename(os.path.dirname(recipe))
    before = _snapshot(PRESETS_DIR)
    main = runpy.run_module(f"model_zoo.{name}.train", run_name="recipe")["main"]
    main(["--quick", "--out", str(tmp_path / "out")])
    # A quick run must not overwrite the shipped presets.
    assert _snapshot(PRESETS_DIR) == before
    written = sorted(
        pathlib.Path(p).parent
        for p in glob.glob(str(tmp_path / "out" / "**" / presets.METADATA_FILE), recursive=True)
    )
    if name in zoo.list_presets():
        assert written, f"the quick run of {name} wrote no preset under --out"
    for directory in written:
        check_written_preset(directory, name)


@pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "jax") != "torch", reason="one backend's process is enough"
)
def test_recipe_runs_as_a_module_from_the_repository_root():
    # The documented command: `python -m model_zoo.<name>.train` from the root,
    # with no path set up by hand (`--help` stops before any training).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "model_zoo.ncgru_adding.train", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "--quick" in proc.stdout and "--time-steps" in proc.stdout


def test_arrow_recipe_data_cache_gives_the_generated_images(tmp_path):
    # The GPU run of plstm2d_arrow drew its images once and read them back from a
    # bit-packed file: the arrays must be exactly `data(...)`'s.
    import numpy as np

    recipe = runpy.run_path(
        os.path.join(ROOT, "model_zoo", "plstm2d_arrow", "train.py"), run_name="recipe"
    )
    path = str(tmp_path / "cache.npz")
    want = recipe["data"](32, 12, 6, 3, 2.5)
    made = recipe["cached_data"](path, 32, 12, 6, 3, 2.5)
    read = recipe["cached_data"](path, 32, 12, 6, 3, 2.5)
    for got in (made, read):
        for (x, y), (x_want, y_want) in zip(got[:3], want[:3]):
            assert x.dtype == np.float32 and np.array_equal(x, x_want)
            assert np.array_equal(y, y_want)
        assert got[3] == want[3]
    # Other arguments than the stored ones draw the images anew.
    other = recipe["cached_data"](path, 32, 12, 6, 4, 2.5)
    assert not np.array_equal(other[0][0], want[0][0])


def test_recurrent_recipes_start_from_the_same_weights_every_run(monkeypatch):
    # `run_pair` and `train_with_baselines` build their models after seeding Keras's
    # global generator: layers without a seed of their own (an Embedding, the output
    # Dense) start from the same weights whatever was drawn before.
    import argparse

    import keras

    from model_zoo import _recurrent

    started = []

    def record_start(model, *args, **kwargs):
        started.append([keras.ops.convert_to_numpy(w) for w in model.weights])
        return 0.0, []

    def record_baseline(label, model, *args, **kwargs):
        record_start(model)
        return {}, []

    monkeypatch.setattr(_recurrent, "train", record_start)
    monkeypatch.setattr(_recurrent, "train_baseline", record_baseline)
    monkeypatch.setattr(_recurrent, "measure", lambda *args: 0.0)

    def build(kind, units=3):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, name=kind)])

    data = ((None, None), (None, None), (None, None))
    pair_args = argparse.Namespace(epochs=1, batch_size=2, skip_baseline=False)
    both_args = argparse.Namespace(units=3, baselines="gru", gru_units=5, lstm_units=5)
    runs = []
    for draw in range(2):
        keras.utils.set_random_seed(100 + draw)  # another global state before each run
        started.clear()
        _recurrent.run_pair(
            build, lambda kind: None, data, pair_args, baseline_name="b", settings={}
        )
        keras.utils.set_random_seed(200 + draw)
        _recurrent.train_with_baselines(
            build, lambda kind: None, data, both_args, settings={}, trained=""
        )
        runs.append(started[:])
    assert len(runs[0]) == 4
    for first, second in zip(*runs):
        for a, b in zip(first, second):
            np.testing.assert_array_equal(a, b)
