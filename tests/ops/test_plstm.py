"""keras_gradstab.ops.plstm_1d / plstm_2d against the NumPy double loop of the
equations (tests/plstm_reference.py) and finite differences of it."""

import functools

import numpy as np
import pytest
from harness import BACKEND, KERAS_OPS_KEEP_FLOAT64, numerical_grad, value_and_grad
from keras import ops
from plstm_reference import plstm_1d_reference, plstm_2d_reference

import keras_gradstab as kg

GATES_2D = kg.ops.plstm.GATES_2D


def problem_1d(batch=2, length=11, dk=3, dv=4, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    q, k = rng.normal(size=(2, batch, length, dk)).astype(dtype)
    v = rng.normal(size=(batch, length, dv)).astype(dtype)
    gates = list(rng.uniform(-1.0, 1.0, size=(4, batch, length)).astype(dtype))
    initial = rng.normal(size=(batch, dk, dv)).astype(dtype)
    return q, k, v, gates, initial


def problem_2d(batch=2, size_x=5, size_y=7, dk=3, dv=2, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    q, k = rng.normal(size=(2, batch, size_x, size_y, dk)).astype(dtype)
    v = rng.normal(size=(batch, size_x, size_y, dv)).astype(dtype)
    gates = list(rng.uniform(-1.0, 1.0, size=(9, batch, size_x, size_y)).astype(dtype))
    return q, k, v, gates


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def compiled(fn, **kwargs):
    """`fn` with keyword arguments bound; jitted on JAX, whose eager mode compiles
    every op for every new shape."""
    bound = functools.partial(fn, **kwargs)
    if BACKEND == "jax":
        import jax

        return jax.jit(bound)
    return bound


# The oracle itself, against two independent statements of the same math.


def test_reference_1d_is_the_path_summed_attention():
    q, k, v, (s, t, m, d), _ = problem_1d(batch=1, length=6, dtype="float64")
    h, _ = plstm_1d_reference(q, k, v, s, t, m, d)
    length = q.shape[1]
    g = np.zeros((length, length))
    for a in range(length):
        g[a, a] = d[0, a]
        for b in range(a):
            g[a, b] = m[0, a] * np.prod(t[0, b + 1 : a]) * s[0, b]
    want = 3**-0.5 * (g * (q[0] @ k[0].T)) @ v[0]
    np.testing.assert_allclose(h[0], want, atol=1e-12)


def test_reference_2d_reduces_to_1d_on_a_line():
    q, k, v, gates = problem_2d(batch=1, size_x=1, size_y=6, dtype="float64")
    g = dict(zip(GATES_2D, gates))
    h = plstm_2d_reference(q, k, v, *gates)
    want, _ = plstm_1d_reference(
        q[:, 0],
        k[:, 0],
        v[:, 0],
        g["source_d"][:, 0],
        g["transition_du"][:, 0],
        g["mark_u"][:, 0],
        g["direct"][:, 0],
    )
    np.testing.assert_allclose(h[:, 0], want, atol=1e-12)
    # Along x only the rightward states move.
    qt, kt, vt = (np.swapaxes(a, 1, 2) for a in (q, k, v))
    gt = [np.swapaxes(a, 1, 2) for a in gates]
    h = plstm_2d_reference(qt, kt, vt, *gt)
    gt = dict(zip(GATES_2D, gt))
    want, _ = plstm_1d_reference(
        qt[:, :, 0],
        kt[:, :, 0],
        vt[:, :, 0],
        gt["source_r"][:, :, 0],
        gt["transition_rl"][:, :, 0],
        gt["mark_l"][:, :, 0],
        gt["direct"][:, :, 0],
    )
    np.testing.assert_allclose(h[:, :, 0], want, atol=1e-12)


# plstm_1d


# Chunks of 1, of a size that does not divide T = 11 (padding), and all of T.
CASES_1D = [
    ("recurrent", None, True),
    ("parallel", 1, True),
    ("parallel", 3, True),
    ("parallel", None, True),
    ("recurrent", None, False),
    ("parallel", 4, False),
]


@pytest.mark.parametrize("form,chunk,with_initial", CASES_1D)
def test_plstm_1d_matches_reference(form, chunk, with_initial):
    q, k, v, gates, initial = problem_1d()
    initial = initial if with_initial else None
    want, want_state = plstm_1d_reference(q, k, v, *gates, initial_state=initial)
    h, state = compiled(kg.ops.plstm_1d, chunk_size=chunk, return_state=True, form=form)(
        q, k, v, *gates, initial_state=initial
    )
    np.testing.assert_allclose(numpy(h), want, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(numpy(state), want_state, atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(not KERAS_OPS_KEEP_FLOAT64, reason="keras.ops computes in float32 here")
@pytest.mark.parametrize("form,chunk", [("recurrent", None), ("parallel", 4)])
def test_plstm_1d_float64(form, chunk):
    q, k, v, gates, initial = problem_1d(dtype="float64")
    want, _ = plstm_1d_reference(q, k, v, *gates, initial_state=initial)
    h = kg.ops.plstm_1d(q, k, v, *gates, chunk_size=chunk, initial_state=initial, form=form)
    assert numpy(h).dtype == np.float64
    np.testing.assert_allclose(numpy(h), want, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("form,chunk", [("recurrent", None), ("parallel", 2), ("parallel", 3)])
def test_plstm_1d_gradients_match_finite_differences(form, chunk):
    dtype = "float64" if KERAS_OPS_KEEP_FLOAT64 else "float32"
    tol = 1e-7 if dtype == "float64" else 2e-4
    q, k, v, gates, initial = problem_1d(batch=1, length=5, dk=2, dv=2, dtype=dtype, seed=3)
    gates[1][0, 2] = 0.0  # a zero transition: the parallel form's products stay exact
    weights = np.linspace(-1.0, 1.0, 10).reshape(1, 5, 2)
    args = (q, k, v, *gates, initial)

    def loss(q, k, v, s, t, m, d, initial):
        h = kg.ops.plstm_1d(q, k, v, s, t, m, d, chunk_size=chunk, initial_state=initial, form=form)
        return ops.sum(h * ops.cast(weights, h.dtype))

    def numpy_loss(q, k, v, s, t, m, d, initial):
        return float(np.sum(plstm_1d_reference(q, k, v, s, t, m, d, initial)[0] * weights))

    value, grads = value_and_grad(compiled(loss), *args)
    np.testing.assert_allclose(value, numpy_loss(*args), rtol=1e-5)
    for got, want in zip(grads, numerical_grad(numpy_loss, *args, eps=1e-6)):
        np.testing.assert_allclose(got, want, atol=tol, rtol=tol)


# plstm_2d


# On a 5 x 7 grid: tiles of one cell, non-square tiles that leave a remainder,
# square ones, and one tile over the whole grid (8 is clipped to 5 x 7).
CASES_2D = [
    ("recurrent", None),
    ("parallel", 1),
    ("parallel", (3, 2)),
    ("parallel", 4),
    ("parallel", 8),
]


@pytest.mark.parametrize("form,chunk", CASES_2D)
@pytest.mark.parametrize("without", [None, "transition_dl"])
def test_plstm_2d_matches_reference(form, chunk, without):
    q, k, v, gates = problem_2d()
    if without is not None:
        gates[GATES_2D.index(without)] = None
    want = plstm_2d_reference(q, k, v, *gates)
    h = compiled(kg.ops.plstm_2d, chunk_size=chunk, form=form)(q, k, v, *gates)
    np.testing.assert_allclose(numpy(h), want, atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(not KERAS_OPS_KEEP_FLOAT64, reason="keras.ops computes in float32 here")
@pytest.mark.parametrize("form,chunk", [("recurrent", None), ("parallel", 3)])
def test_plstm_2d_float64(form, chunk):
    q, k, v, gates = problem_2d(dtype="float64")
    want = plstm_2d_reference(q, k, v, *gates)
    h = kg.ops.plstm_2d(q, k, v, *gates, chunk_size=chunk, form=form)
    assert numpy(h).dtype == np.float64
    np.testing.assert_allclose(numpy(h), want, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("without_ru", [False, True])
def test_plstm_2d_p_mode_gates_on_a_larger_grid(without_ru):
    # Transitions splitting each incoming state in two (the P-mode constraint): the
    # path count binom(dx + dy, dx) would explode without it.
    rng = np.random.default_rng(5)
    q, k, v, gates = problem_2d(batch=1, size_x=12, size_y=10, dk=2, dv=2)
    a = rng.uniform(0.0, 1.0, size=gates[0].shape).astype("float32")
    sr = rng.uniform(0.0, 1.0, size=a.shape).astype("float32")
    gates = [sr, 1 - sr, a, 1 - a, 1 - a, a] + gates[6:]
    if without_ru:
        gates[5] = None
    want = plstm_2d_reference(q, k, v, *gates)
    for form, chunk in [("recurrent", None), ("parallel", (5, 3))]:
        h = compiled(kg.ops.plstm_2d, chunk_size=chunk, form=form)(q, k, v, *gates)
        np.testing.assert_allclose(numpy(h), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("form,chunk", [("recurrent", None), ("parallel", 2)])
def test_plstm_2d_gradients_match_finite_differences(form, chunk):
    dtype = "float64" if KERAS_OPS_KEEP_FLOAT64 else "float32"
    tol = 1e-7 if dtype == "float64" else 2e-4
    q, k, v, gates = problem_2d(batch=1, size_x=3, size_y=3, dk=2, dv=2, dtype=dtype, seed=4)
    gates[2][0, 1, 1] = 0.0
    weights = np.linspace(-1.0, 1.0, 18).reshape(1, 3, 3, 2)
    args = (q, k, v, *gates)

    def loss(*args):
        h = kg.ops.plstm_2d(*args, chunk_size=chunk, form=form)
        return ops.sum(h * ops.cast(weights, h.dtype))

    def numpy_loss(*args):
        return float(np.sum(plstm_2d_reference(*args) * weights))

    value, grads = value_and_grad(compiled(loss), *args)
    np.testing.assert_allclose(value, numpy_loss(*args), rtol=1e-5)
    for got, want in zip(grads, numerical_grad(numpy_loss, *args, eps=1e-6)):
        np.testing.assert_allclose(got, want, atol=tol, rtol=tol)


def test_bad_arguments_name_themselves():
    q, k, v, gates, _ = problem_1d()
    with pytest.raises(ValueError, match="`form`"):
        kg.ops.plstm_1d(q, k, v, *gates, form="fused")
    with pytest.raises(ValueError, match="`chunk_size`"):
        kg.ops.plstm_1d(q, k, v, *gates, chunk_size=0)
    with pytest.raises(ValueError, match="`mark`"):
        kg.ops.plstm_1d(q, k, v, gates[0], gates[1], gates[2][:, :3], gates[3])
    q, k, v, gates = problem_2d()
    gates[0] = None
    with pytest.raises(ValueError, match="`source_r`"):
        kg.ops.plstm_2d(q, k, v, *gates)
    with pytest.raises(ValueError, match="`q`"):
        kg.ops.plstm_2d(q[0], k, v, *gates)
