"""Matrix products whose batch axes never broadcast inside one kernel."""

import math

import numpy as np
from keras import ops


def _static_batch(shape):
    """The batch axes of `shape` as ints, or None where one is unknown."""
    batch = tuple(shape[:-2])
    return None if any(d is None for d in batch) else batch


def _product(a, b):
    # Native `@` where the dtypes agree: keras.ops.matmul returns float32 for two
    # float64 tensors on torch.
    return a @ b if a.dtype == b.dtype else ops.matmul(a, b)


def _flat_product(a, b):
    """`a @ b` for `a` of shape `[..., m, k]` and a matrix `b` `[k, n]`: one 2D product."""
    if len(a.shape) == 2:
        return _product(a, b)
    leading = ops.shape(a)[:-1]
    y = _product(ops.reshape(a, (-1, a.shape[-1])), b)
    return ops.reshape(y, (*leading, b.shape[-1]))


def _swap_last(x):
    # transpose with an explicit order (keras.ops.swapaxes rejects a raw tf.Variable).
    order = list(range(len(x.shape)))
    order[-2:] = order[:-3:-1]
    return ops.transpose(x, order)


def _lead_with_ones(y, count):
    for _ in range(count):
        y = ops.expand_dims(y, 0)
    return y


def matmul(a, b):
    """Matrix product `a @ b` with NumPy's broadcasting, written without broadcast kernels.

    Computes what `keras.ops.matmul(a, b)` computes, but never hands a backend a
    batch matrix product whose operands' batch axes differ. A matrix `[k, n]`
    times a stack `[..., m, k]` (either side) becomes one 2D product of the stack
    flattened to rows; a stack whose batch axes are all of size 1 is a matrix; two
    stacks with different batch axes are first broadcast to a common shape. The
    result and its gradients are those of `keras.ops.matmul`; operands of one
    dtype keep it (float64 included, which `keras.ops.matmul` turns into float32
    on torch).

    Why: TensorFlow's oneDNN batch matmul (TensorFlow 2.21, `TF_ENABLE_ONEDNN_OPTS`
    on, the default) is wrong on some x86 CPUs (seen on an AMD EPYC Zen 4 with
    AVX-512) when a rank-4 stack with batch axes `(p, 1)`, `p >= 2`, meets an
    operand without those axes (a matrix, a `[1, k, n]` stack or an ellipsis
    `einsum` term): float32 and bfloat16 products of size 8 and up return garbage
    or corrupt the heap, while float16 and float64 (not routed to oneDNN),
    products with equal batch shapes, 3D stacks and batch shapes `(1, p)` or
    `(p, q)` came out exact. Gradients of such products meet the same kernel.
    Every product in this library whose operands differ in batch shape goes
    through this function on every backend.

    Args:
        a: tensor `[..., m, k]` or a vector `[k]`.
        b: tensor `[..., k, n]` or a vector `[k]`.

    Returns:
        `a @ b`, of shape `broadcast(a.batch, b.batch) + [m, n]` (vector axes
        dropped as in `numpy.matmul`).

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_gradstab import ops
    >>> a = np.arange(2 * 1 * 3 * 4, dtype="float32").reshape(2, 1, 3, 4)
    >>> b = np.ones((4, 5), "float32")
    >>> y = keras.ops.convert_to_numpy(ops.matmul(a, b))
    >>> y.shape, bool(np.array_equal(y, a @ b))
    ((2, 1, 3, 5), True)
    """
    a = ops.convert_to_tensor(a)
    b = ops.convert_to_tensor(b)
    if len(a.shape) == 1 and len(b.shape) == 1:
        return ops.matmul(a, b)
    if len(a.shape) == 1:
        return ops.squeeze(matmul(a[None, :], b), axis=-2)
    if len(b.shape) == 1:
        return ops.squeeze(matmul(a, b[:, None]), axis=-1)
    a_batch, b_batch = _static_batch(a.shape), _static_batch(b.shape)
    if len(b.shape) == 2 or (b_batch is not None and math.prod(b_batch) == 1):
        y = _flat_product(a, ops.reshape(b, b.shape[-2:]) if len(b.shape) > 2 else b)
        return _lead_with_ones(y, len(b.shape) - len(a.shape))
    if len(a.shape) == 2 or (a_batch is not None and math.prod(a_batch) == 1):
        # (b^T a^T)^T: the stack is on the left again.
        a_matrix = ops.reshape(a, a.shape[-2:]) if len(a.shape) > 2 else a
        y = _swap_last(_flat_product(_swap_last(b), ops.transpose(a_matrix)))
        return _lead_with_ones(y, len(a.shape) - len(b.shape))
    if a_batch is None or b_batch is None or a_batch == b_batch:
        # Unknown batch axes (a traced TensorFlow function) are taken to agree.
        return _product(a, b)
    batch = np.broadcast_shapes(a_batch, b_batch)
    if a_batch != batch:
        a = ops.broadcast_to(a, (*batch, *a.shape[-2:]))
    if b_batch != batch:
        b = ops.broadcast_to(b, (*batch, *b.shape[-2:]))
    return _product(a, b)
