"""Critical initialization: known values, the criticality conditions by adaptive
quadrature (scipy), and the variance of a deep network initialized with it."""

import math

import keras
import numpy as np
import pytest
from scipy import integrate, special

from keras_gradstab import initializers
from keras_gradstab.initializers import Critical, critical_parameters


@pytest.mark.parametrize(
    "activation,c_w",
    [
        ("relu", 2.0),
        ("tanh", 1.0),
        ("linear", 1.0),
        (keras.activations.relu, 2.0),
        (keras.activations.tanh, 1.0),
    ],
)
def test_known_values(activation, c_w):
    got_w, got_b, _ = critical_parameters(activation)
    assert abs(got_w - c_w) < 1e-9 and abs(got_b) < 1e-9


def _gelu(x):
    return 0.5 * x * (1 + special.erf(x / math.sqrt(2)))


def _gelu_prime(x):
    return 0.5 * (1 + special.erf(x / math.sqrt(2))) + x * np.exp(-x * x / 2) / math.sqrt(
        2 * math.pi
    )


def _swish(x):
    return x * special.expit(x)


def _swish_prime(x):
    s = special.expit(x)
    return s + x * s * (1 - s)


def _expect(f, k):
    s = math.sqrt(k)
    return integrate.quad(
        lambda z: f(z) * math.exp(-z * z / (2 * k)) / (s * math.sqrt(2 * math.pi)),
        -np.inf,
        np.inf,
        epsabs=1e-13,
        epsrel=1e-12,
        limit=200,
    )[0]


@pytest.mark.parametrize(
    "name,sigma,sigma_prime", [("gelu", _gelu, _gelu_prime), ("swish", _swish, _swish_prime)]
)
def test_criticality_conditions_hold(name, sigma, sigma_prime):
    c_w, c_b, k = critical_parameters(name)
    assert c_b > 0 and k > 0
    # Fixed point, and both susceptibilities 1, by adaptive quadrature with the
    # analytic derivative (independent of the library's Gauss-Hermite sums).
    assert abs(c_b + c_w * _expect(lambda z: sigma(z) ** 2, k) - k) < 1e-7 * k
    assert abs(c_w * _expect(lambda z: sigma_prime(z) ** 2, k) - 1) < 1e-6
    h = 1e-4 * k
    d = (_expect(lambda z: sigma(z) ** 2, k + h) - _expect(lambda z: sigma(z) ** 2, k - h)) / (
        2 * h
    )
    assert abs(c_w * d - 1) < 1e-6


def test_callable_through_keras_ops():
    c_w, c_b, k = critical_parameters(lambda x: x * keras.ops.sigmoid(x))
    ref_w, ref_b, ref_k = critical_parameters("swish")
    assert abs(c_w - ref_w) < 2e-3 * ref_w and abs(k - ref_k) < 2e-2 * ref_k


def test_activation_without_critical_point_raises():
    with pytest.raises(ValueError, match="critical"):
        critical_parameters("sigmoid")


def test_samples_have_the_critical_variances():
    kernel = np.asarray(keras.ops.convert_to_numpy(Critical("relu", seed=1)((512, 256))))
    assert abs(kernel.var() * 512 / 2.0 - 1) < 0.03 and abs(kernel.mean()) < 3e-3
    conv = np.asarray(keras.ops.convert_to_numpy(Critical("tanh", seed=1)((3, 3, 32, 64))))
    assert abs(conv.var() * 9 * 32 - 1) < 0.05
    c_b = critical_parameters("gelu")[1]
    bias = np.asarray(keras.ops.convert_to_numpy(Critical("gelu", mode="bias", seed=2)((20000,))))
    assert abs(bias.var() / c_b - 1) < 0.05
    assert not np.any(keras.ops.convert_to_numpy(Critical("relu", mode="bias")((8,))))


def test_config_round_trip_and_get():
    init = Critical(keras.activations.gelu, mode="bias", seed=3)
    revived = initializers.deserialize(initializers.serialize(init))
    assert isinstance(revived, Critical) and revived.get_config() == init.get_config()
    assert revived.bias_variance == init.bias_variance
    with pytest.raises(ValueError, match="mode"):
        Critical("relu", mode="weights")
    assert isinstance(initializers.get("he_normal"), keras.initializers.HeNormal)


