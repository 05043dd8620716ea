"""ReSTE, the rectified straight-through estimator (Wu et al., ICCV 2023)."""

import functools

import keras
import numpy as np
from keras import ops

from keras_gradstab import backend
from keras_gradstab.ops._checks import is_finite_number
from keras_gradstab.quantizers.base import SignQuantizer, sign

# sign(|x| - s) * -_ZONE_SCALE + log(1/o) is >= 0 in the rectified zone and
# <= _FLOOR beyond the threshold, for any o < 2^1000; exp(_FLOOR + log s^(1/o - 1))
# and 2^(the same in base 2) are 0 in every float format (float64's smallest
# subnormal is 2^-1074). Both fit float16.
_ZONE_SCALE = 4096.0
_FLOOR = -3000.0


@functools.cache
def _next_float_above(value, dtype):
    """The smallest number of `dtype` above `value` (rounded to `dtype`), as a float."""
    dtype = keras.backend.standardize_dtype(dtype)
    if dtype == "bfloat16":  # the upper half of a float32, rounded to nearest even
        bits = int(np.float32(value).view(np.uint32))
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        return float(np.uint32((bits + 1) << 16).view(np.float32))
    rounded = np.asarray(value, dtype=dtype)
    bits = rounded.view(f"uint{8 * rounded.itemsize}")
    return float((bits + 1).view(dtype))


@keras.saving.register_keras_serializable(package="keras_gradstab")
class ReSTE(SignQuantizer):
    """Sign with the rectified straight-through estimator (ReSTE).

    Forward: `sign(x)` (sign(0) = +1). Backward: the derivative of the
    "equivalent forward" `f(x) = sign(x) |x|^(1/o)`, `o >= 1`, rectified near 0
    and cut beyond a threshold (Wu, Shen, Lin, Bai & Fu, "Estimator meets
    equilibrium perspective: a rectified straight through estimator for binary
    neural networks training", ICCV 2023):

    - `rectify < |x| <= threshold`: `(1/o) |x|^((1 - o)/o)`;
    - `|x| <= rectify`: `rectify^(1/o) / rectify`, the secant slope of `f` over
      `[0, rectify]` (the true derivative is infinite at 0);
    - `|x| > threshold`: 0.

    `o = 1` gives the clipped straight-through estimator with
    `clip_value=threshold`; a larger `o` lowers the estimating error (f is closer to
    sign) at the cost of gradient stability (larger, more varied gradients near 0).
    The paper raises `o` from 1 to 3 over training on a cosine schedule:
    `o` is a non-trainable variable so that
    `keras_gradstab.callbacks.ReSTESchedule` can change it without retracing the
    compiled train step.

    Args:
        o: the initial value of the power `o` (>= 1).
        threshold: the magnitude beyond which the gradient is zero (`t`, 1.5 in
            the paper).
        rectify: the half-width of the rectified zone around 0 (`m`, 0.1 in the
            paper), in `(0, threshold)`.

    Called as any `SignQuantizer`: +-1 in the dtype of the input.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.quantizers import ReSTE
    >>> quantizer = ReSTE(o=3.0)
    >>> surrogate = quantizer.derivative(np.array([0.0, 1.0, 2.0], "float32"))
    >>> [round(float(v), 4) for v in keras.ops.convert_to_numpy(surrogate)]
    [4.6416, 0.3333, 0.0]
    >>> _ = quantizer.o.assign(2.0)  # what ReSTESchedule does between steps
    >>> float(keras.ops.convert_to_numpy(quantizer.o))
    2.0

    References:
        - *Estimator Meets Equilibrium Perspective: A Rectified Straight Through
          Estimator for Binary Neural Networks Training*, X.-M. Wu, D. Zheng, Z.
          Liu, W.-S. Zheng, ICCV 2023. <https://arxiv.org/abs/2308.06689>
    """

    def __init__(self, o=3.0, threshold=1.5, rectify=0.1, **kwargs):
        if not (is_finite_number(o) and o >= 1):
            raise ValueError(f"`o` must be a finite number >= 1; received {o!r}.")
        if not (is_finite_number(threshold) and threshold > 0):
            raise ValueError(
                f"`threshold` must be a finite positive number; received {threshold!r}."
            )
        if not (isinstance(rectify, (int, float)) and 0 < rectify < threshold):
            raise ValueError(
                f"`rectify` must be a number in (0, threshold={threshold}); received {rectify!r}."
            )
        self.threshold = float(threshold)
        self.rectify = float(rectify)
        self.initial_o = float(o)
        super().__init__(**kwargs)
        self.o = self.add_weight(
            name="o",
            shape=(),
            dtype="float32",
            initializer=keras.initializers.Constant(self.initial_o),
            trainable=False,
        )

    def surrogate_params(self, x):
        # Read in the forward pass: a compiled step sees the variable's current value.
        return (ops.cast(self.o, x.dtype),)

    def derivative(self, x):
        """The surrogate derivative g'(x) at the current `o`, in the dtype of `x`."""
        return super().derivative(x)

    def backward(self, x, upstream, o):
        """`upstream * g'(x)`, g' as above at the power `o`."""
        # One exponential for all three zones, no comparisons:
        #   g' = exp((1/o - 1) log s + h),  s = clip(|x|, lower, threshold),
        # with `lower` the first float above `rectify` in x's dtype. sign(|x| - s)
        # is exactly -1 on |x| <= rectify (s = lower > |x|), 0 on rectify < |x| <=
        # threshold (s = |x|) and +1 beyond (s = threshold < |x|); h maps it to 0,
        # log(1/o) and a floor whose exponential underflows to 0:
        #   (1/o) |x|^(1/o - 1) in the power-law zone, lower^(1/o - 1) (the secant
        #   slope rectify^(1/o - 1), to one ulp of `rectify`) in the rectified zone.
        # The log never sees 0, so g' is finite everywhere. exp/log rather than
        # power(s, p): a pow with a tensor exponent costs ~15x more on CPU on XLA
        # and torch; comparisons cast to masks cost two passes each on torch. On
        # torch a plain backward pass runs the same formula in place (base 2,
        # exp2 is cheaper there), `backend.reste_backward`.
        lower = _next_float_above(self.rectify, x.dtype)
        fast = backend.reste_backward
        if fast is not None:
            grad = fast(x, upstream, o, lower, self.threshold, _ZONE_SCALE, _FLOOR)
            if grad is not None:
                return grad
        inverse = 1.0 / o
        clipped = ops.clip(ops.abs(x), lower, self.threshold)
        zone = ops.clip(
            ops.sign(ops.abs(x) - clipped) * -_ZONE_SCALE + ops.log(inverse), _FLOOR, 0.0
        )
        return upstream * ops.exp(ops.log(clipped) * (inverse - 1.0) + zone)

    def equivalent_forward(self, x):
        """f(x) = sign(x) |x|^(1/o) at the current `o` (no clipping)."""
        o = ops.cast(self.o, x.dtype)
        return sign(x) * ops.power(ops.abs(x), 1.0 / o)

    def get_config(self):
        return {
            **super().get_config(),
            "o": self.initial_o,
            "threshold": self.threshold,
            "rectify": self.rectify,
        }
