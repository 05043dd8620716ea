"""Every recurrent layer in a model compiled with `jit_compile=True` (torch.compile on
torch, XLA on jax and tensorflow): predictions equal the uncompiled model's, and a
training step moves every weight. A `.keras` file saved from a model compiled on
jax predicts the same in a torch process."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from harness import BACKEND

from keras_gradstab.layers import ENRNN, NCGRU, PLSTM1D, SBORNN, ScoRNN

LAYERS = {
    "ncgru": lambda: NCGRU(6),
    "ncgru_reset_before": lambda: NCGRU(6, reset_after=False, orthogonal_reset=True),
    "scornn": lambda: ScoRNN(6),
    "enrnn": lambda: ENRNN(4, 2),
    "sbornn": lambda: SBORNN(6, rank=2, update="nesterov", eta=0.1),
    "plstm1d": lambda: PLSTM1D(2, key_dim=4, value_dim=4, form="recurrent"),
}


def _model():
    """Every recurrent layer side by side on one input: one compilation serves all."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((7, 3))
    branches = [keras.layers.Flatten()(LAYERS[name]()(inputs)) for name in sorted(LAYERS)]
    outputs = keras.layers.Dense(2)(keras.layers.Concatenate()(branches))
    return keras.Model(inputs, outputs)


@pytest.mark.slow
def test_jit_compiled_model_predicts_and_trains_as_uncompiled():
    x = np.random.default_rng(0).normal(size=(4, 7, 3)).astype("float32")
    y = np.random.default_rng(1).normal(size=(4, 2)).astype("float32")
    models = []
    for jit_compile in (False, True):
        model = _model()
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", jit_compile=jit_compile)
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    np.testing.assert_allclose(
        models[1].predict(x, verbose=0), models[0].predict(x, verbose=0), atol=1e-5, rtol=1e-5
    )
    before = [np.array(w) for w in models[0].get_weights()]
    losses = [float(m.train_on_batch(x, y)) for m in models]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    for got, want in zip(models[1].get_weights(), models[0].get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    # Every trainable weight of every layer moved (all gradient paths alive).
    moved = {
        w.path: not np.array_equal(np.array(w), b)
        for w, b in zip(models[1].weights, before)
        if w.trainable
    }
    assert all(moved.values()), [path for path, ok in moved.items() if not ok]


# Saved on jax (where Keras compiles by default), loaded on torch (where the compiled
# model's recurrences must leave torch.compile's graph); weights across every pair
# of backends are tests/test_cross_backend.py's.
OTHERS = ["torch"] if BACKEND == "jax" and importlib.util.find_spec("torch") else []


@pytest.mark.slow
@pytest.mark.skipif(not OTHERS, reason="saved in the jax process, loaded on torch")
def test_compiled_model_file_predicts_on_other_backends(tmp_path):
    x = np.random.default_rng(2).normal(size=(3, 7, 3)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((7, 3)),
            NCGRU(5, return_sequences=True),
            SBORNN(4, rank=2, eta=0.1, return_sequences=True),
            ScoRNN(4),
        ]
    )
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    path = os.path.join(str(tmp_path), "compiled.keras")
    model.save(path)
    np.save(os.path.join(str(tmp_path), "x.npy"), x)
    want = model.predict(x, verbose=0)
    script = textwrap.dedent(
        f"""
        import numpy as np, keras, keras_gradstab
        model = keras.saving.load_model({path!r})
        assert model.jit_compile
        got = model.predict(np.load({os.path.join(str(tmp_path), "x.npy")!r}), verbose=0)
        np.save({os.path.join(str(tmp_path), "got.npy")!r}, got)
        """
    )
    for other in OTHERS:
        env = dict(os.environ, KERAS_BACKEND=other, TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, f"{BACKEND} -> {other}:\n{proc.stderr[-3000:]}"
        got = np.load(os.path.join(str(tmp_path), "got.npy"))
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=f"{BACKEND} -> {other}")
