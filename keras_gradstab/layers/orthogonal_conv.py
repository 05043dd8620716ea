"""Convolutions that are exactly orthogonal by construction (circular padding).

The kernel is a product of orthogonal factors (block convolutional orthogonal
parametrization, BCOP: Li et al., NeurIPS 2019; Xiao et al., ICML 2018): an
orthogonal 1x1 kernel `Q`, then for each spatial axis `k - 1` two-tap kernels
`[P, I - P]` along that axis, with `P = U U^T` a symmetric projector. Each
factor is an orthogonal convolution for circular padding on any input size
(`P^T P + (I-P)^T (I-P) = I` and `P^T (I - P) = 0`), so their composition, a
convolution with kernel size `k`, is one too. `Q` and `U` come from the Cayley
transform of free skew-symmetric matrices (`keras_gradstab.ops.cayley`).

Strides go through an invertible space-to-depth reshape (a permutation of the
input, Trockman & Kolter, ICLR 2021) followed by the stride-1 orthogonal
convolution. With C' = C * prod(strides) input channels after the reshape and
M outputs, the factors act on D = max(C', M) channels and the kernel keeps the
first C' input and M output channels: row-orthogonal (orthonormal rows, M < C')
or column-orthogonal (norm preserving, M > C').
"""

import math

import keras
from keras import ops

from keras_gradstab.ops.cayley import cayley
from keras_gradstab.ops.circular_pad import PADDINGS, padded_conv
from keras_gradstab.ops.conv_singular_values import normalize_strides
from keras_gradstab.ops.matmul import matmul
from keras_gradstab.ops.orthogonal_conv import check_orthogonal_conv


