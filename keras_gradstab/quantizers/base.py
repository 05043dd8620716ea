"""The base class of the quantizers and the straight-through identity they share."""

import keras
from keras import ops


def straight_through(x, forward, derivative=None):
    """Returns `forward` in the forward pass and `derivative * upstream` as gradient.

    `forward` and `derivative` are computed from `x` by the caller; neither is
    differentiated. The result is `stop_gradient(forward) + stop_gradient(derivative)
    * (x - stop_gradient(x))`: the second term is exactly zero in the forward pass
    (so the output is exactly `forward`, e.g. exactly +-1) and has derivative
    `derivative` with respect to `x`. No custom gradient is registered, so it runs
    unchanged on every backend, eagerly and under jit.

    Args:
        x: the tensor the gradient flows to.
        forward: the quantized value, same shape as `x`.
        derivative: the surrogate derivative d forward / d x, same shape as `x`
            (or broadcastable); `None` means 1 (the identity straight-through).

    Returns:
        A tensor equal to `forward` whose gradient with respect to `x` is
        `derivative` times the upstream gradient.
    """
    identity = x - ops.stop_gradient(x)
    if derivative is not None:
        identity = ops.stop_gradient(derivative) * identity
    return ops.stop_gradient(forward) + identity


def sign(x):
    """sign(x) with sign(0) = +1 (Larq's convention), in the dtype of `x`."""
    return ops.where(x >= 0, ops.ones_like(x), -ops.ones_like(x))


class Quantizer(keras.layers.Layer):
    """Base class of the quantizers: an element-wise layer with a surrogate gradient.

    A quantizer computes in the dtype of its input (it does not autocast), so the
    same instance serves float32 and mixed-precision layers. Subclasses set
    `precision` (the number of bits of the output) and implement `call`.

    Args:
        **kwargs: base layer arguments (`name`, ...).

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.quantizers import Quantizer, SteSign
    >>> isinstance(SteSign(), Quantizer), SteSign.precision
    (True, 1)
    >>> class Round(Quantizer):
    ...     precision = 8
    ...     def call(self, x):
    ...         return keras.ops.round(x)
    >>> [float(v) for v in keras.ops.convert_to_numpy(Round()(np.array([0.4, 1.6], "float32")))]
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
