"""NCGRU with `candidate_activation="tanh"` (a GRU whose candidate recurrent matrix is
the scaled Cayley matrix): against a NumPy GRU reference, Keras's own GRU with the same
weights, finite differences, and the scan path's gradients; on torch, proof that the
native GRU ran exactly where it may (no mask, no recurrent dropout, reset_after=True)."""

import keras
import numpy as np
import pytest
from harness import BACKEND, check_layer, value_and_grad
from orthogonal_rnn_checks import (
    assert_gradients_match_finite_differences,
    np_ncgru_matrices,
    numpy_weights,
    one_torch_thread,  # noqa: F401 (an autouse fixture)
)

from keras_gradstab import backend
from keras_gradstab.layers import NCGRU


def numpy_tanh_ncgru(
    weights, x, n_neg, reset_after=True, orthogonal_reset=False, mask=None, h0=None
):
    """[u, r] = sigmoid(x W_g + b_g + h U_g); cand = x W_c + b + r * (h U_c) (reset_after)
    or x W_c + b + (r * h) U_c; h' = u h + (1 - u) tanh(cand); a masked step keeps h.
    Starts from `h0` (default zeros); returns all states [B, T, n] in processing order."""
    n = weights["recurrent_skew"].shape[0]
    u_c, gates = np_ncgru_matrices(weights, n_neg, orthogonal_reset)
    kernel = weights["kernel"]
    x = np.asarray(x, "float64")
    h = np.zeros((x.shape[0], n)) if h0 is None else np.asarray(h0, "float64")
    outs = []
    for t in range(x.shape[1]):
        xp = x[:, t] @ kernel
        g = xp[:, : 2 * n] + weights["bias"] + h @ gates
        u, r = np.split(1.0 / (1.0 + np.exp(-g)), 2, axis=1)
        cand = xp[:, 2 * n :] + weights["modrelu_bias"]
        cand = cand + (r * (h @ u_c) if reset_after else (r * h) @ u_c)
        new = u * h + (1 - u) * np.tanh(cand)
        h = new if mask is None else np.where(mask[:, t : t + 1], new, h)
        outs.append(h)
    return np.stack(outs, 1)


def randomize(layer, seed=0, scale=0.4):
    """Random weights; the skew parameters upper triangular, as the layer stores them."""
    rng = np.random.default_rng(seed)
    for w in layer.trainable_variables:
        value = rng.normal(scale=scale, size=w.shape)
        if "skew" in w.name:
            value = np.triu(value, 1)
        w.assign(value.astype(w.dtype))


def _gru_calls():
    """The torch native GRU's call count (None on the other backends)."""
    if BACKEND != "torch":
        return None
    from keras_gradstab.backend.torch import gru

    return gru.CALLS["gru"]


def _layer(x, seed=0, **kwargs):
    layer = NCGRU(5, n_neg=2, candidate_activation="tanh", **kwargs)
    layer.build(x.shape)
    randomize(layer, seed)
    return layer


VARIANTS = [
    {"reset_after": True, "orthogonal_reset": False},
    {"reset_after": True, "orthogonal_reset": True},
    {"reset_after": False, "orthogonal_reset": False},
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_matches_numpy_gru(variant, go_backwards, masked):
    x = np.random.default_rng(1).normal(size=(3, 6, 4)).astype("float32")
    mask = None
    if masked:
        mask = np.ones((3, 6), bool)
        mask[0, 4:] = False
        mask[2, :2] = False
    layer = _layer(
        x, return_sequences=True, return_state=True, go_backwards=go_backwards, **variant
    )
    before = _gru_calls()
    outputs, state = layer(x, mask=mask)
    if BACKEND == "torch":
        native = variant["reset_after"] and not masked
        assert _gru_calls() - before == int(native)
    order = slice(None, None, -1) if go_backwards else slice(None)
    want = numpy_tanh_ncgru(
        numpy_weights(layer),
        x[:, order],
        n_neg=2,
        mask=None if mask is None else mask[:, order],
        **variant,
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs), want, atol=2e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(state), want[:, -1], atol=2e-5)
    if mask is None:  # the cell alone, one step
        h1, _ = layer.cell(x[:, order][:, 0], [np.zeros((3, 5), "float32")])
        np.testing.assert_allclose(keras.ops.convert_to_numpy(h1), want[:, 0], atol=2e-5)


