"""ReSTE's indicators against NumPy (current o), the callback's logs, and
quantization_summary against hand counts."""

import keras
import numpy as np

from keras_gradstab.callbacks import ReSTESchedule
from keras_gradstab.diagnostics import (
    ReSTEIndicators,
    estimating_error,
    gradient_stability,
    quantization_summary,
)
from keras_gradstab.layers import QuantConv2D, QuantDense
from keras_gradstab.quantizers import ReSTE


def reste_grad(w, o, threshold=1.5, rectify=0.1):
    a = np.abs(w)
    slope = (1.0 / o) * np.maximum(a, rectify) ** ((1.0 - o) / o)
    slope = np.where(a <= rectify, rectify ** (1.0 / o) / rectify, slope)
    return np.where(a <= threshold, slope, 0.0)


def dense_model(o, kernel):
    layer = QuantDense(
        2,
        kernel_quantizer=ReSTE(o=o),
        use_bias=False,
        kernel_initializer=keras.initializers.Constant(kernel),
    )
    return keras.Sequential([keras.Input((3,)), layer])


KERNEL = np.array([[0.5, -0.05], [1.2, -2.0], [-0.3, 0.8]], "float32")


def test_estimating_error_and_gradient_stability_match_numpy_at_the_current_o():
    model = dense_model(1.0, KERNEL)
    model.layers[0].kernel_quantizer.o.assign(2.5)  # the current o, not the initial one
    sign = np.where(KERNEL >= 0, 1.0, -1.0)
    want_e = np.linalg.norm(sign * np.abs(KERNEL) ** (1 / 2.5) - sign)
    np.testing.assert_allclose(estimating_error(model), want_e, rtol=1e-5)

    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    y = np.zeros((4, 2), "float32")
    # mse of y_pred = x @ sign(W): dL/dW = x^T (2 y_pred / (4 * 2)) * g'(W).
    y_pred = x @ sign
    grad = x.T @ (2.0 * y_pred / 8.0) * reste_grad(KERNEL, 2.5)
    got = gradient_stability(model, x, y, loss="mse")
    np.testing.assert_allclose(got, np.var(np.abs(grad)), rtol=1e-4)


def test_callback_logs_indicators_with_the_scheduled_o():
    model = dense_model(1.0, KERNEL)
    model.compile(keras.optimizers.SGD(0.0), "mse")  # weights stay: values are known
    x = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    y = np.zeros((4, 2), "float32")
    history = model.fit(
        x, y, epochs=3, verbose=0, callbacks=[ReSTESchedule(o_end=3.0), ReSTEIndicators(x, y)]
    )
    sign = np.where(KERNEL >= 0, 1.0, -1.0)
    os_ = history.history["reste_o"]
    want = [np.linalg.norm(sign * np.abs(KERNEL) ** (1 / o) - sign) for o in os_]
    np.testing.assert_allclose(history.history["reste_estimating_error"], want, rtol=1e-5)
    # Higher o: lower estimating error (the paper's trade-off).
    assert want[0] > want[-1]
    assert all(np.isfinite(history.history["reste_gradient_stability"]))


def test_quantization_summary_counts():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = QuantConv2D(
        8,
        3,
        padding="same",
        input_quantizer="ste_sign",
        kernel_quantizer="ste_sign",
        use_bias=False,
    )(x)
    x = keras.layers.Flatten()(x)
    outputs = QuantDense(10, kernel_quantizer="ste_sign")(x)
    model = keras.Model(inputs, outputs)
    rows = {r["layer"]: r for r in quantization_summary(model, print_fn=None)}
    conv, quant_conv, dense = (rows[model.layers[i].name] for i in (1, 2, 4))
    assert conv["macs"] == 64 * 27 * 4 and conv["binary_macs"] == 0
    assert conv["memory_bytes"] == 4 * (108 + 4)
    assert quant_conv["macs"] == quant_conv["binary_macs"] == 64 * 9 * 4 * 8
    assert quant_conv["memory_bytes"] == 288 // 8 and quant_conv["compression"] == 32.0
    # 1-bit kernel, 32-bit input: not binary MACs; the bias stays float32.
    assert dense["kernel_bits"] == 1 and dense["input_bits"] == 32 and dense["binary_macs"] == 0
    assert dense["macs"] == 512 * 10 and dense["memory_bytes"] == 5120 // 8 + 40
    total = rows["total"]
    assert (
        total["memory_bytes"]
        == conv["memory_bytes"] + quant_conv["memory_bytes"] + dense["memory_bytes"]
    )
    printed = []
    quantization_summary(model, print_fn=printed.append)
    assert "total" in printed[0]
