"""DeltaOrthogonal: orthogonal centre tap, zeros elsewhere, norm-preserving convolution."""

import keras
import numpy as np
import pytest

from keras_gradstab import initializers
from keras_gradstab.initializers import DeltaOrthogonal


@pytest.mark.parametrize("shape", [(3, 3, 8, 8), (5, 4, 16), (3, 3, 3, 4, 6)])
def test_centre_tap_orthogonal_rest_zero(shape):
    k = np.asarray(keras.ops.convert_to_numpy(DeltaOrthogonal(gain=1.5, seed=0)(shape)))
    assert k.shape == shape
    centre = tuple(s // 2 for s in shape[:-2])
    m = k[centre]
    np.testing.assert_allclose(m @ m.T, 1.5**2 * np.eye(shape[-2]), atol=1e-5)
    rest = k.copy()
    rest[centre] = 0
    assert not rest.any()


def test_same_padding_convolution_is_an_isometry():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 9, 9, 8)).astype("float32")
    k = DeltaOrthogonal(seed=2)((3, 3, 8, 8))
    y = keras.ops.convert_to_numpy(keras.ops.conv(x, k, padding="same"))
    np.testing.assert_allclose(
        np.linalg.norm(y.reshape(2, -1), axis=1),
        np.linalg.norm(x.reshape(2, -1), axis=1),
        rtol=1e-5,
    )


def test_errors_and_config():
    with pytest.raises(ValueError, match="shape"):
        DeltaOrthogonal()((4, 4))
    init = DeltaOrthogonal(gain=2.0, seed=5)
    revived = initializers.deserialize(initializers.serialize(init))
    assert isinstance(revived, DeltaOrthogonal) and revived.get_config() == init.get_config()
    assert isinstance(initializers.get("delta_orthogonal"), DeltaOrthogonal)
    layer = keras.layers.Conv2D(4, 3, padding="same", kernel_initializer=init)
    assert isinstance(
        keras.layers.Conv2D.from_config(layer.get_config()).kernel_initializer, DeltaOrthogonal
    )
