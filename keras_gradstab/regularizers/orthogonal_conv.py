"""The Lorth regularizer for convolution kernels (Achour et al., JMLR 2022)."""

import keras

from keras_gradstab.ops._checks import is_finite_number
from keras_gradstab.ops.conv_singular_values import normalize_strides
from keras_gradstab.ops.orthogonal_conv import check_orthogonal_conv, lorth


# Registered under a name of its own: the regularizer and the constraint share a class name.
@keras.saving.register_keras_serializable(
    package="keras_gradstab", name="OrthogonalConvRegularizer"
)
class OrthogonalConv(keras.regularizers.Regularizer):
    """Penalizes the distance of a convolution from an orthogonal one (Lorth).

    `factor * Lorth(K)`, with `Lorth(K) = ||conv(K, K, padding=P, stride=S) -
    I_r0||_F^2 - delta` (Achour, Malgouyres & Mamalet, JMLR 2022; Wang et al.,
    CVPR 2020), `P = floor((k - 1) / S) * S` per axis and
    `delta = max(0, M - prod(S) * C)`. The penalty is 0 exactly when the strided
    convolution with circular padding is orthogonal: row-orthogonal (an
    orthonormal set of rows, M <= C * prod(S)) or column-orthogonal (norm
    preserving, M > C * prod(S)). Works for 1D, 2D and 3D kernels, odd and even
    sizes, any stride <= kernel size; the kernel shape is read from the kernel.

    On its first call the existence rules of
    `keras_gradstab.ops.check_orthogonal_conv` run on the kernel's shape: an
    impossible (kernel size, stride, channels) combination raises ValueError.

    Args:
        factor: weight of the penalty, a float >= 0.
        strides: the stride of the convolution, an integer or one per spatial axis.
        transposed: set for the kernel of a Keras ConvTranspose layer
            (`[*kernel_size, filters, in_channels]`); then
            `delta = max(0, in_channels - prod(S) * filters)`.

    Example:

    >>> import keras
    >>> from keras_gradstab import regularizers
    >>> layer = keras.layers.Conv2D(
    ...     8, 3, strides=2, kernel_regularizer=regularizers.OrthogonalConv(0.1, strides=2))
    >>> y = layer(keras.ops.ones((1, 8, 8, 4)))
    >>> len(layer.losses)
    1

    References:
        - *Orthogonal Convolutional Neural Networks*, J. Wang, Y. Chen, R.
          Chakraborty, S. X. Yu, CVPR 2020. <https://arxiv.org/abs/1911.12207>
        - *Existence, Stability and Scalability of Orthogonal Convolutional Neural
          Networks*, E. M. Achour, F. Malgouyres, F. Mamalet, JMLR 23, 2022.
          <https://arxiv.org/abs/2108.05623>
    """

    def __init__(self, factor=0.01, strides=1, transposed=False):
        if not (is_finite_number(factor) and factor >= 0):
            raise ValueError(f"`factor` must be a finite number >= 0; received {factor!r}.")
        if not isinstance(strides, int):
            strides = tuple(strides)
        normalize_strides(strides, 1 if isinstance(strides, int) else len(strides))
        if not isinstance(transposed, bool):
            raise ValueError(f"`transposed` must be True or False; received {transposed!r}.")
        self.factor = float(factor)
        self.strides = strides
        self.transposed = transposed
        self._checked = None

    def __call__(self, kernel):
        rank = len(kernel.shape) - 2
        strides = normalize_strides(self.strides, rank)
        shape = tuple(kernel.shape)
        if self._checked != shape:
            in_ch, out_ch = shape[-2], shape[-1]
            if self.transposed:
                in_ch, out_ch = out_ch, in_ch
            check_orthogonal_conv(shape[:rank], strides, in_ch, out_ch, transposed=self.transposed)
            self._checked = shape
        return self.factor * lorth(kernel, strides, self.transposed)

    def get_config(self):
        strides = self.strides if isinstance(self.strides, int) else list(self.strides)
        return {"factor": self.factor, "strides": strides, "transposed": self.transposed}