def _preactivation_variances(sigma, c_w, c_b, depth, width, batch, networks, seed=0):
    """Mean over `networks` independent networks of each layer's preactivation
    second moment, weights ~ N(0, c_w / width) and biases ~ N(0, c_b).

    NumPy throughout: the initializer's own draws are checked in
    `test_samples_have_the_critical_variances`; here the constants are on trial.
    """
    rng = np.random.default_rng(seed)
    total = np.zeros(depth)
    for _ in range(networks):
        h = rng.standard_normal(size=(batch, width), dtype=np.float32)
        for layer in range(depth):
            w = rng.standard_normal(size=(width, width), dtype=np.float32)
            z = h @ (w * np.float32(math.sqrt(c_w / width)))
            z += rng.normal(size=width) * math.sqrt(c_b)
            total[layer] += np.mean(z**2) / networks
            h = sigma(z)
    return total


@pytest.mark.parametrize("activation,sigma", [("gelu", _gelu), ("swish", _swish)])
def test_mean_field_variance_stays_within_factor_2(activation, sigma):
    # Infinite width: K_{l+1} = C_b + C_W <sigma^2>_{K_l} (adaptive quadrature),
    # from standard-normal inputs (K_1 = C_b + C_W), over 50 layers.
    c_w, c_b, _ = critical_parameters(activation)
    k = [c_b + c_w]
    for _ in range(49):
        k.append(c_b + c_w * _expect(lambda z: sigma(z) ** 2, k[-1]))
    tail = np.array(k[4:])
    assert tail.max() / tail.min() < 2.0, k


def test_deep_network_keeps_preactivation_variance():
    # A deep gelu network: 50 layers, width 512, standard-normal inputs
    # (batch 32). Criticality is a statement on the variance expected over
    # initializations: one network of width 512 also random-walks by about
    # sqrt(2 / 512) per layer (chi_par = 1 does not damp it), so the test
    # averages 4 networks. Per network the factor 2 does not hold in general:
    # over seeds 0..9 the max/min variance of layers 5..50 was 1.8 to 4.3
    # (see the `Critical` docstring for why; a finite-width effect). (swish is not tested here: its K* = 14.3 is far
    # from the K_1 = 2.5 of standard-normal inputs and finite width speeds the
    # drift towards it.)
    c_w, c_b, _ = critical_parameters("gelu")
    v = _preactivation_variances(_gelu, c_w, c_b, 50, 512, 32, 4)
    tail = v[4:]  # layers 5..50
    assert tail.max() / tail.min() < 2.0, v
    # Control: C_W = 1, C_b = 0 (lecun_normal, zero bias) loses the signal.
    w = _preactivation_variances(_gelu, 1.0, 0.0, 50, 512, 32, 1)
    assert w[4:].max() / w[4:].min() > 100.0, w


def test_single_network_noise_shrinks_with_width():
    # The finite-width statement of the `Critical` docstring, one gelu network
    # per seed (depth 50, batch 32, standard-normal inputs). The log variance
    # takes a random step of about 2 / sqrt(width) per layer, so 4x the width
    # halves the steps' standard deviation (measured 2.07 with 40 seeds per
    # width, 1.92 to 2.26 over ten groups of 4 seeds); a width-independent
    # noise source, or one that does not average over units, would not.
    c_w, c_b, _ = critical_parameters("gelu")

    def network(width, seed):
        return _preactivation_variances(_gelu, c_w, c_b, 50, width, 32, 1, seed)

    nets = {n: [network(n, seed) for seed in range(4)] for n in (256, 1024)}
    steps = {n: np.concatenate([np.diff(np.log(v))[4:] for v in vs]) for n, vs in nets.items()}
    ratio = steps[256].std() / steps[1024].std()
    assert 1.5 < ratio < 2.7, ratio
    # Whether one network stays within a factor 2 over layers 5..50 is a
    # matter of width: at 256 most do not (35 of 40 seeds above 2; seeds 0..3
    # give 7.84, 2.61, 1.89, 4.36), at 2048 all 20 measured seeds did (largest
    # 1.83; seeds 0 and 1 give 1.65 and 1.80).
    ratios_256 = [v[4:].max() / v[4:].min() for v in nets[256]]
    assert sum(r > 2.0 for r in ratios_256) >= 3, ratios_256
    for seed in (0, 1):
        v = network(2048, seed)
        assert v[4:].max() / v[4:].min() < 2.0, (seed, v)
