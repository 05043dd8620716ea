"""keras_gradstab.ops.linear_recurrence against a NumPy loop and finite differences."""

import keras
import numpy as np
import pytest
from harness import has_float64, numerical_grad, value_and_grad, with_float64
from keras import ops

import keras_gradstab as kg


def numpy_recurrence(a, b, initial=None, reverse=False):
    matrix = a.ndim == b.ndim + 1
    batch, length = b.shape[:2]
    h = np.zeros((batch,) + b.shape[2:]) if initial is None else initial.astype("float64")
    out = np.zeros(b.shape)
    order = range(length - 1, -1, -1) if reverse else range(length)
    for t in order:
        h = (np.einsum("...ij,...j->...i", a[:, t], h) if matrix else a[:, t] * h) + b[:, t]
        out[:, t] = h
    return out


def random_problem(form, dtype, length=13, seed=0):
    rng = np.random.default_rng(seed)
    b = rng.normal(size=(2, length, 3)).astype(dtype)
    if form == "diagonal":
        a = rng.uniform(-1.0, 1.0, size=(2, length, 3)).astype(dtype)
    else:
        a = (rng.normal(size=(2, length, 3, 3)) / np.sqrt(3)).astype(dtype)
    initial = rng.normal(size=(2, 3)).astype(dtype)
    return a, b, initial


@pytest.mark.parametrize("form", ["diagonal", "matrix"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_initial", [False, True])
@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float64", 1e-10)])
@with_float64
def test_matches_numpy_loop(form, reverse, with_initial, dtype, tol):
    if dtype == "float64" and not has_float64():
        pytest.skip("backend computes in float32")
    a, b, initial = random_problem(form, dtype)
    initial = initial if with_initial else None
    got = kg.ops.linear_recurrence(a, b, initial=initial, reverse=reverse)
    want = numpy_recurrence(a.astype("float64"), b.astype("float64"), initial, reverse)
    assert keras.backend.standardize_dtype(got.dtype) == dtype
    np.testing.assert_allclose(ops.convert_to_numpy(got), want, atol=tol, rtol=tol)


@pytest.mark.parametrize("form", ["diagonal", "matrix"])
@with_float64
def test_gradients_match_finite_differences(form):
    dtype = "float64" if has_float64() else "float32"
    eps, tol = (1e-6, 1e-7) if dtype == "float64" else (1e-2, 2e-2)
    a, b, initial = random_problem(form, dtype, length=5, seed=1)
    weights = np.linspace(-1.0, 1.0, b.size).reshape(b.shape).astype(dtype)

    def loss(a, b, initial):
        return ops.sum(ops.multiply(kg.ops.linear_recurrence(a, b, initial=initial), weights))

    def numpy_loss(a, b, initial):
        return float(np.sum(numpy_recurrence(a, b, initial) * weights))

    value, grads = value_and_grad(loss, a, b, initial)
    np.testing.assert_allclose(value, numpy_loss(a, b, initial), rtol=1e-5)
    for got, want in zip(grads, numerical_grad(numpy_loss, a, b, initial, eps=eps)):
        np.testing.assert_allclose(got, want, atol=tol, rtol=tol)


@pytest.mark.parametrize("form", ["diagonal", "matrix"])
def test_4096_steps(form):
    length = 4096
    rng = np.random.default_rng(2)
    b = rng.normal(size=(1, length, 2)).astype("float32")
    if form == "diagonal":
        a = rng.uniform(0.5, 0.99, size=(1, length, 2)).astype("float32")
    else:
        theta = rng.uniform(0, np.pi, size=(1, length))
        c, s = np.cos(theta) * 0.99, np.sin(theta) * 0.99
        a = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2).astype("float32")
    got = ops.convert_to_numpy(kg.ops.linear_recurrence(a, b))
    want = numpy_recurrence(a.astype("float64"), b.astype("float64"))
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_bad_input_names_the_argument():
    a, b, _ = random_problem("diagonal", "float32")
    with pytest.raises(ValueError, match="`a` must have the shape of `b`"):
        kg.ops.linear_recurrence(a[:, :-1], b)
    with pytest.raises(ValueError, match="square"):
        kg.ops.linear_recurrence(np.ones((2, 13, 3, 4), "float32"), b)
    with pytest.raises(ValueError, match="`a` must have the rank"):
        kg.ops.linear_recurrence(np.ones((2, 13), "float32"), b)
    with pytest.raises(ValueError, match="`b` must have a floating dtype"):
        kg.ops.linear_recurrence(a, b.astype("int32"))
    with pytest.raises(ValueError, match="`a` must have a floating dtype"):
        kg.ops.linear_recurrence(a.astype("int32"), b)
    with pytest.raises(ValueError, match="`initial`"):
        kg.ops.linear_recurrence(a, b, initial=np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="`b` must have rank"):
        kg.ops.linear_recurrence(np.ones(3, "float32"), np.ones(3, "float32"))
    with pytest.raises(ValueError, match="mismatched lengths"):
        kg.ops.linear_recurrence(np.ones((2, 12, 3, 3), "float32"), b)
