"""QuantDense / QuantConv1D / QuantConv2D / QuantDepthwiseConv2D against NumPy references,
the gradient through the kernel scale, and the shared layer checks."""

import keras
import numpy as np
import pytest
from cross_backend_cases import CASES
from harness import check_layer, value_and_grad

from keras_gradstab import quantizers
from keras_gradstab.constraints import WeightClip
from keras_gradstab.layers import (
    QuantConv1D,
    QuantConv2D,
    QuantDense,
    QuantDepthwiseConv2D,
)


def np_sign(x):
    return np.where(x >= 0, 1.0, -1.0)


def np_scale(kernel, mode, keep):
    if mode is None:
        return 1.0
    axes = (
        tuple(range(kernel.ndim))
        if mode == "per_layer"
        else tuple(a for a in range(kernel.ndim) if a not in keep)
    )
    return np.mean(np.abs(kernel), axis=axes, keepdims=True)


def same_pads(size, k, s, d):
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def np_conv(x, kernel, strides, pads, pad_value, dilation=None, depthwise=False):
    """Direct NumPy convolution, channels_last, any rank, explicit padding."""
    rank = x.ndim - 2
    dilation = dilation or (1,) * rank
    x = np.pad(x, [(0, 0)] + list(pads) + [(0, 0)], constant_values=pad_value)
    ksize = kernel.shape[:rank]
    out_size = [
        (x.shape[1 + i] - (ksize[i] - 1) * dilation[i] - 1) // strides[i] + 1 for i in range(rank)
    ]
    channels = x.shape[-1]
    out_channels = channels * kernel.shape[-1] if depthwise else kernel.shape[-1]
    y = np.zeros((x.shape[0], *out_size, out_channels))
    for pos in np.ndindex(*out_size):
        for kpos in np.ndindex(*ksize):
            idx = tuple(p * s + k * d for p, s, k, d in zip(pos, strides, kpos, dilation))
            patch = x[(slice(None),) + idx]  # [batch, channels]
            w = kernel[kpos]
            if depthwise:
                contrib = (patch[:, :, None] * w[None]).reshape(x.shape[0], -1)
            else:
                contrib = patch @ w
            y[(slice(None),) + pos] += contrib
    return y


def weights_of(layer):
    return [keras.ops.convert_to_numpy(w).astype("float64") for w in layer.weights if w.trainable]


def test_quant_dense_matches_numpy():
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    for kernel_scale in (None, "per_layer", "per_channel"):
        layer = QuantDense(
            5,
            input_quantizer="ste_sign",
            kernel_quantizer="reste",
            kernel_scale=kernel_scale,
            bias_initializer="random_normal",
        )
        got = keras.ops.convert_to_numpy(layer(x))
        kernel, bias = weights_of(layer)
        want = np_sign(x) @ (np_sign(kernel) * np_scale(kernel, kernel_scale, (1,))) + bias
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=str(kernel_scale))


def _same_ste_kwargs(kernel_quantizer="kernel_quantizer"):
    """A convolution's "same" padding with pad value 1.0, `ste_sign` on the input and on
    the kernel (the argument `kernel_quantizer` names), a per-channel scale and a
    random bias."""
    return {
        "padding": "same",
        "pad_values": 1.0,
        "input_quantizer": "ste_sign",
        kernel_quantizer: "ste_sign",
        "kernel_scale": "per_channel",
        "bias_initializer": "random_normal",
    }


def test_quant_conv2d_same_with_pad_values_and_strides_matches_numpy():
    x = np.random.default_rng(1).normal(size=(2, 7, 6, 3)).astype("float32")
    for strides, dilation in [((1, 1), (1, 1)), ((2, 2), (1, 1)), ((1, 1), (2, 2))]:
        layer = QuantConv2D(
            4, (3, 2), strides=strides, dilation_rate=dilation, **_same_ste_kwargs()
        )
        got = keras.ops.convert_to_numpy(layer(x))
        kernel, bias = weights_of(layer)
        pads = [same_pads(n, k, s, d) for n, k, s, d in zip((7, 6), (3, 2), strides, dilation)]
        q = np_sign(kernel) * np_scale(kernel, "per_channel", (3,))
        want = np_conv(np_sign(x), q, strides, pads, 1.0, dilation) + bias
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=str(strides))


def test_quant_conv2d_valid_and_zero_padding_match_numpy():
    x = np.random.default_rng(2).normal(size=(2, 6, 6, 2)).astype("float32")
    for padding in ("valid", "same"):
        layer = QuantConv2D(
            3,
            3,
            padding=padding,
            kernel_quantizer="approx_sign",
            kernel_scale="per_layer",
            use_bias=False,
        )
        got = keras.ops.convert_to_numpy(layer(x))
        (kernel,) = weights_of(layer)
        pads = [(0, 0)] * 2 if padding == "valid" else [(1, 1)] * 2
        want = np_conv(x, np_sign(kernel) * np.mean(np.abs(kernel)), (1, 1), pads, 0.0)
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=padding)


