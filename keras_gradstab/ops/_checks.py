"""Argument checks shared by the ops: every error names the argument at fault."""

import math

import keras
from keras import ops


def dtype_name(x):
    return keras.backend.standardize_dtype(x.dtype)


def require_floating(name, x):
    dtype = dtype_name(x)
    if not any(dtype.startswith(p) for p in ("float", "bfloat")):
        raise ValueError(
            f"`{name}` must have a floating dtype (float16, bfloat16, float32 or "
            f"float64); received dtype {dtype}. Cast it first, e.g. "
            f"`keras.ops.cast({name}, 'float32')`."
        )


def conv_kernel(kernel):
    """`kernel` as a floating tensor of shape (*kernel_size, in_channels, out_channels)
    with 1, 2 or 3 spatial axes, and that number of spatial axes."""
    kernel = ops.convert_to_tensor(kernel)
    require_floating("kernel", kernel)
    rank = len(kernel.shape) - 2
    if rank not in (1, 2, 3):
        raise ValueError(
            "`kernel` must have shape (*kernel_size, in_channels, out_channels) with "
            f"1, 2 or 3 spatial axes; received shape {tuple(kernel.shape)}."
        )
    return kernel, rank


def require_rank_at_least(name, x, rank, what):
    if len(x.shape) < rank:
        raise ValueError(
            f"`{name}` must have rank >= {rank} ({what}); received shape {tuple(x.shape)}."
        )


def require_square(name, x):
    require_rank_at_least(name, x, 2, "a matrix or a batch of matrices")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(
            f"`{name}` must be square in its last two axes; received shape {tuple(x.shape)}."
        )


def is_finite_number(value):
    """Whether `value` is a finite int or float (a bool is not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def require_steps(name, x, axes):
    """Raises if an axis that a recurrence runs along (`axes`) has length 0."""
    for axis in axes:
        if x.shape[axis] == 0:
            raise ValueError(
                f"{name} needs a sequence length of at least 1 along axis {axis}; "
                f"received inputs of shape {tuple(x.shape)} (sequence length 0)."
            )


def require_int(name, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; received {value!r}.")


def as_tensor_tree(name, tree):
    """Converts every leaf of `tree` to a backend tensor, naming `name` on failure."""

    def convert(leaf):
        try:
            return ops.convert_to_tensor(leaf)
        except Exception as e:  # noqa: BLE001 - re-raised with the argument's name
            raise ValueError(
                f"Every leaf of `{name}` must be a tensor or array; received "
                f"{type(leaf).__name__}: {e}"
            ) from e

    return keras.tree.map_structure(convert, tree)
