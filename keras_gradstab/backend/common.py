"""Backend-neutral fallbacks written with `keras.ops` alone."""

import keras
from keras import ops

NAME = "keras.ops"
reste_backward = None
fused_recurrence = {}


def concatenate(tensors, axis):
    return ops.concatenate(tensors, axis=axis)


def flip(x, axis):
    return ops.flip(x, axis=axis)


def scan(fn, init, xs, reverse=False):
    return ops.scan(fn, init, xs, reverse=reverse)


def associative_scan(combine, elems, axis, reverse=False, concatenate=concatenate, flip=flip):
    """Inclusive scan of `elems` along `axis` in ceil(log2(T)) rounds.

    A Hillis-Steele scan: round k combines every element with the one 2**k places
    before it. It is iterative (no recursion, whatever T), keeps the dtype and
    device of its inputs (unlike `keras.ops.associative_scan` on torch), and uses
    only slicing, `concatenate`, `flip` and `combine` (a backend passes its own
    `concatenate` and `flip` to keep float64, which keras.ops turns into float32
    on jax and torch).

    `combine(earlier, later)` takes and returns structures like `elems`.
    """
    leaves = keras.tree.flatten(elems)
    length = leaves[0].shape[axis]
    if reverse:
        elems = keras.tree.map_structure(lambda x: flip(x, axis), elems)

    def take(x, start, stop):
        index = [slice(None)] * len(x.shape)
        index[axis] = slice(start, stop)
        return x[tuple(index)]

    def step(elems, offset):
        earlier = keras.tree.map_structure(lambda x: take(x, 0, length - offset), elems)
        later = keras.tree.map_structure(lambda x: take(x, offset, length), elems)
        combined = combine(earlier, later)
        return keras.tree.map_structure(
            lambda x, c: concatenate([take(x, 0, offset), c], axis), elems, combined
        )

    offset = 1
    while offset < length:
        elems = step(elems, offset)
        offset *= 2
    if reverse:
        elems = keras.tree.map_structure(lambda x: flip(x, axis), elems)
    return elems


def value_and_grad(fn, args):
    raise NotImplementedError(
        f"Gradients need a differentiable backend; {keras.config.backend()!r} has none here."
    )


def batch_jacobian(fn, x):
    raise NotImplementedError(
        f"Jacobians need a differentiable backend; {keras.config.backend()!r} has none here."
    )


def jvp(fn, x, tangent):
    raise NotImplementedError(
        f"Jacobian-vector products need a differentiable backend; {keras.config.backend()!r} "
        "has none here."
    )
