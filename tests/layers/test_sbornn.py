import keras
import numpy as np
import pytest
from harness import check_layer, numerical_grad, value_and_grad

from keras_gradstab.layers import SBORNN, SBORNNCell


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), "float64")


def reference(xs, kernel, bias, u, v, mu, update, eta, alpha):
    """The paper's equations, column vectors, full matrix W_h = I + U V (NumPy float64).

    phi = relu(W_h^T h + W_x^T x + b), D = diag(phi > 0),
    grad f = (alpha I - W_h D)(alpha h - phi).
    """
    units = kernel.shape[1]
    w_h = np.eye(units) + u @ v
    outs = []
    for x in xs:  # one example, [time, input_dim]
        h, aux = np.zeros(units), np.zeros(units)
        seq = []
        for x_t in x:
            pre = w_h.T @ h + kernel.T @ x_t + bias
            phi = np.maximum(pre, 0)
            grad = (alpha * np.eye(units) - w_h @ np.diag((pre > 0).astype(float))) @ (
                alpha * h - phi
            )
            if update == "gd":
                h = h - eta * grad
            elif update == "heavy_ball":
                aux = mu * aux - eta * grad
                h = h + aux
            else:
                y = h - eta * grad
                h, aux = y + mu * (y - aux), y
            seq.append(h)
        outs.append(seq)
    return np.array(outs)


def _weights(layer):
    cell = layer.cell
    mu = _np(cell.momentum) if cell.update != "gd" else 0.0
    return [_np(cell.kernel), _np(cell.bias), _np(cell.u), _np(cell.v), mu]


UPDATES = ["gd", "heavy_ball", "nesterov"]


@pytest.mark.parametrize("update", UPDATES)
def test_matches_numpy_reference(update):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    layer = SBORNN(
        5,
        rank=2,
        update=update,
        eta=0.3,
        mu=0.7,
        alpha=1.2,
        return_sequences=True,
        bias_initializer="ones",
    )
    got = _np(layer(x))
    want = reference(x, *_weights(layer), update, 0.3, 1.2)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # One step of the cell alone (nonzero states), against the reference's first step
    # from those states, with the states written as the reference carries them.
    cell = layer.cell
    h = rng.normal(size=(3, 5)).astype("float32")
    aux = rng.normal(size=(3, 5)).astype("float32")
    states = [h] if update == "gd" else [h, aux]
    out, new = cell(x[:, 0], states)
    kernel, bias, u, v, mu = _weights(layer)
    w_h = np.eye(5) + u @ v
    for i in range(3):
        pre = w_h.T @ h[i] + kernel.T @ x[i, 0] + bias
        grad = (1.2 * np.eye(5) - w_h @ np.diag((pre > 0) * 1.0)) @ (
            1.2 * h[i] - np.maximum(pre, 0)
        )
        if update == "gd":
            want_h = h[i] - 0.3 * grad
        elif update == "heavy_ball":
            want_h = h[i] + mu * aux[i] - 0.3 * grad
        else:
            y = h[i] - 0.3 * grad
            want_h = y + mu * (y - aux[i])
        np.testing.assert_allclose(_np(out)[i], want_h, atol=1e-5)


@pytest.mark.parametrize("update", UPDATES)
def test_gradients_match_finite_differences(update):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    layer = SBORNN(4, rank=2, update=update, eta=0.2, mu=0.6, bias_initializer="ones")
    layer.build(x.shape)
    c = rng.normal(size=(4,))
    names = ["kernel", "bias", "u", "v", "mu"][: len(layer.trainable_variables)]
    assert [w.name for w in layer.trainable_variables] == names
    values = [_np(w).astype("float32") for w in layer.trainable_variables]
    c_t = keras.ops.convert_to_tensor(c.astype("float32"))

    def loss(*weights):
        out, _ = layer.stateless_call(list(weights), [], x)
        return keras.ops.sum(out * c_t)

    _, grads = value_and_grad(loss, *values)

    def loss_np(*weights):
        weights = list(weights) + [0.0] * (5 - len(weights))
        return float(reference(x.astype("float64"), *weights, update, 0.2, 1.0)[:, -1].sum(0) @ c)

    want = numerical_grad(loss_np, *[w.astype("float64") for w in values], eps=1e-6)
    for name, g, w in zip(names, grads, want):
        np.testing.assert_allclose(g, w, atol=2e-4, rtol=2e-3, err_msg=name)


