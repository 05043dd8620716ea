import keras
import numpy as np
import pytest
from harness import value_and_grad

import keras_gradstab as kg
from keras_gradstab.dynamics import find_fixed_points, find_limit_cycles, phase_portrait


def test_limit_cycle_init_gives_stable_cycle():
    rnn = keras.layers.SimpleRNN(2)
    rnn.build((None, 5, 3))
    kg.initializers.put_on_limit_cycle(rnn, kg.initializers.LimitCycle(seed=0))
    cycles = find_limit_cycles(rnn.cell, num_starts=4, transient=1000, num_steps=1000)
    assert len(cycles) == 1
    cycle = cycles[0]
    assert cycle.stable and cycle.neutral == 1
    # One multiplier on the unit circle (along the cycle), the other inside it.
    moduli = np.abs(cycle.multipliers)
    assert abs(moduli[0] - 1) < 0.05 and moduli[1] < 0.95
    # The orbit is a closed curve around the (unstable) fixed point at 0.
    (origin,) = find_fixed_points(rnn.cell)
    assert origin.kind == "unstable" and origin.rotation
    radius = np.linalg.norm(cycle.points, axis=1)
    assert radius.min() > 0.05
    assert 3 < cycle.period < 40


def _rotation(scale, angle):
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, s], [-s, c]])


def test_slowly_decaying_spiral_is_not_a_cycle():
    # h <- tanh(h W), W = 0.998 R(0.5): the origin is a stable focus (eigenvalues of
    # modulus 0.998). After the transient the orbit still turns, its steps are
    # above `tolerance` and both per-step Lyapunov exponents (~ log 0.998) are
    # within `neutral_tolerance` of 0, so exponents alone would call it a stable
    # invariant curve. It must not be reported.
    w = _rotation(0.998, 0.5)
    cell = keras.layers.SimpleRNNCell(2, use_bias=False)
    cell.build((None, 1))
    cell.recurrent_kernel.assign(w.astype("float32"))
    h = np.random.default_rng(0).uniform(-1, 1, size=2)
    for _ in range(2000):  # the default transient, in NumPy float64
        h = np.tanh(h @ w)
    following = np.tanh(h @ w)
    assert np.linalg.norm(following - h) > 1e-6  # not settled
    assert (
        abs(
            np.log(np.linalg.norm(np.tanh(following @ w)) / np.linalg.norm(following))
            - np.log(0.998)
        )
        < 1e-4
    )
    assert find_limit_cycles(cell, num_starts=2) == []
    # The same map scaled just above 1 (a Neimark-Sacker cycle) is still found.
    cell.recurrent_kernel.assign(_rotation(1.02, 0.5).astype("float32"))
    (cycle,) = find_limit_cycles(cell, num_starts=2)
    assert cycle.stable and cycle.neutral == 1 and np.linalg.norm(cycle.points, axis=1).min() > 0.05


def test_near_saturated_gru_spiral_is_not_a_cycle():
    # Zero gate kernels; update gate z = sigmoid(3) ~ 0.95 and reset gate
    # r = sigmoid(10) ~ 1 at every state (input biases); candidate tanh(r h R(0.5))
    # (Keras's reset_after): h <- z h + (1 - z) tanh(r h R). At 0 the eigenvalues
    # are z + (1 - z) r exp(+-0.5 i), of modulus ~ 0.9945 < 1: a slow spiral, about
    # 280 steps per turn.
    gru = keras.layers.GRUCell(2)
    gru.build((None, 1))
    kernel = np.zeros((2, 6), "float32")
    kernel[:, 4:] = _rotation(1.0, 0.5)
    gru.recurrent_kernel.assign(kernel)
    bias = np.zeros(gru.bias.shape, "float32")
    bias[0, :2] = 3.0  # input bias of the update gate (row 1 is the recurrent bias)
    bias[0, 2:4] = 10.0  # and of the reset gate
    gru.bias.assign(bias)
    (origin,) = find_fixed_points(gru)
    z, r = 1 / (1 + np.exp(-3.0)), 1 / (1 + np.exp(-10.0))
    want = z + (1 - z) * r * np.exp(0.5j)
    np.testing.assert_allclose(np.abs(origin.eigenvalues), [abs(want)] * 2, atol=1e-5)
    assert abs(want) < 1 and origin.kind == "stable"
    assert find_limit_cycles(gru, num_starts=3, transient=200, num_steps=1000, max_period=100) == []
    with pytest.raises(ValueError, match="shrink_tolerance"):
        find_limit_cycles(gru, shrink_tolerance=1.0)


