"""modrelu against its NumPy formula, with its gradient against finite differences."""

import keras
import numpy as np
from harness import numerical_grad, value_and_grad
from keras import ops

from keras_gradstab.activations import modrelu


def numpy_modrelu(x, b):
    return np.maximum(np.abs(x) + b, 0.0) * np.sign(x)


def test_modrelu_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 7)).astype("float32")
    b = rng.uniform(-0.5, 0.5, size=(7,)).astype("float32")
    got = ops.convert_to_numpy(modrelu(x, b))
    np.testing.assert_allclose(got, numpy_modrelu(x, b), atol=1e-6)
    # bias 0 is the identity; bias <= -max|x| silences every unit.
    np.testing.assert_allclose(ops.convert_to_numpy(modrelu(x)), x, atol=0)
    assert not np.any(ops.convert_to_numpy(modrelu(x, -10.0)))


def test_modrelu_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    # Keep |x| + b away from 0, where modReLU has a kink.
    x = (rng.choice([-1, 1], size=(3, 4)) * rng.uniform(0.3, 1.0, size=(3, 4))).astype("float32")
    b = np.array([0.1, -0.1, 0.05, -0.2], "float32")
    w = rng.normal(size=(3, 4)).astype("float32")
    _, (gx, gb) = value_and_grad(lambda x, b: ops.sum(ops.multiply(modrelu(x, b), w)), x, b)
    nx, nb = numerical_grad(lambda x, b: float(np.sum(numpy_modrelu(x, b) * w)), x, b, eps=1e-4)
    np.testing.assert_allclose(gx, nx, atol=1e-4)
    np.testing.assert_allclose(gb, nb, atol=1e-4)


def test_modrelu_resolves_by_registered_name():
    fn = keras.saving.get_registered_object("keras_gradstab>modrelu")
    assert fn is modrelu
