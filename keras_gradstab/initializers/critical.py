"""Critical initialization (Roberts, Yaida & Hanin, "The Principles of Deep
Learning Theory", chapter 5) for any elementwise activation."""

import math

import keras
import numpy as np

from keras_gradstab import activations as _activations


def _erf(x):
    return np.vectorize(math.erf, otypes=[float])(x)


# Float64 NumPy forms of the named activations, so that the quadrature and the
# finite-difference derivatives below keep double precision on every backend
# (keras.ops computes in float32 on jax and torch).
_NUMPY_FORMS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 0.5 * (1 + np.tanh(0.5 * x)),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
    "silu": lambda x: x * 0.5 * (1 + np.tanh(0.5 * x)),
    "swish": lambda x: x * 0.5 * (1 + np.tanh(0.5 * x)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: (
        _activations.selu.__defaults__[1]
        * np.where(x > 0, x, _activations.selu.__defaults__[0] * np.expm1(np.minimum(x, 0)))
    ),
    "softplus": lambda x: np.logaddexp(0, x),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "mish": lambda x: x * np.tanh(np.logaddexp(0, x)),
    "sin": np.sin,
}


def _activation_name(activation):
    if isinstance(activation, str):
        return activation
    name = getattr(activation, "__name__", None)
    keras_fn = getattr(keras.activations, name, None) if name else None
    if name in _NUMPY_FORMS and (keras_fn is activation or activation is _activations.selu):
        return name
    return None


def _numpy_activation(activation):
    """A float64 NumPy callable for `activation`, and whether it is exact."""
    name = _activation_name(activation)
    if name in _NUMPY_FORMS:
        return _NUMPY_FORMS[name], True
    fn = _activations.get(activation)

    def evaluate(x):
        y = keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(x)))
        return np.asarray(y, dtype="float64")

    probe = keras.ops.convert_to_numpy(fn(keras.ops.convert_to_tensor(np.zeros(2))))
    return evaluate, np.asarray(probe).dtype == np.float64


class _Gaussian:
    """Gauss-Hermite expectations <f(z)>_K over z ~ N(0, K)."""

    def __init__(self, sigma, exact, nodes=200):
        # An even number of nodes: symmetric, none at 0, exact for the halves
        # of polynomials split at 0 (relu is integrated exactly).
        self.u, w = np.polynomial.hermite_e.hermegauss(nodes)
        self.w = w / w.sum()
        self.sigma = sigma
        self.step = 1e-6 if exact else 3e-3

    def moments(self, k, step=None):
        z = math.sqrt(k) * self.u
        s = self.sigma(z)
        h = (step or self.step) * np.maximum(1.0, np.abs(z))
        ds = (self.sigma(z + h) - self.sigma(z - h)) / (2 * h)
        g = float(self.w @ s**2)  # <sigma^2>_K
        # d<sigma^2>_K / dK = <sigma^2 (z^2 - K)>_K / (2 K^2), Gaussian identity.
        dg = float(self.w @ (s**2 * (self.u**2 - 1))) / (2 * k)
        p = float(self.w @ ds**2)  # <sigma'^2>_K
        return g, dg, p


