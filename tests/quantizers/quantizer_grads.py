"""Gradient of `sum(upstream * quantizer(x))` w.r.t. x, eagerly or compiled, as NumPy."""

import keras
import numpy as np
from harness import value_and_grad


def quantizer_grad(quantizer, x, upstream=None, jit=False):
    """d/dx sum(upstream * quantizer(x)), i.e. upstream * (surrogate derivative).

    `jit=True` compiles the gradient (`harness.value_and_grad`; torch stays eager).
    """
    x = np.asarray(x, "float32")
    upstream = np.ones_like(x) if upstream is None else np.asarray(upstream, "float32")

    def loss(t):
        return keras.ops.sum(keras.ops.multiply(quantizer(t), upstream))

    return value_and_grad(loss, x, jit=jit)[1][0]
