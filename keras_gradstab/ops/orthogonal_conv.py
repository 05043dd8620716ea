"""Orthogonal convolutions: the Lorth measure and the rules for when one exists.

Achour, Malgouyres & Mamalet, "Existence, stability and scalability of
orthogonal convolutional layers", JMLR 2022; Wang et al., "Orthogonal
convolutional neural networks", CVPR 2020. Notation: kernel size k per spatial
axis, d spatial axes, stride S, C input and M output channels.
"""

import math
import warnings

import numpy as np
from keras import ops

from keras_gradstab.ops._checks import conv_kernel
from keras_gradstab.ops.conv_singular_values import normalize_strides

#: The names the existence rules go by in error messages.
RULE_STRIDE = "kernel_size >= strides"
RULE_ROW = "row-orthogonal existence: out_channels <= in_channels * prod(kernel_size)"
RULE_COLUMN = "column-orthogonal existence: strides <= kernel_size"


def check_orthogonal_conv(
    kernel_size,
    strides,
    in_channels,
    out_channels,
    padding=None,
    transposed=False,
    exact_construction=False,
):
    """Refuses (kernel, stride, channels) combinations with no orthogonal convolution.

    The rules, for circular padding (Achour et al., JMLR 2022, Theorem 1):

    - row-orthogonal case (M <= C * prod(S)): one exists iff M <= C * prod(k);
    - column-orthogonal case (M > C * prod(S)): one exists iff S <= k;
    - kernel_size >= strides on every axis in any case (Achour et al. assume it;
      with a smaller kernel some inputs are never read);
    - M == C * prod(S): one exists, but gradient descent on Lorth reaches it
      poorly (a warning, unless `exact_construction`).

    For a transposed convolution the roles of C and M swap (it is the adjoint of
    the forward convolution from M to C channels). Zero 'same' or 'valid'
    padding gets a warning: exact orthogonality is not reachable with it.

    Args:
        kernel_size: tuple of kernel sizes, one per spatial axis.
        strides: tuple of strides, one per spatial axis.
        in_channels: input channels of the layer.
        out_channels: output channels of the layer.
        padding: "circular", "same", "valid" or None (not known here).
        transposed: whether the layer is a transposed convolution.
        exact_construction: the caller builds an exactly orthogonal kernel
            (no optimization difficulty to warn about).

    Raises:
        ValueError: naming the rule that fails and what would satisfy it.

    Example:

    >>> from keras_gradstab import ops
    >>> ops.check_orthogonal_conv((3, 3), (1, 1), 16, 32)
    >>> try:
    ...     ops.check_orthogonal_conv((3, 3), (4, 4), 32, 289)
    ... except ValueError as e:
    ...     print(str(e).split(" (rule")[0])
    No row-orthogonal convolution exists

    References:
        - *Existence, Stability and Scalability of Orthogonal Convolutional Neural
          Networks*, E. M. Achour, F. Malgouyres, F. Mamalet, JMLR 23, 2022.
          <https://arxiv.org/abs/2108.05623>
    """
    kernel_size, strides = tuple(kernel_size), tuple(strides)
    c, m = (out_channels, in_channels) if transposed else (in_channels, out_channels)
    where = (
        f"kernel_size={kernel_size}, strides={strides}, in_channels={in_channels}, "
        f"out_channels={out_channels}" + (", transposed" if transposed else "")
    )
    k_total, s_total = math.prod(kernel_size), math.prod(strides)
    if m <= c * s_total:
        if m > c * k_total:
            raise ValueError(
                f"No row-orthogonal convolution exists (rule '{RULE_ROW}'): received "
                f"{where}, and {m} > {c} * {k_total}. Use at most {c * k_total} output "
                f"channels, at least {-(-m // k_total)} input channels, or a larger kernel."
            )
        if m == c * s_total and not exact_construction:
            warnings.warn(
                f"An orthogonal convolution exists for {where}, but with M == C * prod(strides) "
                "(M, C the output and input channels of the forward convolution) Lorth-driven "
                "training seldom reaches it "
                "(Achour et al., 2022): expect singular values away from 1.",
                stacklevel=3,
            )
    elif any(s > k for k, s in zip(kernel_size, strides)):
        raise ValueError(
            f"No column-orthogonal convolution exists (rule '{RULE_COLUMN}'): received "
            f"{where}, and {m} > {c} * {s_total} makes it column-orthogonal. Use "
            f"kernel_size >= strides, or at most {c * s_total} output channels "
            "(row-orthogonal)."
        )
    if any(k < s for k, s in zip(kernel_size, strides)):
        raise ValueError(
            f"No orthogonal convolution exists (rule '{RULE_STRIDE}'): received {where}. "
            "With a kernel smaller than the stride some input positions are never "
            "read. Use kernel_size >= strides, or a space-to-depth reshape followed "
            "by a stride-1 convolution (as keras_gradstab.layers.OrthogonalConv2D does)."
        )
    if padding in ("same", "valid"):
        warnings.warn(
            f"padding='{padding}' (zero or no boundary) makes exact orthogonality "
            "essentially unreachable; orthogonality holds for padding='circular' "
            "(keras_gradstab.layers.CircularPadding1D/2D before a 'valid' convolution).",
            stacklevel=3,
        )


