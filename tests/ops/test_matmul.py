"""`ops.matmul`: NumPy's matmul, never a broadcasting batch product on TensorFlow."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from harness import numerical_grad, value_and_grad
from product_guard import broadcasting_product, record_products

from keras_gradstab import ops as kg_ops

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SHAPES = [
    ((2, 1, 5, 4), (4, 3)),  # the stack shape oneDNN gets wrong
    ((5, 4), (2, 1, 4, 3)),
    ((3, 1, 5, 4), (1, 4, 3)),
    ((1, 4, 3), (3, 1, 5, 3, 2)),
    ((3, 1, 5, 4), (3, 2, 4, 3)),
    ((2, 1, 5, 4), (2, 1, 4, 3)),
    ((1, 2, 5, 4), (3, 1, 4, 3)),
    ((2, 3, 2, 5, 4), (4, 3)),
    ((4,), (2, 1, 4, 3)),
    ((2, 1, 5, 4), (4,)),
    ((4,), (4,)),
    ((5, 4), (4, 3)),
]


@pytest.mark.parametrize("a_shape, b_shape", SHAPES)
def test_values_and_gradients_match_numpy(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a = rng.normal(size=a_shape).astype("float32")
    b = rng.normal(size=b_shape).astype("float32")
    y = keras.ops.convert_to_numpy(kg_ops.matmul(a, b))
    want = np.matmul(a.astype("float64"), b)
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, atol=1e-5)

    g = rng.normal(size=want.shape).astype("float32")
    _, (grad_a, grad_b) = value_and_grad(
        lambda a, b: keras.ops.sum(keras.ops.multiply(kg_ops.matmul(a, b), g)), a, b
    )
    fd_a, fd_b = numerical_grad(
        lambda a, b: np.sum(np.matmul(a, b) * g), a.astype("float64"), b.astype("float64")
    )
    np.testing.assert_allclose(grad_a, fd_a, atol=1e-4)
    np.testing.assert_allclose(grad_b, fd_b, atol=1e-4)


def test_float64_stays_float64():
    a = keras.ops.convert_to_tensor(np.ones((2, 1, 3, 3)), "float64")
    b = keras.ops.convert_to_tensor(np.ones((3, 3)), "float64")
    expected = "float64" if keras.config.backend() != "jax" else keras.ops.convert_to_numpy(a).dtype
    assert keras.ops.convert_to_numpy(kg_ops.matmul(a, b)).dtype == expected


def test_kernels_match_numpy_in_a_fresh_process():
    """The kernels that build or apply matrices, with the backend's defaults (oneDNN on
    for TensorFlow), several rounds in one process: a broadcasting product on a CPU whose
    oneDNN kernel is broken gives wrong values or kills the process."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    rounds = 3 if keras.config.backend() == "tensorflow" else 1  # the others: the math once
    result = subprocess.run(
        [sys.executable, os.path.join(TESTS, "products_worker.py"), str(rounds)],
        cwd=TESTS,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert f"ok ({keras.config.backend()}, {rounds} rounds)" in result.stdout


@pytest.mark.parametrize(
    "op, shapes, attrs, flagged",
    [
        ("BatchMatMulV2", [(2, 1, 4, 4), (4, 4)], None, True),
        ("BatchMatMulV2", [(2, 4, 4), (4, 4)], None, True),
        ("BatchMatMulV2", [(2, 1, 4, 4), (1, 1, 4, 4)], None, True),
        ("BatchMatMulV2", [(2, 1, 4, 4), (2, 1, 4, 4)], None, False),
        ("BatchMatMulV2", [(None, 4, 4), (None, 4, 4)], None, False),
        ("BatchMatMulV3", [(3, 4, 4), (1, 4, 4)], None, True),
        ("Einsum", [(2, 1, 4, 4), (4, 4)], {"equation": "...ij,jk->...ik"}, True),
        ("Einsum", [(2, 3, 4), (4, 2, 2)], {"equation": "...c,chg->...hg"}, True),
        ("Einsum", [(2, 1, 4, 4), (4, 4)], {"equation": "abij,jk->abik"}, False),
        ("Einsum", [(2, 3, 4), (2, 3, 4)], {"equation": "...c,...c->..."}, False),
        ("MatMul", [(8, 4), (4, 4)], None, False),
    ],
)
def test_guard_classifies_products(op, shapes, attrs, flagged):
    assert bool(broadcasting_product(op, shapes, attrs)) == flagged


@pytest.mark.broadcasting_products
@pytest.mark.skipif(keras.config.backend() != "tensorflow", reason="records TensorFlow ops")
def test_guard_records_the_library_s_broadcasting_products():
    m = np.eye(4, dtype="float32")
    # [4, 4] x [2, 4, 5] per step: keras.ops.matmul hands TensorFlow a broadcasting
    # BatchMatMulV2 (a batch shape oneDNN gets right, so safe to run; flagged).
    xs = np.ones((3, 2, 4, 5), "float32")
    zero = np.zeros((), "float32")
    with record_products(roots=(TESTS,)) as found:  # this file as "the library"
        kg_ops.scan(lambda c, x: (c, keras.ops.matmul(m, x)), zero, xs)
    assert found and all("test_matmul.py" in site for _, site in found), found
    with record_products(roots=(TESTS,)) as found:
        kg_ops.scan(lambda c, x: (c, kg_ops.matmul(m, x)), zero, xs)
    assert found == []
    with record_products() as found:  # keras_gradstab's code: the test's product is not its
        kg_ops.scan(lambda c, x: (c, keras.ops.matmul(m, x)), zero, xs)
    assert found == []
