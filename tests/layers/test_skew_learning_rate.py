"""skew_learning_rate_optimizer sends exactly the skew parameters to their own optimizer,
and a step of the papers' learning rate moves the skew matrix A as in the papers."""

import keras
import numpy as np
import pytest
from harness import value_and_grad

from keras_gradstab.layers import ENRNN, NCGRU, ScoRNN, skew_learning_rate_optimizer


def test_skew_parameters_get_their_own_learning_rate():
    model = keras.Sequential(
        [
            keras.Input((4, 3)),
            NCGRU(4, orthogonal_reset=True, return_sequences=True),
            ScoRNN(3),
            keras.layers.Dense(2),
        ]
    )
    optimizer = skew_learning_rate_optimizer(keras.optimizers.SGD(0.1), skew_learning_rate=0.0)
    model.compile(optimizer=optimizer, loss="mse")
    before = {w.path: keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights}
    x = np.random.default_rng(0).normal(size=(8, 4, 3)).astype("float32")
    model.fit(x, np.ones((8, 2), "float32"), batch_size=8, epochs=1, verbose=0)
    for w in model.trainable_weights:
        unchanged = np.array_equal(keras.ops.convert_to_numpy(w), before[w.path])
        assert unchanged == (w.name in ("recurrent_skew", "reset_skew")), w.path


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="skew_learning_rate"):
        skew_learning_rate_optimizer(keras.optimizers.Adam())
    with pytest.raises(ValueError, match="optimizer"):
        skew_learning_rate_optimizer("adam", 1e-4)
    with pytest.raises(ValueError, match="skew_optimizer"):
        skew_learning_rate_optimizer(keras.optimizers.Adam(), skew_optimizer="sgd")


# (layer, NumPy reference of its sequence output, the reference's weight names)
def _cases():
    from test_enrnn import numpy_enrnn
    from test_ncgru import numpy_ncgru
    from test_scornn import numpy_scornn

    return {
        "scornn": (
            lambda: ScoRNN(5, n_neg=2, return_sequences=True),
            lambda w, x: numpy_scornn(w, x, 2),
        ),
        "ncgru": (
            lambda: NCGRU(5, n_neg=2, return_sequences=True),
            lambda w, x: numpy_ncgru(w, x, 2),
        ),
        "enrnn": (
            lambda: ENRNN(4, 2, n_neg=1, return_sequences=True),
            lambda w, x: numpy_enrnn(w, x, 1),
        ),
    }


def skew_from_orthogonal(w, n_neg):
    """Inverts W = (I + A)^-1 (I - A) D: with C = W D, A = (I - C)(I + C)^-1."""
    n = w.shape[0]
    c = np.asarray(w, "float64") * np.r_[np.ones(n - n_neg), -np.ones(n_neg)][None, :]
    eye = np.eye(n)
    return np.linalg.solve((eye + c).T, (eye - c).T).T


@pytest.mark.parametrize("name", ["scornn", "ncgru", "enrnn"])
def test_one_sgd_step_moves_skew_matrix_by_the_papers_step(name):
    """A (recovered from the layer's orthogonal matrix) changes by exactly -lr dL/dA under
    one step of SGD(lr) through skew_learning_rate_optimizer, with dL/dA the derivative
    with respect to A's free entries (a_ij = -a_ji, i < j) by central differences of the
    NumPy reference."""
    make, numpy_forward = _cases()[name]
    layer = make()
    n_neg = 1 if name == "enrnn" else 2
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 3)).astype("float32")
    layer(x)
    for w in layer.trainable_variables:
        if w.name != "recurrent_skew":
            w.assign(rng.normal(scale=0.3, size=w.shape).astype(w.dtype))
    r = rng.normal(size=keras.ops.convert_to_numpy(layer(x)).shape)
    weights = {w.name: keras.ops.convert_to_numpy(w).astype("float64") for w in layer.weights}
    a0 = skew_from_orthogonal(
        keras.ops.convert_to_numpy(layer.recurrent_matrices()["orthogonal"]), n_neg
    )

    def loss_of_skew(a):
        # The reference reads the free entries from the upper triangle.
        return float(np.sum(numpy_forward({**weights, "recurrent_skew": np.triu(a, 1)}, x) * r))

    n, eps = a0.shape[0], 1e-6
    dl_da = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            step = np.zeros((n, n))
            step[i, j], step[j, i] = eps, -eps
            dl_da[i, j] = (loss_of_skew(a0 + step) - loss_of_skew(a0 - step)) / (2 * eps)
            dl_da[j, i] = -dl_da[i, j]

    lr = 0.05
    optimizer = skew_learning_rate_optimizer(keras.optimizers.SGD(0.0), skew_learning_rate=lr)
    variables = list(layer.trainable_variables)
    r_tensor = keras.ops.convert_to_tensor(r.astype("float32"))
    non_trainable = [v.value for v in layer.non_trainable_variables]
    _, grads = value_and_grad(
        lambda *v: keras.ops.sum(layer.stateless_call(list(v), non_trainable, x)[0] * r_tensor),
        *[keras.ops.convert_to_numpy(v) for v in variables],
    )
    optimizer.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], variables))
    a1 = skew_from_orthogonal(
        keras.ops.convert_to_numpy(layer.recurrent_matrices()["orthogonal"]), n_neg
    )
    np.testing.assert_allclose(a1 - a0, -lr * dl_da, atol=2e-3 * lr * np.abs(dl_da).max())


@pytest.mark.parametrize("name", ["scornn", "ncgru", "enrnn"])
def test_weight_files_with_a_full_skew_parameter_load_to_the_same_outputs(name, tmp_path):
    """A file whose X defines A = X - X^T (lower triangle in use) loads to that same A."""
    make, numpy_forward = _cases()[name]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    model = keras.Sequential([keras.Input((4, 3)), make()])
    for w in model.trainable_variables:
        w.assign(rng.normal(scale=0.3, size=w.shape).astype(w.dtype))
    full_x = keras.ops.convert_to_numpy(model.layers[0].cell.recurrent_skew).astype("float64")
    weights = {
        w.name: keras.ops.convert_to_numpy(w).astype("float64") for w in model.layers[0].weights
    }
    weights["recurrent_skew"] = np.triu(full_x - full_x.T, 1)
    path = str(tmp_path / "model.weights.h5")
    model.save_weights(path)
    fresh = keras.Sequential([keras.Input((4, 3)), make()])
    fresh.load_weights(path)
    loaded = keras.ops.convert_to_numpy(fresh.layers[0].cell.recurrent_skew)
    np.testing.assert_array_equal(np.tril(loaded), 0.0)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(fresh(x)), numpy_forward(weights, x), atol=1e-5
    )
    # Loading an already upper X leaves it as it is.
    fresh.save_weights(path)
    fresh.load_weights(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(fresh.layers[0].cell.recurrent_skew), loaded
    )
