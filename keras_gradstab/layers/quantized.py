"""Quantized (binarized) Dense and convolution layers with Larq's arguments, on Keras 3.

Each layer quantizes its input with `input_quantizer` and its kernel with
`kernel_quantizer` (`depthwise_quantizer` for the depthwise convolution) before
the usual Keras computation; the latent float kernel is what the optimizer
trains. With `kernel_scale`, the quantized kernel is multiplied by mean(|W|) of
the latent kernel, per layer or per output channel, with the gradient flowing
through the mean (as XNOR-Net and ReSTE do). A "same" convolution can pad with
`pad_values` instead of zeros, so that the padded border of a binarized input is
+-1 rather than 0.
"""

import keras
from keras import ops

from keras_gradstab import quantizers
from keras_gradstab.ops.matmul import matmul

KERNEL_SCALES = (None, "per_layer", "per_channel")


def _check_kernel_scale(kernel_scale):
    if kernel_scale not in KERNEL_SCALES:
        raise ValueError(
            f"`kernel_scale` must be one of {KERNEL_SCALES}; received {kernel_scale!r}."
        )
    return kernel_scale


class _Quantized:
    """What the quantized layers share: quantizers, the kernel scale, the summary."""

    def _setup_quantization(self, input_quantizer, kernel_quantizer, kernel_scale):
        self.input_quantizer = quantizers.get(input_quantizer)
        self.kernel_quantizer = quantizers.get(kernel_quantizer)
        self.kernel_scale = _check_kernel_scale(kernel_scale)

    def _channel_axes(self):
        """The kernel axes that index output channels (one scale per index)."""
        return (len(self._latent_kernel().shape) - 1,)

    def _latent_kernel(self):
        return self.kernel

    def quantized_kernel(self, kernel=None):
        """The kernel the forward pass uses: scale * kernel_quantizer(latent kernel).

        Args:
            kernel: the latent kernel (defaults to the layer's own).

        Returns:
            The effective kernel, a tensor of the kernel's shape.
        """
        # A tensor in the layer's compute dtype: the quantizer does not autocast, and
        # on TensorFlow a variable passed to it would be read in its own dtype.
        kernel = ops.cast(self._latent_kernel() if kernel is None else kernel, self.compute_dtype)
        quantized = kernel if self.kernel_quantizer is None else self.kernel_quantizer(kernel)
        scale = self.kernel_scale_value(kernel)
        return quantized if scale is None else quantized * scale

    def kernel_scale_value(self, kernel=None):
        """mean(|W|) over the layer or per output channel (kept dims), or None."""
        if self.kernel_scale is None:
            return None
        kernel = self._latent_kernel() if kernel is None else kernel
        rank = len(kernel.shape)
        if self.kernel_scale == "per_layer":
            axes = tuple(range(rank))
        else:
            keep = self._channel_axes()
            axes = tuple(a for a in range(rank) if a not in keep)
        return ops.mean(ops.abs(kernel), axis=axes, keepdims=True)

    def _quantize_input(self, inputs):
        return inputs if self.input_quantizer is None else self.input_quantizer(inputs)

    def _quantization_config(self):
        return {
            "input_quantizer": quantizers.serialize(self.input_quantizer),
            self._quantizer_argument: quantizers.serialize(self.kernel_quantizer),
            "kernel_scale": self.kernel_scale,
        }

    _quantizer_argument = "kernel_quantizer"


