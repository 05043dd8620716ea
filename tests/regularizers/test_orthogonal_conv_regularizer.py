"""Lorth (ops.lorth and regularizers.OrthogonalConv) against a NumPy reference of its
definition, known orthogonal kernels, and the circular singular values."""

import itertools

import keras
import numpy as np
import pytest
from keras import ops
from orthogonal_conv_reference import numpy_lorth

import keras_gradstab as kg


def orthonormal(rows, cols, seed):
    """A rows x cols matrix with orthonormal columns (rows >= cols) or rows."""
    a = np.random.default_rng(seed).normal(size=(max(rows, cols), min(rows, cols)))
    q = np.linalg.qr(a)[0]
    return (q if rows >= cols else q.T).astype("float32")


def value(x):
    return float(ops.convert_to_numpy(x))


CASES = [  # (rank, k, stride, C, M)
    (1, 3, 2, 2, 3),
    (1, 5, 2, 4, 2),
    (1, 2, 2, 1, 3),
    (2, 2, 1, 2, 3),
    (2, 5, 2, 2, 2),
    (2, 2, 2, 1, 6),
    (3, 3, 2, 2, 3),
    (3, 2, 1, 2, 2),
    (3, 5, 1, 2, 2),
    (3, 5, 2, 2, 3),
]


