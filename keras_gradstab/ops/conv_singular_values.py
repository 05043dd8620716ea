"""Singular values of a convolution seen as a linear map, exact or bounded.

Circular padding at stride 1 block-diagonalizes in the Fourier basis (Sedghi,
Gupta & Long, "The singular values of convolutional layers", ICLR 2019): the
singular values of the convolution are those of the C x M matrices
`K_hat(f) = sum_j K[j] exp(-2 pi i f.j / n)`, one per frequency `f` of the input
grid. Any other padding or stride is measured on the dense operator (built by
convolving impulses), or bounded by power iteration when that is too large.
"""

import math

import numpy as np
from keras import ops

from keras_gradstab.ops._checks import conv_kernel, require_int
from keras_gradstab.ops.circular_pad import PADDINGS, conv_pads, padded_conv, slice_axis

# Largest input (spatial size times channels) for which the dense operator is built.
MAX_DENSE_SIZE = 4096


def _check_conv_args(kernel, input_shape, strides, padding):
    kernel, rank = conv_kernel(kernel)
    spatial = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    if len(spatial) != rank or any(
        isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in spatial
    ):
        raise ValueError(
            f"`input_shape` must be the {rank} spatial sizes of the input (positive "
            f"integers, no batch or channel axis); received {input_shape!r}."
        )
    strides = normalize_strides(strides, rank)
    if padding not in PADDINGS:
        raise ValueError(f"`padding` must be one of {PADDINGS}; received {padding!r}.")
    if padding == "valid" and any(n < k for n, k in zip(spatial, kernel.shape[:rank])):
        raise ValueError(
            f"With padding='valid' every spatial size of `input_shape` {spatial} must "
            f"be >= the kernel size {tuple(kernel.shape[:rank])}."
        )
    return kernel, spatial, strides


def normalize_strides(strides, rank, name="strides"):
    """`strides` as a tuple of `rank` integers >= 1, or a ValueError naming it."""
    values = (strides,) * rank if isinstance(strides, int) else tuple(strides)
    if len(values) != rank:
        raise ValueError(f"`{name}` must be an integer or {rank} integers; received {strides!r}.")
    for v in values:
        require_int(name, v, minimum=1)
    return values


def kernel_spectrum(kernel, spatial):
    """The DFT of `kernel` zero-padded to `spatial`: (real, imag), `[*spatial, C, M]`.

    The transform is a contraction with `n x k` DFT matrices per axis: exact, and
    cheaper than an FFT of the padded kernel when k is much smaller than n.
    Taps beyond n wrap around, as they do in a circular convolution.
    """
    rank = len(spatial)
    real, imag = kernel, None
    for axis in range(rank):
        n, k = spatial[axis], kernel.shape[axis]
        angle = -2.0 * np.pi * np.outer(np.arange(n), np.arange(k)) / n
        cos = ops.cast(np.cos(angle), kernel.dtype)
        sin = ops.cast(np.sin(angle), kernel.dtype)

        def along(matrix, x, axis=axis):
            return ops.moveaxis(ops.tensordot(matrix, x, axes=[[1], [axis]]), 0, axis)

        if imag is None:
            real, imag = along(cos, real), along(sin, real)
        else:
            real, imag = (
                along(cos, real) - along(sin, imag),
                along(sin, real) + along(cos, imag),
            )
    return real, imag


def complex_as_real(real, imag):
    """The real `[2C, 2M]` matrix [[Re, -Im], [Im, Re]] of complex `[C, M]` matrices.

    Its singular values are those of the complex matrix, each appearing twice.
    """
    top = ops.concatenate([real, -imag], axis=-1)
    bottom = ops.concatenate([imag, real], axis=-1)
    return ops.concatenate([top, bottom], axis=-2)


def _descending(values):
    return ops.flip(ops.sort(ops.reshape(values, (-1,))), axis=0)


