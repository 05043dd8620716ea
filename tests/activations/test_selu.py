"""selu and selu_parameters against the paper's closed forms, quadrature and NumPy."""

import math
import os

import keras
import numpy as np
import pytest
from harness import value_and_grad
from scipy import integrate, special

from keras_gradstab import activations
from keras_gradstab.activations import SELU, selu, selu_parameters


def _closed_form_01():
    # The closed forms of the (0, 1) parameters (Klambauer et al., eq. 14).
    e = math.e
    c = special.erfc(1 / math.sqrt(2))
    alpha = -math.sqrt(2 / math.pi) / (math.exp(0.5) * c - 1)
    scale = (1 - math.sqrt(e) * c) * math.sqrt(
        2
        * math.pi
        / (
            2
            + math.pi
            - 2 * math.sqrt(e) * (2 + math.pi) * c
            + e * math.pi * c**2
            + 2 * e**2 * special.erfc(math.sqrt(2))
        )
    )
    return alpha, scale


def _np_selu(x, alpha, scale):
    return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _moments_by_quadrature(alpha, scale, mean, variance):
    s = math.sqrt(variance)

    def density(z):
        return math.exp(-0.5 * ((z - mean) / s) ** 2) / (s * math.sqrt(2 * math.pi))

    def moment(k):
        f = lambda z: float(_np_selu(np.float64(z), alpha, scale)) ** k * density(z)  # noqa: E731
        return sum(
            integrate.quad(f, a, b, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
            for a, b in [(-np.inf, 0.0), (0.0, np.inf)]
        )

    m1 = moment(1)
    return m1, moment(2) - m1 * m1


def test_fixed_point_01_matches_closed_forms_and_literals():
    alpha, scale = selu_parameters(0.0, 1.0)
    ref_alpha, ref_scale = _closed_form_01()
    assert abs(alpha - ref_alpha) < 1e-12 and abs(scale - ref_scale) < 1e-12
    assert abs(alpha - 1.6732632423543772) < 1e-9
    assert abs(scale - 1.0507009873554805) < 1e-9


def test_fixed_point_of_the_issue():
    alpha, scale = selu_parameters(-0.1, 2.0)
    assert abs(alpha - 1.9769021954242014) < 1e-9
    assert abs(scale - 1.073851239616046) < 1e-9


@pytest.mark.parametrize("mean,variance", [(0.0, 1.0), (-0.1, 2.0), (0.2, 0.5), (0.0, 3.0)])
def test_parameters_solve_the_fixed_point_equations(mean, variance):
    # Independent of the closed forms: numerical integration of selu's moments.
    alpha, scale = selu_parameters(mean, variance)
    m, v = _moments_by_quadrature(alpha, scale, mean, variance)
    assert abs(m - mean) < 1e-9 and abs(v - variance) < 1e-9


def test_bad_variance_raises():
    with pytest.raises(ValueError, match="variance"):
        selu_parameters(0.0, 0.0)
    with pytest.raises(ValueError, match="mean"):
        selu_parameters(float("nan"), 1.0)


def test_selu_matches_numpy_and_has_finite_gradients():
    x = np.linspace(-30, 90, 241).astype("float32")
    for alpha, scale in [selu_parameters(), selu_parameters(-0.1, 2.0)]:
        got = keras.ops.convert_to_numpy(selu(x, alpha, scale))
        np.testing.assert_allclose(
            got, _np_selu(x.astype("float64"), alpha, scale), rtol=1e-6, atol=1e-6
        )
    # Large inputs must not give nan gradients through the unused exp branch.
    _, (grad,) = value_and_grad(lambda t: keras.ops.sum(selu(t)), x)
    want = np.where(
        x > 0,
        activations.selu.__defaults__[1],
        np.prod(activations.selu.__defaults__) * np.exp(np.minimum(x, 0)),
    )
    np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-7)


def test_default_parameters_match_keras_selu():
    x = np.random.default_rng(0).normal(size=(50,)).astype("float32") * 3
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(selu(x)),
        keras.ops.convert_to_numpy(keras.activations.selu(x)),
        rtol=1e-6,
        atol=1e-6,
    )


def test_get_serialize_deserialize():
    assert activations.get("selu") is selu
    assert activations.get("relu") is keras.activations.relu
    assert activations.get(None) is keras.activations.linear
    assert activations.deserialize(activations.serialize(selu)) is selu
    obj = activations.get(activations.serialize(SELU((-0.1, 2.0))))
    assert isinstance(obj, SELU) and obj.fixed_point == (-0.1, 2.0)
    assert abs(obj.alpha - 1.9769021954242014) < 1e-9
    with pytest.raises(ValueError, match="identifier"):
        activations.get(3)


def test_dense_with_selu_object_saves_and_loads(tmp_path):
    x = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(5, activation=SELU((-0.1, 2.0))),
            keras.layers.Dense(2, activation=selu),
        ]
    )
    path = os.path.join(str(tmp_path), "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[0].activation.fixed_point == (-0.1, 2.0)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
