"""Channel normalization of the deep decoder (Dai & Heckel, 2019)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gradstab")
class ChannelNormalization(keras.layers.Layer):
    """Normalizes each channel of each example over its spatial positions.

    For every example and channel, `(x - mean) / sqrt(var + epsilon)` with
    the mean and variance taken over the spatial axes, then a learned
    per-channel scale and shift. This is the normalization of the deep
    decoder (Heckel & Hand, 2019); Dai & Heckel (2019) show that it keeps
    the gradients of a deep decoder fitting one image from vanishing. It has
    no batch statistics: training and inference compute the same thing, and
    each example is normalized on its own (instance normalization).

    Args:
        axis: the channel axis, default -1 (channels_last).
        epsilon: added to the variance, default 1e-5.
        center: learn a per-channel shift `beta`.
        scale: learn a per-channel scale `gamma`.
        beta_initializer: initializer of `beta`.
        gamma_initializer: initializer of `gamma`.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: a tensor of rank >= 3: batch, one or more spatial axes and
            the channel axis.

    Input shape:
        `(batch, spatial..., channels)` for `axis=-1`.

    Output shape:
        The input shape.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.layers import ChannelNormalization
    >>> x = np.random.default_rng(0).normal(3.0, 5.0, size=(2, 8, 8, 4)).astype("float32")
    >>> y = keras.ops.convert_to_numpy(ChannelNormalization()(x))
    >>> bool(np.allclose(y.mean(axis=(1, 2)), 0, atol=1e-5))
    True

    References:
        - *Channel Normalization in Convolutional Neural Networks Avoids Vanishing
          Gradients*, Z. Dai, R. Heckel, 2019.
    """

    def __init__(
        self,
        axis=-1,
        epsilon=1e-5,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise ValueError(f"`axis` must be an integer; received axis={axis!r}.")
        if not float(epsilon) > 0:
            raise ValueError(f"`epsilon` must be > 0; received epsilon={epsilon!r}.")
        self.axis = axis
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        if rank < 3:
            raise ValueError(
                "ChannelNormalization needs inputs of rank >= 3 (batch, spatial "
                f"axes, channels); received input_shape={tuple(input_shape)}."
            )
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"`axis` must be in [{-rank}, {rank - 1}] for inputs of rank {rank}; "
                f"received axis={self.axis} with input_shape={tuple(input_shape)}."
            )
        axis = self.axis % rank
        if axis == 0:
            raise ValueError("`axis` must not be the batch axis (0); received axis=0.")
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(
                f"The channel axis {self.axis} must have a known size; received "
                f"input_shape={tuple(input_shape)}."
            )
        self._channel_axis = axis
        self._reduce_axes = tuple(i for i in range(1, rank) if i != axis)
        self._param_shape = tuple(channels if i == axis else 1 for i in range(1, rank))
        self.gamma = (
            self.add_weight(name="gamma", shape=(channels,), initializer=self.gamma_initializer)
            if self.scale
            else None
        )
        self.beta = (
            self.add_weight(name="beta", shape=(channels,), initializer=self.beta_initializer)
            if self.center
            else None
        )

    def call(self, inputs):
        dtype = inputs.dtype
        # Statistics in float32 at least: bfloat16 variances are too coarse.
        x = ops.cast(inputs, "float32") if dtype in ("float16", "bfloat16") else inputs
        mean, variance = ops.moments(x, axes=self._reduce_axes, keepdims=True)
        y = (x - mean) * ops.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            y = y * ops.reshape(ops.cast(self.gamma, y.dtype), self._param_shape)
        if self.beta is not None:
            y = y + ops.reshape(ops.cast(self.beta, y.dtype), self._param_shape)
        return ops.cast(y, dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": keras.initializers.serialize(self.beta_initializer),
            "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
        }
