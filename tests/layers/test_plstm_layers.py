"""PLSTM1D, PLSTM2D, PLSTMBlock: the shared layer checks, a NumPy forward pass of
the layers built on the double-loop reference, the P-mode constraint, P-mode
boundedness as the grid grows, and D-mode decay with distance."""

import functools

import keras
import numpy as np
import pytest
from harness import BACKEND, check_layer, value_and_grad
from keras import ops
from plstm_reference import plstm_1d_reference, plstm_2d_reference

import keras_gradstab as kg
from keras_gradstab.layers import PLSTM1D, PLSTM2D, PLSTMBlock


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def compiled(fn, **kwargs):
    """`fn` with keyword arguments bound; jitted on JAX, whose eager mode compiles
    every op for every new shape (layers must be built before)."""
    bound = functools.partial(fn, **kwargs)
    if BACKEND == "jax":
        import jax

        return jax.jit(bound)
    return bound


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# The shared layer checks.


# Three cases keep the time in budget and still cover both forms of both kernels
# inside Keras models (fit, save/load, jit_compile, mixed precision).


def test_plstm_1d_layer_checks(tmp_path):
    kwargs = {"num_heads": 2, "mode": "PD", "key_dim": 3, "output_dim": 5, "chunk_size": 4}
    check_layer(PLSTM1D, kwargs, (2, 6, 4), expected_output_shape=(2, 6, 5), tmp_path=tmp_path)


def test_plstm_2d_layer_checks(tmp_path):
    check_layer(
        PLSTM2D,
        {"num_heads": 2, "mode": "PD", "chunk_size": 2},
        (2, 3, 4, 4),
        expected_output_shape=(2, 3, 4, 4),
        tmp_path=tmp_path,
    )


def test_plstm_block_checks(tmp_path):
    kwargs = {
        "num_heads": 1,
        "mode": "D",
        "form": "recurrent",
        "num_orientations": 2,
        "mlp_ratio": 2,
    }
    check_layer(
        PLSTMBlock, kwargs, (2, 3, 3, 4), expected_output_shape=(2, 3, 3, 4), tmp_path=tmp_path
    )


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="`mode`"):
        PLSTM2D(num_heads=2, mode="Q")
    with pytest.raises(ValueError, match="`num_heads`"):
        PLSTM1D(num_heads=1, mode="PD")
    with pytest.raises(ValueError, match="`num_orientations`"):
        PLSTM2D(num_heads=2, num_orientations=3)
    with pytest.raises(ValueError, match="`chunk_size`"):
        PLSTMBlock(num_heads=2, chunk_size=0)
    with pytest.raises(ValueError, match="rank 4"):
        PLSTM2D(num_heads=2).build((2, 5, 4))


# A NumPy forward pass from the layers' weights and the double-loop reference.


def _weights(layer):
    return {w.path.split("/")[-1]: numpy(w).astype("float64") for w in layer.weights}


def _forward_and_projections(layer, x, axes):
    """Builds `layer` for `x` and returns its compiled output, its weights, `x` in
    float64 and the per-head query, key and value projections of `x`, each
    [heads, B, *spatial, D] (`axes`: the einsum letters of the spatial axes)."""
    layer.build(x.shape)
    got = numpy(compiled(layer)(x))
    w = _weights(layer)
    x = x.astype("float64")
    qkv = [
        np.einsum(f"b{axes}c,chd->hb{axes}d", x, w[n])
        for n in ("query_kernel", "key_kernel", "value_kernel")
    ]
    return got, w, x, qkv


def _finish(w, h, heads):
    # h: [heads, B, ..., DV] -> per-head RMSNorm, output projection.
    h = h / np.sqrt(np.mean(h**2, axis=-1, keepdims=True) + 1e-6)
    h = np.moveaxis(h, 0, -2) * w["norm_scale"]
    return np.einsum("...hd,hdo->...o", h, w["output_kernel"]) + w["output_bias"]


def _gates(x, w, prefix):
    z = np.einsum("...c,chg->...hg", x, w[f"{prefix}_gate_kernel"]) + w[f"{prefix}_gate_bias"]
    return np.moveaxis(z, -2, 0)  # [heads, B, ..., gates]


