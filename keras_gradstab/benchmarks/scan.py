"""Forward+backward of a GRU-sized recurrence: `keras_gradstab.ops.scan` against
`keras.ops.scan` and `keras.layers.RNN(keras.layers.GRUCell)` on this process's backend.

All three compute the same GRU (Keras's `reset_after=True` form): the two scans
hoist the input projection of every step into one matmul before the loop, as the
library's layers do; `keras.layers.RNN` runs the cell as Keras does. The timed
step is one forward pass and the gradient of a scalar loss w.r.t. every weight:
`jax.jit(jax.grad)` on JAX, `tf.function` with a `GradientTape` on TensorFlow
(and with `jit_compile=True` for the library's scan), eager `backward()` on torch.
"""

import keras
import numpy as np
from keras import ops

import keras_gradstab as kg
from keras_gradstab.benchmarks.timing import interleaved_medians, torch_backward

BATCH, UNITS, FEATURES = 32, 128, 64


def _gru_step(recurrent_kernel, recurrent_bias, units):
    def step(h, x):
        hx = ops.matmul(h, recurrent_kernel) + recurrent_bias
        z = ops.sigmoid(x[:, :units] + hx[:, :units])
        r = ops.sigmoid(x[:, units : 2 * units] + hx[:, units : 2 * units])
        c = ops.tanh(x[:, 2 * units :] + r * hx[:, 2 * units :])
        h = z * h + (1.0 - z) * c
        return h, h

    return step


def _scan_loss(scan_fn, weights, x):
    kernel, recurrent_kernel, bias, recurrent_bias = weights
    projected = ops.transpose(ops.matmul(x, kernel) + bias, (1, 0, 2))
    h0 = ops.zeros((x.shape[0], UNITS), dtype=x.dtype)
    _, hs = scan_fn(_gru_step(recurrent_kernel, recurrent_bias, UNITS), h0, projected)
    return ops.mean(hs**2)


def _layer_loss(layer, x):
    return ops.mean(layer(x) ** 2)


def _timers(x):
    """Returns {case name: zero-argument callable doing forward+backward}."""
    backend = keras.config.backend()
    layer = keras.layers.RNN(keras.layers.GRUCell(UNITS), return_sequences=True)
    layer.build(x.shape)
    cell = layer.cell
    weights = [cell.kernel, cell.recurrent_kernel, cell.bias]

    # GRUCell(reset_after=True) keeps input and recurrent biases as rows of one weight.
    def scan_weights(values):
        kernel, recurrent_kernel, bias = values
        return kernel, recurrent_kernel, bias[0], bias[1]

    cases = {}
    if backend == "jax":
        import jax

        x = jax.numpy.asarray(x)
        values = [w.value for w in weights]

        def jit_grad(loss):
            grad = jax.jit(jax.grad(loss))
            return lambda: jax.block_until_ready(grad(values))

        cases["kg.ops.scan"] = jit_grad(lambda v: _scan_loss(kg.ops.scan, scan_weights(v), x))
        cases["keras.ops.scan"] = jit_grad(lambda v: _scan_loss(ops.scan, scan_weights(v), x))

        non_trainable = [w.value for w in layer.non_trainable_variables]

        def layer_loss(v):
            outputs, _ = layer.stateless_call(v, non_trainable, x)
            return ops.mean(outputs**2)

        cases["keras.layers.RNN"] = jit_grad(layer_loss)
    elif backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        variables = [w.value for w in weights]

        def tape_grad(loss, jit_compile=False):
            @tf.function(jit_compile=jit_compile)
            def grad():
                with tf.GradientTape() as tape:
                    value = loss()
                return tape.gradient(value, variables)

            return lambda: [g.numpy() for g in grad()]

        def scan_loss(scan_fn):
            return lambda: _scan_loss(scan_fn, scan_weights(variables), x)

        cases["kg.ops.scan"] = tape_grad(scan_loss(kg.ops.scan))
        cases["kg.ops.scan (XLA)"] = tape_grad(scan_loss(kg.ops.scan), jit_compile=True)
        cases["keras.ops.scan"] = tape_grad(scan_loss(ops.scan))
        cases["keras.layers.RNN"] = tape_grad(lambda: _layer_loss(layer, x))
    elif backend == "torch":
        import torch

        x = torch.as_tensor(x)
        params = [w.value for w in weights]

        def backward(loss):
            return torch_backward(loss, params)

        cases["kg.ops.scan"] = backward(lambda: _scan_loss(kg.ops.scan, scan_weights(params), x))
        cases["keras.ops.scan"] = backward(lambda: _scan_loss(ops.scan, scan_weights(params), x))
        cases["keras.layers.RNN"] = backward(lambda: _layer_loss(layer, x))
    else:
        raise ValueError(f"no scan benchmark for backend {backend!r}")
    return cases


def run(quick=False, steps=None, repeats=None):
    steps = steps or (64 if quick else 256)
    repeats = repeats or (3 if quick else 10)
    x = np.random.default_rng(0).normal(size=(BATCH, steps, FEATURES)).astype("float32")
    timers = _timers(x)
    seconds = interleaved_medians(timers, repeats)
    rows = []
    for name, value in seconds.items():
        rows.append(
            {
                "benchmark": "scan",
                "backend": keras.config.backend(),
                "case": name,
                "shape": f"B={BATCH} T={steps} D={FEATURES} H={UNITS}",
                "seconds": value,
                "vs keras.layers.RNN": seconds["keras.layers.RNN"] / value,
                "vs keras.ops.scan": seconds["keras.ops.scan"] / value,
            }
        )
    return rows
