"""The k-bit DoReFa quantizer (Zhou et al., 2016) with its straight-through gradient."""

import keras
from keras import ops

from keras_gradstab.quantizers.base import Quantizer, mask, straight_through


@keras.saving.register_keras_serializable(package="keras_gradstab")
class DoReFa(Quantizer):
    """k-bit uniform quantization of DoReFa-Net, as Larq's `DoReFa`.

    `mode="activations"`: `q(x) = round(clip(x, 0, 1) (2^k - 1)) / (2^k - 1)`, with
    gradient 1 on `0 <= x <= 1` and 0 elsewhere (the derivative of the clip; the
    rounding is passed straight through).

    `mode="weights"`: `w = tanh(x) / (2 max|tanh(x)|) + 1/2` maps the weights into
    [0, 1], which is quantized as above and mapped back to [-1, 1] by `2 q - 1`;
    the gradient flows through the tanh normalization and straight through the
    rounding. Where all weights are zero the division is Larq's `divide_no_nan`:
    `w = 1/2` and the gradient is exactly 0.

    The gradient at the largest `|weight|`, with `t = tanh(x)`, `m = max|t|` and
    `g` the upstream gradient of `w`: by default it is the exact derivative of the
    normalization, the max included, so `dw/dt` gives the weight that sets the
    scale `-sign(t_m) sum_{j != m} g_j t_j / (2 m^2)` (its own term cancels, as
    `t_m / |t_m|` is constant) and every other weight `g_i / (2 m)`. With
    `stop_max_gradient=True`, `m` is a constant of the backward pass, as in Larq's
    `DoReFa`: every weight, the largest included, receives `g_i / (2 m)`. Both
    are multiplied by `1 - t_i^2` for the gradient with respect to `x`.

    Args:
        k_bit: the number of bits of the output, an integer >= 1.
        mode: `"activations"` or `"weights"`.
        stop_max_gradient: weights mode only; `False` (default) differentiates
            through `max|tanh(x)|`, `True` stops the gradient there (Larq's rule).

    Call arguments:
        inputs: a floating tensor.

    Returns:
        Multiples of `1 / (2^k - 1)` in [0, 1] (activations) or of
        `2 / (2^k - 1)` in [-1, 1] (weights), in the dtype of `inputs`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.quantizers import DoReFa
    >>> keras.ops.convert_to_numpy(DoReFa(k_bit=2)(np.array([-0.5, 0.2, 0.5, 2.0], "float32"))).tolist()
    [0.0, 0.3333333432674408, 0.6666666865348816, 1.0]

    References:
        - *DoReFa-Net: Training Low Bitwidth Convolutional Neural Networks with Low
          Bitwidth Gradients*, S. Zhou, Y. Wu, Z. Ni, X. Zhou, H. Wen, Y. Zou, 2016.
          <https://arxiv.org/abs/1606.06160>
    """

    def __init__(self, k_bit=2, mode="activations", stop_max_gradient=False, **kwargs):
        if isinstance(k_bit, bool) or not isinstance(k_bit, int) or k_bit < 1:
            raise ValueError(f"`k_bit` must be an integer >= 1; received {k_bit!r}.")
        if mode not in ("activations", "weights"):
            raise ValueError(f"`mode` must be 'activations' or 'weights'; received {mode!r}.")
        if not isinstance(stop_max_gradient, bool):
            raise ValueError(
                f"`stop_max_gradient` must be True or False; received {stop_max_gradient!r}."
            )
        self.k_bit = k_bit
        self.mode = mode
        self.stop_max_gradient = stop_max_gradient
        super().__init__(**kwargs)

    @property
    def precision(self):
        return self.k_bit

    def _round(self, x):
        levels = 2.0**self.k_bit - 1.0
        return ops.round(x * levels) / levels

    def call(self, inputs):
        if self.mode == "activations":
            inside = ops.logical_and(inputs >= 0, inputs <= 1)
            quantized = self._round(ops.clip(inputs, 0.0, 1.0))
            return straight_through(inputs, quantized, ops.cast(inside, inputs.dtype))
        squashed = ops.tanh(inputs)
        peak = ops.max(ops.abs(squashed))
        if self.stop_max_gradient:
            peak = ops.stop_gradient(peak)
        # divide_no_nan: an all-zero kernel gives 0 / 1 and a zero gradient; for
        # peak > 0, `nonzero` is exactly 1 and the denominator exactly `2 peak`.
        nonzero = mask(peak > 0, squashed)
        unit = squashed * nonzero / (2.0 * (peak + 1.0 - nonzero)) + 0.5
        return 2.0 * straight_through(unit, self._round(unit)) - 1.0

    def get_config(self):
        return {
            **super().get_config(),
            "k_bit": self.k_bit,
            "mode": self.mode,
            "stop_max_gradient": self.stop_max_gradient,
        }
