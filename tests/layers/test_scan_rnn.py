"""`ScanRNN` against `keras.layers.RNN` running the same cell, and `ScanCell`
against a NumPy loop."""

import keras
import numpy as np
import pytest
from harness import check_layer
from keras import ops
from layers_for_tests import ScanGRU

import keras_gradstab as kg
from keras_gradstab.layers import ScanCell, ScanRNN


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _pair(cell_factory, **kwargs):
    """A `keras.layers.RNN` and a `ScanRNN` over equal cells with equal weights."""
    x = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")
    reference = keras.layers.RNN(cell_factory(), **kwargs)
    ours = ScanRNN(cell_factory(), **kwargs)
    reference(x)
    ours(x)
    ours.set_weights(
        [w + 0.1 * np.sin(np.arange(w.size)).reshape(w.shape) for w in reference.get_weights()]
    )
    reference.set_weights(ours.get_weights())
    return reference, ours, x


def _close(a, b):
    for u, v in zip(keras.tree.flatten(a), keras.tree.flatten(b)):
        np.testing.assert_allclose(_np(u), _np(v), atol=1e-5, rtol=1e-5)


CELLS = {
    "gru": lambda: keras.layers.GRUCell(5),
    "lstm": lambda: keras.layers.LSTMCell(5),
    "stacked": lambda: [keras.layers.SimpleRNNCell(3), keras.layers.GRUCell(5)],
}


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"return_sequences": True, "return_state": True},
        {"return_sequences": True, "go_backwards": True},
        {"return_sequences": True, "zero_output_for_mask": True},
    ],
    ids=["last", "sequences_state", "backwards", "zero_output"],
)
def test_keras_cells_match_keras_rnn(cell, kwargs):
    reference, ours, x = _pair(CELLS[cell], **kwargs)
    _close(reference(x), ours(x))
    mask = np.ones((3, 6), bool)
    mask[1, 3:] = False
    mask[2, :2] = False
    _close(reference(x, mask=mask), ours(x, mask=mask))
    if cell == "gru":
        h0 = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
        _close(reference(x, initial_state=[h0]), ours(x, initial_state=[h0]))


def test_bidirectional_and_stateful_match_keras():
    x = np.random.default_rng(2).normal(size=(2, 5, 3)).astype("float32")
    pairs = []
    for layer in (keras.layers.RNN, ScanRNN):
        pairs.append(
            keras.layers.Bidirectional(layer(keras.layers.GRUCell(4), return_sequences=True))
        )
    pairs[0](x)
    pairs[1](x)
    pairs[1].set_weights(pairs[0].get_weights())
    _close(pairs[0](x), pairs[1](x))
    stateful = [
        layer(keras.layers.SimpleRNNCell(4), stateful=True) for layer in (keras.layers.RNN, ScanRNN)
    ]
    for layer in stateful:
        layer(x)
    stateful[1].set_weights(stateful[0].get_weights())
    for layer in stateful:
        layer.reset_states()
    for _ in range(2):  # the second call starts from the first call's states
        _close(stateful[0](x), stateful[1](x))


class LeakyTanhCell(ScanCell):
    """h' = a h + tanh(x W + (h * m) U), with `a` a trainable scalar."""

    def __init__(self, units, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.units = self.state_size = self.output_size = units
        self.recurrent_dropout = recurrent_dropout
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent = self.add_weight(
            shape=(self.units, self.units), initializer="orthogonal", name="recurrent"
        )
        self.leak = self.add_weight(shape=(), initializer="ones", name="leak")

    def project_inputs(self, inputs):
        return kg.ops.matmul(inputs, self.kernel)

    def recurrent_constants(self, training=False, update_state=False):
        return {"recurrent": ops.convert_to_tensor(self.recurrent), "leak": 0.5 * self.leak}

    def step(self, projected, states, constants, recurrent_mask=None):
        h = states[0]
        hd = h if recurrent_mask is None else h * recurrent_mask
        return [
            constants["leak"] * h + ops.tanh(projected + ops.matmul(hd, constants["recurrent"]))
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


def test_scan_cell_matches_numpy_and_keras_rnn():
    x = np.random.default_rng(3).normal(size=(2, 7, 3)).astype("float32")
    layer = ScanRNN(LeakyTanhCell(4), return_sequences=True)
    got = _np(layer(x))
    kernel, recurrent, leak = (_np(w) for w in layer.get_weights())
    h = np.zeros((2, 4))
    want = []
    for t in range(7):
        h = 0.5 * leak * h + np.tanh(x[:, t] @ kernel + h @ recurrent)
        want.append(h)
    np.testing.assert_allclose(got, np.stack(want, 1), atol=1e-5)
    keras_rnn = keras.layers.RNN(layer.cell, return_sequences=True)
    np.testing.assert_allclose(_np(keras_rnn(x)), got, atol=1e-5)


def test_recurrent_dropout_is_one_mask_per_sequence():
    x = np.zeros((2, 6, 3), "float32")
    x[:, 0] = np.random.default_rng(4).normal(size=(2, 3))
    layer = ScanRNN(LeakyTanhCell(8, recurrent_dropout=0.5, seed=1), return_sequences=True)
    layer(x)
    kernel = layer.get_weights()[0]
    layer.set_weights([kernel, np.eye(8, dtype="float32"), np.ones((), "float32")])
    inference = _np(layer(x))
    trained = _np(layer(x, training=True))
    assert not np.allclose(trained, inference)
    # h1 = tanh(x0 W); h_t = h_{t-1} / 2 + tanh(h_{t-1} * m) for one mask m in
    # {0, 1 / (1 - rate)} drawn once per sequence: recover m from step 2 and
    # replay the whole sequence in NumPy with it.
    h = np.tanh(x[:, 0] @ kernel)
    mask = np.arctanh(trained[:, 1] - 0.5 * h) / h
    assert np.allclose(np.sort(np.unique(np.round(mask, 3))), [0.0, 2.0])
    mask = np.round(mask)
    want = [h]
    for _ in range(5):
        h = 0.5 * h + np.tanh(h * mask)
        want.append(h)
    np.testing.assert_allclose(trained, np.stack(want, 1), atol=1e-4)


def test_layer_checks_keras_cell(tmp_path):
    check_layer(
        ScanGRU,
        {"units": 4, "return_sequences": True},
        (2, 5, 3),
        expected_output_shape=(2, 5, 4),
        tmp_path=tmp_path,
        atol=1e-5,
    )


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="ScanRNN"):
        ScanRNN(keras.layers.GRUCell(3))(np.ones((2, 0, 3), "float32"))
