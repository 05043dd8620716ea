"""Steps of the forms the torch scan records and rewrites (step_replay.py), on every backend.

The torch scan records its first step and replays it, with gate slices fused into
one split and `mm + bias` into `addmm`. These tests give every backend steps that
exercise those rewrites and the cases that must not be replayed as recorded (a
custom gradient, a stopped gradient), against NumPy and finite differences.
"""

import numpy as np
import pytest
from harness import BACKEND, KERAS_OPS_KEEP_FLOAT64, numerical_grad, value_and_grad
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
    # f(x) = x forward, 3 * upstream backward: a replay of the forward's calls
    # alone would give a gradient of 1.
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


@pytest.mark.skipif(
    BACKEND != "torch",
    reason="the recorded step is torch's (JAX and TensorFlow trace the step themselves)",
)
def test_torch_records_rewrites_and_falls_back():
    import torch

    from keras_gradstab.backend.torch.step_replay import StepProgram

    h0, xs, u, b = (ops.convert_to_tensor(a) for a in sliced_problem(seed=4))
    u.requires_grad_()
    with torch.enable_grad():
        result, program = StepProgram.record(sliced_step(u, b), h0, xs[0])
    assert program is not None
    # Two fused groups (x's three disjoint parts with a gap, hx's three parts),
    # one addmm; h's overlapping slices stay slices.
    assert program.source.count("split_with_sizes") == 2, program.source
    assert program.source.count("addmm") == 1 and "aten.slice" in program.source
    replayed = program(h0, xs[0])
    for got, want in zip(replayed, torch.utils._pytree.tree_leaves(result)):
        torch.testing.assert_close(got, want)

    # One tensor passed as two carry leaves (an LSTM's `(zeros, zeros)`): the
    # replay must still tell them apart once they differ.
    def two_states(c, x):
        h, s = c
        s = s + x
        return (ops.tanh(h + 2.0 * s), s), h

    zeros = torch.zeros_like(h0)
    (carry1, _), program = StepProgram.record(two_states, (zeros, zeros), h0)
    assert program is not None
    want = two_states(carry1, 2.0 * h0)[0]
    got = program(*carry1, 2.0 * h0)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)

    # A step that reads a tensor's value into Python is not replayed: the sign
    # it picks differs from step to step.
    def branching(c, x):
        sign = 1.0 if float(ops.sum(x)) > 0 else -1.0
        return c + sign * x, c

    _, program = StepProgram.record(branching, h0[:, :1], xs[0][:, :1])
    assert program is None
    signs = np.array([1.0, -1.0, 1.0, -1.0], "float32")
    steps = signs[:, None, None] * np.ones((4, 1, 1), "float32")
    carry, _ = kg.ops.scan(branching, np.zeros((1, 1), "float32"), steps)
    np.testing.assert_allclose(ops.convert_to_numpy(carry), [[4.0]])

    # A step whose values go through NumPy records them as a constant; the
    # check of the second step sees the replay disagree and the scan calls `fn`.
    def through_numpy(c, x):
        c = c + ops.convert_to_tensor(np.tanh(ops.convert_to_numpy(c))) + x
        return c, c

    x4 = np.full((4, 1), 0.5, "float32")
    want, c = [], np.zeros(1, "float32")
    for x in x4:
        c = c + np.tanh(c) + x
        want.append(c)
    _, ys = kg.ops.scan(through_numpy, np.zeros(1, "float32"), x4)
    np.testing.assert_allclose(ops.convert_to_numpy(ys), np.stack(want), rtol=1e-6)

    # Nor is a step whose custom gradient runs with autograd off.
    @ops.custom_gradient
    def identity(x):
        return x + 0.0, lambda *a, upstream=None: a[0] if upstream is None else upstream

    with torch.enable_grad():
        _, program = StepProgram.record(
            lambda c, x: (c + identity(x), c), h0, xs[0][:, :3].clone().requires_grad_()
        )
    assert program is None