def test_plstm_1d_layer_matches_numpy_forward():
    x = np.random.default_rng(0).normal(size=(2, 7, 4)).astype("float32")
    layer = PLSTM1D(num_heads=2, mode="PD", chunk_size=3)
    got, w, x, (q, k, v) = _forward_and_projections(layer, x, "t")
    zp, zd = _gates(x, w, "p"), _gates(x, w, "d")
    hs = []
    for head in range(2):
        z = zp[0] if head == 0 else zd[0]
        transition = sigmoid(z[..., 1]) if head == 0 else np.tanh(z[..., 1])
        h, _ = plstm_1d_reference(
            q[head],
            k[head],
            v[head],
            sigmoid(z[..., 0]),
            transition,
            sigmoid(z[..., 2]),
            sigmoid(z[..., 3]),
        )
        hs.append(h)
    np.testing.assert_allclose(got, _finish(w, np.stack(hs), 2), atol=2e-5, rtol=1e-4)
    recurrent = PLSTM1D(num_heads=2, mode="PD", form="recurrent")
    recurrent.build(x.shape)
    recurrent.set_weights(layer.get_weights())
    np.testing.assert_allclose(numpy(compiled(recurrent)(x.astype("float32"))), got, atol=1e-5)


def _flip(t, orientation):
    axes = {0: (), 1: (1,), 2: (2,), 3: (1, 2)}[orientation]
    return np.flip(t, axes) if axes else t


def test_plstm_2d_layer_matches_numpy_forward():
    x = np.random.default_rng(1).normal(size=(1, 3, 4, 4)).astype("float32")
    layer = PLSTM2D(num_heads=2, mode="PD", chunk_size=2)
    got, w, x, (q, k, v) = _forward_and_projections(layer, x, "xy")
    zp, zd = _gates(x, w, "p")[0], _gates(x, w, "d")[0]
    # P head: source, mark, direct, orientation, split.
    sigma = sigmoid(zp[..., 3])
    a = sigma * sigmoid(zp[..., 4])
    s, m = sigmoid(zp[..., 0]), sigmoid(zp[..., 1])
    p_gates = [sigma * s, (1 - sigma) * s, a, 1 - a, 1 - a, a, m, m]
    p_direct = sigmoid(zp[..., 2])
    # D head: source_r, source_d, rl, du, ru, mark_l, mark_u, direct; T^dl = 0.
    d_gates = [
        sigmoid(zd[..., 0]),
        sigmoid(zd[..., 1]),
        np.tanh(zd[..., 2]),
        np.tanh(zd[..., 3]),
        None,
        np.tanh(zd[..., 4]),
        sigmoid(zd[..., 5]),
        sigmoid(zd[..., 6]),
    ]
    d_direct = sigmoid(zd[..., 7])
    hs = []
    for head, (gates, direct) in enumerate([(p_gates, p_direct), (d_gates, d_direct)]):
        h = 0.0
        for o in range(4):
            flipped = [None if g is None else _flip(g, o) for g in gates]
            h = h + _flip(
                plstm_2d_reference(
                    _flip(q[head], o),
                    _flip(k[head], o),
                    _flip(v[head], o),
                    *flipped,
                    np.zeros_like(direct),
                ),
                o,
            )
        h = h + 2**-0.5 * (direct * np.sum(q[head] * k[head], -1))[..., None] * v[head]
        hs.append(h)
    np.testing.assert_allclose(got, _finish(w, np.stack(hs), 2), atol=2e-5, rtol=1e-4)


def test_recurrent_and_parallel_layers_agree():
    x = np.random.default_rng(2).normal(size=(1, 5, 6, 4)).astype("float32")
    parallel = PLSTM2D(num_heads=2, mode="PD", chunk_size=(2, 3))
    parallel.build(x.shape)
    want = numpy(compiled(parallel)(x))
    recurrent = PLSTM2D(num_heads=2, mode="PD", form="recurrent")
    recurrent.build(x.shape)
    recurrent.set_weights(parallel.get_weights())
    np.testing.assert_allclose(numpy(compiled(recurrent)(x)), want, atol=1e-5, rtol=1e-5)


# Stability: P-mode keeps path sums bounded, D-mode decays with distance.


