"""Scan steps of the forms recurrent cells take, on every backend.

A gated step that cuts its inputs into adjacent, gapped, repeated and overlapping
slices; a step with a custom gradient; a step with a stopped gradient: values
against NumPy and gradients against finite differences or closed forms.
"""

import numpy as np
import pytest
from harness import KERAS_OPS_KEEP_FLOAT64, numerical_grad, value_and_grad
from keras import ops

import keras_gradstab as kg

DTYPE = "float64" if KERAS_OPS_KEEP_FLOAT64 else "float32"
EPS, TOL = (1e-6, 1e-7) if DTYPE == "float64" else (1e-2, 2e-2)


def sliced_step(u, b):
    """A gated step that cuts its inputs into parts: adjacent, with a gap, repeated,
    and overlapping (the last pair must not be fused into a split)."""
    u, b = ops.convert_to_tensor(u), ops.convert_to_tensor(b)

    def step(h, x):
        hx = ops.matmul(h, u) + b  # [B, 6]
        z = ops.sigmoid(x[:, 0:2] + hx[:, 0:2])
        c = ops.tanh(x[:, 2:4] + hx[:, 2:4] + x[:, 2:4])  # a repeated slice
        skip = x[:, 6:8]  # a gap at 4:6
        over = h[:, 0:2] * h[:, 1:3]  # overlapping slices of h
        h = z * h[:, 0:3][:, 0:2] + (1.0 - z) * c + 0.1 * skip * over
        h = ops.concatenate([h, hx[:, 4:5]], axis=-1)
        return h, h[:, 0:2]

    return step


def numpy_sliced(h0, xs, u, b):
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h, ys = h0, []
    for x in xs:
        hx = h @ u + b
        z = sigmoid(x[:, 0:2] + hx[:, 0:2])
        c = np.tanh(x[:, 2:4] + hx[:, 2:4] + x[:, 2:4])
        h2 = z * h[:, 0:2] + (1 - z) * c + 0.1 * x[:, 6:8] * h[:, 0:2] * h[:, 1:3]
        h = np.concatenate([h2, hx[:, 4:5]], axis=-1)
        ys.append(h[:, 0:2])
    return h, np.stack(ys)


def sliced_problem(seed=0, length=5, batch=2):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(batch, 3)).astype(DTYPE),
        rng.normal(size=(length, batch, 8)).astype(DTYPE),
        (0.5 * rng.normal(size=(3, 6))).astype(DTYPE),
        rng.normal(size=(6,)).astype(DTYPE),
    )


@pytest.mark.parametrize("reverse", [False, True])
def test_sliced_gated_step_matches_numpy_and_finite_differences(reverse):
    h0, xs, u, b = sliced_problem(seed=1)

    def loss(h0, xs, u, b):
        carry, ys = kg.ops.scan(sliced_step(u, b), h0, xs, reverse=reverse)
        return ops.sum(ys * ys) + ops.sum(ops.sin(carry))

    def numpy_loss(h0, xs, u, b):
        order = slice(None, None, -1) if reverse else slice(None)
        carry, ys = numpy_sliced(h0, xs[order], u, b)
        return float(np.sum(ys * ys) + np.sum(np.sin(carry)))

    carry, ys = kg.ops.scan(sliced_step(u, b), h0, xs, reverse=reverse)
    want_carry, want_ys = numpy_sliced(h0, xs[::-1] if reverse else xs, u, b)
    np.testing.assert_allclose(ops.convert_to_numpy(carry), want_carry, rtol=1e-5, atol=1e-6)
    got_ys = ops.convert_to_numpy(ys)
    np.testing.assert_allclose(got_ys[::-1] if reverse else got_ys, want_ys, rtol=1e-5, atol=1e-6)

    value, grads = value_and_grad(loss, h0, xs, u, b)
    np.testing.assert_allclose(value, numpy_loss(h0, xs, u, b), rtol=1e-5)
    for got, want in zip(grads, numerical_grad(numpy_loss, h0, xs, u, b, eps=EPS)):
        np.testing.assert_allclose(got, want, atol=TOL, rtol=TOL)


def test_custom_gradient_inside_a_step_is_kept():
    # f(x) = x forward, 3 * upstream backward: differentiating the forward's
    # operations alone would give a gradient of 1.
    @ops.custom_gradient
    def triple_grad(x):
        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            return 3.0 * upstream

        return x + 0.0, grad

    xs = np.random.default_rng(2).normal(size=(4, 2, 3)).astype("float32")

    def loss(xs):
        def step(c, x):
            c = c + triple_grad(x)
            return c, c

        carry, ys = kg.ops.scan(step, ops.zeros((2, 3)), xs)
        return ops.sum(ys) + ops.sum(carry)

    value, (grad,) = value_and_grad(loss, xs)
    # d/dx_t of sum_s c_s + c_T, with c_s = sum_{t<=s} x_t: (T - t) + 1, times 3.
    weights = 3.0 * (np.arange(4, 0, -1) + 1.0)
    np.testing.assert_allclose(grad, np.broadcast_to(weights[:, None, None], xs.shape), rtol=1e-6)
    np.testing.assert_allclose(value, np.cumsum(xs, 0).sum() + xs.sum(), rtol=1e-5)


def test_stopped_gradient_inside_a_step():
    xs = np.random.default_rng(3).normal(size=(5, 2)).astype("float32")

    def loss(xs):
        def step(c, x):
            c = 0.5 * ops.stop_gradient(c) + x * x
            return c, c

        return ops.sum(kg.ops.scan(step, ops.zeros((2,)), xs)[1])

    _, (grad,) = value_and_grad(loss, xs)
    # Each y_t = 0.5 * stop(c_{t-1}) + x_t^2: only x_t's own square reaches it.
    np.testing.assert_allclose(grad, 2.0 * xs, rtol=1e-6)