def test_gru_recipe_keeps_origin_stable_when_s_cos_t_below_one():
    # The reference's GRU recipe gives h <- 0.5 h + 0.5 tanh(h W_lc): the fixed point
    # at 0 has eigenvalues 0.5 + 0.5 s exp(+-i t), inside the unit circle while
    # s cos t < 1, so the GRU is not on a cycle there (the tanh RNN is).
    gru = keras.layers.GRU(2)
    gru.build((None, 5, 3))
    w = kg.initializers.put_on_limit_cycle(gru, kg.initializers.LimitCycle(seed=0))
    s, t = np.sqrt(np.linalg.det(w)), np.arctan2(w[0, 1], w[0, 0])
    assert s * np.cos(t) < 1
    (origin,) = find_fixed_points(gru.cell)
    want = 0.5 + 0.5 * s * np.exp(1j * t)
    np.testing.assert_allclose(np.sort(np.abs(origin.eigenvalues)), [abs(want)] * 2, atol=1e-5)
    assert origin.kind == "stable" and origin.rotation
    assert (
        find_limit_cycles(gru.cell, num_starts=2, transient=500, num_steps=300, max_period=100)
        == []
    )


def test_exact_period_two_cycle_multipliers():
    # h <- tanh(-2 h): period-2 orbit +-a with a = tanh(2 a); multiplier (2 (1 - a^2))^2.
    cell = keras.layers.SimpleRNNCell(1, use_bias=False)
    cell.build((None, 1))
    cell.recurrent_kernel.assign(np.array([[-2.0]], "float32"))
    (cycle,) = find_limit_cycles(cell, num_starts=3, transient=200, num_steps=100, max_period=10)
    a = 0.9575040240772687
    assert cycle.exact and cycle.period == 2
    np.testing.assert_allclose(np.sort(np.abs(cycle.points[:, 0])), [a, a], atol=1e-6)
    np.testing.assert_allclose(np.abs(cycle.multipliers), [(2 * (1 - a * a)) ** 2], rtol=1e-5)
    assert cycle.stable and cycle.neutral == 0


def _jacobian_norms(w, h0, steps, probes=None):
    """||V d h_k / d h_0||_F for h <- tanh(h W), k = 1..steps (NumPy float64).

    V holds the tangent directions pushed forward (identity: the full Jacobian).
    """
    h = h0
    product = np.eye(len(h0)) if probes is None else probes
    norms = []
    for _ in range(steps):
        h = np.tanh(h @ w)
        product = (product @ w) * (1 - h**2)[None, :]
        norms.append(np.linalg.norm(product))
    return np.array(norms), product


