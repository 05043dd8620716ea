"""cayley and neumann_inverse against NumPy's inverse and orthogonality."""

import numpy as np
import pytest
from harness import KERAS_OPS_KEEP_FLOAT64, numerical_grad, value_and_grad
from keras import ops

import keras_gradstab as kg


def skew(n, seed=0, dtype="float32", batch=()):
    x = np.random.default_rng(seed).normal(size=batch + (n, n))
    return (x - np.swapaxes(x, -1, -2)).astype(dtype)


@pytest.mark.parametrize("batch", [(), (3,)])
def test_cayley_matches_inverse_formula_and_is_orthogonal(batch):
    a = skew(6, batch=batch)
    d = np.array([1, -1, 1, 1, -1, 1], "float32")
    w = ops.convert_to_numpy(kg.ops.cayley(a, d))
    eye = np.eye(6)
    want = np.linalg.inv(eye + a.astype("float64")) @ (eye - a.astype("float64")) @ np.diag(d)
    np.testing.assert_allclose(w, want, atol=1e-5)
    np.testing.assert_allclose(np.swapaxes(w, -1, -2) @ w, np.broadcast_to(eye, w.shape), atol=1e-5)


def test_cayley_gradient_matches_finite_differences():
    dtype = "float64" if KERAS_OPS_KEEP_FLOAT64 else "float32"
    eps, tol = (1e-6, 1e-7) if dtype == "float64" else (1e-2, 2e-2)
    x = np.random.default_rng(1).normal(size=(4, 4)).astype(dtype)
    target = np.random.default_rng(2).normal(size=(4, 4)).astype(dtype)

    def loss(x):
        return ops.sum(ops.multiply(kg.ops.cayley(x - ops.transpose(x)), target))

    def numpy_loss(x):
        a = x - x.T
        return float(np.sum(np.linalg.solve(np.eye(4) + a, np.eye(4) - a) * target))

    _, (grad,) = value_and_grad(loss, x)
    np.testing.assert_allclose(grad, numerical_grad(numpy_loss, x, eps=eps)[0], atol=tol, rtol=tol)


@pytest.mark.parametrize("terms", [0, 1, 4, 12])
def test_neumann_inverse_matches_partial_sums(terms):
    m = 0.3 * skew(5, seed=3, dtype="float64") / 5
    want = sum(np.linalg.matrix_power(-m, j) for j in range(terms + 1))
    dtype = "float64" if KERAS_OPS_KEEP_FLOAT64 else "float32"
    got = ops.convert_to_numpy(kg.ops.neumann_inverse(m.astype(dtype), terms))
    np.testing.assert_allclose(got, want, atol=1e-10 if dtype == "float64" else 1e-6)
    if terms == 12:
        np.testing.assert_allclose(got, np.linalg.inv(np.eye(5) + m), atol=1e-6)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="`a` must be square"):
        kg.ops.cayley(np.ones((3, 4), "float32"))
    with pytest.raises(ValueError, match="`a` must have a floating dtype"):
        kg.ops.cayley(np.ones((3, 3), "int32"))
    with pytest.raises(ValueError, match="`d`"):
        kg.ops.cayley(skew(3), d=np.ones(4, "float32"))
    with pytest.raises(ValueError, match="`m` must be square"):
        kg.ops.neumann_inverse(np.ones((2, 3), "float32"), 2)
    with pytest.raises(ValueError, match="`terms`"):
        kg.ops.neumann_inverse(skew(3), -1)
    with pytest.raises(ValueError, match="`terms`"):
        kg.ops.neumann_inverse(skew(3), 2.0)
