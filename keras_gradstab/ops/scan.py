"""`scan`: the recurrence primitive that every cell and pLSTM of the library runs on."""

import keras

from keras_gradstab import backend
from keras_gradstab.ops._checks import as_tensor_tree


def scan(fn, init, xs, reverse=False):
    """Loops `fn` over the leading axis of `xs`, carrying state between steps.

    The convention is that of `jax.lax.scan` and `keras.ops.scan`: time is the
    leading axis of every leaf of `xs`, and `fn(carry, x) -> (carry, y)`. The
    stacked `y`s come back with time leading. Each backend runs its own loop
    primitive, chosen once when the library is imported:

    - JAX: `jax.lax.scan`.
    - TensorFlow: a `tf.while_loop` over `TensorArray`s, which compiles under XLA
      (`jit_compile=True`). Unlike `keras.ops.scan` on TensorFlow, `y` may have any
      shape and dtype.
    - PyTorch: a Python loop that calls `fn` at every step, eagerly (also
      inside `torch.compile`, which leaves the scan out of its graph).
      Autograd differentiates the loop directly, so gradients reach `init`,
      `xs` and every tensor `fn` closes over, through `backward()` and
      `torch.autograd.grad` alike. The steps run on one intra-op thread,
      forward and backward (`KERAS_GRADSTAB_TORCH_STEP_THREADS`, 0 to leave
      the thread count alone): their tensors are too small to gain from more,
      and on a loaded machine two threads waiting on each other make a scan
      many times slower.

    `fn` must be a pure function of its arguments and of the tensors it closes over
    (as `jax.lax.scan` requires): no randomness or Python side effects inside it;
    Python values it computes are computed once, on every backend.
    Draw dropout masks before the loop and pass them in `xs` or by closure.

    Args:
        fn: callable `(carry, x) -> (carry, y)`. The carry it returns must have
            the structure, shapes and dtypes of `init`. `y` may be any structure
            of tensors, or `None`.
        init: the initial carry, a tensor or a nested structure of tensors.
        xs: a tensor or nested structure of tensors, all with the same length
            along axis 0 (time).
        reverse: if `True`, run from the last time step to the first; `ys` are
            still stored at the index of the step that produced them.

    Returns:
        A pair `(carry, ys)`: the final carry, and the `y`s stacked along a new
        leading axis (`None` if `fn` returns `None` for `y`).

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab import ops
    >>> def step(h, x):
    ...     h = 0.5 * h + x
    ...     return h, h
    >>> carry, ys = ops.scan(step, np.zeros(2, "float32"), np.ones((3, 2), "float32"))
    >>> [float(v) for v in keras.ops.convert_to_numpy(ys)[:, 0]]
    [1.0, 1.5, 1.75]
    """
    if not callable(fn):
        raise ValueError(f"`fn` must be callable; received {type(fn).__name__}.")
    if not isinstance(reverse, bool):
        raise ValueError(f"`reverse` must be a bool; received {reverse!r}.")
    init = as_tensor_tree("init", init)
    xs = as_tensor_tree("xs", xs)
    x_leaves = keras.tree.flatten(xs)
    if not x_leaves:
        raise ValueError("`xs` must contain at least one tensor; received an empty structure.")
    lengths = set()
    for leaf in x_leaves:
        if len(leaf.shape) == 0:
            raise ValueError("Every leaf of `xs` needs a leading time axis; received a scalar.")
        lengths.add(leaf.shape[0])
    if len(lengths) > 1:
        raise ValueError(
            "Every leaf of `xs` must have the same length along axis 0 (time); "
            f"received lengths {sorted(lengths, key=str)}."
        )
    (length,) = lengths
    if length == 0:
        raise ValueError("`xs` has length 0 along axis 0: there is nothing to scan.")
    return backend.scan(fn, init, xs, reverse)
