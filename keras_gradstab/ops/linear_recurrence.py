"""`linear_recurrence`: h_t = a_t * h_{t-1} + b_t in O(log T) depth."""

from keras import ops

from keras_gradstab import backend
from keras_gradstab.ops._checks import dtype_name, require_floating


# The combines use the tensors' own operators, not keras.ops: Keras 3.15 promotes
# 64-bit results to 32-bit on jax and torch (BIT64_TO_BIT32_DTYPE), and this op
# keeps float64.
def _matvec(a, v):
    return (a @ v[..., None])[..., 0]


def _combine_diagonal(earlier, later):
    a1, b1 = earlier
    a2, b2 = later
    return a2 * a1, a2 * b1 + b2


def _combine_matrix(earlier, later):
    a1, b1 = earlier
    a2, b2 = later
    return a2 @ a1, _matvec(a2, b1) + b2


def linear_recurrence(a, b, initial=None, reverse=False):
    """Solves h_t = a_t * h_{t-1} + b_t for all t by a parallel associative scan.

    Inputs are batch-major like Keras layers: `b` has shape `[batch, time, ...]`.
    Two forms, told apart by the rank of `a`:

    - diagonal: `a` has the shape of `b` and multiplies elementwise;
    - matrix: `a` has shape `b.shape + (n,)`, square in its last two axes, and
      multiplies the state as a column vector, h_t = a_t @ h_{t-1} + b_t.

    The scan combines pairs (a, b) with the associative rule
    (a1, b1) then (a2, b2) = (a2 a1, a2 b1 + b2), in ceil(log2(T)) rounds:
    `jax.lax.associative_scan` on JAX, an iterative Hillis-Steele scan elsewhere
    (no recursion, dtype and device kept, float64 included).

    Args:
        a: the transitions, `[batch, time, ...]` (diagonal) or
            `[batch, time, ..., n, n]` (matrix).
        b: the inputs, `[batch, time, ...]`; floating dtype.
        initial: optional h_{-1}, shape `[batch, ...]` (b without its time axis);
            zero if omitted.
        reverse: if `True`, run from the last step backwards:
            h_t = a_t * h_{t+1} + b_t, with `initial` as h_T.

    Returns:
        The states h, with the shape of `b`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab import ops
    >>> a = np.full((1, 4, 1), 0.5, "float32")
    >>> b = np.ones((1, 4, 1), "float32")
    >>> np.asarray(keras.ops.convert_to_numpy(ops.linear_recurrence(a, b)))[0, :, 0]
    array([1.   , 1.5  , 1.75 , 1.875], dtype=float32)
    """
    if not isinstance(reverse, bool):
        raise ValueError(f"`reverse` must be a bool; received {reverse!r}.")
    a = ops.convert_to_tensor(a)
    b = ops.convert_to_tensor(b)
    require_floating("b", b)
    require_floating("a", a)
    if dtype_name(a) != dtype_name(b):
        raise ValueError(
            f"`a` and `b` must have the same dtype; received {dtype_name(a)} and {dtype_name(b)}."
        )
    if len(b.shape) < 2:
        raise ValueError(
            f"`b` must have rank >= 2 ([batch, time, ...]); received shape {tuple(b.shape)}."
        )
    if len(a.shape) == len(b.shape):
        form = "diagonal"
        if tuple(a.shape) != tuple(b.shape):
            raise ValueError(
                "In the diagonal form `a` must have the shape of `b`; received "
                f"`a` {tuple(a.shape)} and `b` {tuple(b.shape)} (mismatched lengths "
                "or feature sizes)."
            )
    elif len(a.shape) == len(b.shape) + 1:
        form = "matrix"
        if a.shape[-1] != a.shape[-2]:
            raise ValueError(
                "In the matrix form `a` must be square in its last two axes; "
                f"received `a` of shape {tuple(a.shape)}."
            )
        if tuple(a.shape[:-1]) != tuple(b.shape):
            raise ValueError(
                "In the matrix form `a` must have shape `b.shape + (n,)`; received "
                f"`a` {tuple(a.shape)} and `b` {tuple(b.shape)} (mismatched lengths "
                "or state sizes)."
            )
    else:
        raise ValueError(
            "`a` must have the rank of `b` (diagonal form) or one more (matrix form); "
            f"received `a` of shape {tuple(a.shape)} and `b` of shape {tuple(b.shape)}."
        )
    combine = _combine_diagonal if form == "diagonal" else _combine_matrix
    if initial is not None:
        initial = ops.convert_to_tensor(initial)
        require_floating("initial", initial)
        expected = tuple(b.shape[:1]) + tuple(b.shape[2:])
        if tuple(initial.shape) != expected:
            raise ValueError(
                f"`initial` must have shape {expected} (`b` without its time axis); "
                f"received {tuple(initial.shape)}."
            )
        # Fold h_{-1} into the first input: b_0 <- a_0 h_{-1} + b_0.
        edge = -1 if reverse else 0
        a_edge = a[:, edge]
        b_edge = b[:, edge]
        b_edge = (a_edge * initial if form == "diagonal" else _matvec(a_edge, initial)) + b_edge
        b_edge = b_edge[:, None]
        b = (
            backend.concatenate([b[:, :-1], b_edge], 1)
            if reverse
            else backend.concatenate([b_edge, b[:, 1:]], 1)
        )
    _, h = backend.associative_scan(combine, (a, b), axis=1, reverse=reverse)
    return h