def critical_parameters(activation, nodes=200):
    """The critical (C_W, C_b, K*) of an elementwise activation.

    The preactivation variance of a wide network follows
    K' = C_b + C_W <sigma(z)^2>_K (z ~ N(0, K)). Criticality (PDLT, section
    5.2) asks for a fixed point K* = C_b + C_W <sigma^2>_{K*} where both
    susceptibilities are 1:

        parallel:      chi_par  = C_W d<sigma^2>_K/dK |_{K*} = 1
        perpendicular: chi_perp = C_W <sigma'(z)^2>_{K*}     = 1

    Expectations are Gauss-Hermite sums (`nodes` points), derivatives central
    differences. Three cases are told apart numerically:

    - scale-invariant (relu, leaky relu, linear): both conditions hold for
      every K; C_b = 0 and C_W = 1 / <sigma'^2>, K* is any value (`None`).
    - a fixed point K* > 0 where chi_par = chi_perp (gelu, swish): C_W =
      1 / <sigma'^2>_{K*}, C_b = K* - C_W <sigma^2>_{K*}, which must be >= 0.
    - the K* = 0 class (tanh, sin): sigma(0) = 0 and chi_par = chi_perp only
      in the limit K -> 0; C_b = 0 and C_W = 1 / sigma'(0)^2.

    Args:
        activation: a name or callable (see `keras_gradstab.activations.get`).
            Named Keras activations are evaluated in float64; other callables
            through `keras.ops` (float32 on jax and torch, so the constants
            are then accurate to about 1e-4).
        nodes: the number of Gauss-Hermite nodes (even).

    Returns:
        A tuple `(weight_variance, bias_variance, fixed_point)`: C_W, C_b and
        K* (`None` for scale-invariant activations).

    Example:

    >>> from keras_gradstab.initializers import critical_parameters
    >>> c_w, c_b, k = critical_parameters("relu")
    >>> round(c_w, 9), round(c_b, 9), k
    (2.0, 0.0, None)

    References:
        - *The Principles of Deep Learning Theory*, D. A. Roberts, S. Yaida, B.
          Hanin, Cambridge University Press, 2022.
          <https://arxiv.org/abs/2106.10165>
    """
    if nodes % 2:
        raise ValueError(f"`nodes` must be even; received nodes={nodes}.")
    sigma, exact = _numpy_activation(activation)
    gauss = _Gaussian(sigma, exact, nodes)
    tol = 1e-8 if exact else 1e-3
    grid = np.geomspace(1e-3, 1e3, 121)
    table = np.array([gauss.moments(k) for k in grid])
    g, dg, p = table.T
    gap = (dg - p) / np.maximum(p, 1e-300)
    if np.all(np.abs(gap) < tol) and np.all(np.abs(p - p[0]) < tol * p[0]):
        return float(1.0 / p[0]), 0.0, None
    for i in range(len(grid) - 1):
        if gap[i] == 0 or gap[i] * gap[i + 1] < 0:
            k = _bisect(lambda kk: _gap(gauss, kk), grid[i], grid[i + 1])
            gk, _, pk = gauss.moments(k)
            c_w = 1.0 / pk
            c_b = k - c_w * gk
            if c_b >= -tol * k:
                return float(c_w), float(max(c_b, 0.0)), float(k)
    sigma0 = float(sigma(np.zeros(1))[0])
    if abs(sigma0) < tol and np.abs(gap[:3]).max() < 0.05:
        # C_W = 1 / <sigma'^2>_{K -> 0} (= 1 / sigma'(0)^2 for smooth sigma), taken
        # at a K small enough that its O(K) error is below 1e-9.
        _, _, p0 = gauss.moments(1e-10, step=1e-9) if exact else gauss.moments(1e-4)
        if p0 > 0:
            return float(1.0 / p0), 0.0, 0.0
    raise ValueError(
        f"The activation {activation!r} has no critical initialization: no K* >= 0 "
        "with both susceptibilities 1 and a bias variance >= 0 (sigmoid-like "
        "activations with sigma(0) != 0 have none, PDLT section 5.3)."
    )


def _gap(gauss, k):
    _, dg, p = gauss.moments(k)
    return (dg - p) / p


