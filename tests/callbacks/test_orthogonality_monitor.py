"""OrthogonalityMonitor logs Lorth and the circular singular-value error of conv layers."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_gradstab as kg


def test_monitor_logs_lorth_and_sigma_error_of_each_conv_layer():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            keras.layers.Conv2D(
                4,
                3,
                padding="same",
                name="plain",
                kernel_regularizer=kg.regularizers.OrthogonalConv(0.1),
            ),
            kg.layers.OrthogonalConv2D(4, 3, name="exact"),
            keras.layers.Conv2D(2, 2, strides=2, name="strided"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.01), "mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 8, 8, 2)), rng.normal(size=(8, 4, 4, 2))
    monitor = kg.callbacks.OrthogonalityMonitor(input_shape=(8, 8))
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])
    logged = {k: v for k, v in history.history.items() if "/" in k}
    assert set(logged) == {
        "lorth/plain",
        "sigma_error/plain",
        "lorth/exact",
        "sigma_error/exact",
        "lorth/strided",
    }
    assert all(len(v) == 2 for v in logged.values())
    plain = ops.convert_to_tensor(model.get_layer("plain").kernel)
    np.testing.assert_allclose(
        logged["lorth/plain"][-1], float(ops.convert_to_numpy(kg.ops.lorth(plain))), rtol=1e-5
    )
    sigma = ops.convert_to_numpy(kg.ops.conv_singular_values(plain, (8, 8)))
    np.testing.assert_allclose(
        logged["sigma_error/plain"][-1], np.max(np.abs(sigma - 1)), rtol=1e-5
    )
    assert logged["lorth/plain"][-1] > 1e-3
    assert logged["lorth/exact"][-1] < 1e-6 and logged["sigma_error/exact"][-1] < 1e-4
    strided = ops.convert_to_tensor(model.get_layer("strided").kernel)
    np.testing.assert_allclose(
        logged["lorth/strided"][-1],
        float(ops.convert_to_numpy(kg.ops.lorth(strided, 2))),
        rtol=1e-5,
    )


def test_monitor_names_a_layer_without_kernel_and_bad_every():
    with pytest.raises(ValueError, match="`every`"):
        kg.callbacks.OrthogonalityMonitor(every=0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="dense")])
    with pytest.raises(ValueError, match="'dense'"):
        monitor = kg.callbacks.OrthogonalityMonitor(layers="dense")
        monitor.set_model(model)
        monitor.errors()


def test_monitor_config_round_trip():
    monitor = kg.callbacks.OrthogonalityMonitor(layers=["a"], input_shape=(8, 8), every=2)
    revived = kg.callbacks.OrthogonalityMonitor.from_config(monitor.get_config())
    assert revived.get_config() == {"layers": ["a"], "input_shape": [8, 8], "every": 2}
