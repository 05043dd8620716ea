"""OrthogonalConv1D/2D and CircularPadding1D/2D: layer checks, exact orthogonality of
the layer as a map (dense SVD of its response to impulses), Lorth of its kernels."""

import keras
import numpy as np
import pytest
from harness import check_layer
from keras import ops

import keras_gradstab as kg
from keras_gradstab.layers import (
    CircularPadding1D,
    CircularPadding2D,
    OrthogonalConv1D,
    OrthogonalConv2D,
)


def layer_matrix(layer, spatial, channels):
    """The layer (without bias) as a dense matrix, from its outputs on impulses."""
    size = int(np.prod(spatial)) * channels
    impulses = np.eye(size, dtype="float32").reshape((size, *spatial, channels))
    zero = ops.convert_to_numpy(layer(np.zeros((1, *spatial, channels), "float32")))
    return ops.convert_to_numpy(layer(impulses)).reshape(size, -1) - zero.reshape(1, -1)


@pytest.mark.parametrize(
    "layer_cls,kwargs,input_shape,out_shape",
    [
        # Row-orthogonal cases: a norm-preserving map would get no gradient from the
        # harness's loss ||y||^2 with a zero bias.
        (
            OrthogonalConv2D,
            {"filters": 6, "kernel_size": 2, "strides": 2},
            (2, 6, 4, 3),
            (2, 3, 2, 6),
        ),
        (OrthogonalConv1D, {"filters": 3, "kernel_size": 3, "strides": 2}, (2, 8, 2), (2, 4, 3)),
    ],
)
def test_orthogonal_conv_passes_layer_checks(layer_cls, kwargs, input_shape, out_shape, tmp_path):
    check_layer(
        layer_cls,
        kwargs,
        input_shape,
        expected_output_shape=out_shape,
        tmp_path=tmp_path,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "layer_cls,kwargs,input_shape,out_shape",
    [
        (CircularPadding1D, {"padding": (1, 2)}, (2, 5, 3), (2, 8, 3)),
        (CircularPadding2D, {"padding": ((2, 0), (1, 1))}, (2, 4, 5, 3), (2, 6, 7, 3)),
    ],
)
def test_circular_padding_passes_layer_checks_and_matches_numpy_wrap(
    layer_cls, kwargs, input_shape, out_shape, tmp_path
):
    check_layer(
        layer_cls,
        kwargs,
        input_shape,
        expected_output_shape=out_shape,
        run_fit=False,
        tmp_path=tmp_path,
    )
    x = np.random.default_rng(0).normal(size=input_shape).astype("float32")
    pads = kwargs["padding"] if layer_cls is CircularPadding2D else (kwargs["padding"],)
    want = np.pad(x, ((0, 0), *pads, (0, 0)), mode="wrap")
    np.testing.assert_array_equal(ops.convert_to_numpy(layer_cls(**kwargs)(x)), want)


@pytest.mark.parametrize(
    "layer_cls,kwargs,spatial,channels",
    [
        (OrthogonalConv2D, {"filters": 4, "kernel_size": 3}, (6, 6), 4),  # square
        (
            OrthogonalConv2D,
            {"filters": 8, "kernel_size": 2, "strides": 2},
            (6, 6),
            3,
        ),  # 12 -> 8 rows
        (OrthogonalConv1D, {"filters": 6, "kernel_size": 4}, (10,), 2),  # 2 -> 6 columns
    ],
)
def test_singular_values_stay_one_after_50_training_steps(layer_cls, kwargs, spatial, channels):
    keras.utils.set_random_seed(0)
    layer = layer_cls(**kwargs)
    model = keras.Sequential([keras.Input((*spatial, channels)), layer])
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, *spatial, channels)).astype("float32")
    y = rng.normal(size=(200, *model.output_shape[1:])).astype("float32")
    before = [ops.convert_to_numpy(w.value).copy() for w in layer.trainable_weights]
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)  # 50 steps
    assert np.isfinite(history.history["loss"][-1])
    moved = max(
        np.abs(ops.convert_to_numpy(w.value) - b).max()
        for w, b in zip(layer.trainable_weights, before)
    )
    assert moved > 0.05  # training did change the weights
    # The layer itself as a map: all singular values 1 (row- or column-orthogonal).
    sigma = np.linalg.svd(
        layer_matrix(layer, spatial, channels).astype("float64"), compute_uv=False
    )
    np.testing.assert_allclose(sigma, 1.0, atol=1e-4)
    # Its stride-1 kernel: Fourier singular values 1 and Lorth 0.
    kernel = layer.orthogonal_kernel()
    grid = tuple(n // s for n, s in zip(spatial, layer.strides))
    fourier = ops.convert_to_numpy(kg.ops.conv_singular_values(kernel, grid))
    np.testing.assert_allclose(fourier, 1.0, atol=1e-4)
    assert float(ops.convert_to_numpy(kg.ops.lorth(kernel))) < 1e-6


def test_zero_padding_warns_and_bad_arguments_are_named():
    with pytest.warns(UserWarning, match="padding='same'"):
        OrthogonalConv2D(4, 3, padding="same")(np.zeros((1, 6, 6, 4), "float32"))
    with pytest.raises(ValueError, match="`padding`"):
        OrthogonalConv2D(4, 3, padding="reflect")
    with pytest.raises(ValueError, match="`filters`"):
        OrthogonalConv1D(0, 3)
    with pytest.raises(ValueError, match="`kernel_size`"):
        OrthogonalConv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match="divisible by 2"):
        OrthogonalConv2D(4, 3, strides=2)(np.zeros((1, 5, 6, 1), "float32"))
    with pytest.raises(ValueError, match="`padding`"):
        CircularPadding2D(((1, 2, 3), 1))