def _bisect(f, lo, hi, iterations=100):
    f_lo = f(lo)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        f_mid = f(mid)
        if f_mid == 0:
            return mid
        if (f_mid < 0) == (f_lo < 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
        if hi - lo < 1e-13 * hi:
            break
    return 0.5 * (lo + hi)


@keras.saving.register_keras_serializable(package="keras_gradstab")
class Critical(keras.initializers.Initializer):
    """Critical initialization for an elementwise activation.

    Draws weights from N(0, C_W / fan_in) (`mode="kernel"`) or biases from
    N(0, C_b) (`mode="bias"`), with the critical C_W and C_b of
    `critical_parameters(activation)`: the preactivation variance then sits at
    a fixed point where neither the signal nor the gradient grows or decays
    exponentially with depth (PDLT, chapter 5). Known values: relu C_W = 2,
    C_b = 0 (He); tanh C_W = 1, C_b = 0; linear C_W = 1. For gelu and swish
    the critical point has C_b > 0 and a finite K*.

    Criticality is an infinite-width statement about the variance expected
    over initializations. One network of finite width n drifts from it: with
    chi_par = 1 nothing pulls the log of a layer's preactivation variance back,
    so it takes a random step of about 2 / sqrt(n) per layer (the measured
    standard deviation times sqrt(n) is 2.0 to 2.1 at widths 256 to 2048, gelu
    and swish). Measured with NumPy: weights N(0, C_W / n), biases N(0, C_b),
    float32, depth 50, a batch of 32 standard-normal inputs, seeds 0 to N - 1;
    "ratio" is the largest over the smallest variance of layers 5 to 50 of one
    network, "spread" the standard deviation over networks of
    log(var_50 / var_5):

        width  N   gelu: ratio > 2, range, spread   swish: ratio > 2, range, spread
        256    40  35 of 40, 1.86 to 14.0, 0.70     37 of 40, 1.80 to 22.6, 0.60
        512    40  29 of 40, 1.50 to 3.83, 0.37     27 of 40, 1.51 to 4.30, 0.27
        1024   40  10 of 40, 1.32 to 2.92, 0.35     20 of 40, 1.39 to 4.03, 0.26
        2048   20   0 of 20, 1.23 to 1.83, 0.30      6 of 20, 1.46 to 2.81, 0.23
        4096   10   0 of 10, 1.16 to 1.45, 0.12      1 of 10, 1.58 to 2.11, 0.09

    The spread is at most about the 2 sqrt(45 / n) of independent steps and
    falls 2.0-fold (gelu) and 2.3-fold (swish) from width 256 to 1024; between
    512 and 4096 these seed counts are too few to pin its rate. For swish from
    such inputs (K = C_b + C_W = 2.5 at layer 1, K* = 14.3) the infinite-width
    variance itself grows 1.73-fold from layer 5 to layer 50, which leaves
    little room for the noise. An orthogonal
    draw scaled to C_W, or a bias vector rescaled to mean square exactly C_b,
    does not remove the noise (width 512: gelu 1.4 to 3.1, five of ten above
    2; swish 1.7 to 3.9, six of ten). In this setting every gelu network
    stayed within a factor 2 from width 2048 on (depth / width <= 1 / 40); at
    depth / width around 1 / 10 most did not. Swish had not reached that at
    width 4096.

    Args:
        activation: the activation the layer feeds (name or callable).
        mode: `"kernel"` (variance C_W / fan_in, fan_in as Keras computes it
            for dense and convolution kernels) or `"bias"` (variance C_b).
        seed: optional integer seed.

    Example:

    >>> import keras
    >>> from keras_gradstab.initializers import Critical
    >>> layer = keras.layers.Dense(
    ...     64, activation="gelu",
    ...     kernel_initializer=Critical("gelu"),
    ...     bias_initializer=Critical("gelu", mode="bias"))
    >>> round(Critical("relu").weight_variance, 6)
    2.0

    References:
        - *The Principles of Deep Learning Theory*, D. A. Roberts, S. Yaida, B.
          Hanin, Cambridge University Press, 2022.
          <https://arxiv.org/abs/2106.10165>
    """

    def __init__(self, activation, mode="kernel", seed=None):
        if mode not in ("kernel", "bias"):
            raise ValueError(f"`mode` must be 'kernel' or 'bias'; received mode={mode!r}.")
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"`seed` must be an integer or None; received seed={seed!r}.")
        self.activation = activation
        self.mode = mode
        self.seed = seed
        self.weight_variance, self.bias_variance, self.fixed_point = critical_parameters(activation)

    def __call__(self, shape, dtype=None):
        if self.mode == "kernel":
            fan_in, _ = _fans(shape)
            stddev = math.sqrt(self.weight_variance / max(1, fan_in))
        else:
            stddev = math.sqrt(self.bias_variance)
        if stddev == 0:
            return keras.ops.zeros(shape, dtype=dtype)
        # Keras's seeding: an int seed gives the same draw every call, None a new one.
        return keras.initializers.RandomNormal(stddev=stddev, seed=self.seed)(shape, dtype)

    def get_config(self):
        activation = self.activation
        if not isinstance(activation, str):
            activation = _activations.serialize(activation)
        return {"activation": activation, "mode": self.mode, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["activation"], dict):
            config["activation"] = _activations.deserialize(config["activation"])
        return cls(**config)


def _fans(shape):
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive
