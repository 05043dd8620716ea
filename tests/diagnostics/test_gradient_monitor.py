"""GradientMonitor: records on schedule, equal to layer_statistics, CSV and PNG output."""

import csv
import os

import keras
import numpy as np
import pytest

from keras_gradstab.diagnostics import GradientMonitor, layer_statistics


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 4)).astype("float32")
    return x, np.tanh(x @ rng.normal(size=(4, 1))).astype("float32")


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(6, activation="tanh", name="h"),
            keras.layers.Dense(1, name="out"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


def test_records_match_layer_statistics(tmp_path):
    x, y = _data()
    model = _model()
    before = layer_statistics(model, x, y)
    monitor = GradientMonitor(x, y, every=3)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False, callbacks=[monitor])
    after = layer_statistics(model, x, y)
    steps = sorted({r["step"] for r in monitor.history})
    assert steps == [0, 3, 6]
    first = [r for r in monitor.history if r["step"] == 0]
    last = [r for r in monitor.history if r["step"] == 6]
    for got, want in ((first, before), (last, after)):
        for g, w in zip(got, want):
            assert g["layer"] == w["layer"]
            np.testing.assert_allclose(g["weight_grad_norm"], w["weight_grad_norm"], rtol=1e-5)
            np.testing.assert_allclose(g["output_grad_norm"], w["output_grad_norm"], rtol=1e-5)
    # Training moved the weights, so the gradient norms changed.
    assert first[0]["weight_grad_norm"] != last[0]["weight_grad_norm"]
    assert monitor.as_array().shape == (3, 2)

    csv_path = os.path.join(str(tmp_path), "grads.csv")
    monitor.to_csv(csv_path)
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and rows[0]["layer"] == "h"
    assert float(rows[-1]["weight_grad_norm"]) == pytest.approx(last[-1]["weight_grad_norm"])
    png = monitor.plot(os.path.join(str(tmp_path), "grads.png"))
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_bad_every_raises():
    x, y = _data()
    with pytest.raises(ValueError, match="every"):
        GradientMonitor(x, y, every=0)
