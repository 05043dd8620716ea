"""Circular (periodic) padding, and the padded strided convolution built on it."""

from keras import ops

PADDINGS = ("circular", "same", "valid")


def _normalize_pairs(padding, rank):
    if isinstance(padding, int):
        padding = (padding,) * rank
    padding = tuple(padding)
    if len(padding) != rank:
        raise ValueError(
            f"`padding` must give one entry per spatial axis ({rank}); received {padding!r}."
        )
    pairs = []
    for p in padding:
        pair = (p, p) if isinstance(p, int) else tuple(p)
        if len(pair) != 2 or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in pair
        ):
            raise ValueError(
                "Each entry of `padding` must be an integer >= 0 or a pair "
                f"(left, right) of them; received {p!r}."
            )
        pairs.append(pair)
    return pairs


def circular_pad(x, padding):
    """Pads the spatial axes of a channels-last tensor periodically (wrap-around).

    Axis 0 is the batch and the last axis holds channels; every axis between is
    spatial. Each spatial axis of length n gains `left` entries copied from its
    end and `right` entries copied from its start, so a "valid" convolution of
    the result is the circular convolution of `x`. Padding wider than the axis
    is refused (it would need more than one period).

    Args:
        x: tensor `[batch, *spatial, channels]`.
        padding: an integer (the same on both sides of every spatial axis), one
            entry per spatial axis, or one `(left, right)` pair per spatial axis.

    Returns:
        The padded tensor.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab import ops
    >>> x = np.arange(4, dtype="float32").reshape(1, 4, 1)
    >>> keras.ops.convert_to_numpy(ops.circular_pad(x, ((1, 2),)))[0, :, 0].tolist()
    [3.0, 0.0, 1.0, 2.0, 3.0, 0.0, 1.0]
    """
    x = ops.convert_to_tensor(x)
    rank = len(x.shape) - 2
    if rank < 1:
        raise ValueError(
            "`x` must have a batch axis, at least one spatial axis and a channel "
            f"axis; received shape {tuple(x.shape)}."
        )
    for axis, (left, right) in enumerate(_normalize_pairs(padding, rank), start=1):
        n = x.shape[axis]
        if n is not None and max(left, right) > n:
            raise ValueError(
                f"Circular padding ({left}, {right}) is wider than spatial axis "
                f"{axis} of `x` (length {n}); use a larger input or a smaller kernel."
            )
        parts = []
        if left:
            parts.append(slice_axis(x, axis, -left, None))
        parts.append(x)
        if right:
            parts.append(slice_axis(x, axis, 0, right))
        if len(parts) > 1:
            x = ops.concatenate(parts, axis=axis)
    return x


def slice_axis(x, axis, start, stop):
    """`x[..., start:stop, ...]` along `axis`."""
    index = [slice(None)] * len(x.shape)
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def conv_pads(kernel_size, spatial, strides, padding):
    """(left, right) pads per spatial axis, as Keras/TensorFlow place them."""
    pairs = []
    for k, n, s in zip(kernel_size, spatial, strides):
        if padding == "valid":
            pairs.append((0, 0))
            continue
        if padding == "circular" or s == 1:
            total = k - 1
        else:  # "same", TensorFlow's rule: more padding on the right
            out = -(-n // s)
            total = max((out - 1) * s + k - n, 0)
        pairs.append((total // 2, total - total // 2))
    return pairs


def padded_conv(x, kernel, strides, padding):
    """Convolution (cross-correlation) with circular, zero 'same' or 'valid' padding."""
    rank = len(kernel.shape) - 2
    pairs = conv_pads(kernel.shape[:rank], x.shape[1:-1], strides, padding)
    if padding == "circular":
        x = circular_pad(x, pairs)
    elif padding == "same":
        x = ops.pad(x, [(0, 0)] + pairs + [(0, 0)])
    return ops.conv(x, kernel, strides=tuple(strides), padding="valid")