@keras.saving.register_keras_serializable(package="keras_gradstab")
class QuantDense(_Quantized, keras.layers.Dense):
    """A densely connected layer with quantized input and kernel (Larq's `QuantDense`).

    `outputs = activation(input_quantizer(inputs) @ (scale * kernel_quantizer(kernel))
    + bias)`. Every argument of `keras.layers.Dense` is accepted.

    Args:
        units: the number of output units.
        activation: the activation function (none by default).
        use_bias: whether to add a (full-precision) bias.
        input_quantizer: quantizer of the inputs: a name (`"ste_sign"`, `"reste"`,
            ...), an instance, a config dict or `None` (full precision).
        kernel_quantizer: quantizer of the kernel, as `input_quantizer`.
        kernel_scale: `None`, `"per_layer"` (one mean(|W|)) or `"per_channel"`
            (one mean(|W|) per output unit), multiplied into the quantized kernel;
            the gradient flows through it.
        kernel_constraint: constraint on the latent kernel, e.g.
            `keras_gradstab.constraints.WeightClip(1.0)`.
        **kwargs: the other arguments of `keras.layers.Dense`.

    Call arguments:
        inputs: a tensor `[..., input_dim]`.

    Input shape:
        `(batch_size, ..., input_dim)`.

    Output shape:
        `(batch_size, ..., units)`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.layers import QuantDense
    >>> layer = QuantDense(4, input_quantizer="ste_sign", kernel_quantizer="reste",
    ...                    kernel_scale="per_channel")
    >>> tuple(layer(np.ones((2, 3), "float32")).shape)
    (2, 4)
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        input_quantizer=None,
        kernel_quantizer=None,
        kernel_scale=None,
        kernel_constraint=None,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_constraint=kernel_constraint,
            **kwargs,
        )
        self._setup_quantization(input_quantizer, kernel_quantizer, kernel_scale)

    def call(self, inputs, training=None):
        outputs = matmul(self._quantize_input(inputs), self.quantized_kernel())
        if self.bias is not None:
            outputs = ops.add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self):
        return {**super().get_config(), **self._quantization_config()}


class _QuantConv(_Quantized):
    """The convolution call shared by QuantConv1D / QuantConv2D / QuantDepthwiseConv2D."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        pad_values=0.0,
        input_quantizer=None,
        kernel_quantizer=None,
        kernel_scale=None,
        kernel_constraint=None,
        **kwargs,
    ):
        self._setup_padding(pad_values)
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            kernel_constraint=kernel_constraint,
            **kwargs,
        )
        self._setup_quantization(input_quantizer, kernel_quantizer, kernel_scale)

    def _setup_padding(self, pad_values):
        if not isinstance(pad_values, (int, float)) or isinstance(pad_values, bool):
            raise ValueError(f"`pad_values` must be a number; received {pad_values!r}.")
        self.pad_values = float(pad_values)

    def _explicit_padding(self):
        return self.padding == "same" and self.pad_values != 0.0

    def _check_padding_shape(self, input_shape):
        if not self._explicit_padding():
            return
        spatial = self._spatial(input_shape)
        if any(size is None for size in spatial):
            raise ValueError(
                f"`pad_values`={self.pad_values} with padding='same' needs known spatial "
                f"dimensions; received input shape {tuple(input_shape)}. Use "
                "pad_values=0.0 for inputs of varying size."
            )

    def _spatial(self, shape):
        shape = tuple(shape)
        return shape[1:-1] if self.data_format == "channels_last" else shape[2:]

    def _pad(self, inputs):
        """Pads as Keras's "same" does (the extra pixel after), with `pad_values`."""
        pads = []
        for size, k, s, d in zip(
            self._spatial(inputs.shape), self.kernel_size, self.strides, self.dilation_rate
        ):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        if self.data_format == "channels_last":
            pads = [(0, 0)] + pads + [(0, 0)]
        else:
            pads = [(0, 0), (0, 0)] + pads
        return ops.pad(inputs, pads, constant_values=self.pad_values)

    def _conv_inputs(self, inputs):
        """(inputs, padding) after input quantization and any explicit padding."""
        inputs = self._quantize_input(inputs)
        if self._explicit_padding():
            return self._pad(inputs), "valid"
        if self.padding == "causal":
            left = self.dilation_rate[0] * (self.kernel_size[0] - 1)
            pads = [[0, 0], [left, 0], [0, 0]]
            if self.data_format != "channels_last":
                pads = [[0, 0], [0, 0], [left, 0]]
            return ops.pad(inputs, pads), "valid"
        return inputs, self.padding

    def _add_bias_and_activate(self, outputs, channels):
        if self.use_bias:
            if self.data_format == "channels_last":
                shape = (1,) * (self.rank + 1) + (channels,)
            else:
                shape = (1, channels) + (1,) * self.rank
            outputs = ops.add(outputs, ops.reshape(self.bias, shape))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def call(self, inputs):
        inputs, padding = self._conv_inputs(inputs)
        outputs = ops.conv(
            inputs,
            self.quantized_kernel(),
            strides=list(self.strides),
            padding=padding,
            dilation_rate=self.dilation_rate,
            data_format=self.data_format,
        )
        return self._add_bias_and_activate(outputs, self.filters)

    def build(self, input_shape):
        self._check_padding_shape(input_shape)
        super().build(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            **self._quantization_config(),
            "pad_values": self.pad_values,
        }


_CONV_DOC = """A {rank}D convolution with quantized input and kernel (Larq's `{name}`).

    `outputs = activation(conv(pad(input_quantizer(inputs)), scale *
    kernel_quantizer(kernel)) + bias)`.

    Args:
        filters: the number of output channels.
        kernel_size: the size of the convolution window (int or tuple).
        strides: the strides of the convolution.
        padding: {padding}
        pad_values: the value that "same" padding fills in (0.0 as Keras; 1.0 keeps
            a +-1 binarized input binary at the border).
        input_quantizer: quantizer of the inputs: a name (`"ste_sign"`, `"reste"`,
            ...), an instance, a config dict or `None` (full precision).
        kernel_quantizer: quantizer of the kernel, as `input_quantizer`.
        kernel_scale: `None`, `"per_layer"` (one mean(|W|)) or `"per_channel"` (one
            mean(|W|) per output channel), multiplied into the quantized kernel; the
            gradient flows through it.
        kernel_constraint: constraint on the latent kernel, e.g.
            `keras_gradstab.constraints.WeightClip(1.0)`.
        **kwargs: the other arguments of `keras.layers.Conv{rank}D`.

    Call arguments:
        inputs: a {ndim}D tensor, `(batch, *spatial, channels)` for `channels_last`.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.layers import {name}
{example}
    """


