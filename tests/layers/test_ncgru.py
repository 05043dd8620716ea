"""NCGRU against a NumPy implementation of the paper's equations, finite differences,
and orthogonality after 500 Adam steps (solve and neumann); against Keras's own RNN
loop: test_orthogonal_rnn_masks.py."""

import keras
import numpy as np
import pytest
from harness import check_layer
from orthogonal_rnn_checks import (
    assert_gradients_match_finite_differences,
    np_cayley,
    np_modrelu,
    np_ncgru_matrices,
    numpy_weights,
    orthogonality_error,
    run_numpy,
    torch_single_thread,
    train_adam,
)

from keras_gradstab.layers import NCGRU, NCGRUCell


@pytest.fixture(autouse=True)
def _one_torch_thread():
    with torch_single_thread():
        yield


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_ncgru(weights, x, n_neg, reset_after=True, orthogonal_reset=False):
    """[u, r] = sigmoid(x W_g + h U_g + b_g); cand = x W_c + r * (h U_c) (reset_after)
    or x W_c + (r * h) U_c; c = modReLU(cand, b); h' = u h + (1 - u) c."""
    n = weights["recurrent_skew"].shape[0]
    u_c, gates = np_ncgru_matrices(weights, n_neg, orthogonal_reset)
    kernel = weights["kernel"]

    def step(h, xt):
        xp = xt @ kernel
        g = xp[:, : 2 * n] + weights["bias"] + h @ gates
        u, r = sigmoid(g[:, :n]), sigmoid(g[:, n:])
        if reset_after:
            cand = xp[:, 2 * n :] + r * (h @ u_c)
        else:
            cand = xp[:, 2 * n :] + (r * h) @ u_c
        c = np_modrelu(cand, weights["modrelu_bias"])
        return u * h + (1 - u) * c

    return run_numpy(step, np.zeros((x.shape[0], n)), np.asarray(x, "float64"))


def randomize(layer, seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    for w in layer.trainable_variables:
        w.assign(rng.normal(scale=scale, size=w.shape).astype(w.dtype))


VARIANTS = [
    {"reset_after": True, "orthogonal_reset": False},
    {"reset_after": False, "orthogonal_reset": False},
    {"reset_after": True, "orthogonal_reset": True},
    {"reset_after": False, "orthogonal_reset": True},
]


@pytest.mark.parametrize("variant", VARIANTS)
def test_step_and_sequence_match_numpy(variant):
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    layer = NCGRU(5, n_neg=2, return_sequences=True, **variant)
    layer.build(x.shape)
    randomize(layer)
    want = numpy_ncgru(numpy_weights(layer), x, n_neg=2, **variant)
    h1, _ = layer.cell(x[:, 0], [np.zeros((3, 5), "float32")])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(h1), want[:, 0], atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), want, atol=1e-5)


@pytest.mark.parametrize("variant", [VARIANTS[1], VARIANTS[2]])
def test_gradients_match_finite_differences(variant):
    assert_gradients_match_finite_differences(
        NCGRU,
        {"units": 4, "n_neg": 1, "return_sequences": True, **variant},
        randomize,
        lambda w, x: numpy_ncgru(w, x, n_neg=1, **variant),
    )


def test_check_layer(tmp_path):
    check_layer(
        NCGRU,
        {"units": 6, "dropout": 0.1, "recurrent_dropout": 0.1},
        (2, 5, 3),
        expected_output_shape=(2, 6),
        tmp_path=tmp_path,
    )


def test_orthogonal_after_500_adam_steps():
    """Orthogonality after training, at a small size to keep test time down (units 16, T=4,
    batch 4): 500 Adam steps at lr 1e-2 on random data, max|W^T W - I| < 1e-5 with
    "solve" and < 1e-4 with "neumann" (refresh_every=50). Both layers train in one
    model, both with the orthogonal reset matrix."""
    solve = NCGRU(16, orthogonal_reset=True, return_sequences=True)
    neumann = NCGRU(16, orthogonal_reset=True, cayley_inverse="neumann", refresh_every=50)
    model = keras.Sequential([keras.Input((4, 3)), solve, neumann, keras.layers.Dense(2)])
    train_adam(model, steps=500, batch=4)
    assert int(keras.ops.convert_to_numpy(neumann.cell.cache_steps)) == 500
    # The cached inverse, advanced by the actual change of A, is still (I + A)^-1.
    cached_skew, cached_inverse = (
        keras.ops.convert_to_numpy(v).astype("float64") for v in neumann.cell._caches["recurrent"]
    )
    np.testing.assert_allclose(cached_inverse, np.linalg.inv(np.eye(16) + cached_skew), atol=1e-5)
    for layer, tol in ((solve, 1e-5), (neumann, 1e-4)):
        for name, w in layer.recurrent_matrices().items():
            assert orthogonality_error(w) < tol, (layer.cell.cayley_inverse, name)


