"""The base classes of the quantizers and the straight-through helpers they share."""

import keras
from keras import ops

from keras_gradstab.ops._checks import is_finite_number


def straight_through(x, forward, derivative=None):
    """Returns `forward` in the forward pass and `derivative * upstream` as gradient.

    `forward` and `derivative` are computed from `x` by the caller; neither is
    differentiated. The result is `stop_gradient(forward) + stop_gradient(derivative)
    * (x - stop_gradient(x))`: the second term is exactly zero in the forward pass
    (so the output is exactly `forward`, e.g. exactly +-1) and has derivative
    `derivative` with respect to `x`. No custom gradient is registered, so the
    gradient can also flow through what `x` was computed from inside one function
    (DoReFa's weight normalization uses this).

    Args:
        x: the tensor the gradient flows to.
        forward: the quantized value, same shape as `x`.
        derivative: the surrogate derivative d forward / d x, same shape as `x`
            (or broadcastable); `None` means 1 (the identity straight-through).

    Returns:
        A tensor equal to `forward` whose gradient with respect to `x` is
        `derivative` times the upstream gradient.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.quantizers.base import straight_through
    >>> x = keras.ops.convert_to_tensor(np.array([0.4, 0.6], "float32"))
    >>> keras.ops.convert_to_numpy(straight_through(x, keras.ops.round(x))).tolist()
    [0.0, 1.0]
    """
    identity = x - ops.stop_gradient(x)
    if derivative is not None:
        identity = ops.stop_gradient(derivative) * identity
    return ops.stop_gradient(forward) + identity


def sign(x):
    """sign(x) with sign(0) = +1 (Larq's convention), in the dtype of `x`."""
    # Arithmetic on a mask rather than `where`: torch's CPU `where` costs ~4x a
    # cast and a multiply-add (measured 2.0 ms against 0.5 ms for 524k floats).
    return ops.cast(x >= 0, x.dtype) * 2.0 - 1.0


def mask(condition, x):
    """`condition` as 0/1 in the dtype of `x`: multiply by it instead of `where`
    (the values it zeroes must be finite)."""
    return ops.cast(condition, x.dtype)


def with_surrogate_gradient(x, quantize, backward, *params):
    """`quantize(x)` forward; `backward(x, upstream, *params)` as the gradient w.r.t. `x`.

    A custom gradient (`keras.ops.custom_gradient`): the forward pass computes
    only `quantize(x)` and the backward pass only the surrogate, fused with the
    product by the upstream gradient, from the saved input. This is the cheap
    path of the binarizing quantizers: on torch every element-wise op is a kernel
    of its own, and the surrogate is not computed at all in inference.

    Args:
        x: the input tensor.
        quantize: `quantize(x)`, the forward value.
        backward: `backward(x, upstream, *params)`, returns `upstream` times the
            surrogate derivative at `x`.
        *params: tensors the surrogate depends on (e.g. ReSTE's `o`, read from its
            variable in the forward pass so that compiled steps see its current
            value); they receive a zero gradient.

    Returns:
        `quantize(x)`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.quantizers.base import sign, with_surrogate_gradient
    >>> def clipped(x, upstream):
    ...     return upstream * keras.ops.cast(keras.ops.abs(x) <= 1.0, x.dtype)
    >>> x = np.array([-2.0, 0.5], "float32")
    >>> keras.ops.convert_to_numpy(with_surrogate_gradient(x, sign, clipped)).tolist()
    [-1.0, 1.0]
    """

    @ops.custom_gradient
    def quantized(x, *params):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            dx = backward(x, upstream, *params)
            if not params:
                return dx
            return (dx, *(ops.zeros_like(p) for p in params))

        return quantize(x), grad

    return quantized(x, *params)


class Quantizer(keras.layers.Layer):
    """Base class of the quantizers: an element-wise layer with a surrogate gradient.

    A quantizer computes in the dtype of its input (it does not autocast), so the
    same instance serves float32 and mixed-precision layers. Subclasses set
    `precision` (the number of bits of the output) and implement `call`.

    Call arguments:
        inputs: a floating tensor.

    Returns:
        The quantized tensor, in the dtype of `inputs`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.quantizers import Quantizer
    >>> class Round(Quantizer):
    ...     precision = 8
    ...     def call(self, inputs):
    ...         return keras.ops.round(inputs)
    >>> keras.ops.convert_to_numpy(Round()(np.array([0.4, 1.6], "float32"))).tolist()
    [0.0, 2.0]
    """

    precision = 32

    def __init__(self, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.built = True

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype=inputs.dtype)


class SignQuantizer(Quantizer):
    """Base class of the 1-bit quantizers: an exact forward, a surrogate backward.

    The forward pass is `binarize(x)` (sign(x) with sign(0) = +1 unless a subclass
    says otherwise); the gradient is `backward(x, upstream, *surrogate_params(x))`,
    a custom gradient (`with_surrogate_gradient`). Subclasses implement `backward`
    and, where the surrogate has tensor parameters, `surrogate_params`.

    Call arguments:
        inputs: a floating tensor.

    Returns:
        +-1 (or 0/1 for a step) in the dtype of `inputs`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.quantizers import SignQuantizer
    >>> class Identity(SignQuantizer):  # the plain straight-through estimator
    ...     def backward(self, x, upstream):
    ...         return upstream
    >>> keras.ops.convert_to_numpy(Identity().derivative(np.zeros(2, "float32"))).tolist()
    [1.0, 1.0]
    """

    precision = 1

    def binarize(self, x):
        """The forward value: sign(x), sign(0) = +1."""
        return sign(x)

    def backward(self, x, upstream, *params):
        """`upstream` times the surrogate derivative at `x`."""
        raise NotImplementedError

    def surrogate_params(self, x):
        """Tensors `backward` needs besides `x` (read in the forward pass)."""
        return ()

    def derivative(self, x):
        """The surrogate derivative at `x`, in the dtype of `x`."""
        return self.backward(x, ops.ones_like(x), *self.surrogate_params(x))

    def call(self, inputs):
        return with_surrogate_gradient(
            inputs, self.binarize, self.backward, *self.surrogate_params(inputs)
        )


class ClippedSignQuantizer(SignQuantizer):
    """A 1-bit quantizer whose gradient passes unchanged where `|x| <= clip_value`.

    Args:
        clip_value: the half-width of the window where the gradient passes; `None`
            passes it everywhere (the plain straight-through estimator).

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.quantizers import SteSign
    >>> keras.ops.convert_to_numpy(SteSign(clip_value=0.5).derivative(
    ...     np.array([-1.0, 0.2, 0.5], "float32"))).tolist()
    [0.0, 1.0, 1.0]
    """

    def __init__(self, clip_value=1.0, **kwargs):
        if clip_value is not None and not (is_finite_number(clip_value) and clip_value > 0):
            raise ValueError(
                f"`clip_value` must be a finite positive number or None (no clipping); "
                f"received {clip_value!r}."
            )
        self.clip_value = None if clip_value is None else float(clip_value)
        super().__init__(**kwargs)

    def backward(self, x, upstream):
        if self.clip_value is None:
            return upstream
        return upstream * mask(ops.abs(x) <= self.clip_value, x)

    def get_config(self):
        return {**super().get_config(), "clip_value": self.clip_value}
