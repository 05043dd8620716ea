"""WeightClip: keeps latent weights of binarized layers inside [-clip_value, clip_value]."""

import keras
from keras import ops

from keras_gradstab.ops._checks import is_finite_number


@keras.saving.register_keras_serializable(package="keras_gradstab")
class WeightClip(keras.constraints.Constraint):
    """Clips every weight to `[-clip_value, clip_value]` after each update (as Larq).

    Binarized layers train real-valued latent weights whose sign is used in the
    forward pass. With a clipped straight-through estimator the gradient is zero
    beyond the clip window, so a latent weight that leaves it can never come back;
    clipping keeps the latent weights where the estimator is alive.

    Args:
        clip_value: the bound, a positive number.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.constraints import WeightClip
    >>> keras.ops.convert_to_numpy(WeightClip(1.0)(np.array([-3.0, 0.5, 2.0]))).tolist()
    [-1.0, 0.5, 1.0]
    """

    def __init__(self, clip_value=1.0):
        if not (is_finite_number(clip_value) and clip_value > 0):
            raise ValueError(
                f"`clip_value` must be a finite positive number; received {clip_value!r}."
            )
        self.clip_value = float(clip_value)

    def __call__(self, w):
        return ops.clip(w, -self.clip_value, self.clip_value)

    def get_config(self):
        return {"clip_value": self.clip_value}
