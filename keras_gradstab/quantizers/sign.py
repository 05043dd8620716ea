"""Larq's binarizing quantizers on Keras 3: SteSign, ApproxSign, SwishSign, SteHeaviside.

The forward pass is exact (+-1, or 0/1 for the Heaviside step); only the backward
pass differs, by the surrogate derivative each estimator substitutes for the
derivative of the step (zero almost everywhere).
"""

import keras
from keras import ops

from keras_gradstab.ops._checks import is_finite_number
from keras_gradstab.quantizers.base import ClippedSignQuantizer, SignQuantizer, mask


@keras.saving.register_keras_serializable(package="keras_gradstab")
class SteSign(ClippedSignQuantizer):
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

    References:
        - *Binarized Neural Networks*, I. Hubara, M. Courbariaux, D. Soudry, R.
          El-Yaniv, Y. Bengio, NeurIPS 2016. <https://arxiv.org/abs/1602.02830>
    """


@keras.saving.register_keras_serializable(package="keras_gradstab")
class ApproxSign(SignQuantizer):
    """Sign with the piecewise-polynomial surrogate of Bi-Real Net (Liu et al., 2018).

    Forward: `sign(x)` (sign(0) = +1). Backward: `2 - 2|x|` on `|x| <= 1`, zero
    elsewhere: the derivative of the quadratic approximation of sign. Called as
    any `SignQuantizer`.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.quantizers import ApproxSign
    >>> surrogate = ApproxSign().derivative(np.array([0.0, 0.5, 1.5], "float32"))
    >>> np.asarray(surrogate).tolist()
    [2.0, 1.0, 0.0]

    References:
        - *Bi-Real Net: Enhancing the Performance of 1-bit CNNs With Improved
          Representational Capability and Advanced Training Algorithm*, Z. Liu, B.
          Wu, W. Luo, X. Yang, W. Liu, K.-T. Cheng, ECCV 2018.
          <https://arxiv.org/abs/1808.00278>
    """

    def backward(self, x, upstream):
        # max(2 - 2|x|, 0) is 2 - 2|x| on |x| <= 1 and 0 beyond.
        return upstream * ops.maximum(2.0 - 2.0 * ops.abs(x), 0.0)


@keras.saving.register_keras_serializable(package="keras_gradstab")
class SwishSign(SignQuantizer):
    """Sign with the derivative of SignSwish as surrogate (Darabi et al., 2018).

    Forward: `sign(x)` (sign(0) = +1). Backward:
    `beta * (2 - beta x tanh(beta x / 2)) / (1 + cosh(beta x))`, the derivative of
    `2 sigmoid(beta x) (1 + beta x (1 - sigmoid(beta x))) - 1`. It is evaluated as
    `1 / (1 + cosh z) = 2 e^-|z| / (1 + e^-|z|)^2`, which cannot overflow, so the
    gradient is finite for every input. Called as any `SignQuantizer`.

    Args:
        beta: the steepness of the surrogate (larger is closer to the step).

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.quantizers import SwishSign
    >>> surrogate = SwishSign(beta=5.0).derivative(np.array([0.0, 2.0], "float32"))
    >>> [round(float(v), 4) for v in np.asarray(surrogate)]
    [5.0, -0.0036]

    References:
        - *BNN+: Improved Binary Network Training*, S. Darabi, M. Belbahri, M.
          Courbariaux, V. P. Nia, 2018. <https://arxiv.org/abs/1812.11800>
    """

    def __init__(self, beta=5.0, **kwargs):
        if not (is_finite_number(beta) and beta > 0):
            raise ValueError(f"`beta` must be a finite positive number; received {beta!r}.")
        self.beta = float(beta)
        super().__init__(**kwargs)

    def backward(self, x, upstream):
        # |z| beyond 80 gives a derivative below 1e-33: clip so z*tanh stays finite.
        z = ops.clip(self.beta * x, -80.0, 80.0)
        decay = ops.exp(-ops.abs(z))
        return upstream * (
            self.beta * (2.0 - z * ops.tanh(z / 2.0)) * 2.0 * decay / ops.square(1.0 + decay)
        )

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


@keras.saving.register_keras_serializable(package="keras_gradstab")
class SteHeaviside(ClippedSignQuantizer):
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

    def binarize(self, x):
        """The forward value: 1 where x > 0, else 0."""
        return mask(x > 0, x)
