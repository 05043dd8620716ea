import keras
import numpy as np
import pytest
from harness import backend_jacobian, check_layer

import keras_gradstab as kg
from keras_gradstab.layers import GroupSort, MaxMin, OrthogonalDense


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), "float64")


@pytest.mark.parametrize("in_dim,units", [(5, 5), (7, 3), (3, 7)])
def test_kernel_is_orthogonal(in_dim, units):
    layer = OrthogonalDense(units)
    layer.build((None, in_dim))
    w = _np(layer.kernel)
    assert w.shape == (in_dim, units)
    if in_dim >= units:
        np.testing.assert_allclose(w.T @ w, np.eye(units), atol=2e-6)
    else:
        np.testing.assert_allclose(w @ w.T, np.eye(in_dim), atol=2e-6)
    # The kernel is the Cayley transform of the skew part, done here in NumPy.
    m = _np(layer.skew)
    a = 0.5 * (m - m.T)
    q = np.linalg.solve(np.eye(len(a)) + a, np.eye(len(a)) - a)
    np.testing.assert_allclose(w, q[:in_dim, :units], atol=1e-5)
    x = np.random.default_rng(0).normal(size=(4, in_dim)).astype("float32")
    np.testing.assert_allclose(_np(layer(x)), x @ q[:in_dim, :units] + _np(layer.bias), atol=1e-5)


def test_activations_match_numpy():
    x = np.random.default_rng(1).normal(size=(3, 8)).astype("float32")
    np.testing.assert_array_equal(_np(kg.activations.abs(x)), np.abs(x))
    want = np.sort(x.reshape(3, 2, 4), axis=-1).reshape(3, 8)
    np.testing.assert_array_equal(_np(kg.activations.group_sort(x, 4)), want)
    a, b = x[:, :4], x[:, 4:]
    np.testing.assert_array_equal(
        _np(kg.activations.max_min(x)), np.concatenate([np.maximum(a, b), np.minimum(a, b)], 1)
    )
    np.testing.assert_array_equal(_np(GroupSort(4)(x)), want)
    assert kg.activations.get("abs") is kg.activations.abs
    assert kg.activations.get("relu") is keras.activations.relu
    assert (
        kg.activations.deserialize(kg.activations.serialize(kg.activations.max_min))
        is kg.activations.max_min
    )
    with pytest.raises(ValueError, match="multiple"):
        kg.activations.group_sort(x, 3)
    with pytest.raises(ValueError, match="units"):
        OrthogonalDense(0)


def test_64_layer_jacobian_singular_values_are_one():
    width, depth = 16, 64
    model = kg.models.orthogonal_jacobian_mlp((width,), depth=depth, activation="abs")
    x = np.random.default_rng(2).normal(size=(1, width)).astype("float32")
    # Exact Jacobian in float64 NumPy from the layers' weights: prod of W^T D.
    h, jac = x[0].astype("float64"), np.eye(width)
    for layer in model.layers[1:]:
        z = h @ _np(layer.kernel) + _np(layer.bias)
        jac = np.diag(np.sign(z)) @ _np(layer.kernel).T @ jac
        h = np.abs(z)
    np.testing.assert_allclose(_np(model(x))[0], h, atol=1e-4)
    s = np.linalg.svd(jac, compute_uv=False)
    assert np.max(np.abs(s - 1)) < 1e-4, s
    # The backend's own autodiff through the 64 layers, float32.
    s = np.linalg.svd(backend_jacobian(model, x), compute_uv=False)
    assert np.max(np.abs(s - 1)) < 1e-4, s


@pytest.mark.parametrize("activation", ["group_sort", "max_min"])
def test_permutation_activations_keep_jacobian_orthogonal(activation):
    model = kg.models.orthogonal_jacobian_mlp((8,), depth=8, activation=activation)
    x = np.random.default_rng(3).normal(size=(1, 8)).astype("float32")
    s = np.linalg.svd(backend_jacobian(model, x), compute_uv=False)
    assert np.max(np.abs(s - 1)) < 1e-5


@pytest.mark.parametrize(
    "kwargs,shape,out",
    [
        # A nonzero bias: with bias 0 the loss |x W|^2 of a square W does not depend on W.
        ({"units": 6, "activation": "abs", "bias_initializer": "ones"}, (4, 6), (4, 6)),
        ({"units": 3, "activation": "max_min", "use_bias": False}, (4, 5), (4, 3 + 1)),
    ],
)
def test_orthogonal_dense_layer_checks(kwargs, shape, out, tmp_path):
    if kwargs["activation"] == "max_min":
        kwargs = dict(kwargs, units=4)
    check_layer(
        OrthogonalDense, kwargs, shape, expected_output_shape=out, tmp_path=tmp_path, atol=1e-5
    )


def test_group_sort_and_max_min_layer_checks(tmp_path):
    check_layer(
        GroupSort,
        {"group_size": 2},
        (3, 4),
        expected_output_shape=(3, 4),
        run_fit=False,
        tmp_path=tmp_path,
    )
    check_layer(MaxMin, {}, (3, 4), expected_output_shape=(3, 4), run_fit=False, tmp_path=tmp_path)