def test_sequential_trains_saves_and_reloads(tmp_path):
    """A Sequential([Input, NCGRU, Dense(10)]), here after a "neumann" NCGRU
    whose cached inverse (non-trainable state) must survive saving too."""
    x = np.random.default_rng(4).normal(size=(8, 6, 3)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((6, 3)),
            NCGRU(8, cayley_inverse="neumann", refresh_every=2, return_sequences=True),
            NCGRU(16),
            keras.layers.Dense(10),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    first = model.evaluate(x, np.zeros((8, 10)), verbose=0)
    model.fit(x, np.zeros((8, 10)), epochs=3, verbose=0)
    assert model.evaluate(x, np.zeros((8, 10)), verbose=0) < first
    assert int(keras.ops.convert_to_numpy(model.layers[0].cell.cache_steps)) == 3
    path = str(tmp_path / "ncgru.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=0)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.layers[0].cell._caches["recurrent"][1]),
        keras.ops.convert_to_numpy(model.layers[0].cell._caches["recurrent"][1]),
    )


def test_bidirectional_and_stateful():
    x = np.random.default_rng(5).normal(size=(2, 6, 3)).astype("float32")
    assert tuple(keras.layers.Bidirectional(NCGRU(4, return_sequences=True))(x).shape) == (2, 6, 8)
    whole = NCGRU(4, return_sequences=True)
    full = keras.ops.convert_to_numpy(whole(x))
    stateful = NCGRU(4, return_sequences=True, stateful=True)
    stateful.build(x.shape)
    stateful.set_weights(whole.get_weights())
    parts = [
        keras.ops.convert_to_numpy(stateful(x[:, :2])),
        keras.ops.convert_to_numpy(stateful(x[:, 2:])),
    ]
    np.testing.assert_allclose(np.concatenate(parts, 1), full, atol=1e-5)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="cayley_inverse"):
        NCGRU(4, cayley_inverse="inv")
    with pytest.raises(ValueError, match="neumann_terms"):
        NCGRUCell(4, neumann_terms=0)
    with pytest.raises(ValueError, match="refresh_every"):
        NCGRU(4, refresh_every=1.5)
    with pytest.raises(ValueError, match="reset_after"):
        NCGRU(4, reset_after="yes")


def test_gate_biases_start_the_cell_as_scornn():
    """update_gate_bias=-8, reset_gate_bias=8 set those biases (the modReLU bias keeps
    bias_initializer) and make the initial layer a scoRNN, h' = modReLU(x W_c + h U_c),
    checked against a NumPy scoRNN on the same weights; the config keeps them."""
    x = np.random.default_rng(6).normal(scale=0.3, size=(3, 12, 4)).astype("float32")
    layer = NCGRU(
        6,
        n_neg=3,
        return_sequences=True,
        update_gate_bias=-8.0,
        reset_gate_bias=8,
        bias_initializer="ones",
    )
    layer.build(x.shape)
    weights = numpy_weights(layer)
    np.testing.assert_array_equal(weights["bias"], np.r_[-8.0 * np.ones(6), 8.0 * np.ones(6)])
    np.testing.assert_array_equal(weights["modrelu_bias"], np.ones(6))
    layer.cell.modrelu_bias.assign(np.zeros(6, "float32"))
    d = np.r_[np.ones(3), -np.ones(3)]
    u_c = np_cayley(weights["recurrent_skew"], d)
    w_c = weights["kernel"][:, 12:]
    scornn = run_numpy(
        lambda h, xt: np_modrelu(xt @ w_c + h @ u_c, 0.0),
        np.zeros((3, 6)),
        np.asarray(x, "float64"),
    )
    got = keras.ops.convert_to_numpy(layer(x))
    # u = sigmoid(-8 + x W_u + h U_u) and 1 - r likewise stay below ~1e-3 while the
    # state stays small, as here.
    np.testing.assert_allclose(got, scornn, atol=1e-2 * np.abs(scornn).max())
    assert not np.allclose(
        got,
        numpy_ncgru(
            {**weights, "bias": 0 * weights["bias"], "modrelu_bias": np.zeros(6)}, x, n_neg=3
        ),
        atol=1e-2 * np.abs(scornn).max(),
    )
    config = NCGRU.from_config(layer.get_config()).get_config()
    assert (config["update_gate_bias"], config["reset_gate_bias"]) == (-8.0, 8.0)
    default = NCGRU(6)
    default.build(x.shape)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(default.cell.bias), np.zeros(12))
    with pytest.raises(ValueError, match="update_gate_bias"):
        NCGRU(4, update_gate_bias="open")