def dense_conv_operator(kernel, input_shape, strides=1, padding="circular"):
    """The convolution as a dense matrix `[n_in, n_out]`, built by convolving impulses.

    Row `i` is the (flattened) output for the `i`-th impulse of the flattened input
    `[*input_shape, in_channels]`, so `y = x @ matrix` for flattened `x` and `y`.

    Args:
        kernel: `[*kernel_size, in_channels, out_channels]` (the Keras layout).
        input_shape: the spatial sizes of the input.
        strides: an integer or one per spatial axis.
        padding: "circular", "same" (zeros) or "valid".

    Returns:
        The matrix, `[prod(input_shape) * in_channels, n_outputs]`.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab import ops
    >>> kernel = np.zeros((3, 1, 1), "float32"); kernel[1] = 1.0
    >>> m = ops.dense_conv_operator(kernel, (4,))
    >>> bool(np.allclose(np.asarray(m), np.eye(4)))
    True

    References:
        - *The Singular Values of Convolutional Layers*, H. Sedghi, V. Gupta, P. M.
          Long, ICLR 2019. <https://arxiv.org/abs/1805.10408>
    """
    kernel, spatial, strides = _check_conv_args(kernel, input_shape, strides, padding)
    channels = kernel.shape[-2]
    size = math.prod(spatial) * channels
    if size > MAX_DENSE_SIZE:
        raise ValueError(
            f"The input ({spatial} x {channels} channels = {size} values) is too "
            f"large for a dense operator (at most {MAX_DENSE_SIZE}); use "
            "`conv_spectral_bounds` instead."
        )
    impulses = ops.reshape(ops.eye(size, dtype=kernel.dtype), (size, *spatial, channels))
    outputs = padded_conv(impulses, kernel, strides, padding)
    return ops.reshape(outputs, (size, -1))


def conv_singular_values(kernel, input_shape, strides=1, padding="circular"):
    """All singular values of a convolution on an input of a given size.

    With circular padding and stride 1 the values are exact and cheap: the
    singular values of the C x M Fourier transform of the kernel at each of the
    `prod(input_shape)` frequencies (Sedghi et al., ICLR 2019). Otherwise they
    come from the SVD of the dense operator (`dense_conv_operator`), for inputs
    of at most `MAX_DENSE_SIZE` values; use `conv_spectral_bounds` beyond.

    The convolution is Keras's (a cross-correlation, `y = conv(x, kernel)`, with
    the kernel in the `[*kernel_size, in_channels, out_channels]` layout of
    `keras.layers.Conv1D/2D/3D`). A convolution is orthogonal (row-orthogonal
    when it has fewer outputs than inputs, column-orthogonal otherwise) exactly
    when all these values equal 1.

    Args:
        kernel: `[*kernel_size, in_channels, out_channels]`, 1 to 3 spatial axes.
        input_shape: the spatial sizes of the input, e.g. `(32, 32)`.
        strides: an integer or one per spatial axis.
        padding: "circular" (periodic boundary), "same" (zeros, placed as Keras
            places them) or "valid".

    Returns:
        A 1-D tensor of the `min(n_inputs, n_outputs)` singular values, largest first.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab import ops
    >>> kernel = np.zeros((3, 3, 2, 2), "float32"); kernel[1, 1] = np.eye(2)
    >>> s = keras.ops.convert_to_numpy(ops.conv_singular_values(kernel, (8, 8)))
    >>> s.shape, bool(np.allclose(s, 1.0))
    ((128,), True)

    References:
        - *The Singular Values of Convolutional Layers*, H. Sedghi, V. Gupta, P. M.
          Long, ICLR 2019. <https://arxiv.org/abs/1805.10408>
    """
    kernel, spatial, strides = _check_conv_args(kernel, input_shape, strides, padding)
    if padding == "circular" and all(s == 1 for s in strides):
        real, imag = kernel_spectrum(kernel, spatial)
        doubled = ops.svd(complex_as_real(real, imag), compute_uv=False)
        # Each value appears twice in the real form; keep one of each pair.
        values = ops.sort(doubled, axis=-1)[..., ::2]
        return _descending(values)
    matrix = dense_conv_operator(kernel, spatial, strides, padding)
    return _descending(ops.svd(matrix, compute_uv=False))


