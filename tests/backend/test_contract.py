"""The contract every backend module of `keras_gradstab.backend` keeps.

The active backend's module is checked in its own pytest process; `common` (the
`keras.ops` forms that the numpy backend uses) is checked in every process. The
numbers come from NumPy loops and closed forms.
"""

import collections.abc
import importlib

import keras
import numpy as np
import pytest
from keras import ops

from keras_gradstab import backend

BACKEND = keras.config.backend()
DIFFERENTIABLE = BACKEND in ("jax", "tensorflow", "torch")
MODULES = ["common", BACKEND]


def _module(name):
    if name == "common":
        return backend.common
    return importlib.import_module(f"keras_gradstab.backend.{name}")


def _np(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize("name", MODULES)
def test_module_defines_the_contract(name):
    module = _module(name)
    missing = [key for key in backend.CONTRACT if not hasattr(module, key)]
    assert not missing, f"{module.__name__} lacks {missing}"
    assert isinstance(module.NAME, str) and module.NAME
    assert module.reste_backward is None or callable(module.reste_backward)
    assert isinstance(module.fused_recurrence, collections.abc.Mapping)
    assert all(callable(f) for f in module.fused_recurrence.values())


def test_the_package_exports_the_active_module():
    expected = _module(BACKEND) if BACKEND in ("jax", "tensorflow", "torch", "numpy") else None
    if expected is not None:
        assert backend.module is expected
    for key in backend.CONTRACT:
        assert getattr(backend, key) is getattr(backend.module, key)


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("reverse", [False, True])
def test_scan_matches_a_numpy_loop(name, reverse):
    module = _module(name)
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(6, 3)).astype("float32")
    init = rng.normal(size=(3,)).astype("float32")

    def fn(carry, x):
        new = 0.5 * carry + x
        return new, new * 2.0

    carry, ys = module.scan(fn, ops.convert_to_tensor(init), ops.convert_to_tensor(xs), reverse)
    expected_carry, expected_ys = init, np.zeros_like(xs)
    for t in range(5, -1, -1) if reverse else range(6):
        expected_carry = 0.5 * expected_carry + xs[t]
        expected_ys[t] = 2.0 * expected_carry
    np.testing.assert_allclose(_np(carry), expected_carry, rtol=1e-6)
    np.testing.assert_allclose(_np(ys), expected_ys, rtol=1e-6)


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("reverse", [False, True])
def test_associative_scan_is_a_cumulative_sum(name, reverse):
    module = _module(name)
    x = np.arange(1.0, 12.0).reshape(1, 11)
    out = module.associative_scan(lambda a, b: a + b, ops.convert_to_tensor(x), 1, reverse)
    expected = np.cumsum(x[:, ::-1], 1)[:, ::-1] if reverse else np.cumsum(x, 1)
    np.testing.assert_allclose(_np(out), expected)
    joined = module.concatenate([ops.convert_to_tensor(x), ops.convert_to_tensor(x)], 0)
    np.testing.assert_allclose(_np(joined), np.concatenate([x, x], 0))
    if name in ("tensorflow", "torch"):
        # float64 in, float64 out (keras.ops would give float32 on torch).
        assert "64" in str(out.dtype)


@pytest.mark.parametrize("name", MODULES)
def test_autodiff_against_closed_forms(name):
    module = _module(name)
    x = np.array([[0.3, -1.2], [2.0, 0.5]], "float32")
    m = np.array([[1.0, -0.5], [0.25, 2.0]], "float32")
    if name == "common" or not DIFFERENTIABLE:
        with pytest.raises(NotImplementedError):
            module.value_and_grad(lambda a: ops.sum(a**3), [x])
        return
    value, (grad,) = module.value_and_grad(lambda a: ops.sum(a**3), [ops.convert_to_tensor(x)])
    np.testing.assert_allclose(float(_np(value)), np.sum(x**3), rtol=1e-6)
    np.testing.assert_allclose(_np(grad), 3 * x**2, rtol=1e-6)

    def f(a):
        return ops.tanh(ops.matmul(a, ops.convert_to_tensor(m)))

    jac = _np(module.batch_jacobian(f, ops.convert_to_tensor(x)))
    derivative = 1 - np.tanh(x @ m) ** 2  # [B, out]
    expected = derivative[:, :, None] * m.T[None]  # d y_bi / d x_bj = (1 - y^2)_bi m_ji
    np.testing.assert_allclose(jac, expected, rtol=1e-5, atol=1e-6)
    tangent = np.array([[1.0, 0.0], [0.5, -1.0]], "float32")
    y, product = module.jvp(f, ops.convert_to_tensor(x), ops.convert_to_tensor(tangent))
    np.testing.assert_allclose(_np(y), np.tanh(x @ m), rtol=1e-6)
    np.testing.assert_allclose(
        _np(product), np.einsum("bij,bj->bi", expected, tangent), rtol=1e-5, atol=1e-6
    )
