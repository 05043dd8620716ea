"""Delta-orthogonal convolution kernels (Xiao et al., ICML 2018)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gradstab")
class DeltaOrthogonal(keras.initializers.Initializer):
    """An orthogonal matrix at the centre tap of a convolution kernel, zeros elsewhere.

    For a kernel of shape `(k_1, ..., k_d, in_channels, out_channels)` the
    tap at `(k_1 // 2, ..., k_d // 2)` holds `gain` times a random orthogonal
    `in_channels x out_channels` matrix (orthonormal rows when
    `in_channels <= out_channels`), every other tap is 0. With "same" padding
    the convolution then maps each position's channels isometrically, the
    dynamical isometry that lets Xiao et al. ("Dynamical isometry and a mean
    field theory of CNNs") train 10,000-layer vanilla CNNs. For even kernel
    sizes the tap at `k // 2` is used.

    Args:
        gain: multiplies the orthogonal matrix (1 for linear or tanh
            networks at criticality; `sqrt(2)` is the relu analogue).
        seed: optional integer seed.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.initializers import DeltaOrthogonal
    >>> k = np.asarray(DeltaOrthogonal(seed=0)((3, 3, 4, 4)))
    >>> bool(np.allclose(k[1, 1].T @ k[1, 1], np.eye(4), atol=1e-5)), float(abs(k[0]).sum())
    (True, 0.0)

    References:
        - *Dynamical Isometry and a Mean Field Theory of CNNs*, L. Xiao, Y. Bahri,
          J. Sohl-Dickstein, S. S. Schoenholz, J. Pennington, ICML 2018.
          <https://arxiv.org/abs/1806.05393>
    """

    def __init__(self, gain=1.0, seed=None):
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"`seed` must be an integer or None; received seed={seed!r}.")
        self.gain = float(gain)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 3:
            raise ValueError(
                "DeltaOrthogonal initializes convolution kernels of shape "
                "(k_1, ..., k_d, in_channels, out_channels); received shape "
                f"{shape}. Use keras.initializers.Orthogonal for matrices."
            )
        spatial, (n_in, n_out) = shape[:-2], shape[-2:]
        centre = keras.initializers.Orthogonal(gain=self.gain, seed=self.seed)(
            (n_in, n_out), dtype=dtype
        )
        centre = ops.reshape(centre, (1,) * len(spatial) + (n_in, n_out))
        padding = [(k // 2, k - 1 - k // 2) for k in spatial] + [(0, 0), (0, 0)]
        return ops.pad(centre, padding)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}