def test_initial_state_and_stateful():
    """An initial state, and a stateful layer carrying its last state into the next call."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    h0 = rng.normal(size=(3, 5)).astype("float32")
    layer = _layer(x, seed=12, return_sequences=True)
    before = _gru_calls()
    got = keras.ops.convert_to_numpy(layer(x, initial_state=[h0]))
    want = numpy_tanh_ncgru(numpy_weights(layer), x, n_neg=2, h0=h0)
    np.testing.assert_allclose(got, want, atol=2e-5)
    stateful = _layer(x, seed=12, stateful=True)
    whole = numpy_tanh_ncgru(numpy_weights(stateful), x, n_neg=2)
    first = keras.ops.convert_to_numpy(stateful(x[:, :3]))
    second = keras.ops.convert_to_numpy(stateful(x[:, 3:]))
    np.testing.assert_allclose(first, whole[:, 2], atol=2e-5)
    np.testing.assert_allclose(second, whole[:, -1], atol=2e-5)
    if BACKEND == "torch":
        assert _gru_calls() - before == 3


def test_equals_keras_gru_with_the_cayley_matrix():
    """`keras.layers.GRU(reset_after=True)` given the same kernel, the recurrent kernel
    `[U_g | U_c]` and the bias `[[b_g, b], [0]]` computes the same sequence."""
    x = np.random.default_rng(2).normal(size=(2, 5, 3)).astype("float32")
    layer = _layer(x, seed=3, return_sequences=True)
    u_c = keras.ops.convert_to_numpy(layer.recurrent_matrices()["orthogonal"])
    gru = keras.layers.GRU(5, return_sequences=True, reset_after=True)
    gru.build(x.shape)
    w = numpy_weights(layer)
    gru.set_weights(
        [
            w["kernel"],
            np.concatenate([w["recurrent_kernel"], u_c], 1),
            np.stack([np.r_[w["bias"], w["modrelu_bias"]], np.zeros(15)]),
        ]
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(x)), keras.ops.convert_to_numpy(gru(x)), atol=2e-5
    )


def _loss_and_grads(layer, x, mask, training=False):
    c = keras.ops.convert_to_tensor(np.cos(np.arange(3 * 6 * 5)).reshape(3, 6, 5), "float32")
    weights = [keras.ops.convert_to_numpy(w) for w in layer.trainable_variables]

    def loss(x, *w):
        out, _ = layer.stateless_call(
            list(w),
            [v.value for v in layer.non_trainable_variables],
            x,
            mask=mask,
            training=training,
        )
        return keras.ops.sum(out * c)

    return value_and_grad(loss, x, *weights)


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("orthogonal_reset", [False, True])
def test_gradients_equal_the_scan_path(go_backwards, orthogonal_reset, monkeypatch):
    """Gradients w.r.t. every weight and the input: the layer as it runs (native GRU on
    torch) against the scan (no fused recurrences)."""
    x = np.random.default_rng(4).normal(size=(3, 6, 4)).astype("float32")
    layer = _layer(
        x,
        seed=5,
        return_sequences=True,
        go_backwards=go_backwards,
        orthogonal_reset=orthogonal_reset,
    )
    before = _gru_calls()
    value, grads = _loss_and_grads(layer, x, None)
    if BACKEND == "torch":
        assert _gru_calls() > before
    with monkeypatch.context() as patch:
        patch.setattr(backend, "fused_recurrence", {})
        value_scan, grads_scan = _loss_and_grads(layer, x, None)
    np.testing.assert_allclose(value, value_scan, rtol=1e-5, atol=1e-5)
    assert len(grads) == len(layer.trainable_variables) + 1
    for g, g_scan in zip(grads, grads_scan):
        np.testing.assert_allclose(g, g_scan, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gradients_match_finite_differences(reset_after):
    assert_gradients_match_finite_differences(
        NCGRU,
        {
            "units": 4,
            "n_neg": 1,
            "candidate_activation": "tanh",
            "reset_after": reset_after,
            "return_sequences": True,
        },
        lambda layer, seed: randomize(layer, seed=seed, scale=0.3),
        lambda w, x: numpy_tanh_ncgru(w, x, n_neg=1, reset_after=reset_after),
        input_seed=6,
        weight_seed=7,
    )


def test_recurrent_dropout_runs_the_scan():
    """Training with recurrent dropout: the scan (not the native GRU); input dropout
    alone keeps the native GRU."""
    x = np.random.default_rng(8).normal(size=(3, 6, 4)).astype("float32")
    for recurrent_dropout, native in ((0.3, False), (0.0, True)):
        layer = _layer(x, dropout=0.2, recurrent_dropout=recurrent_dropout)
        before = _gru_calls()
        out = keras.ops.convert_to_numpy(layer(x, training=True))
        assert np.all(np.isfinite(out)) and out.shape == (3, 5)
        if BACKEND == "torch":
            assert _gru_calls() - before == int(native)


def test_default_is_modrelu_and_differs_from_tanh():
    x = np.random.default_rng(9).normal(size=(2, 5, 3)).astype("float32")
    assert NCGRU(4).get_config()["candidate_activation"] == "modrelu"
    modrelu_layer = NCGRU(4, n_neg=2)
    tanh_layer = NCGRU(4, n_neg=2, candidate_activation="tanh")
    modrelu_layer.build(x.shape)
    tanh_layer.build(x.shape)
    randomize(modrelu_layer, seed=1)
    tanh_layer.set_weights(modrelu_layer.get_weights())  # the same weights
    a = keras.ops.convert_to_numpy(modrelu_layer(x))
    b = keras.ops.convert_to_numpy(tanh_layer(x))
    assert np.abs(a - b).max() > 1e-3


def test_saves_and_reloads(tmp_path):
    x = np.random.default_rng(10).normal(size=(2, 5, 3)).astype("float32")
    model = keras.Sequential(
        [keras.Input((5, 3)), NCGRU(4, candidate_activation="tanh"), keras.layers.Dense(2)]
    )
    randomize(model.layers[0])
    path = tmp_path / "tanh.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.layers[0].cell.candidate_activation == "tanh"
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6
    )


@pytest.mark.parametrize("value", ["relu", "TANH", None, 1])
def test_bad_candidate_activation_raises(value):
    with pytest.raises(ValueError, match=r"`candidate_activation`.*modrelu.*tanh.*received"):
        NCGRU(4, candidate_activation=value)


def test_check_layer(tmp_path):
    check_layer(
        NCGRU,
        {"units": 6, "candidate_activation": "tanh", "dropout": 0.1},
        (2, 5, 3),
        expected_output_shape=(2, 6),
        tmp_path=tmp_path,
    )
