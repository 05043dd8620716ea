"""Circular (periodic) padding layers: Keras has zero padding only."""

import keras

from keras_gradstab.ops.circular_pad import circular_pad


def _normalize(padding, rank):
    if isinstance(padding, int):
        padding = (padding,) * rank
    try:
        pairs = tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)
    except TypeError:
        pairs = ()
    if len(pairs) != rank or any(
        len(p) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in p)
        for p in pairs
    ):
        raise ValueError(
            f"`padding` must be an integer >= 0, {rank} of them, or {rank} pairs "
            f"(left, right); received {padding!r}."
        )
    return pairs


class _CircularPadding(keras.layers.Layer):
    rank = None

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = _normalize(padding, self.rank)
        self.input_spec = keras.layers.InputSpec(ndim=self.rank + 2)

    def build(self, input_shape):
        for axis, (left, right) in enumerate(self.padding, start=1):
            n = input_shape[axis]
            if n is not None and max(left, right) > n:
                raise ValueError(
                    f"Circular padding ({left}, {right}) needs spatial axis {axis} of the "
                    f"input to have length >= {max(left, right)}; received input shape "
                    f"{tuple(input_shape)}."
                )

    def call(self, inputs):
        return circular_pad(inputs, self.padding)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (left, right) in enumerate(self.padding, start=1):
            if shape[axis] is not None:
                shape[axis] += left + right
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}


@keras.saving.register_keras_serializable(package="keras_gradstab")
class CircularPadding1D(_CircularPadding):
    """Pads the steps of a sequence periodically (wrap-around), channels last.

    A "valid" convolution after it is the circular convolution of the input:
    the boundary under which convolutions can be exactly orthogonal.

    Args:
        padding: an integer (both sides) or a pair `(left, right)`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `[batch, steps, channels]`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab import layers
    >>> x = np.arange(3, dtype="float32").reshape(1, 3, 1)
    >>> keras.ops.convert_to_numpy(layers.CircularPadding1D(1)(x))[0, :, 0].tolist()
    [2.0, 0.0, 1.0, 2.0, 0.0]
    """

    rank = 1

    def __init__(self, padding=1, **kwargs):
        if (
            isinstance(padding, (tuple, list))
            and len(padding) == 2
            and all(isinstance(p, int) for p in padding)
        ):
            padding = (tuple(padding),)
        elif (
            isinstance(padding, (tuple, list))
            and len(padding) == 1
            and isinstance(padding[0], (tuple, list))
        ):
            padding = (tuple(padding[0]),)
        super().__init__(padding, **kwargs)


@keras.saving.register_keras_serializable(package="keras_gradstab")
class CircularPadding2D(_CircularPadding):
    """Pads the rows and columns of an image periodically (a torus), channels last.

    Args:
        padding: an integer (all sides), a pair `(rows, cols)` (symmetric), or
            `((top, bottom), (left, right))`, as `keras.layers.ZeroPadding2D`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `[batch, rows, cols, channels]`.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab import layers
    >>> tuple(layers.CircularPadding2D(((1, 0), (2, 2)))(np.ones((1, 4, 4, 3))).shape)
    (1, 5, 8, 3)
    """

    rank = 2
