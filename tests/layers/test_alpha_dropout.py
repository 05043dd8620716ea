"""AlphaDropout and FeatureAlphaDropout: the paper's a/b formulas, Monte Carlo statistics."""

import math

import keras
import numpy as np
import pytest
from harness import check_layer

from keras_gradstab.layers import (
    AlphaDropout,
    FeatureAlphaDropout,
    alpha_dropout_affine,
)

# Literals of the paper (not computed by the library).
SATURATION_01 = -1.7580993408473766
PARAMS = {
    (0.0, 1.0): (1.6732632423543772, 1.0507009873554805),
    (-0.1, 2.0): (1.9769021954242014, 1.073851239616046),
}


def _note_affine(rate, mean, variance):
    alpha, scale = PARAMS[(mean, variance)]
    sat = -scale * alpha
    q = 1 - rate
    a = math.sqrt(variance / (q * ((1 - q) * (sat - mean) ** 2 + variance)))
    return sat, a, mean - a * (q * mean + (1 - q) * sat)


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.5])
def test_affine_matches_note_at_01(rate):
    q = 1 - rate
    a = (q + SATURATION_01**2 * q * (1 - q)) ** -0.5
    b = -a * (1 - q) * SATURATION_01
    sat, got_a, got_b = alpha_dropout_affine(rate)
    assert abs(sat - SATURATION_01) < 1e-12
    assert abs(got_a - a) < 1e-12 and abs(got_b - b) < 1e-12


def test_affine_matches_note_at_other_fixed_point():
    for got, want in zip(alpha_dropout_affine(0.2, (-0.1, 2.0)), _note_affine(0.2, -0.1, 2.0)):
        assert abs(got - want) < 1e-9


@pytest.mark.parametrize(
    "fixed_point,rate", [((0.0, 1.0), 0.1), ((0.0, 1.0), 0.5), ((-0.1, 2.0), 0.2)]
)
def test_monte_carlo_keeps_fixed_point(fixed_point, rate):
    mean, variance = fixed_point
    n = 400_000
    x = (
        np.random.default_rng(0)
        .normal(mean, math.sqrt(variance), size=(n // 8, 8))
        .astype("float32")
    )
    layer = AlphaDropout(rate, fixed_point=fixed_point, seed=3)
    y = np.asarray(keras.ops.convert_to_numpy(layer(x, training=True)), "float64")
    sat, a, b = _note_affine(rate, mean, variance)
    dropped = np.isclose(y, a * sat + b, atol=1e-5) & ~np.isclose(a * x + b, a * sat + b, atol=1e-5)
    # The drop fraction is `rate`; kept units are a * x + b.
    assert abs(dropped.mean() - rate) < 4 * math.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(y[~dropped], (a * x + b)[~dropped], rtol=1e-5, atol=1e-5)
    # Mean and variance of the fixed point, within ~5 standard errors.
    se_mean = math.sqrt(variance / n)
    assert abs(y.mean() - mean) < 5 * se_mean
    assert abs(y.var() - variance) < 5 * variance * math.sqrt(3.0 / n) * 2
    # Inference: the identity.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)


def test_feature_alpha_dropout_drops_channels_and_keeps_statistics():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 6, 5, 8)).astype("float32")
    layer = FeatureAlphaDropout(0.3, seed=2)
    y = np.asarray(keras.ops.convert_to_numpy(layer(x, training=True)), "float64")
    sat, a, b = _note_affine(0.3, 0.0, 1.0)
    dropped = np.isclose(y, a * sat + b, atol=1e-5)
    # Whole channels: the mask is constant over the spatial positions.
    per_channel = dropped.reshape(4000, 30, 8).mean(axis=1)
    assert np.all((per_channel < 0.2) | (per_channel == 1.0))
    assert abs((per_channel == 1.0).mean() - 0.3) < 0.02
    assert abs(y.mean()) < 0.02 and abs(y.var() - 1.0) < 0.03
    channels_first = FeatureAlphaDropout(0.3, data_format="channels_first", seed=2)
    z = np.asarray(keras.ops.convert_to_numpy(channels_first(x[:50], training=True)))
    dropped_first = np.isclose(z, a * sat + b, atol=1e-5)
    # All or nothing per (example, channel) with the channel on axis 1.
    assert np.all(dropped_first.all(axis=(2, 3)) | ~dropped_first.any(axis=(2, 3)))
    assert dropped_first.any()
    with pytest.raises(ValueError, match="rank"):
        layer(np.zeros((3, 4), "float32"), training=True)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, "0.1", None])
def test_bad_rate_raises(rate):
    with pytest.raises(ValueError, match="rate"):
        AlphaDropout(rate)
    with pytest.raises(ValueError, match="rate"):
        FeatureAlphaDropout(rate)


def test_bad_fixed_point_raises():
    with pytest.raises(ValueError, match="fixed_point"):
        AlphaDropout(0.1, fixed_point=(0.0, -1.0))
    with pytest.raises(ValueError, match="fixed_point"):
        AlphaDropout(0.1, fixed_point=(0.0,))


@pytest.mark.parametrize(
    "kwargs",
    [{"rate": 0.1}, {"rate": 0.2, "fixed_point": (-0.1, 2.0), "noise_shape": (None, 1), "seed": 4}],
)
def test_alpha_dropout_layer_checks(kwargs, tmp_path):
    check_layer(AlphaDropout, kwargs, (3, 5), expected_output_shape=(3, 5), tmp_path=tmp_path)


def test_feature_alpha_dropout_layer_checks(tmp_path):
    check_layer(
        FeatureAlphaDropout,
        {"rate": 0.1, "seed": 1},
        (2, 4, 4, 3),
        expected_output_shape=(2, 4, 4, 3),
        tmp_path=tmp_path,
    )
