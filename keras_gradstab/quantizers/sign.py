"""Larq's binarizing quantizers on Keras 3: SteSign, ApproxSign, SwishSign, SteHeaviside.

The forward pass is exact (+-1, or 0/1 for the Heaviside step); only the backward
pass differs, by the surrogate derivative each estimator substitutes for the
derivative of the step (zero almost everywhere).
"""

import keras
from keras import ops

from keras_gradstab.quantizers.base import Quantizer, sign, straight_through


def _check_clip_value(clip_value):
    if clip_value is not None and not (
        isinstance(clip_value, (int, float)) and clip_value > 0
    ):
        raise ValueError(
            f"`clip_value` must be a positive number or None (no clipping); received "
            f"{clip_value!r}."
        )
    return None if clip_value is None else float(clip_value)


def _clip_mask(x, clip_value):
    if clip_value is None:
        return None
    return ops.cast(ops.abs(x) <= clip_value, x.dtype)


@keras.saving.register_keras_serializable(package="keras_gradstab")
class SteSign(Quantizer):
    """Sign with the clipped straight-through estimator (Hubara et al., 2016).

    Forward: `q(x) = -1 if x < 0 else +1` (sign(0) = +1). Backward: the gradient
    passes unchanged where `|x| <= clip_value` and is zero elsewhere, i.e. the
    derivative of `clip(x, -clip_value, clip_value)`.

    Args:
        clip_value: the half-width of the window where the gradient passes; `None`
            passes it everywhere (the plain straight-through estimator).

    Call arguments:
        inputs: a floating tensor.

    Returns:
        +-1 in the dtype of `inputs`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.quantizers import SteSign
    >>> keras.ops.convert_to_numpy(SteSign()(np.array([-0.5, 0.0, 2.0], "float32"))).tolist()
    [-1.0, 1.0, 1.0]
    """

    precision = 1

    def __init__(self, clip_value=1.0, **kwargs):
        self.clip_value = _check_clip_value(clip_value)
        super().__init__(**kwargs)

    def call(self, inputs):
        return straight_through(inputs, sign(inputs), _clip_mask(inputs, self.clip_value))

    def get_config(self):
        return {**super().get_config(), "clip_value": self.clip_value}


@keras.saving.register_keras_serializable(package="keras_gradstab")
class ApproxSign(Quantizer):
    """Sign with the piecewise-polynomial surrogate of Bi-Real Net (Liu et al., 2018).

    Forward: `sign(x)` (sign(0) = +1). Backward: `2 - 2|x|` on `|x| <= 1`, zero
    elsewhere: the derivative of the quadratic approximation of sign.

    Call arguments:
        inputs: a floating tensor.

    Returns:
        +-1 in the dtype of `inputs`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.quantizers import ApproxSign
    >>> keras.ops.convert_to_numpy(ApproxSign()(np.array([-0.5, 0.0, 2.0], "float32"))).tolist()
    [-1.0, 1.0, 1.0]
    """

    precision = 1

    def call(self, inputs):
        magnitude = ops.abs(inputs)
        derivative = ops.where(
            magnitude <= 1.0, 2.0 - 2.0 * magnitude, ops.zeros_like(inputs)
        )
        return straight_through(inputs, sign(inputs), derivative)


@keras.saving.register_keras_serializable(package="keras_gradstab")
class SwishSign(Quantizer):
    """Sign with the derivative of SignSwish as surrogate (Darabi et al., 2018).

    Forward: `sign(x)` (sign(0) = +1). Backward:
    `beta * (2 - beta x tanh(beta x / 2)) / (1 + cosh(beta x))`, the derivative of
    `2 sigmoid(beta x) (1 + beta x (1 - sigmoid(beta x))) - 1`. It is evaluated as
    `1 / (1 + cosh z) = 2 e^-|z| / (1 + e^-|z|)^2`, which cannot overflow, so the
    gradient is finite for every input.

    Args:
        beta: the steepness of the surrogate (larger is closer to the step).

    Call arguments:
        inputs: a floating tensor.

    Returns:
        +-1 in the dtype of `inputs`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.quantizers import SwishSign
    >>> keras.ops.convert_to_numpy(SwishSign(beta=5.0)(np.array([-0.5, 0.0, 2.0], "float32"))).tolist()
    [-1.0, 1.0, 1.0]
    """

    precision = 1

    def __init__(self, beta=5.0, **kwargs):
        if not (isinstance(beta, (int, float)) and beta > 0):
            raise ValueError(f"`beta` must be a positive number; received {beta!r}.")
        self.beta = float(beta)
        super().__init__(**kwargs)

    def call(self, inputs):
        # |z| beyond 80 gives a derivative below 1e-33: clip so z*tanh stays finite.
        z = ops.clip(self.beta * inputs, -80.0, 80.0)
        decay = ops.exp(-ops.abs(z))
        derivative = (
            self.beta * (2.0 - z * ops.tanh(z / 2.0)) * 2.0 * decay / ops.square(1.0 + decay)
        )
        return straight_through(inputs, sign(inputs), derivative)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


@keras.saving.register_keras_serializable(package="keras_gradstab")
class SteHeaviside(Quantizer):
    """The Heaviside step with the clipped straight-through estimator.

    Forward: `q(x) = 1 if x > 0 else 0` (Larq's convention, q(0) = 0). Backward:
    the gradient passes unchanged where `|x| <= clip_value`, zero elsewhere.

    Args:
        clip_value: the half-width of the window where the gradient passes; `None`
            passes it everywhere.

    Call arguments:
        inputs: a floating tensor.

    Returns:
        0 or 1 in the dtype of `inputs`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.quantizers import SteHeaviside
    >>> keras.ops.convert_to_numpy(SteHeaviside()(np.array([-0.5, 0.0, 2.0], "float32"))).tolist()
    [0.0, 0.0, 1.0]
    """

    precision = 1

    def __init__(self, clip_value=1.0, **kwargs):
        self.clip_value = _check_clip_value(clip_value)
        super().__init__(**kwargs)

    def call(self, inputs):
        step = ops.where(inputs > 0, ops.ones_like(inputs), ops.zeros_like(inputs))
        return straight_through(inputs, step, _clip_mask(inputs, self.clip_value))

    def get_config(self):
        return {**super().get_config(), "clip_value": self.clip_value}
