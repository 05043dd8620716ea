"""conv_singular_values, dense_conv_operator, conv_spectral_bounds and circular_pad
against a convolution matrix built independently in NumPy."""

import itertools

import numpy as np
import pytest
from keras import ops

import keras_gradstab as kg


def numpy_conv(x, kernel, strides, padding):
    """Keras's convolution (cross-correlation) of one input `[*spatial, C]`, in NumPy."""
    rank = kernel.ndim - 2
    ksize, spatial = kernel.shape[:rank], x.shape[:rank]
    starts, outs = [], []
    for k, n, s in zip(ksize, spatial, strides):
        if padding == "valid":
            total, out = 0, (n - k) // s + 1
        elif padding == "circular":
            total, out = k - 1, -(-n // s)
        else:
            out = -(-n // s)
            total = max((out - 1) * s + k - n, 0)
        starts.append(-(total // 2))
        outs.append(out)
    y = np.zeros(tuple(outs) + (kernel.shape[-1],))
    for pos in itertools.product(*[range(o) for o in outs]):
        acc = np.zeros(kernel.shape[-1])
        for tap in itertools.product(*[range(k) for k in ksize]):
            src = [p * s + st + t for p, s, st, t in zip(pos, strides, starts, tap)]
            if padding == "circular":
                src = [i % n for i, n in zip(src, spatial)]
            elif any(i < 0 or i >= n for i, n in zip(src, spatial)):
                continue
            acc += x[tuple(src)] @ kernel[tap]
        y[pos] = acc
    return y


def numpy_operator(kernel, spatial, strides, padding):
    channels = kernel.shape[-2]
    size = int(np.prod(spatial)) * channels
    rows = [
        numpy_conv(e.reshape(*spatial, channels), kernel, strides, padding).ravel()
        for e in np.eye(size)
    ]
    return np.array(rows)


def random_kernel(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize(
    "kshape,spatial",
    [
        ((3, 2, 3), (7,)),
        ((3, 3, 2, 2), (5, 6)),
        ((5, 5, 1, 2), (6, 6)),
        ((3, 2, 2, 1, 2), (4, 3, 3)),
    ],
)
def test_fft_singular_values_match_dense_numpy_svd(kshape, spatial):
    kernel = random_kernel(kshape)
    got = ops.convert_to_numpy(kg.ops.conv_singular_values(kernel, spatial))
    dense = numpy_operator(kernel.astype("float64"), spatial, (1,) * len(spatial), "circular")
    want = np.linalg.svd(dense, compute_uv=False)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5 * max(1.0, want.max()), rtol=1e-5)


@pytest.mark.parametrize(
    "kshape,spatial,strides,padding",
    [
        ((3, 3, 2, 3), (6, 6), 2, "circular"),
        ((4, 4, 2, 2), (7, 6), (2, 3), "same"),
        ((3, 2, 4), (9,), 2, "valid"),
        ((2, 2, 2, 1, 3), (4, 4, 4), 2, "circular"),
    ],
)
def test_dense_operator_and_its_singular_values_match_numpy(kshape, spatial, strides, padding):
    kernel = random_kernel(kshape, seed=1)
    rank = len(spatial)
    strides_t = (strides,) * rank if isinstance(strides, int) else strides
    want = numpy_operator(kernel.astype("float64"), spatial, strides_t, padding)
    got = ops.convert_to_numpy(kg.ops.dense_conv_operator(kernel, spatial, strides, padding))
    np.testing.assert_allclose(got, want, atol=1e-5)
    values = ops.convert_to_numpy(kg.ops.conv_singular_values(kernel, spatial, strides, padding))
    np.testing.assert_allclose(values, np.linalg.svd(want, compute_uv=False), atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize(
    "kshape,spatial,strides,padding",
    [
        ((3, 3, 2, 3), (5, 6), 1, "circular"),
        ((4, 3, 2, 2), (5, 6), (2, 1), "same"),
        ((3, 2, 4), (9,), 2, "valid"),
    ],
)
def test_adjoint_is_the_transpose_of_the_numpy_operator(kshape, spatial, strides, padding):
    from keras_gradstab.ops.conv_singular_values import _adjoint_conv

    kernel = random_kernel(kshape, seed=2)
    rank = len(spatial)
    strides_t = (strides,) * rank if isinstance(strides, int) else strides
    dense = numpy_operator(kernel.astype("float64"), spatial, strides_t, padding)
    y = random_kernel((3, dense.shape[1]), seed=3)
    out_shape = numpy_conv(np.zeros(spatial + kshape[-2:-1]), kernel, strides_t, padding).shape
    got = _adjoint_conv(
        y.reshape((3,) + out_shape), ops.convert_to_tensor(kernel), spatial, strides_t, padding
    )
    np.testing.assert_allclose(ops.convert_to_numpy(got).reshape(3, -1), y @ dense.T, atol=1e-4)


def test_power_iteration_bounds_bracket_and_approach_the_dense_svd():
    # Identity centre tap plus noise: a spread-out spectrum that converges in few steps.
    kernel = 0.15 * random_kernel((3, 3, 2, 2), seed=5)
    kernel[1, 1] += np.eye(2, dtype="float32")
    for padding, strides in (("circular", 1), ("same", 2)):
        dense = numpy_operator(kernel.astype("float64"), (6, 6), (strides,) * 2, padding)
        want = np.linalg.svd(dense, compute_uv=False)
        hi, lo = kg.ops.conv_spectral_bounds(kernel, (6, 6), strides, padding, iterations=100)
        hi, lo = float(ops.convert_to_numpy(hi)), float(ops.convert_to_numpy(lo))
        # A Rayleigh quotient never overshoots: hi <= sigma_max, lo >= sigma_min.
        assert want.max() * 0.98 <= hi <= want.max() * (1 + 1e-5)
        assert want.min() * (1 - 1e-4) - 1e-4 <= lo <= want.min() + 0.02 * want.max()


def test_circular_pad_matches_numpy_wrap():
    x = random_kernel((2, 4, 5, 3))
    got = ops.convert_to_numpy(kg.ops.circular_pad(x, ((1, 2), (0, 3))))
    want = np.pad(x, ((0, 0), (1, 2), (0, 3), (0, 0)), mode="wrap")
    np.testing.assert_array_equal(got, want)


def test_bad_arguments_are_named():
    kernel = random_kernel((3, 3, 2, 2))
    with pytest.raises(ValueError, match="`input_shape`"):
        kg.ops.conv_singular_values(kernel, (8,))
    with pytest.raises(ValueError, match="`padding`"):
        kg.ops.conv_singular_values(kernel, (8, 8), padding="reflect")
    with pytest.raises(ValueError, match="`strides`"):
        kg.ops.conv_singular_values(kernel, (8, 8), strides=0)
    with pytest.raises(ValueError, match="`kernel`"):
        kg.ops.conv_singular_values(np.ones((2, 2), "float32"), (8,))
    with pytest.raises(ValueError, match="conv_spectral_bounds"):
        kg.ops.dense_conv_operator(kernel, (64, 64))
    with pytest.raises(ValueError, match="wider than"):
        kg.ops.circular_pad(np.ones((1, 2, 1), "float32"), 3)