def test_gradient_norm_through_1000_steps():
    """Limit cycle: always in [1e-3, 1e3]. Glorot: out of it exactly when it settles.

    Glorot's recurrent matrix (entry variance 1/n) sits at spectral radius ~1, the
    edge, so whether its gradient survives 1000 steps depends on the draw: if the
    zero-input orbit settles on a fixed point or a period-2 orbit (`h*`, `-h*`),
    every Floquet multiplier there is inside the unit circle and the gradient
    decays at the rate of the largest one (checked against the eigenvalues of the
    two-step Jacobian at the orbit); if the orbit keeps winding, it has a
    neutral direction and the gradient stays in range. 10 of these 20 draws
    settle. The statement tested holds for every draw, whichever way it goes.
    """
    units, steps = 64, 1000
    settled = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        h0 = 0.5 * rng.normal(size=units)
        probes = rng.normal(size=(16, units))  # 16 random perturbations of h_0
        w_lc = np.asarray(
            keras.ops.convert_to_numpy(kg.initializers.LimitCycle(seed=seed)((units, units))),
            "float64",
        )
        norms, _ = _jacobian_norms(w_lc, h0, steps, probes)
        ratio = norms / norms[0]
        assert 1e-3 <= ratio.min() and ratio.max() <= 1e3, (seed, ratio.min(), ratio.max())
        limit = np.sqrt(6.0 / (2 * units))  # Glorot uniform, drawn in NumPy
        w_glorot = rng.uniform(-limit, limit, size=(units, units))
        norms, _ = _jacobian_norms(w_glorot, h0, steps, probes)
        ratio = norms / norms[0]
        in_range = 1e-3 <= ratio.min() and ratio.max() <= 1e3
        h = h0
        for _ in range(steps):
            h = np.tanh(h @ w_glorot)
        h1 = np.tanh(h @ w_glorot)
        periodic = np.linalg.norm(np.tanh(h1 @ w_glorot) - h) < 1e-8
        assert in_range != periodic, (seed, ratio.min(), ratio.max())
        if periodic:
            settled += 1
            # d h_{k+2} / d h_k over one period, as `h @ J` (row vectors).
            two_steps = (w_glorot * (1 - h1**2)[None]) @ (
                w_glorot * (1 - np.tanh(h1 @ w_glorot) ** 2)[None]
            )
            rate = 0.5 * np.log(np.max(np.abs(np.linalg.eigvals(two_steps))))
            measured = np.log(ratio[-1] / ratio[499]) / 500
            assert abs(measured - rate) < 1e-3, (seed, measured, rate)
    assert settled == 10


def test_gradient_through_keras_rnn_matches_numpy():
    units, steps = 16, 1000
    rnn = keras.layers.SimpleRNN(units)
    rnn.build((None, steps, 1))
    w = kg.initializers.put_on_limit_cycle(rnn, kg.initializers.LimitCycle(seed=1)).astype(
        "float64"
    )
    rng = np.random.default_rng(0)
    h0 = (0.5 * rng.normal(size=(1, units))).astype("float32")
    c = rng.normal(size=units).astype("float32")
    x = np.zeros((1, steps, 1), "float32")

    def loss(h):
        return keras.ops.sum(rnn(x, initial_state=[h]) * keras.ops.convert_to_tensor(c))

    _, (grad,) = value_and_grad(loss, h0)
    _, product = _jacobian_norms(w, h0[0].astype("float64"), steps)
    want = product @ c
    assert np.linalg.norm(want) > 1e-2
    np.testing.assert_allclose(grad[0], want, atol=2e-2 * np.linalg.norm(want))


def test_phase_portrait_writes_png(tmp_path):
    cell = keras.layers.GRUCell(2)
    cell.build((None, 1))
    kg.initializers.put_on_limit_cycle(cell)
    path = phase_portrait(
        cell, str(tmp_path / "gru.png"), resolution=15, num_trajectories=3, trajectory_steps=50
    )
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    lstm = keras.layers.LSTMCell(2)
    lstm.build((None, 1))
    phase_portrait(
        lstm,
        str(tmp_path / "lstm.png"),
        dims=(0, 2),
        resolution=9,
        num_trajectories=2,
        trajectory_steps=10,
    )
    with pytest.raises(ValueError, match="dims"):
        phase_portrait(cell, str(tmp_path / "x.png"), dims=(0, 0))


def test_gru_on_cycle_with_small_angles():
    gru = keras.layers.GRU(2)
    gru.build((None, 5, 3))
    kg.initializers.put_on_limit_cycle(
        gru,
        kg.initializers.LimitCycle(
            angle_offset=0.15, angle_range=0.0, scale_offset=1.1, scale_range=0.0
        ),
    )
    (cycle,) = find_limit_cycles(gru.cell, num_starts=2, transient=1000, num_steps=1000)
    assert cycle.stable and cycle.neutral == 1
