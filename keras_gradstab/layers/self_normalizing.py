"""Alpha dropout that keeps any SELU fixed point (Klambauer et al., 2017)."""

import math

import keras
from keras import ops

from keras_gradstab.activations.selu import selu_parameters


def _check_rate(rate):
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(
            f"`rate` must be a float in [0, 1) (the probability of dropping a unit); "
            f"received rate={rate!r}."
        )
    return float(rate)


def _check_fixed_point(fixed_point):
    try:
        mean, variance = (float(v) for v in fixed_point)
    except (TypeError, ValueError):
        raise ValueError(
            "`fixed_point` must be a pair (mean, variance) of floats; received "
            f"fixed_point={fixed_point!r}."
        ) from None
    if not variance > 0:
        raise ValueError(
            f"`fixed_point` must have a variance > 0; received fixed_point={fixed_point!r}."
        )
    return mean, variance


def alpha_dropout_affine(rate, fixed_point=(0.0, 1.0)):
    """The saturation value and the affine map (a, b) of alpha dropout.

    Dropped units are set to `saturation = -scale * alpha`, the negative
    limit of the SELU of `selu_parameters(*fixed_point)`; then `a * x + b`
    restores the mean `mu` and variance `nu` of the fixed point. With keep
    probability q = 1 - rate (Klambauer et al., section "New Dropout
    Technique", for general (mu, nu)):

        a = sqrt(nu / (q ((1 - q) (saturation - mu)^2 + nu)))
        b = mu - a (q mu + (1 - q) saturation)

    Args:
        rate: the drop probability, in [0, 1).
        fixed_point: `(mu, nu)`.

    Returns:
        A tuple `(saturation, a, b)` of Python floats.

    Example:

    >>> from keras_gradstab.layers import alpha_dropout_affine
    >>> saturation, a, b = alpha_dropout_affine(0.1)
    >>> round(saturation, 6), round(a, 6), round(b, 6)
    (-1.758099, 0.921285, 0.161971)

    References:
        - *Self-Normalizing Neural Networks*, G. Klambauer, T. Unterthiner, A. Mayr,
          S. Hochreiter, NeurIPS 2017. <https://arxiv.org/abs/1706.02515>
    """
    rate = _check_rate(rate)
    mean, variance = _check_fixed_point(fixed_point)
    alpha, scale = selu_parameters(mean, variance)
    saturation = -scale * alpha
    q = 1.0 - rate
    a = math.sqrt(variance / (q * ((1 - q) * (saturation - mean) ** 2 + variance)))
    b = mean - a * (q * mean + (1 - q) * saturation)
    return saturation, a, b


@keras.saving.register_keras_serializable(package="keras_gradstab")
class AlphaDropout(keras.layers.Layer):
    """Dropout that keeps the mean and variance of a SELU fixed point.

    During training each unit is dropped with probability `rate` and set to
    the SELU's saturation value `-scale * alpha` (not to 0, which would move
    the mean and variance), and the result goes through the affine map
    `a * x + b` that restores the fixed point `(mu, nu)` for inputs with that
    mean and variance (see `alpha_dropout_affine`). Unlike
    `keras.layers.AlphaDropout`, which only knows (0, 1), any fixed point
    with a SELU (`keras_gradstab.activations.selu_parameters`) works. At
    inference the layer is the identity.

    Args:
        rate: float in [0, 1), the probability of dropping a unit.
        fixed_point: `(mean, variance)` of the SELU fixed point to keep;
            default `(0.0, 1.0)`.
        noise_shape: optional shape of the drop mask, broadcast over the
            input (`None` entries take the input's size), as in
            `keras.layers.Dropout`.
        seed: optional integer seed of the drop mask.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of any shape.
        training: whether to drop units (`False`: the identity).

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.layers import AlphaDropout
    >>> x = np.random.default_rng(0).normal(size=(20000, 8)).astype("float32")
    >>> y = np.asarray(AlphaDropout(0.1, seed=1)(x, training=True))
    >>> bool(abs(y.mean()) < 0.03 and abs(y.var() - 1) < 0.05)
    True

    References:
        - *Self-Normalizing Neural Networks*, G. Klambauer, T. Unterthiner, A. Mayr,
          S. Hochreiter, NeurIPS 2017. <https://arxiv.org/abs/1706.02515>
    """

    def __init__(self, rate, fixed_point=(0.0, 1.0), noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate(rate)
        self.fixed_point = _check_fixed_point(fixed_point)
        self.saturation, self.a, self.b = alpha_dropout_affine(self.rate, self.fixed_point)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        if self.rate > 0:
            self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self._build_at_init()

    def _mask_shape(self, inputs):
        shape = ops.shape(inputs)
        if self.noise_shape is None:
            return shape
        return tuple(shape[i] if s is None else s for i, s in enumerate(self.noise_shape))

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = keras.random.uniform(self._mask_shape(inputs), seed=self.seed_generator) >= self.rate
        x = ops.where(keep, inputs, ops.cast(self.saturation, inputs.dtype))
        return ops.cast(self.a, inputs.dtype) * x + ops.cast(self.b, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "fixed_point": list(self.fixed_point),
            "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="keras_gradstab")
class FeatureAlphaDropout(AlphaDropout):
    """Alpha dropout of whole channels (feature maps).

    The mask has one entry per example and channel, shared over every
    spatial position, as in PyTorch's `FeatureAlphaDropout`; the saturation
    value and the affine map are those of `AlphaDropout`, so the fixed point
    is kept per unit just as well (each unit still sees a drop with
    probability `rate`).

    Args:
        rate: float in [0, 1), the probability of dropping a channel.
        fixed_point: `(mean, variance)` of the SELU fixed point to keep.
        data_format: `"channels_last"` or `"channels_first"`; default
            `keras.config.image_data_format()`.
        seed: optional integer seed.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: a tensor of rank >= 3 (batch, spatial..., channels) for
            channels_last.
        training: whether to drop channels.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.layers import FeatureAlphaDropout
    >>> x = np.zeros((2, 5, 5, 3), "float32")
    >>> y = np.asarray(FeatureAlphaDropout(0.5, seed=0)(x, training=True))
    >>> bool(np.all(y == y[:, :1, :1, :]))  # constant over positions
    True

    References:
        - *Self-Normalizing Neural Networks*, G. Klambauer, T. Unterthiner, A. Mayr,
          S. Hochreiter, NeurIPS 2017. <https://arxiv.org/abs/1706.02515>
    """

    def __init__(self, rate, fixed_point=(0.0, 1.0), data_format=None, seed=None, **kwargs):
        kwargs.pop("noise_shape", None)
        super().__init__(rate, fixed_point=fixed_point, seed=seed, **kwargs)
        data_format = data_format or keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                "`data_format` must be 'channels_last' or 'channels_first'; "
                f"received {data_format!r}."
            )
        self.data_format = data_format

    def _mask_shape(self, inputs):
        shape = ops.shape(inputs)
        rank = len(shape)
        if rank < 3:
            raise ValueError(
                "FeatureAlphaDropout needs inputs of rank >= 3 (batch, spatial "
                f"axes, channels); received an input of shape {tuple(shape)}."
            )
        if self.data_format == "channels_last":
            return (shape[0],) + (1,) * (rank - 2) + (shape[-1],)
        return (shape[0], shape[1]) + (1,) * (rank - 2)

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape")
        config["data_format"] = self.data_format
        return config
