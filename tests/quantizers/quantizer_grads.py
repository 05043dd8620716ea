"""Gradient of `sum(upstream * quantizer(x))` w.r.t. x, eagerly or compiled, as NumPy."""

import keras
import numpy as np
from harness import BACKEND, value_and_grad


def quantizer_grad(quantizer, x, upstream=None, jit=False):
    """d/dx sum(upstream * quantizer(x)), i.e. upstream * (surrogate derivative).

    `jit=True` compiles the gradient: `jax.jit(jax.grad)` on JAX,
    `tf.function(jit_compile=True)` on TensorFlow; torch stays eager.
    """
    x = np.asarray(x, "float32")
    upstream = np.ones_like(x) if upstream is None else np.asarray(upstream, "float32")

    def loss(t):
        return keras.ops.sum(keras.ops.multiply(quantizer(t), upstream))

    if not jit or BACKEND == "torch":
        return value_and_grad(loss, x)[1][0]
    if BACKEND == "jax":
        import jax

        return np.asarray(jax.jit(jax.grad(loss))(jax.numpy.asarray(x)))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def grad(t):
            with tf.GradientTape() as tape:
                tape.watch(t)
                value = loss(t)
            return tape.gradient(value, t)

        return grad(tf.constant(x)).numpy()
    raise NotImplementedError(BACKEND)
