"""keras_gradstab.ops.scan against a NumPy loop, finite differences, and its native path."""

import keras
import numpy as np
import pytest
from harness import BACKEND, KERAS_OPS_KEEP_FLOAT64, numerical_grad, value_and_grad
from keras import ops

import keras_gradstab as kg


def numpy_scan(h0, xs, u, reverse=False):
    h = h0
    ys = [None] * len(xs)
    order = range(len(xs) - 1, -1, -1) if reverse else range(len(xs))
    for t in order:
        h = np.tanh(h @ u + xs[t])
        ys[t] = h
    return h, np.stack(ys)


def problem(dtype, length=9, batch=3, units=4, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(batch, units)).astype(dtype),
        rng.normal(size=(length, batch, units)).astype(dtype),
        (0.5 * rng.normal(size=(units, units))).astype(dtype),
    )


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float64", 1e-10)])
def test_matches_numpy_loop(reverse, dtype, tol):
    if dtype == "float64" and not KERAS_OPS_KEEP_FLOAT64:
        pytest.skip("backend computes in float32")
    h0, xs, u = problem(dtype)
    u_tensor = ops.convert_to_tensor(u)

    def step(h, x):
        h = ops.tanh(ops.matmul(h, u_tensor) + x)
        return h, h

    carry, ys = kg.ops.scan(step, h0, xs, reverse=reverse)
    want_carry, want_ys = numpy_scan(h0, xs, u, reverse)
    np.testing.assert_allclose(ops.convert_to_numpy(carry), want_carry, atol=tol, rtol=0)
    np.testing.assert_allclose(ops.convert_to_numpy(ys), want_ys, atol=tol, rtol=0)
    assert keras.backend.standardize_dtype(ys.dtype) == dtype


def test_nested_carry_and_outputs_with_other_shapes():
    # y of another shape and dtype than the carry (keras.ops.scan on TF forbids it),
    # a tuple carry, an integer counter in the carry, a dict of xs.
    rng = np.random.default_rng(1)
    xs = {
        "a": rng.normal(size=(5, 2, 3)).astype("float32"),
        "b": rng.normal(size=(5, 2)).astype("float32"),
    }
    init = (np.zeros((2, 3), "float32"), np.zeros((), "int32"))

    def step(carry, x):
        h, count = carry
        h = 0.9 * h + x["a"] * x["b"][:, None]
        return (h, count + 1), {"sum": ops.sum(h, axis=-1), "flag": count}

    (h, count), ys = kg.ops.scan(step, init, xs)
    want_h = np.zeros((2, 3))
    sums = []
    for t in range(5):
        want_h = 0.9 * want_h + xs["a"][t] * xs["b"][t][:, None]
        sums.append(want_h.sum(-1))
    np.testing.assert_allclose(ops.convert_to_numpy(h), want_h, atol=1e-5)
    assert int(ops.convert_to_numpy(count)) == 5
    np.testing.assert_allclose(ops.convert_to_numpy(ys["sum"]), np.stack(sums), atol=1e-5)
    np.testing.assert_array_equal(ops.convert_to_numpy(ys["flag"]), np.arange(5))


def test_none_output():
    carry, ys = kg.ops.scan(
        lambda c, x: (c + x, None), np.zeros(2, "float32"), np.ones((4, 2), "float32")
    )
    assert ys is None
    np.testing.assert_allclose(ops.convert_to_numpy(carry), [4.0, 4.0])


@pytest.mark.parametrize("reverse", [False, True])
def test_gradients_match_finite_differences(reverse):
    dtype = "float64" if KERAS_OPS_KEEP_FLOAT64 else "float32"
    eps, tol = (1e-6, 1e-7) if dtype == "float64" else (1e-2, 2e-2)
    h0, xs, u = problem(dtype, length=6, batch=2, units=3, seed=2)

    def loss(h0, xs, u):
        def step(h, x):
            h = ops.tanh(ops.matmul(h, u) + x)
            return h, h * h

        carry, ys = kg.ops.scan(step, h0, xs, reverse=reverse)
        return ops.sum(ys * ops.cos(ys)) + ops.sum(carry)

    def numpy_loss(h0, xs, u):
        carry, hs = numpy_scan(h0, xs, u, reverse)
        ys = hs * hs
        return float(np.sum(ys * np.cos(ys)) + np.sum(carry))

    value, grads = value_and_grad(loss, h0, xs, u)
    np.testing.assert_allclose(value, numpy_loss(h0, xs, u), rtol=1e-5)
    for got, want in zip(grads, numerical_grad(numpy_loss, h0, xs, u, eps=eps)):
        np.testing.assert_allclose(got, want, atol=tol, rtol=tol)


def test_gradient_reaches_closed_over_weights():
    # The weights a layer closes over get their gradient, compared with a loop
    # the backend differentiates itself.
    h0, xs, u = problem("float32", length=8, seed=3)

    def via_scan(u):
        def step(h, x):
            h = ops.tanh(ops.matmul(h, u) + x)
            return h, h

        return ops.sum(kg.ops.scan(step, h0, xs)[1] ** 2)

    def via_loop(u):
        h, total = ops.convert_to_tensor(h0), 0.0
        for t in range(len(xs)):
            h = ops.tanh(ops.add(ops.matmul(h, u), xs[t]))
            total = total + ops.sum(h**2)
        return total

    _, (g_scan,) = value_and_grad(via_scan, u)
    _, (g_loop,) = value_and_grad(via_loop, u)
    np.testing.assert_allclose(g_scan, g_loop, atol=1e-5, rtol=1e-5)


