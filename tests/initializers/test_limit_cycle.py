import keras
import numpy as np
import pytest

import keras_gradstab as kg
from keras_gradstab.initializers import LimitCycle, put_on_limit_cycle


def _blocks(w):
    n = w.shape[0] // 2
    out = []
    for i in range(n):
        b = w[2 * i : 2 * i + 2, 2 * i : 2 * i + 2]
        scale = np.sqrt(np.linalg.det(b))
        angle = np.arctan2(b[0, 1], b[0, 0])
        out.append((b, scale, angle))
    return out


@pytest.mark.parametrize("n", [6, 7])
def test_block_rotation_structure(n):
    w = np.asarray(keras.ops.convert_to_numpy(LimitCycle(seed=3)((n, n))), "float64")
    mask = np.zeros((n, n), bool)
    for i in range(n // 2):
        mask[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = True
    if n % 2:
        mask[-1, -1] = True
        assert 1.0 <= w[-1, -1] <= 1.1
    assert np.all(w[~mask] == 0)
    for b, scale, angle in _blocks(w):
        # s R(t): B^T B = s^2 I, angle in the reference's range.
        np.testing.assert_allclose(b.T @ b, scale**2 * np.eye(2), atol=1e-6)
        assert 1.0 <= scale <= 1.1 + 1e-6
        assert 0.2 - 1e-6 <= angle <= 1.2 + 1e-6


def test_random_sign_flips_some_angles_and_seed_repeats():
    plain = np.asarray(keras.ops.convert_to_numpy(LimitCycle(seed=1)((64, 64))))
    signed = np.asarray(keras.ops.convert_to_numpy(LimitCycle(random_sign=True, seed=1)((64, 64))))
    again = np.asarray(keras.ops.convert_to_numpy(LimitCycle(random_sign=True, seed=1)((64, 64))))
    np.testing.assert_array_equal(signed, again)
    angles_plain = np.array([a for _, _, a in _blocks(plain)])
    angles = np.array([a for _, _, a in _blocks(signed)])
    assert np.all(angles_plain > 0)
    assert 4 <= np.sum(angles < 0) <= 28
    np.testing.assert_allclose(np.abs(angles), angles_plain, atol=1e-6)


def test_config_and_bad_input():
    init = LimitCycle(angle_offset=0.1, random_sign=True, seed=5)
    again = LimitCycle.from_config(init.get_config())
    assert again.get_config() == init.get_config()
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(init))
    assert isinstance(revived, LimitCycle)
    with pytest.raises(ValueError, match="square"):
        init((3, 4))
    with pytest.raises(ValueError, match="random_sign"):
        LimitCycle(random_sign=1)
    with pytest.raises(ValueError, match="built"):
        put_on_limit_cycle(keras.layers.GRU(3))
    with pytest.raises(ValueError, match="SimpleRNN"):
        put_on_limit_cycle(keras.layers.LSTM(3))


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_zero_input_step_is_half_tanh_rnn(reset_after):
    gru = keras.layers.GRU(4, reset_after=reset_after)
    gru.build((None, 1, 3))
    w = put_on_limit_cycle(gru, LimitCycle(seed=2))
    h = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    out, _ = gru.cell(np.zeros((5, 3), "float32"), [h])
    want = 0.5 * h + 0.5 * np.tanh(h @ w)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), want, atol=1e-6)


def test_simple_rnn_zero_input_step_is_tanh_rnn():
    rnn = keras.layers.SimpleRNN(6)
    rnn.build((None, 1, 2))
    w = put_on_limit_cycle(rnn.cell)
    h = np.random.default_rng(1).normal(size=(3, 6)).astype("float32")
    out, _ = rnn.cell(np.zeros((3, 2), "float32"), [h])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), np.tanh(h @ w), atol=1e-6)
    assert kg.initializers.LimitCycle is LimitCycle


@pytest.mark.parametrize("reset_after", [True, False])
def test_ncgru_has_no_limit_cycle_and_is_refused(reset_after):
    # NCGRU's candidate matrix is orthogonal and modReLU does not saturate: with the
    # recipe's zero gate weights (gates u, r constant) and zero input, the step
    # contracts, ||F(h)|| <= (u + (1 - u) r) ||h||, even with gate biases pushing it
    # as close to a rotation as sigmoids allow. So no cycle exists, and
    # put_on_limit_cycle refuses the layer rather than set it on a decaying orbit.
    from keras_gradstab.dynamics import CellMap, find_limit_cycles
    from keras_gradstab.layers import NCGRU, NCGRUCell

    units = 4
    cell = NCGRUCell(units, reset_after=reset_after, seed=0)
    cell.build((None, 3))
    cell.recurrent_kernel.assign(np.zeros(cell.recurrent_kernel.shape, "float32"))
    cell.modrelu_bias.assign(np.zeros(units, "float32"))
    for gate_bias in (0.0, 6.0):
        cell.bias.assign(
            np.concatenate([np.full(units, -gate_bias), np.full(units, gate_bias)]).astype(
                "float32"
            )
        )
        u, r = 1 / (1 + np.exp(gate_bias)), 1 / (1 + np.exp(-gate_bias))
        h = np.random.default_rng(0).normal(size=(64, units)) * np.geomspace(1e-2, 10, 64)[:, None]
        out = CellMap(cell)(h)
        bound = (u + (1 - u) * r) * np.linalg.norm(h, axis=1)
        assert np.all(np.linalg.norm(out, axis=1) <= bound * (1 + 1e-5)), gate_bias
    cell.bias.assign(np.zeros(2 * units, "float32"))  # the recipe's gates: u = r = 1/2
    assert find_limit_cycles(cell, num_starts=2, transient=300, num_steps=100, max_period=50) == []
    layer = NCGRU(units)
    layer.build((None, 5, 3))
    for target in (cell, layer):
        with pytest.raises(ValueError, match="NCGRU"):
            put_on_limit_cycle(target)