@keras.saving.register_keras_serializable(package="keras_gradstab")
class QuantConv1D(_QuantConv, keras.layers.Conv1D):
    pass


@keras.saving.register_keras_serializable(package="keras_gradstab")
class QuantConv2D(_QuantConv, keras.layers.Conv2D):
    pass


def _document(cls, rank, padding, example):
    """Sets the docstring of the `rank`-D convolution class `cls` from `_CONV_DOC`."""
    cls.__doc__ = _CONV_DOC.format(
        rank=rank, ndim=rank + 2, name=cls.__name__, padding=padding, example=example
    )


_document(
    QuantConv1D,
    1,
    '`"valid"`, `"same"` or `"causal"` (causal pads zeros).',
    """    >>> layer = QuantConv1D(4, 3, padding="same", pad_values=1.0,
    ...                     input_quantizer="ste_sign", kernel_quantizer="ste_sign")
    >>> tuple(layer(np.ones((2, 7, 3), "float32")).shape)
    (2, 7, 4)""",
)
_document(
    QuantConv2D,
    2,
    '`"valid"` or `"same"`.',
    """    >>> layer = QuantConv2D(8, 3, padding="same", pad_values=1.0, input_quantizer="reste",
    ...                     kernel_quantizer="reste", kernel_scale="per_channel")
    >>> tuple(layer(np.ones((2, 6, 6, 3), "float32")).shape)
    (2, 6, 6, 8)""",
)


@keras.saving.register_keras_serializable(package="keras_gradstab")
class QuantDepthwiseConv2D(_QuantConv, keras.layers.DepthwiseConv2D):
    """A depthwise 2D convolution with quantized input and kernel (Larq's).

    `outputs = activation(depthwise_conv(pad(input_quantizer(inputs)), scale *
    depthwise_quantizer(kernel)) + bias)`. As in Larq and Keras, the kernel's
    arguments are named `depthwise_*`; a per-channel scale has one mean(|W|) per
    (input channel, multiplier) pair.

    Args:
        kernel_size: the size of the convolution window (int or tuple).
        strides: the strides of the convolution.
        padding: `"valid"` or `"same"`.
        depth_multiplier: output channels per input channel.
        pad_values: the value that "same" padding fills in (0.0 as Keras).
        input_quantizer: quantizer of the inputs (a name, instance, dict or None).
        depthwise_quantizer: quantizer of the depthwise kernel, likewise.
        kernel_scale: `None`, `"per_layer"` or `"per_channel"`, as in QuantConv2D.
        depthwise_constraint: constraint on the latent kernel, e.g. `WeightClip`.
        **kwargs: the other arguments of `keras.layers.DepthwiseConv2D`.

    Call arguments:
        inputs: a 4D tensor.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.layers import QuantDepthwiseConv2D
    >>> layer = QuantDepthwiseConv2D(3, depth_multiplier=2, input_quantizer="ste_sign",
    ...                              depthwise_quantizer="ste_sign")
    >>> tuple(layer(np.ones((2, 6, 6, 4), "float32")).shape)
    (2, 4, 4, 8)
    """

    _quantizer_argument = "depthwise_quantizer"

    def __init__(
        self,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        depth_multiplier=1,
        pad_values=0.0,
        input_quantizer=None,
        depthwise_quantizer=None,
        kernel_scale=None,
        depthwise_constraint=None,
        **kwargs,
    ):
        self._setup_padding(pad_values)
        keras.layers.DepthwiseConv2D.__init__(
            self,
            kernel_size,
            strides=strides,
            padding=padding,
            depth_multiplier=depth_multiplier,
            depthwise_constraint=depthwise_constraint,
            **kwargs,
        )
        self._setup_quantization(input_quantizer, depthwise_quantizer, kernel_scale)

    def _channel_axes(self):
        return (self.rank, self.rank + 1)

    def call(self, inputs):
        channels = inputs.shape[-1 if self.data_format == "channels_last" else 1]
        inputs, padding = self._conv_inputs(inputs)
        outputs = ops.depthwise_conv(
            inputs,
            self.quantized_kernel(),
            strides=self.strides,
            padding=padding,
            dilation_rate=self.dilation_rate,
            data_format=self.data_format,
        )
        return self._add_bias_and_activate(outputs, self.depth_multiplier * channels)
