"""ChannelNormalization against a NumPy reference and finite differences."""

import keras
import numpy as np
import pytest
from harness import check_layer, numerical_grad, value_and_grad

from keras_gradstab.layers import ChannelNormalization


def _np_channel_norm(x, gamma, beta, axis=-1, eps=1e-5):
    axis = axis % x.ndim
    axes = tuple(i for i in range(1, x.ndim) if i != axis)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


@pytest.mark.parametrize("shape,axis", [((2, 7, 3), -1), ((2, 5, 6, 4), -1), ((2, 3, 5, 6), 1)])
def test_matches_numpy(shape, axis):
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=shape).astype("float32")
    layer = ChannelNormalization(axis=axis)
    layer.build(shape)
    channels = shape[axis]
    gamma = rng.normal(size=channels).astype("float32")
    beta = rng.normal(size=channels).astype("float32")
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    got = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(
        got, _np_channel_norm(x.astype("float64"), gamma, beta, axis), atol=2e-5, rtol=1e-5
    )


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    w = rng.normal(size=(2, 4, 3)).astype("float32")
    layer = ChannelNormalization(center=False, scale=False)

    def loss(t):
        return keras.ops.sum(layer(t) ** 3 * keras.ops.convert_to_tensor(w))

    _, (grad,) = value_and_grad(loss, x)
    (want,) = numerical_grad(
        lambda t: float(np.sum(_np_channel_norm(t, np.ones(3), np.zeros(3)) ** 3 * w)),
        x.astype("float64"),
        eps=1e-5,
    )
    np.testing.assert_allclose(grad, want, atol=5e-3, rtol=5e-3)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="rank"):
        ChannelNormalization().build((2, 3))
    with pytest.raises(ValueError, match="epsilon"):
        ChannelNormalization(epsilon=0.0)
    with pytest.raises(ValueError, match="axis"):
        ChannelNormalization(axis=0).build((2, 3, 4))


@pytest.mark.parametrize(
    "kwargs,shape", [({}, (2, 6, 6, 3)), ({"axis": 1, "center": False}, (2, 3, 8))]
)
def test_channel_norm_layer_checks(kwargs, shape, tmp_path):
    check_layer(
        ChannelNormalization,
        kwargs,
        shape,
        expected_output_shape=shape,
        tmp_path=tmp_path,
        atol=1e-5,
    )
