"""TensorFlow: a `tf.while_loop` over `TensorArray`s that compiles under XLA."""

import tensorflow as tf

from keras_gradstab.ops._native import generic

NAME = "tf.while_loop"
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
        tf.TensorArray(x.dtype, size=length, element_shape=x.shape[1:]).unstack(x)
        for x in x_leaves
    ]

    def x_at(t):
        return tf.nest.pack_sequence_as(xs, [a.read(t) for a in inputs])

    # The first step runs outside the loop: it gives the shapes and dtypes of `y`
    # for the TensorArrays without tracing `fn` twice, and costs nothing extra.
    first = index(0)
    carry, y = fn(init, x_at(first))
    _check_carry(init, carry)
    carry = tf.nest.map_structure(
        lambda c, i: tf.ensure_shape(c, i.shape), carry, init
    )
    y_leaves = [] if y is None else tf.nest.flatten(y)
    arrays = [
        tf.TensorArray(leaf.dtype, size=length, element_shape=leaf.shape).write(first, leaf)
        for leaf in y_leaves
    ]

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


def value_and_gradients(loss_fn, variables):
    """`loss_fn()` and its gradients w.r.t. the Keras `variables` (diagnostics only)."""
    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, [v.value for v in variables])
    return loss, [tf.zeros_like(v.value) if g is None else g for v, g in zip(variables, grads)]