def test_mask_keeps_states_and_keras_rnn_agrees():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    layer = SBORNN(4, rank=2, update="heavy_ball", eta=0.3, return_sequences=True)
    full = _np(layer(x))
    mask = np.array([[True] * 5, [True, True, True, False, False]])
    masked = _np(layer(x, mask=mask))
    np.testing.assert_allclose(masked[0], full[0], atol=1e-6)
    np.testing.assert_allclose(masked[1, 3], full[1, 2], atol=1e-6)
    # keras.layers.RNN running the same cell gives the same sequence.
    rnn = keras.layers.RNN(layer.cell, return_sequences=True)
    np.testing.assert_allclose(_np(rnn(x)), full, atol=1e-5)
    cell = layer.cell
    assert isinstance(cell, SBORNNCell)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(revived) is SBORNNCell and revived.get_config() == cell.get_config()
    with pytest.raises(ValueError, match="update"):
        SBORNN(4, update="adam")
    with pytest.raises(ValueError, match="rank"):
        SBORNNCell(4, rank=0)


def test_layer_checks(tmp_path):
    # gd and nesterov differ from heavy_ball only in the step (checked above against
    # NumPy, and across backends in cross_backend_cases.py); nesterov runs below.
    check_layer(
        SBORNN,
        {"units": 4, "rank": 2, "update": "heavy_ball", "eta": 0.1, "bias_initializer": "ones"},
        (2, 5, 3),
        expected_output_shape=(2, 4),
        tmp_path=tmp_path,
        atol=1e-5,
    )


def test_layer_checks_sequences_and_state(tmp_path):
    check_layer(
        SBORNN,
        {
            "units": 3,
            "rank": 2,
            "update": "nesterov",
            "eta": 0.1,
            "return_sequences": True,
            "return_state": True,
            "go_backwards": True,
            "bias_initializer": "ones",
        },
        (2, 4, 3),
        expected_output_shape=[(2, 4, 3), (2, 3), (2, 3)],
        tmp_path=tmp_path,
        atol=1e-5,
        run_mixed_precision=False,
    )


def test_bidirectional_stateful_and_dropout():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    kwargs = {"units": 4, "rank": 2, "update": "heavy_ball", "eta": 0.3, "bias_initializer": "ones"}
    both = keras.layers.Bidirectional(SBORNN(**kwargs, return_sequences=True))
    out = _np(both(x))
    forward, backward = (
        SBORNN(**kwargs, return_sequences=True),
        SBORNN(**kwargs, return_sequences=True, go_backwards=True),
    )
    forward(x), backward(x)
    forward.set_weights(both.forward_layer.get_weights())
    backward.set_weights(both.backward_layer.get_weights())
    np.testing.assert_allclose(out[..., :4], _np(forward(x)), atol=1e-6)
    np.testing.assert_allclose(out[..., 4:], _np(backward(x))[:, ::-1], atol=1e-6)
    # Stateful: the second call starts from the first call's final states.
    stateful = SBORNN(**kwargs, stateful=True, return_state=True)
    _, *states = stateful(x)
    plain = SBORNN(**kwargs)
    plain(x)
    plain.set_weights(stateful.get_weights())
    second = _np(stateful(x)[0])
    np.testing.assert_allclose(second, _np(plain(x, initial_state=states)), atol=1e-6)
    # Dropout: active in training only; the inputs' mask scales by 1 / (1 - rate).
    dropped = SBORNN(**kwargs, dropout=0.5, seed=3)
    inference = _np(dropped(x))
    np.testing.assert_allclose(_np(dropped(x, training=False)), inference)
    assert not np.allclose(_np(dropped(x, training=True)), inference)
    with pytest.raises(ValueError, match="dropout"):
        SBORNN(4, dropout=1.5)
