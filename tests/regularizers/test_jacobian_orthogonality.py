import keras
import numpy as np
import pytest
from harness import numerical_grad, value_and_grad

import keras_gradstab as kg
from keras_gradstab.regularizers import JacobianOrthogonality


def test_estimate_is_unbiased_for_a_linear_map():
    rng = np.random.default_rng(4)
    m = (rng.normal(size=(5, 5)) * 0.5).astype("float32")
    want = np.linalg.norm(m.astype("float64") @ m.T - np.eye(5)) ** 2  # J = m^T for x m
    reg = JacobianOrthogonality(num_probes=2000, seed=0)
    got = float(reg(lambda x: keras.ops.matmul(x, m), np.ones((2, 5), "float32")))
    assert abs(got - want) < 0.1 * want, (got, want)
    config = reg.get_config()
    assert JacobianOrthogonality.from_config(config).get_config() == config


def test_estimate_matches_dense_jacobian_of_a_nonlinear_network():
    # ||J^T J - I||_F^2 = sum (sigma^2 - 1)^2 for a square J: the backend's dense
    # Jacobian's singular values, averaged over the examples.
    keras.utils.set_random_seed(1)
    net = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(6, activation="tanh"), keras.layers.Dense(6)]
    )
    x = np.random.default_rng(5).normal(size=(3, 6)).astype("float32")
    sigma = kg.diagnostics.jacobian_singular_values(net, x).astype("float64")
    want = np.mean(np.sum((sigma**2 - 1) ** 2, axis=1))
    got = float(JacobianOrthogonality(num_probes=2000, seed=2)(net, x))
    assert abs(got - want) < 0.1 * want, (got, want)


def test_exact_at_the_kinks_of_a_deep_abs_network():
    # 48 layers of OrthogonalDense + abs: J is orthogonal wherever it exists, and
    # the exact Jacobian-vector products see that. Finite differences with a step
    # of 1e-3 crossed kinks of abs in about half of such batches.
    keras.utils.set_random_seed(0)
    net = kg.models.orthogonal_jacobian_mlp((16,), depth=48)
    x = np.random.default_rng(3).normal(size=(32, 16)).astype("float32")
    for seed in range(3):
        assert float(JacobianOrthogonality(num_probes=2, seed=seed)(net, x)) < 1e-6
    # ... and it is not zero for everything: scaling the output by 1.1 is seen.
    scaled = float(JacobianOrthogonality(num_probes=500, seed=0)(lambda z: 1.1 * net(z), x))
    assert abs(scaled - 16 * (1.21 - 1) ** 2) < 0.15 * 16 * 0.21**2, scaled


def test_gradient_wrt_weights_matches_finite_differences():
    rng = np.random.default_rng(6)
    m = (rng.normal(size=(4, 4)) * 0.6).astype("float32")
    x = rng.normal(size=(3, 4)).astype("float32")

    def penalty(w):  # a fresh regularizer with the same seed draws the same probes
        return JacobianOrthogonality(num_probes=3, seed=1)(
            lambda z: keras.ops.tanh(keras.ops.matmul(z, w)), x
        )

    _, (grad,) = value_and_grad(penalty, m)
    want = numerical_grad(lambda w: float(penalty(w.astype("float32"))), m, eps=1e-2)[0]
    np.testing.assert_allclose(grad, want, rtol=0.03, atol=0.03 * np.abs(want).max())


def test_training_on_the_penalty_makes_a_layer_orthogonal():
    # fit() with the penalty in compute_loss: its gradient reaches the weights on
    # every backend's trainer, and a linear layer's kernel goes orthogonal.
    class Penalized(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(4, use_bias=False)
            self.reg = JacobianOrthogonality(num_probes=4, seed=0)

        def call(self, x):
            return self.dense(x)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return self.reg(self.dense, x)

    keras.utils.set_random_seed(0)
    model = Penalized()
    x = np.random.default_rng(7).normal(size=(64, 4)).astype("float32")
    model(x)
    model.compile(keras.optimizers.Adam(0.02))

    def error():
        w = keras.ops.convert_to_numpy(model.dense.kernel).astype("float64")
        return np.linalg.norm(w.T @ w - np.eye(4))

    before = error()
    model.fit(x, np.zeros((64, 4), "float32"), batch_size=16, epochs=25, verbose=0)
    assert error() < 0.2 * before, (before, error())


def test_bad_arguments():
    with pytest.raises(ValueError, match="factor"):
        JacobianOrthogonality(factor=-1.0)
    with pytest.raises(ValueError, match="num_probes"):
        JacobianOrthogonality(num_probes=0)
    with pytest.raises(ValueError, match="seed"):
        JacobianOrthogonality(seed=1.5)