def test_long_sequence_4096_steps():
    length = 4096
    rng = np.random.default_rng(4)
    xs = rng.normal(size=(length, 2, 2)).astype("float32") * 0.1
    u = np.array([[0.9, 0.1], [-0.1, 0.9]], "float32")

    def loss(xs):
        def step(h, x):
            h = ops.tanh(ops.matmul(h, u) + x)
            return h, h

        return ops.sum(kg.ops.scan(step, np.zeros((2, 2), "float32"), xs)[1])

    value, (grad,) = value_and_grad(loss, xs)
    _, hs = numpy_scan(np.zeros((2, 2)), xs.astype("float64"), u.astype("float64"))
    np.testing.assert_allclose(value, hs.sum(), rtol=1e-4)
    assert grad.shape == xs.shape and np.all(np.isfinite(grad))


def test_native_path_is_the_one_that_runs(monkeypatch):
    """Spies on each backend's own loop primitive, and on keras.ops.scan."""
    calls = []
    monkeypatch.setattr(keras.ops, "scan", lambda *a, **k: calls.append("keras.ops.scan"))
    if BACKEND == "jax":
        import jax

        real = jax.lax.scan
        monkeypatch.setattr(jax.lax, "scan", lambda *a, **k: calls.append("lax") or real(*a, **k))
        expected = "lax"
    elif BACKEND == "tensorflow":
        import tensorflow as tf

        real = tf.while_loop
        monkeypatch.setattr(
            tf, "while_loop", lambda *a, **k: calls.append("while") or real(*a, **k)
        )
        expected = "while"
    elif BACKEND == "torch":
        import torch

        from keras_gradstab.backend import torch as torch_backend

        real = torch_backend._loop
        monkeypatch.setattr(torch_backend, "_loop", lambda *a: calls.append("loop") or real(*a))
        expected = "loop"
        torch.set_grad_enabled(True)
    else:
        pytest.skip(f"no native path on {BACKEND}")
    xs = ops.ones((3, 2))
    carry, _ = kg.ops.scan(lambda c, x: (c + x, c), ops.zeros((2,)), xs)
    assert calls == [expected], calls
    np.testing.assert_allclose(ops.convert_to_numpy(carry), [3.0, 3.0])
    assert kg.backend.NAME != "keras.ops"


def test_bad_input_names_the_argument():
    xs = np.ones((3, 2), "float32")
    with pytest.raises(ValueError, match="`fn`"):
        kg.ops.scan("not callable", np.zeros(2, "float32"), xs)
    with pytest.raises(ValueError, match="same length"):
        kg.ops.scan(lambda c, x: (c, x), np.zeros(2, "float32"), (xs, np.ones((4, 2), "float32")))
    with pytest.raises(ValueError, match="length 0"):
        kg.ops.scan(lambda c, x: (c, x), np.zeros(2, "float32"), np.ones((0, 2), "float32"))
    with pytest.raises(ValueError, match="leading time axis"):
        kg.ops.scan(lambda c, x: (c, x), np.zeros(2, "float32"), np.float32(1.0))
    with pytest.raises(ValueError, match="`reverse`"):
        kg.ops.scan(lambda c, x: (c, x), np.zeros(2, "float32"), xs, reverse="yes")
    with pytest.raises(ValueError, match="`init`"):
        kg.ops.scan(lambda c, x: (ops.concatenate([c, c]), x), np.zeros(2, "float32"), xs)


def test_single_step_under_jit_with_gradient():
    # A one-step scan once broke XLA's gradient on tensorflow (maximum_iterations=0).
    x = np.random.default_rng(5).normal(size=(1, 2, 3)).astype("float32")
    u = np.eye(3, dtype="float32") * 0.5

    def loss(x):
        def step(h, xt):
            h = ops.tanh(ops.matmul(h, u) + xt)
            return h, h * 2.0

        carry, ys = kg.ops.scan(step, ops.zeros((2, 3)), x)
        return ops.sum(ys) + ops.sum(carry)

    value, (grad,) = value_and_grad(loss, x, jit=True)
    np.testing.assert_allclose(value, 3.0 * np.tanh(x[0]).sum(), rtol=1e-5)
    np.testing.assert_allclose(grad, 3.0 * (1 - np.tanh(x) ** 2), rtol=1e-5)


@pytest.mark.skipif(BACKEND != "torch", reason="torch.compile is torch's")
def test_inside_torch_compile_gives_the_eager_value_and_gradient():
    import torch

    h0, xs, u = problem("float32", length=7, seed=6)

    def loss(u, xs):
        def step(h, x):
            h = ops.tanh(ops.matmul(h, u) + x)
            return h, 2.0 * h

        carry, ys = kg.ops.scan(step, torch.as_tensor(h0), xs)
        return (ys**2).mean() + carry.sum()

    results = []
    # Dynamo without a code generator: the scan's handling by dynamo is what is tested.
    for fn in (loss, torch.compile(loss, backend="eager")):
        u_t = torch.tensor(u, requires_grad=True)
        xs_t = torch.tensor(xs, requires_grad=True)
        value = fn(u_t, xs_t)
        value.backward()
        results.append([value.detach().numpy(), u_t.grad.numpy(), xs_t.grad.numpy()])
    carry, hs = numpy_scan(h0, xs, u)
    np.testing.assert_allclose(results[0][0], ((2 * hs) ** 2).mean() + carry.sum(), rtol=1e-5)
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