def _adjoint_conv(y, kernel, spatial, strides, padding):
    """The transpose of `padded_conv` as a map, for outputs `y` of the convolution."""
    rank = len(spatial)
    ksize = kernel.shape[:rank]
    pairs = conv_pads(ksize, spatial, strides, padding)
    padded = [n + left + right for n, (left, right) in zip(spatial, pairs)]
    # Undo the subsampling: put y[t] at t * stride, zeros between.
    for axis, s in enumerate(strides, start=1):
        if s > 1:
            zeros = ops.zeros_like(y)
            y = ops.stack([y] + [zeros] * (s - 1), axis=axis + 1)
            shape = list(y.shape)
            y = ops.reshape(y, [-1] + shape[1:axis] + [shape[axis] * s] + shape[axis + 2 :])
        valid = padded[axis - 1] - ksize[axis - 1] + 1
        index = [slice(None)] * len(y.shape)
        index[axis] = slice(0, valid)
        y = y[tuple(index)]
    # The transpose of a valid correlation: a full correlation with the flipped,
    # channel-transposed kernel.
    flipped = ops.flip(kernel, axis=tuple(range(rank)))
    flipped = ops.swapaxes(flipped, -1, -2)
    y = ops.pad(y, [(0, 0)] + [(k - 1, k - 1) for k in ksize] + [(0, 0)])
    z = ops.conv(y, flipped, strides=1, padding="valid")
    # The transpose of the padding: crop, and for circular padding fold the wrapped
    # borders back onto the entries they were copied from.
    for axis, (n, (left, right)) in enumerate(zip(spatial, pairs), start=1):
        middle = slice_axis(z, axis, left, left + n)
        if padding == "circular":
            if left:
                head = slice_axis(z, axis, 0, left)
                middle = middle + ops.pad(head, _pad_axis(len(z.shape), axis, n - left, 0))
            if right:
                tail = slice_axis(z, axis, left + n, left + n + right)
                middle = middle + ops.pad(tail, _pad_axis(len(z.shape), axis, 0, n - right))
        z = middle
    return z


def _pad_axis(ndim, axis, before, after):
    pads = [(0, 0)] * ndim
    pads[axis] = (before, after)
    return pads


def conv_spectral_bounds(
    kernel, input_shape, strides=1, padding="circular", iterations=100, seed=0
):
    """Largest and smallest singular value of a convolution, by power iteration.

    For inputs too large for `conv_singular_values`' dense path. The largest
    value comes from power iteration on the Gram operator G (A^T A, or A A^T when
    the convolution has fewer outputs than inputs, so that G has no structural
    zero eigenvalues); the smallest from power iteration on
    `sigma_max^2 I - G`. Both use a fixed number of iterations (jit-friendly); the
    estimate of sigma_max is a lower bound that tightens with more iterations,
    sigma_min converges more slowly when the bottom of the spectrum is crowded.

    Args:
        kernel: `[*kernel_size, in_channels, out_channels]`.
        input_shape: the spatial sizes of the input.
        strides: an integer or one per spatial axis.
        padding: "circular", "same" or "valid".
        iterations: power iterations for each of the two values.
        seed: seed of the random start vector.

    Returns:
        A pair of scalar tensors `(sigma_max, sigma_min)`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab import ops
    >>> kernel = np.zeros((3, 3, 2, 2), "float32"); kernel[1, 1] = 2.0 * np.eye(2)
    >>> hi, lo = ops.conv_spectral_bounds(kernel, (16, 16), iterations=10)
    >>> round(float(hi), 4), round(float(lo), 4)
    (2.0, 2.0)

    References:
        - *The Singular Values of Convolutional Layers*, H. Sedghi, V. Gupta, P. M.
          Long, ICLR 2019. <https://arxiv.org/abs/1805.10408>
    """
    kernel, spatial, strides = _check_conv_args(kernel, input_shape, strides, padding)
    require_int("iterations", iterations, minimum=1)
    channels = kernel.shape[-2]
    in_shape = (1, *spatial, channels)
    out_shape = tuple(
        padded_conv(ops.zeros(in_shape, kernel.dtype), kernel, strides, padding).shape
    )

    def forward(x):
        return padded_conv(x, kernel, strides, padding)

    def adjoint(y):
        return _adjoint_conv(y, kernel, spatial, strides, padding)

    if math.prod(out_shape) < math.prod(in_shape):
        shape = out_shape

        def gram(v):
            return forward(adjoint(v))
    else:
        shape = in_shape

        def gram(v):
            return adjoint(forward(v))

    start = np.random.default_rng(seed).normal(size=shape)
    v0 = ops.cast(start / np.linalg.norm(start), kernel.dtype)

    def normalized(v):
        return v / ops.maximum(ops.sqrt(ops.sum(v * v)), 1e-30)

    def top_eigenvalue(operator):
        v = ops.fori_loop(0, iterations, lambda i, v: normalized(operator(v)), v0)
        return ops.sum(v * operator(v))

    largest = top_eigenvalue(gram)
    shift = 1.01 * largest

    def shifted(v):
        return shift * v - gram(v)

    smallest = shift - top_eigenvalue(shifted)
    return ops.sqrt(largest), ops.sqrt(ops.maximum(smallest, 0.0))