def space_to_depth(x, strides):
    """`[B, *spatial, C]` -> `[B, *(spatial / strides), prod(strides) * C]`, a permutation."""
    rank = len(strides)
    spatial = list(x.shape[1:-1])
    channels = x.shape[-1]
    split = []
    for n, s in zip(spatial, strides):
        split += [n // s, s]
    x = ops.reshape(x, [-1] + split + [channels])
    order = [0] + [1 + 2 * i for i in range(rank)] + [2 + 2 * i for i in range(rank)]
    x = ops.transpose(x, order + [2 * rank + 1])
    return ops.reshape(
        x, [-1] + [n // s for n, s in zip(spatial, strides)] + [math.prod(strides) * channels]
    )


class _OrthogonalConv(keras.layers.Layer):
    rank = None

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="circular",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
            raise ValueError(f"`filters` must be an integer >= 1; received {filters!r}.")
        self.filters = filters
        self.kernel_size = normalize_strides(kernel_size, self.rank, name="kernel_size")
        self.strides = normalize_strides(strides, self.rank)
        if padding not in PADDINGS:
            raise ValueError(f"`padding` must be one of {PADDINGS}; received {padding!r}.")
        self.padding = padding
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.input_spec = keras.layers.InputSpec(ndim=self.rank + 2)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("The channel axis of the input must be known at build time.")
        spatial = input_shape[1:-1]
        for axis, (n, s, k) in enumerate(zip(spatial, self.strides, self.kernel_size), 1):
            if s > 1 and (n is None or n % s):
                raise ValueError(
                    f"With strides={self.strides}, spatial axis {axis} of the input must be "
                    f"known and divisible by {s} (space-to-depth); received input shape "
                    f"{tuple(input_shape)}."
                )
            if n is not None and self.padding == "circular" and k - 1 > n // s:
                raise ValueError(
                    f"kernel_size={self.kernel_size} is too large for circular padding of "
                    f"an input of shape {tuple(input_shape)} (after strides {self.strides})."
                )
        # The layer equals a strided convolution with kernel strides * kernel_size.
        check_orthogonal_conv(
            tuple(k * s for k, s in zip(self.kernel_size, self.strides)),
            self.strides,
            channels,
            self.filters,
            padding=self.padding,
            exact_construction=True,
        )
        self.reshaped_channels = channels * math.prod(self.strides)
        size = max(self.reshaped_channels, self.filters)
        self.orthogonal = self.add_weight(
            name="orthogonal",
            shape=(size, size),
            initializer=self.kernel_initializer,
            autocast=False,  # solves in bfloat16 are inaccurate, and missing on CPU
        )
        blocks = sum(k - 1 for k in self.kernel_size)
        self.projectors = None
        if blocks:
            self.projectors = self.add_weight(
                name="projectors",
                shape=(blocks, size, size),
                initializer=self.kernel_initializer,
                autocast=False,
            )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer
            )

    def orthogonal_kernel(self):
        """The kernel `[*kernel_size, C * prod(strides), filters]` of the stride-1
        convolution applied after space-to-depth; orthogonal for circular padding."""
        a = ops.convert_to_tensor(self.orthogonal)
        size = a.shape[-1]
        kernel = ops.reshape(cayley(a - ops.transpose(a)), (1,) * self.rank + (size, size))
        if self.projectors is not None:
            p = ops.convert_to_tensor(self.projectors)
            skew = p - ops.swapaxes(p, -1, -2)
            # One unbatched solve per projector: jaxlib's batched triangular solve
            # splits its batch over the XLA CPU thread pool from inside that pool
            # and deadlocked training here on a 2-core machine (both pool threads
            # waiting for sub-tasks that no thread was free to run).
            u = ops.stack([cayley(skew[i]) for i in range(skew.shape[0])])
            u = u[..., : (size + 1) // 2]
            projector = u @ ops.swapaxes(u, -1, -2)
            eye = ops.eye(size, dtype=projector.dtype)
            index = 0
            for axis, k in enumerate(self.kernel_size):
                for _ in range(k - 1):
                    after = [(0, 0)] * (self.rank + 2)
                    before = [(0, 0)] * (self.rank + 2)
                    after[axis], before[axis] = (0, 1), (1, 0)
                    # Composition with the two-tap kernel [P, I - P] along `axis`.
                    kernel = matmul(ops.pad(kernel, after), projector[index]) + matmul(
                        ops.pad(kernel, before), eye - projector[index]
                    )
                    index += 1
        return kernel[..., : self.reshaped_channels, : self.filters]

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if any(s > 1 for s in self.strides):
            x = space_to_depth(x, self.strides)
        kernel = ops.cast(self.orthogonal_kernel(), self.compute_dtype)
        y = padded_conv(x, kernel, (1,) * self.rank, self.padding)
        if self.bias is not None:
            y = y + ops.cast(self.bias, self.compute_dtype)
        return y

    def compute_output_shape(self, input_shape):
        spatial = []
        for n, s, k in zip(input_shape[1:-1], self.strides, self.kernel_size):
            if n is None:
                spatial.append(None)
            else:
                spatial.append(n // s - (k - 1 if self.padding == "valid" else 0))
        return (input_shape[0], *spatial, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


_DOC = """{rank}D convolution, orthogonal for circular padding, any stride.

    The convolution, with `padding="circular"`, is exactly orthogonal by
    construction (up to float rounding): its kernel is a product of an orthogonal
    1x1 kernel and two-tap projector kernels `[P, I - P]` (BCOP, Li et al.,
    NeurIPS 2019), each from a Cayley transform. `strides` run through an
    invertible space-to-depth reshape, then a stride-1 convolution with
    `kernel_size` on the reshaped input (so the layer equals a strided
    convolution with kernel `strides * kernel_size`). With C' = in_channels *
    prod(strides) != filters it is row-orthogonal (filters < C': orthonormal rows)
    or column-orthogonal (filters > C': norm preserving). Zero `"same"` or
    `"valid"` padding are accepted with a warning: they break orthogonality at the
    boundary.

    Args:
        filters: output channels.
        kernel_size: an integer or {rank} integers (>= 1; even sizes allowed).
        strides: an integer or {rank} integers; the spatial input sizes must be
            divisible by them.
        padding: "circular" (exactly orthogonal), "same" or "valid".
        use_bias: whether to add a bias (a bias does not change the Jacobian).
        kernel_initializer: initializer of the free (pre-Cayley) matrices.
        bias_initializer: initializer of the bias.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `{shape}`, channels last.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab import layers, ops
    >>> layer = layers.{name}(6, 3, strides=2)
    >>> y = layer(np.random.normal(size={example}).astype("float32"))
    >>> s = ops.conv_singular_values(layer.orthogonal_kernel(), {grid})
    >>> bool(np.allclose(keras.ops.convert_to_numpy(s), 1.0, atol=1e-4))
    True

    References:
        - *Preventing Gradient Attenuation in Lipschitz Constrained Convolutional
          Networks*, Q. Li, S. Haque, C. Anil, J. Lucas, R. Grosse, J.-H. Jacobsen,
          NeurIPS 2019.
        - *Existence, Stability and Scalability of Orthogonal Convolutional Neural
          Networks*, E. M. Achour, F. Malgouyres, F. Mamalet, JMLR 23, 2022.
          <https://arxiv.org/abs/2108.05623>
    """


@keras.saving.register_keras_serializable(package="keras_gradstab")
class OrthogonalConv1D(_OrthogonalConv):
    rank = 1


@keras.saving.register_keras_serializable(package="keras_gradstab")
class OrthogonalConv2D(_OrthogonalConv):
    rank = 2


def _document(cls, shape, example, grid):
    """Sets the docstring of the layer class `cls` of rank `cls.rank` from `_DOC`."""
    cls.__doc__ = _DOC.format(
        rank=cls.rank, name=cls.__name__, shape=shape, example=example, grid=grid
    )


_document(OrthogonalConv1D, "[batch, steps, channels]", "(2, 16, 4)", "(8,)")
_document(OrthogonalConv2D, "[batch, rows, cols, channels]", "(2, 8, 8, 3)", "(4, 4)")
