"""orthogonal_jacobian_mlp: orthogonal Jacobian at depth 64, identity init, logit scale."""

import keras
import numpy as np
import pytest
from harness import backend_jacobian

import keras_gradstab as kg


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), "float64")


def _numpy_forward(model, x, activation):
    """The body in float64 NumPy from the layers' kernels and biases."""
    h = x.astype("float64")
    for layer in model.layers:
        if not isinstance(layer, kg.layers.OrthogonalDense) or layer.name == "head":
            continue
        z = h @ _np(layer.kernel) + _np(layer.bias)
        if activation == "abs":
            h = np.abs(z)
        else:  # group_sort with groups of 2: each pair ascending
            pairs = z.reshape(z.shape[:-1] + (-1, 2))
            h = np.sort(pairs, axis=-1).reshape(z.shape)
    return h


@pytest.mark.parametrize("activation", ["abs", "group_sort"])
@pytest.mark.parametrize("hidden_init", ["random", "identity"])
def test_64_layers_width_64_jacobian_is_orthogonal(activation, hidden_init):
    model = kg.models.orthogonal_jacobian_mlp(
        (64,), depth=64, activation=activation, hidden_init=hidden_init
    )
    x = np.random.default_rng(0).normal(size=(1, 64)).astype("float32")
    np.testing.assert_allclose(_np(model(x)), _numpy_forward(model, x, activation), atol=1e-4)
    s = np.linalg.svd(backend_jacobian(model, x), compute_uv=False)
    assert np.max(np.abs(s - 1)) < 1e-4, s


def test_identity_init_keeps_angles_that_random_layers_collapse():
    # |a| . |b| >= a . b: random rotations + abs drive every pair of inputs towards
    # cosine 1 with depth; identity-initialized hidden layers stop after the first.
    x = np.random.default_rng(1).normal(size=(32, 16)).astype("float32")

    def mean_cosine(h):
        h = h / np.linalg.norm(h, axis=1, keepdims=True)
        c = h @ h.T
        return (c.sum() - len(h)) / (len(h) * (len(h) - 1))

    keras.utils.set_random_seed(0)
    identity = kg.models.orthogonal_jacobian_mlp((16,), depth=32, hidden_init="identity")
    for layer in identity.layers[2:]:
        np.testing.assert_array_equal(_np(layer.kernel), np.eye(16))
    first = identity.layers[1]  # after Flatten
    one_layer = np.abs(x.astype("float64") @ _np(first.kernel) + _np(first.bias))
    np.testing.assert_allclose(_np(identity(x)), one_layer, atol=1e-5)
    keras.utils.set_random_seed(0)
    random = kg.models.orthogonal_jacobian_mlp((16,), depth=32, hidden_init="random")
    h = _numpy_forward(random, x, "abs")
    np.testing.assert_allclose(_np(random(x)), h, atol=1e-4)
    # Norms are kept (bias 0), angles are not.
    np.testing.assert_allclose(np.linalg.norm(h, axis=1), np.linalg.norm(x, axis=1), rtol=1e-5)
    assert mean_cosine(h) > 0.95 > mean_cosine(one_layer) + 0.2


def test_logit_scale_multiplies_the_orthogonal_head():
    keras.utils.set_random_seed(0)
    model = kg.models.orthogonal_jacobian_mlp((8,), depth=3, num_classes=4, logit_scale=5.0)
    x = np.random.default_rng(2).normal(size=(6, 8)).astype("float32")
    head = model.get_layer("head")
    want = 5.0 * (_numpy_forward(model, x, "abs") @ _np(head.kernel) + _np(head.bias))
    np.testing.assert_allclose(_np(model(x)), want, atol=1e-4)
    rebuilt = keras.Sequential.from_config(model.get_config())
    assert rebuilt.layers[-1].scale == 5.0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="hidden_init"):
        kg.models.orthogonal_jacobian_mlp((4,), depth=2, hidden_init="zeros")
    with pytest.raises(ValueError, match="logit_scale"):
        kg.models.orthogonal_jacobian_mlp((4,), depth=2, num_classes=3, logit_scale=0)
    with pytest.raises(ValueError, match="num_classes"):
        kg.models.orthogonal_jacobian_mlp((4,), depth=2, logit_scale=2.0)
    with pytest.raises(ValueError, match="depth"):
        kg.models.orthogonal_jacobian_mlp((4,), depth=0)
