"""layer_statistics, gradient_report and jacobian_singular_values against NumPy
backpropagation, and the 64-layer SNN / tanh comparison."""

import keras
import numpy as np
import pytest

from keras_gradstab.diagnostics import (
    gradient_report,
    jacobian_singular_values,
    layer_statistics,
)
from keras_gradstab.models import snn


def _mlp(widths, activation="tanh"):
    layers = [keras.Input((widths[0],))]
    for i, w in enumerate(widths[1:]):
        last = i == len(widths) - 2
        layers.append(
            keras.layers.Dense(
                w,
                activation=None if last else activation,
                bias_initializer="random_normal",
                name=f"d{i}",
            )
        )
    return keras.Sequential(layers)


def _numpy_backprop(model, x, y):
    """Per-layer weight-gradient and output-gradient norms of mean squared error."""
    params = [
        [keras.ops.convert_to_numpy(w).astype("float64") for w in layer.weights]
        for layer in model.layers
    ]
    hs, zs = [x.astype("float64")], []
    for i, (w, b) in enumerate(params):
        z = hs[-1] @ w + b
        zs.append(z)
        hs.append(z if i == len(params) - 1 else np.tanh(z))
    grad_out = 2 * (hs[-1] - y) / y.size
    weight_norms, output_norms = [], []
    for i in reversed(range(len(params))):
        output_norms.append(np.linalg.norm(grad_out))
        grad_z = grad_out if i == len(params) - 1 else grad_out * (1 - np.tanh(zs[i]) ** 2)
        gw, gb = hs[i].T @ grad_z, grad_z.sum(0)
        weight_norms.append(np.sqrt(np.sum(gw**2) + np.sum(gb**2)))
        grad_out = grad_z @ params[i][0].T
    return weight_norms[::-1], output_norms[::-1], hs[1:]


def test_layer_statistics_match_numpy_backprop():
    keras.utils.set_random_seed(0)
    model = _mlp([5, 7, 6, 3])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(11, 5)).astype("float32")
    y = rng.normal(size=(11, 3)).astype("float32")
    rows = layer_statistics(model, x, y)
    weight_norms, output_norms, outputs = _numpy_backprop(model, x, y)
    assert [r["layer"] for r in rows] == ["d0", "d1", "d2"]
    np.testing.assert_allclose([r["weight_grad_norm"] for r in rows], weight_norms, rtol=1e-4)
    np.testing.assert_allclose([r["output_grad_norm"] for r in rows], output_norms, rtol=1e-4)
    np.testing.assert_allclose(
        [r["activation_var"] for r in rows], [h.var() for h in outputs], rtol=1e-4
    )
    # The model's own variables are untouched (stateless gradients).
    assert np.isfinite(model.predict(x, verbose=0)).all()


def test_non_chain_model_falls_back_to_weight_gradients():
    inputs = keras.Input((4,))
    h = keras.layers.Dense(4, activation="tanh", name="a")(inputs)
    h = keras.layers.Add(name="skip")([h, inputs])
    outputs = keras.layers.Dense(2, name="b")(h)
    model = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    rows = layer_statistics(model, x, np.zeros((8, 2), "float32"))
    assert all(r["output_grad_norm"] is None for r in rows)
    report = gradient_report(model, x, np.zeros((8, 2), "float32"))
    assert report.measure == "weight_grad_norm"
    a, b = rows[0]["weight_grad_norm"], rows[-1]["weight_grad_norm"]
    assert abs(report.ratio - a / b) < 1e-9 * report.ratio
    with pytest.raises(ValueError, match="threshold"):
        gradient_report(model, x, np.zeros((8, 2), "float32"), threshold=1.0)


def test_jacobian_singular_values_match_numpy():
    keras.utils.set_random_seed(2)
    model = _mlp([4, 6, 3])
    x = np.random.default_rng(3).normal(size=(5, 4)).astype("float32")
    (w1, b1), (w2, _) = [
        [keras.ops.convert_to_numpy(w).astype("float64") for w in layer.weights]
        for layer in model.layers
    ]
    want = []
    for xi in x.astype("float64"):
        d = 1 - np.tanh(xi @ w1 + b1) ** 2
        want.append(np.linalg.svd((w1 * d) @ w2, compute_uv=False))
    np.testing.assert_allclose(
        jacobian_singular_values(model, x), np.array(want), rtol=1e-4, atol=1e-6
    )


def _deep_mlp_report(width, depth, **kwargs):
    """`gradient_report` of `snn` with `depth` hidden layers of `width` units (no
    dropout; `kwargs` for `snn`), seed 0, on standard-normal inputs (batch 128) and
    random targets (mean squared error)."""
    keras.utils.set_random_seed(0)
    model = snn((width,), units=width, depth=depth, output_units=1, dropout_rate=0.0, **kwargs)
    x = np.random.default_rng(0).normal(size=(128, width)).astype("float32")
    y = np.random.default_rng(1).normal(size=(128, 1)).astype("float32")
    return gradient_report(model, x, y)


# At full size: 64 hidden layers of width 256,
# standard-normal inputs (batch 128), mean squared error on random targets.
def test_64_layer_snn_keeps_fixed_point_and_is_not_vanishing():
    report = _deep_mlp_report(256, 64)
    hidden = [r for r in report.rows if r["layer"].startswith("dense_")]
    assert len(hidden) == 64
    for r in hidden:
        assert abs(r["activation_mean"]) < 0.1, r
        assert abs(r["activation_var"] - 1) < 0.15, r
    assert report.measure == "output_grad_norm"
    assert not report.vanishing, str(report)
    # Its error signal grows toward the input at the rate critical-initialization
    # theory gives for selu at (0, 1): chi_perp = E[selu'(z)^2], z ~ N(0, 1), here
    # by quadrature (1.0716), so the default threshold (one e-fold over the depth)
    # calls it exploding.
    from scipy import integrate, stats

    from keras_gradstab.activations.selu import ALPHA_01, SCALE_01

    chi_perp = SCALE_01**2 * (
        0.5
        + integrate.quad(lambda z: (ALPHA_01 * np.exp(z)) ** 2 * stats.norm.pdf(z), -np.inf, 0)[0]
    )
    assert abs(chi_perp - 1.0716) < 1e-4
    assert abs(report.chi - chi_perp) < 0.02, (report.chi, chi_perp)
    assert report.exploding and report.threshold == pytest.approx(np.e)


def test_64_layer_tanh_glorot_is_flagged_vanishing():
    report = _deep_mlp_report(256, 64, activation="tanh", kernel_initializer="glorot_uniform")
    assert report.vanishing and not report.exploding, str(report)


def test_relu_with_c_w_4_is_flagged_exploding_at_its_closed_form_rate():
    # relu with weight variance C_W / fan_in has chi_perp = C_W E[relu'(z)^2] = C_W / 2:
    # at C_W = 4 the error signal doubles in squared norm per layer toward the input.
    report = _deep_mlp_report(
        128,
        16,
        activation="relu",
        kernel_initializer=keras.initializers.VarianceScaling(4.0, "fan_in", "normal"),
    )
    assert report.exploding and not report.vanishing, str(report)
    assert report.ratio > 100.0
    assert abs(np.log(report.chi) - np.log(2.0)) < 0.15, report.chi
