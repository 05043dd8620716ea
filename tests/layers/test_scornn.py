"""ScoRNN against a NumPy implementation of the paper's equations, finite differences,
Keras's RNN wrappers, and orthogonality after training (against Keras's own RNN
loop: test_orthogonal_rnn_masks.py)."""

import keras
import numpy as np
import orthogonal_rnn_checks as checks
import pytest
from harness import check_layer
from orthogonal_rnn_checks import one_torch_thread  # noqa: F401 (autouse)

from keras_gradstab.layers import ScoRNN, ScoRNNCell


def numpy_scornn(weights, x, n_neg):
    """h_t = modReLU(x_t U + h_{t-1} W, b), W = (I + A)^-1 (I - A) D (row vectors)."""
    n = weights["recurrent_skew"].shape[0]
    d = np.r_[np.ones(n - n_neg), -np.ones(n_neg)]
    w = checks.np_cayley(weights["recurrent_skew"], d)

    def step(h, xt):
        return checks.np_modrelu(xt @ weights["kernel"] + h @ w, weights["modrelu_bias"])

    return checks.run_numpy(step, np.zeros((x.shape[0], n)), np.asarray(x, "float64"))


def randomize(layer, seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    for w in layer.trainable_variables:
        w.assign(rng.normal(scale=scale, size=w.shape).astype(w.dtype))


def test_one_step_and_sequence_match_numpy():
    x = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")
    layer = ScoRNN(5, n_neg=2, return_sequences=True)
    layer.build(x.shape)
    randomize(layer)
    want = numpy_scornn(checks.numpy_weights(layer), x, n_neg=2)
    # One step through the cell's own call (Keras's cell contract).
    h1, states = layer.cell(x[:, 0], [np.zeros((3, 5), "float32")])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(h1), want[:, 0], atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(states[0]), want[:, 0], atol=1e-5)
    # The whole sequence through the scan loop.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), want, atol=1e-5)


def test_gradients_match_finite_differences():
    checks.assert_gradients_match_finite_differences(
        ScoRNN,
        {"units": 4, "n_neg": 1, "return_sequences": True},
        randomize,
        lambda w, x: numpy_scornn(w, x, n_neg=1),
    )


def test_check_layer(tmp_path):
    check_layer(
        ScoRNN,
        {"units": 6, "n_neg": 2, "dropout": 0.1, "recurrent_dropout": 0.1},
        (2, 5, 3),
        expected_output_shape=(2, 6),
        tmp_path=tmp_path,
    )


def test_cell_in_keras_rnn_and_bidirectional_and_state():
    x = np.random.default_rng(4).normal(size=(2, 5, 3)).astype("float32")
    out = keras.layers.Bidirectional(ScoRNN(4, return_sequences=True))(x)
    assert tuple(out.shape) == (2, 5, 8)
    out, state = ScoRNN(4, return_state=True)(x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), keras.ops.convert_to_numpy(state))
    assert tuple(keras.layers.RNN(ScoRNNCell(4))(x).shape) == (2, 4)


def test_stateful_continues_from_last_state():
    x = np.random.default_rng(5).normal(size=(2, 6, 3)).astype("float32")
    whole = ScoRNN(4, return_sequences=True)
    full = keras.ops.convert_to_numpy(whole(x))
    stateful = ScoRNN(4, return_sequences=True, stateful=True)
    stateful.build(x.shape)
    stateful.set_weights(whole.get_weights())
    first = keras.ops.convert_to_numpy(stateful(x[:, :3]))
    second = keras.ops.convert_to_numpy(stateful(x[:, 3:]))
    np.testing.assert_allclose(np.concatenate([first, second], 1), full, atol=1e-5)


def test_dropout_only_in_training():
    x = np.random.default_rng(6).normal(size=(4, 3, 3)).astype("float32")
    layer = ScoRNN(8, dropout=0.5, recurrent_dropout=0.5, seed=1)
    inference = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, training=False)), inference)
    assert not np.allclose(keras.ops.convert_to_numpy(layer(x, training=True)), inference)


def test_orthogonal_after_adam_training():
    model = keras.Sequential([keras.Input((5, 3)), ScoRNN(16, n_neg=4), keras.layers.Dense(2)])
    checks.train_adam(model, steps=100, batch=4)
    assert checks.orthogonality_error(model.layers[0].recurrent_matrices()["orthogonal"]) < 1e-5


@pytest.mark.parametrize("n_neg", [-1, 7, 1.5])
def test_bad_arguments_raise(n_neg):
    with pytest.raises(ValueError, match="n_neg"):
        ScoRNN(6, n_neg=n_neg)
    with pytest.raises(ValueError, match="units"):
        ScoRNNCell(0)
    with pytest.raises(ValueError, match="dropout"):
        ScoRNN(4, dropout=1.5)
