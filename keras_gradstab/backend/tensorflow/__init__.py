"""TensorFlow: a `tf.while_loop` over `TensorArray`s that compiles under XLA."""

import tensorflow as tf

from keras_gradstab.backend import common as generic

NAME = "tf.while_loop"
reste_backward = None
fused_recurrence = {}
associative_scan = generic.associative_scan
concatenate = generic.concatenate


def _check_carry(init, carry):
    try:
        tf.nest.assert_same_structure(init, carry)
        same = all(
            a.dtype == b.dtype and a.shape.is_compatible_with(b.shape)
            for a, b in zip(tf.nest.flatten(init), tf.nest.flatten(carry))
        )
    except (TypeError, ValueError):
        same = False
    if not same:
        raise ValueError(
            "`fn` must return a carry with the structure, shapes and dtypes of "
            f"`init`; `init` is {init} but `fn` returned {carry}."
        )


def scan(fn, init, xs, reverse=False):
    x_leaves = tf.nest.flatten(xs)
    length = x_leaves[0].shape[0]
    if length is None:
        length = tf.shape(x_leaves[0])[0]

    def index(t):
        return length - 1 - t if reverse else t

    # Read steps from TensorArrays: the gradient of `x[t]` inside the loop would
    # build a dense tensor of the whole of `x` at every step.
    inputs = [
        tf.TensorArray(x.dtype, size=length, element_shape=x.shape[1:]).unstack(x) for x in x_leaves
    ]

    def x_at(t):
        return tf.nest.pack_sequence_as(xs, [a.read(t) for a in inputs])

    # The first step runs outside the loop: it gives the shapes and dtypes of `y`
    # for the TensorArrays without tracing `fn` twice, and costs nothing extra.
    first = index(0)
    carry, y = fn(init, x_at(first))
    _check_carry(init, carry)
    carry = tf.nest.map_structure(lambda c, i: tf.ensure_shape(c, i.shape), carry, init)
    y_leaves = [] if y is None else tf.nest.flatten(y)
    arrays = [
        tf.TensorArray(leaf.dtype, size=length, element_shape=leaf.shape).write(first, leaf)
        for leaf in y_leaves
    ]

    if isinstance(length, int) and length == 1:
        # No loop at all: XLA refuses the gradient of a while_loop with
        # maximum_iterations=0 ("Update dim size 1 greater than dynamic slice
        # dimension").
        if y is None:
            return carry, None
        return carry, tf.nest.map_structure(lambda leaf: leaf[None], y)

    def body(t, carry, arrays):
        step = index(t)
        carry, y = fn(carry, x_at(step))
        leaves = [] if y is None else tf.nest.flatten(y)
        return t + 1, carry, [a.write(step, leaf) for a, leaf in zip(arrays, leaves)]

    _, carry, arrays = tf.while_loop(
        lambda t, *_: t < length,
        body,
        (tf.constant(1), carry, arrays),
        maximum_iterations=length - 1,
    )
    if y is None:
        return carry, None
    return carry, tf.nest.pack_sequence_as(y, [a.stack() for a in arrays])


def value_and_grad(fn, args):
    """`fn(*args)` (a scalar) and its gradients w.r.t. every tensor of `args`."""
    args = [tf.convert_to_tensor(a) for a in args]
    with tf.GradientTape() as tape:
        tape.watch(args)
        value = fn(*args)
    grads = tape.gradient(value, args)
    return value, [
        tf.zeros_like(a) if g is None else tf.convert_to_tensor(g) for a, g in zip(args, grads)
    ]


def batch_jacobian(fn, x):
    """d fn(x)[b, i] / d x[b, j] for `fn` mapping [B, n] to [B, m] example by example."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.batch_jacobian(y, x)


def jvp(fn, x, tangent):
    """`fn(x)` and the Jacobian-vector product `J(x) tangent`, exact (forward mode).

    The forward accumulator's products are recorded by enclosing gradient
    tapes, so the result is differentiable w.r.t. the weights `fn` closes over.
    """
    x = tf.convert_to_tensor(x)
    with tf.autodiff.ForwardAccumulator(x, tf.cast(tangent, x.dtype)) as accumulator:
        y = fn(x)
    product = accumulator.jvp(y)
    return y, tf.zeros_like(y) if product is None else product
