"""constraints.OrthogonalConv: its Lorth gradient against finite differences of a NumPy
Lorth, monotone decrease of Lorth, and circular singular values after projection."""

import keras
import numpy as np
import pytest
from keras import ops
from orthogonal_conv_reference import numpy_lorth

import keras_gradstab as kg
from keras_gradstab.constraints.orthogonal_conv import lorth_gradient


def lorth(kernel, strides=1):
    return float(ops.convert_to_numpy(kg.ops.lorth(kernel, strides)))


@pytest.mark.parametrize(
    "kshape,strides", [((3, 3, 2, 3), (1, 1)), ((3, 2, 2, 3), (2, 2)), ((4, 3, 2), (2,))]
)
def test_lorth_gradient_matches_finite_differences(kshape, strides):
    kernel = np.random.default_rng(0).normal(size=kshape)
    got = ops.convert_to_numpy(
        lorth_gradient(ops.convert_to_tensor(kernel.astype("float32")), strides)
    )
    want = np.zeros_like(kernel)
    eps = 1e-6
    for idx in np.ndindex(kernel.shape):
        plus, minus = kernel.copy(), kernel.copy()
        plus[idx] += eps
        minus[idx] -= eps
        want[idx] = (numpy_lorth(plus, strides) - numpy_lorth(minus, strides)) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)


def test_random_3x3_16_to_16_kernel_ends_with_circular_singular_values_near_1():
    kernel = (np.random.default_rng(1).normal(size=(3, 3, 16, 16)) / 12).astype("float32")
    with pytest.warns(UserWarning, match="seldom reaches"):
        projected = kg.constraints.OrthogonalConv(iterations=10)(kernel)
    sigma = ops.convert_to_numpy(kg.ops.conv_singular_values(projected, (16, 16)))
    assert sigma.min() >= 0.9 and sigma.max() <= 1.1
    assert lorth(projected) < lorth(kernel)


@pytest.mark.parametrize("kshape,strides", [((3, 3, 4, 4), 1), ((3, 3, 2, 6), 2), ((2, 3, 5), 2)])
def test_lorth_decreases_on_every_call(kshape, strides):
    rng = np.random.default_rng(2)
    constraint = kg.constraints.OrthogonalConv(strides=strides, iterations=3)
    kernel = rng.normal(size=kshape).astype("float32")
    for _ in range(4):
        before = lorth(kernel, strides)
        kernel = ops.convert_to_numpy(constraint(kernel))
        assert lorth(kernel, strides) < before
        # An optimizer step moves it away again.
        kernel = kernel + 0.02 * rng.normal(size=kshape).astype("float32")


def test_near_orthogonal_kernel_keeps_its_spatial_structure():
    # An exactly orthogonal 3x3 kernel with spread-out taps (from the BCOP layer),
    # perturbed: the projection refines it instead of collapsing it to one tap.
    keras.utils.set_random_seed(3)
    layer = kg.layers.OrthogonalConv2D(4, 3)
    layer.build((None, 8, 8, 4))
    exact = ops.convert_to_numpy(layer.orthogonal_kernel())
    noisy = exact + 0.01 * np.random.default_rng(4).normal(size=exact.shape).astype("float32")
    with pytest.warns(UserWarning):
        projected = ops.convert_to_numpy(kg.constraints.OrthogonalConv(iterations=10)(noisy))
    assert lorth(projected) < min(lorth(noisy), 1e-3)
    off_centre = np.ones((3, 3), bool)
    off_centre[1, 1] = False
    assert np.linalg.norm(projected[off_centre]) > 0.5 * np.linalg.norm(exact[off_centre])
    sigma = ops.convert_to_numpy(kg.ops.conv_singular_values(projected, (8, 8)))
    assert sigma.min() >= 0.9 and sigma.max() <= 1.1


def test_serialization_and_bad_arguments():
    c = kg.constraints.OrthogonalConv(strides=2, iterations=4, tolerance=1e-4)
    revived = kg.constraints.deserialize(kg.constraints.serialize(c))
    assert (
        revived.get_config() == c.get_config() == {"strides": 2, "iterations": 4, "tolerance": 1e-4}
    )
    assert isinstance(kg.constraints.get("orthogonal_conv"), kg.constraints.OrthogonalConv)
    assert isinstance(kg.constraints.get("non_neg"), keras.constraints.NonNeg)
    with pytest.raises(ValueError, match="`iterations`"):
        kg.constraints.OrthogonalConv(iterations=-1)
    with pytest.raises(ValueError, match="`tolerance`"):
        kg.constraints.OrthogonalConv(tolerance=-1.0)
    with pytest.raises(ValueError, match="row-orthogonal existence"):
        kg.constraints.OrthogonalConv(strides=4)(np.zeros((3, 3, 32, 289), "float32"))