@pytest.mark.parametrize("rank,k,stride,c,m", CASES)
def test_lorth_matches_numpy_definition_and_is_positive_for_random_kernels(rank, k, stride, c, m):
    kernel = np.random.default_rng(rank * 100 + k).normal(size=(k,) * rank + (c, m))
    kernel = (kernel / np.sqrt(k**rank * c)).astype("float32")
    want = numpy_lorth(kernel, (stride,) * rank)
    got = value(kg.ops.lorth(kernel, stride))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert got > 1e-2


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_lorth_is_zero_for_identity_centre_tap_and_embedded_orthogonal_1x1(rank):
    for k, stride in itertools.product((2, 3, 5), (1, 2)):
        centre = ((k - 1) // 2,) * rank
        identity = np.zeros((k,) * rank + (3, 3), "float32")
        identity[centre] = np.eye(3)
        assert value(kg.ops.lorth(identity, stride)) < 1e-6, (k, stride)
        # A random orthogonal 1x1 placed at a random tap.
        tap = tuple(np.random.default_rng(k).integers(0, k, size=rank))
        embedded = np.zeros((k,) * rank + (3, 3), "float32")
        embedded[tap] = orthonormal(3, 3, seed=rank + k)
        assert value(kg.ops.lorth(embedded, stride)) < 1e-6, (k, stride)
        # Perturbed, it is no longer orthogonal.
        embedded[(0,) * rank] += 0.1
        assert value(kg.ops.lorth(embedded, stride)) > 1e-3, (k, stride)
    # Fewer outputs than inputs: orthonormal filters (4 -> 3) are row-orthogonal.
    embedded = np.zeros((3,) * rank + (4, 3), "float32")
    embedded[(1,) * rank] = orthonormal(4, 3, seed=rank)
    assert value(kg.ops.lorth(embedded, 2)) < 1e-6


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_lorth_is_zero_for_a_column_orthogonal_strided_kernel(rank):
    # kernel_size == stride == 2: non-overlapping patches, y_patch = x_patch @ W with
    # W (2^d C x M) of orthonormal rows, so the convolution preserves norms (M > 2^d C).
    c, m = 1, 2**rank + 1
    kernel = orthonormal(2**rank * c, m, seed=rank).reshape((2,) * rank + (c, m))
    assert value(kg.ops.lorth(kernel, 2)) < 1e-6
    dense = np.asarray(ops.convert_to_numpy(kg.ops.dense_conv_operator(kernel, (4,) * rank, 2)))
    np.testing.assert_allclose(np.linalg.svd(dense, compute_uv=False), 1.0, atol=1e-5)


@pytest.mark.parametrize("kshape", [(3, 3, 4), (2, 2, 2, 5), (5, 5, 2, 2), (2, 2, 2, 2, 3)])
def test_lorth_at_stride_1_is_the_mean_spectral_error_of_the_circular_convolution(kshape):
    # Parseval: Lorth = mean_f sum_i (sigma_i(f)^2 - 1)^2 on inputs of size >= 2k - 1,
    # so Lorth == 0 exactly when every circular singular value is 1.
    rank = len(kshape) - 2
    spatial = (2 * max(kshape[:rank]),) * rank
    rng = np.random.default_rng(7)
    kernel = (rng.normal(size=kshape) / np.sqrt(np.prod(kshape[:-1]))).astype("float32")
    sigma = ops.convert_to_numpy(kg.ops.conv_singular_values(kernel, spatial)).astype("float64")
    want = np.sum((sigma**2 - 1) ** 2) / np.prod(spatial)
    np.testing.assert_allclose(value(kg.ops.lorth(kernel)), want, rtol=1e-4)
    assert np.max(np.abs(sigma - 1)) > 1e-2
    identity = np.zeros(kshape, "float32")
    identity[(kshape[0] // 2,) * rank] = orthonormal(kshape[-2], kshape[-1], seed=1)
    sigma = ops.convert_to_numpy(kg.ops.conv_singular_values(identity, spatial))
    assert value(kg.ops.lorth(identity)) < 1e-6
    np.testing.assert_allclose(sigma, 1.0, atol=1e-5)


def test_lorth_zero_at_stride_2_coincides_with_unit_dense_singular_values():
    ortho = np.zeros((3, 3, 3, 3), "float32")
    ortho[1, 1] = orthonormal(3, 3, seed=2)
    rand = np.random.default_rng(3).normal(size=(3, 3, 3, 3)).astype("float32") / 5
    for kernel in (ortho, rand):
        sigma = ops.convert_to_numpy(kg.ops.conv_singular_values(kernel, (6, 6), strides=2))
        is_orthogonal = bool(np.allclose(sigma, 1.0, atol=1e-5))
        assert (value(kg.ops.lorth(kernel, 2)) < 1e-6) == is_orthogonal
    assert value(kg.ops.lorth(ortho, 2)) < 1e-6


def test_regularizer_adds_factor_times_lorth_to_a_conv_layer_and_serializes():
    reg = kg.regularizers.OrthogonalConv(factor=0.5, strides=2)
    layer = keras.layers.Conv2D(3, 3, strides=2, kernel_regularizer=reg)
    layer(np.ones((1, 8, 8, 2), "float32"))
    kernel = ops.convert_to_numpy(layer.kernel.value)
    np.testing.assert_allclose(value(layer.losses[0]), 0.5 * numpy_lorth(kernel, (2, 2)), rtol=1e-4)
    config = kg.regularizers.serialize(reg)
    revived = kg.regularizers.deserialize(config)
    assert isinstance(revived, kg.regularizers.OrthogonalConv)
    assert (
        revived.get_config()
        == reg.get_config()
        == {"factor": 0.5, "strides": 2, "transposed": False}
    )
    assert isinstance(kg.regularizers.get("orthogonal_conv"), kg.regularizers.OrthogonalConv)
    assert isinstance(kg.regularizers.get(config), kg.regularizers.OrthogonalConv)
    assert isinstance(kg.regularizers.get("l2"), keras.regularizers.L2)
    assert kg.regularizers.get(None) is None


def test_transposed_regularizer_on_a_conv_transpose_kernel():
    # Conv2DTranspose 2 -> 8 channels at stride 2: kernel [k, k, 8, 2], the forward
    # kernel of its adjoint (8 -> 2, row-orthogonal); delta = max(0, 2 - 4 * 8) = 0.
    layer = keras.layers.Conv2DTranspose(
        8, 3, strides=2, kernel_regularizer=kg.regularizers.OrthogonalConv(1.0, 2, transposed=True)
    )
    layer(np.ones((1, 4, 4, 2), "float32"))
    np.testing.assert_allclose(
        value(layer.losses[0]),
        numpy_lorth(ops.convert_to_numpy(layer.kernel.value), (2, 2)),
        rtol=1e-4,
    )


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`factor`"):
        kg.regularizers.OrthogonalConv(factor=-1.0)
    with pytest.raises(ValueError, match="`strides`"):
        kg.regularizers.OrthogonalConv(strides=0)
    with pytest.raises(ValueError, match="`transposed`"):
        kg.regularizers.OrthogonalConv(transposed="yes")
    with pytest.raises(ValueError, match="`kernel`"):
        kg.ops.lorth(np.ones((3, 3), "float32"))


@pytest.mark.parametrize("kshape,stride", [((3, 3, 1, 4), 1), ((3, 3, 2, 1), 2)])
def test_lorth_gradient_matches_finite_differences(kshape, stride):
    # Covers the column case at stride 1 (channel-transposed formula) and a single
    # filter (M = 1), which a training step differentiates on every backend.
    from harness import numerical_grad, value_and_grad

    kernel = np.random.default_rng(5).normal(size=kshape).astype("float32") / 3
    _, (grad,) = value_and_grad(lambda k: kg.ops.lorth(k * 1.0, stride), kernel)
    want = numerical_grad(lambda k: numpy_lorth(k, (stride, stride)), kernel, eps=1e-6)[0]
    np.testing.assert_allclose(grad, want, rtol=1e-3, atol=1e-3)