def test_p_mode_transitions_split_each_incoming_state():
    x = 100.0 * np.random.default_rng(3).normal(size=(2, 6, 6, 8)).astype("float32")
    layer = PLSTM2D(num_heads=4, mode="P")
    layer.build(x.shape)
    g = {n: numpy(t) for n, t in layer._edge_gates(ops.convert_to_tensor(x)).items()}
    for name in ("transition_rl", "transition_du", "transition_dl", "transition_ru"):
        assert g[name].min() >= 0.0, name
    # Outgoing weights of a state arriving from the left, and from above.
    assert np.all(g["transition_rl"] + g["transition_dl"] <= 1.0 + 1e-6)
    assert np.all(g["transition_du"] + g["transition_ru"] <= 1.0 + 1e-6)
    assert np.all(g["source_r"] + g["source_d"] <= 1.0 + 1e-6)


def _max_abs_h(layer, size, scale, seed=0):
    """max |h| of the layer's pLSTM kernel (before the norm), one orientation."""
    rng = np.random.default_rng(seed)
    x = (scale * rng.normal(size=(1, size, size, 8))).astype("float32")
    if not layer.built:
        layer.build(x.shape)
    x = ops.convert_to_tensor(x)
    gates = {n: layer._fold(t) if t is not None else None for n, t in layer._edge_gates(x).items()}
    q, k, v = (layer._fold(t) for t in layer._project(x))
    # Unit-norm q, k, v: the gates alone decide how the path sums grow.
    q, k, v = (t / ops.sqrt(ops.sum(t * t, axis=-1, keepdims=True)) for t in (q, k, v))
    h = _recurrent_2d()(q, k, v, **gates)
    return float(np.max(np.abs(numpy(h))))


@functools.cache
def _recurrent_2d():
    # One jitted function for every call, so each grid size compiles once.
    return compiled(kg.ops.plstm_2d, form="recurrent")


def test_p_mode_outputs_stay_bounded_as_the_grid_grows():
    keras.utils.set_random_seed(0)
    for scale in (1.0, 100.0):
        layer = PLSTM2D(num_heads=2, mode="P")
        sizes = (8, 16, 32, 64)
        peaks = [_max_abs_h(layer, n, scale) for n in sizes]
        print(f"P-mode max |h| at scale {scale}:", dict(zip(sizes, peaks)))
        # Every source's mass is split, never multiplied, so each of the
        # 2n - 1 anti-diagonals up to a cell brings it at most one unit:
        # |h| <= s (2n - 1) for unit q, k, v. Linear in the side, where
        # unconstrained transitions grow like binom(dx + dy, dx).
        for n, peak in zip(sizes, peaks):
            assert peak <= layer._dk**-0.5 * (2 * n - 1), (scale, peaks)


def test_unconstrained_transitions_explode_where_p_mode_does_not():
    # The same path sums with every transition at 0.75 (what P-mode forbids:
    # the outgoing weights of an edge sum to 1.5) grow like 1.5 ** distance.
    rng = np.random.default_rng(4)
    size = 16
    q, k, v = rng.normal(size=(3, 1, size, size, 2)).astype("float32")
    half = np.full((1, size, size), 0.5, "float32")
    heavy = np.full((1, size, size), 0.75, "float32")
    run = compiled(kg.ops.plstm_2d, chunk_size=4, form="parallel")
    p = numpy(run(q, k, v, half, half, half, half, half, half, half, half, half))
    free = numpy(run(q, k, v, half, half, heavy, heavy, heavy, heavy, half, half, half))
    assert np.max(np.abs(free)) > 100 * np.max(np.abs(p))


def test_d_mode_influence_decays_with_distance():
    keras.utils.set_random_seed(0)
    size = 12
    x = np.random.default_rng(5).normal(size=(1, size, size, 4)).astype("float32")
    layer = PLSTM2D(num_heads=2, mode="D", chunk_size=4)
    layer.build(x.shape)
    weights = np.random.default_rng(6).normal(size=(4,)).astype("float32")

    def corner_output(x):
        return ops.sum(ops.multiply(layer(x)[:, 0, 0], ops.convert_to_tensor(weights)))

    _, (grad,) = value_and_grad(compiled(corner_output), x)
    norms = np.linalg.norm(grad[0], axis=-1)
    distance = np.add.outer(np.arange(size), np.arange(size))
    by_distance = np.array([norms[distance == d].mean() for d in range(2 * size - 1)])
    print("D-mode Jacobian norm vs distance:", np.array2string(by_distance, precision=2))
    # Jacobian norm vs distance from the corner: a single path of |tanh| < 1
    # transitions to each cell.
    assert by_distance[12:].max() < 1e-2 * by_distance[1:3].max(), by_distance
    assert by_distance[8:].max() < by_distance[1:3].max(), by_distance