def lorth(kernel, strides=1, transposed=False):
    """The Lorth orthogonality error of a convolution kernel.

    `Lorth(K) = || conv(K, K, padding=P, stride=S) - I_r0 ||_F^2 - delta`
    (Achour et al., JMLR 2022, with the padding `P = floor((k - 1) / S) * S` per
    axis; `I_r0` holds the M x M identity at the centre position and zeros
    elsewhere; `delta = max(0, M - prod(S) * C)` for the column-orthogonal case).
    It is 0 exactly when the strided convolution with circular padding is
    orthogonal (row- or column-orthogonal), and positive otherwise. At stride 1
    it equals the mean over frequencies of `sum_i (sigma_i^2 - 1)^2` of the
    circular convolution on any input of size >= 2k - 1 (Parseval).

    Args:
        kernel: `[*kernel_size, in_channels, out_channels]` (1, 2 or 3 spatial
            axes); for `transposed=True`, the `[*kernel_size, out_channels,
            in_channels]` kernel of a Keras ConvTranspose layer, which is the
            forward kernel of the adjoint convolution, so the formula is the same.
        strides: an integer or one per spatial axis.
        transposed: whether `kernel` belongs to a transposed convolution (it only
            changes which channels count as input and output, and so `delta`
            becomes `max(0, in_channels - prod(S) * out_channels)`).

    Returns:
        A scalar tensor >= 0.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab import ops
    >>> kernel = np.zeros((3, 3, 4, 4), "float32"); kernel[1, 1] = np.eye(4)
    >>> float(ops.lorth(kernel, strides=2))
    0.0

    References:
        - *Orthogonal Convolutional Neural Networks*, J. Wang, Y. Chen, R.
          Chakraborty, S. X. Yu, CVPR 2020. <https://arxiv.org/abs/1911.12207>
        - *Existence, Stability and Scalability of Orthogonal Convolutional Neural
          Networks*, E. M. Achour, F. Malgouyres, F. Mamalet, JMLR 23, 2022.
          <https://arxiv.org/abs/2108.05623>
    """
    kernel, rank = conv_kernel(kernel)
    strides = normalize_strides(strides, rank)
    c, m = kernel.shape[-2], kernel.shape[-1]
    if m > c and all(s == 1 for s in strides):
        # Column case at stride 1: by Parseval, ||R - I||^2 - (M - C) equals the error
        # of the input-side Gram, the same formula on the channel-transposed kernel;
        # it avoids cancelling the delta term in floating point.
        swapped = ops.swapaxes(kernel, -1, -2)
        # Flattened and reshaped: a contiguous copy (torch's conv backward needs one).
        kernel = ops.reshape(ops.reshape(swapped, (-1,)), tuple(swapped.shape))
        c, m = m, c
    ksize = tuple(kernel.shape[:rank])
    pads = [((k - 1) // s) * s for k, s in zip(ksize, strides)]
    # The M filters as a batch of M inputs [*kernel_size, C], each correlated with
    # all M filters at every strided shift.
    filters = ops.moveaxis(kernel, -1, 0)
    filters = ops.pad(filters, [(0, 0)] + [(p, p) for p in pads] + [(0, 0)])
    if m == 1:
        # One filter: torch's CPU convolution backward (slow_conv2d) fails for a
        # single output channel; a zero filter beside it changes no inner product.
        wide = ops.concatenate([kernel, ops.zeros_like(kernel)], axis=-1)
        gram = ops.conv(filters, wide, strides=strides, padding="valid")[..., :1]
    else:
        gram = ops.conv(filters, kernel, strides=strides, padding="valid")
    target = np.zeros(tuple(gram.shape), "float32")
    centre = tuple(p // s for p, s in zip(pads, strides))
    for i in range(m):
        target[(i, *centre, i)] = 1.0
    error = ops.sum(ops.square(gram - ops.cast(target, gram.dtype)))
    delta = max(0, m - math.prod(strides) * c)
    # Lorth >= 0 in exact arithmetic; clip the rounding of the subtraction.
    return ops.maximum(error - delta, 0.0)