def test_quant_conv1d_same_and_causal_match_numpy():
    x = np.random.default_rng(3).normal(size=(2, 9, 3)).astype("float32")
    for padding, pads, value in [("same", [(1, 1)], -1.0), ("causal", [(4, 0)], 0.0)]:
        layer = QuantConv1D(
            4,
            3,
            dilation_rate=2 if padding == "causal" else 1,
            padding=padding,
            pad_values=-1.0,
            input_quantizer="ste_sign",
            kernel_quantizer="ste_sign",
            use_bias=False,
        )
        got = keras.ops.convert_to_numpy(layer(x))
        (kernel,) = weights_of(layer)
        dilation = (2,) if padding == "causal" else (1,)
        want = np_conv(np_sign(x), np_sign(kernel), (1,), pads, value, dilation)
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=padding)


def test_quant_depthwise_conv2d_matches_numpy():
    x = np.random.default_rng(4).normal(size=(2, 6, 5, 3)).astype("float32")
    layer = QuantDepthwiseConv2D(3, depth_multiplier=2, **_same_ste_kwargs("depthwise_quantizer"))
    got = keras.ops.convert_to_numpy(layer(x))
    kernel, bias = weights_of(layer)
    q = np_sign(kernel) * np_scale(kernel, "per_channel", (2, 3))
    want = np_conv(np_sign(x), q, (1, 1), [(1, 1), (1, 1)], 1.0, depthwise=True) + bias
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("kernel_scale", ["per_layer", "per_channel"])
def test_gradient_flows_through_the_kernel_scale(kernel_scale):
    rng = np.random.default_rng(5)
    kernel = rng.uniform(-1.5, 1.5, size=(6, 4)).astype("float32")
    upstream = rng.normal(size=kernel.shape).astype("float32")
    layer = QuantDense(4, kernel_quantizer="ste_sign", kernel_scale=kernel_scale)
    layer.build((None, 6))

    def loss(w):
        return keras.ops.sum(keras.ops.multiply(layer.quantized_kernel(w), upstream))

    _, (grad,) = value_and_grad(loss, kernel)
    # d/dW of sum(G sign(W) alpha(W)), alpha = mean|W| over the reduced axes.
    axes = (0, 1) if kernel_scale == "per_layer" else (0,)
    count = np.prod([kernel.shape[a] for a in axes])
    alpha = np.mean(np.abs(kernel), axis=axes, keepdims=True)
    mask = np.abs(kernel) <= 1.0
    through_sign = upstream * mask * alpha
    through_scale = (
        np.sum(upstream * np_sign(kernel), axis=axes, keepdims=True) * np_sign(kernel) / count
    )
    np.testing.assert_allclose(grad, through_sign + through_scale, rtol=1e-5, atol=1e-6)


def test_quantizers_and_constraint_are_configured_and_restored():
    layer = QuantConv2D(
        4,
        3,
        input_quantizer="reste",
        kernel_quantizer=quantizers.SteSign(0.5),
        kernel_constraint=WeightClip(0.8),
        pad_values=1.0,
        padding="same",
    )
    config = layer.get_config()
    revived = QuantConv2D.from_config(config)
    assert isinstance(revived.input_quantizer, quantizers.ReSTE)
    assert revived.kernel_quantizer.clip_value == 0.5
    assert isinstance(revived.kernel_constraint, WeightClip)
    assert revived.kernel_constraint.clip_value == 0.8 and revived.pad_values == 1.0


def test_weight_clip_constraint_applies_after_a_training_step():
    model = keras.Sequential(
        [
            keras.Input((3,)),
            QuantDense(
                2,
                kernel_quantizer="ste_sign",
                kernel_constraint=WeightClip(0.01),
                kernel_initializer=keras.initializers.Constant(0.5),
            ),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), epochs=1, verbose=0)
    kernel = keras.ops.convert_to_numpy(model.layers[0].kernel)
    np.testing.assert_allclose(np.abs(kernel), 0.01, rtol=1e-6)


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="`kernel_scale`"):
        QuantDense(3, kernel_scale="per_row")
    with pytest.raises(ValueError, match="`pad_values`"):
        QuantConv2D(3, 3, pad_values="one")
    with pytest.raises(ValueError, match="`clip_value`"):
        WeightClip(0.0)
    layer = QuantConv2D(3, 3, padding="same", pad_values=1.0)
    with pytest.raises(ValueError, match="`pad_values`"):
        layer.build((None, None, None, 3))


def _cross_backend_case(name, layer_cls, **overrides):
    """`(layer_cls, kwargs, input_shape)` of the cross-backend case `name`, with
    `overrides` in its kwargs."""
    case = CASES[name]
    return layer_cls, {**case["kwargs"], **overrides}, case["input_shape"]


# The cross-backend cases; the convolutions with other quantizers, the other scale and
# a kernel constraint.
CHECKS = [
    _cross_backend_case("quant_dense", QuantDense),
    _cross_backend_case(
        "quant_conv1d",
        QuantConv1D,
        input_quantizer="approx_sign",
        kernel_quantizer="swish_sign",
        kernel_scale="per_layer",
    ),
    _cross_backend_case(
        "quant_conv2d",
        QuantConv2D,
        kernel_scale="per_channel",
        kernel_constraint=WeightClip(1.3),
    ),
    _cross_backend_case("quant_depthwise_conv2d", QuantDepthwiseConv2D),
]


@pytest.mark.parametrize(
    "layer_cls, kwargs, shape", CHECKS, ids=lambda v: getattr(v, "__name__", "")
)
def test_check_layer(layer_cls, kwargs, shape, tmp_path):
    check_layer(layer_cls, kwargs, shape, tmp_path=tmp_path)
