"""ENRNN against a NumPy implementation of the paper's equations (spectral radius from
np.linalg.eigvals), finite differences, and the orthogonal / normalized matrices
after training (against Keras's own RNN loop: test_orthogonal_rnn_masks.py)."""

import keras
import numpy as np
import orthogonal_rnn_checks as checks
import pytest
from harness import check_layer, numerical_grad, value_and_grad
from orthogonal_rnn_checks import one_torch_thread  # noqa: F401 (autouse)

from keras_gradstab.layers import ENRNN, ENRNNCell
from keras_gradstab.layers.recurrent.enrnn import spectral_radius


def numpy_enrnn(weights, x, n_neg):
    """rec1 = h1 W1 + h2 W3; rec2 = h2 W2 / max(1, rho(W2)); h' = modReLU(x U + rec, b)."""
    n1 = weights["recurrent_skew"].shape[0]
    n2 = weights["normalized_kernel"].shape[0]
    w1 = checks.np_cayley(weights["recurrent_skew"], np.r_[np.ones(n1 - n_neg), -np.ones(n_neg)])
    w2 = weights["normalized_kernel"]
    w2 = w2 / max(1.0, np.abs(np.linalg.eigvals(w2)).max())
    full = np.block([[w1, np.zeros((n1, n2))], [weights["coupling_kernel"], w2]])

    def step(h, xt):
        return checks.np_modrelu(xt @ weights["kernel"] + h @ full, weights["modrelu_bias"])

    return checks.run_numpy(step, np.zeros((x.shape[0], n1 + n2)), np.asarray(x, "float64"))


def randomize(layer, seed=0, scale=0.3):
    rng = np.random.default_rng(seed)
    for w in layer.trainable_variables:
        s = 0.8 if w.name == "normalized_kernel" else scale  # rho(W2) > 1: normalization on
        w.assign(rng.normal(scale=s, size=w.shape).astype(w.dtype))


@pytest.mark.parametrize("n", [2, 5, 12])
def test_spectral_radius_and_its_gradient(n):
    rng = np.random.default_rng(n)
    for _ in range(4):
        w = rng.normal(size=(n, n)).astype("float32")
        rho = float(keras.ops.convert_to_numpy(spectral_radius(w)))
        want = np.abs(np.linalg.eigvals(w.astype("float64"))).max()
        assert abs(rho - want) < 1e-5 * want
    # Gradient against central differences of NumPy's eigenvalues.
    _, (grad,) = value_and_grad(lambda w: spectral_radius(w), w)
    (numeric,) = numerical_grad(lambda w: np.abs(np.linalg.eigvals(w)).max(), w, eps=1e-6)
    np.testing.assert_allclose(grad, numeric, atol=2e-4 * np.abs(numeric).max())


def test_step_and_sequence_match_numpy():
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    layer = ENRNN(5, 3, n_neg=2, return_sequences=True)
    layer.build(x.shape)
    randomize(layer)
    want = numpy_enrnn(checks.numpy_weights(layer), x, n_neg=2)
    h1, _ = layer.cell(x[:, 0], [np.zeros((3, 8), "float32")])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(h1), want[:, 0], atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), want, atol=1e-5)


def test_gradients_match_finite_differences():
    checks.assert_gradients_match_finite_differences(
        ENRNN,
        {"orthogonal_units": 3, "normalized_units": 3, "n_neg": 1, "return_sequences": True},
        randomize,
        lambda w, x: numpy_enrnn(w, x, n_neg=1),
    )


def test_check_layer(tmp_path):
    check_layer(
        ENRNN,
        {
            "orthogonal_units": 4,
            "normalized_units": 2,
            "dropout": 0.1,
            "recurrent_dropout": 0.1,
            "return_sequences": True,
        },
        (2, 5, 3),
        expected_output_shape=(2, 5, 6),
        tmp_path=tmp_path,
        weights_without_gradient=(),
    )


def test_matrices_after_adam_training():
    model = keras.Sequential([keras.Input((4, 3)), ENRNN(12, 6), keras.layers.Dense(2)])
    cell = model.layers[0].cell
    cell.normalized_kernel.assign(np.random.default_rng(0).normal(size=(6, 6)).astype("float32"))
    checks.train_adam(model, steps=100, batch=4)
    matrices = model.layers[0].recurrent_matrices()
    assert set(matrices) == {"orthogonal", "normalized", "coupling"}
    assert checks.orthogonality_error(matrices["orthogonal"]) < 1e-5
    w2 = keras.ops.convert_to_numpy(matrices["normalized"]).astype("float64")
    assert np.abs(np.linalg.eigvals(w2)).max() <= 1 + 1e-5


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="normalized_units"):
        ENRNN(4, 0)
    with pytest.raises(ValueError, match="n_neg"):
        ENRNNCell(4, 2, n_neg=5)
