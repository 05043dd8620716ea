"""Scaled exponential linear units for any fixed point (Klambauer et al., 2017)."""

import math

import keras
from keras import ops

# The parameters of the (0, 1) fixed point, from the closed forms of the paper
# (its eq. 14); `selu_parameters(0.0, 1.0)` reproduces them numerically.
ALPHA_01 = 1.6732632423543772
SCALE_01 = 1.0507009873554805


def _normal_cdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _erfc_times_exp(x, log_factor):
    """exp(log_factor) * erfc(x), without overflow for large `x`.

    erfc(x) underflows to 0 where exp(log_factor) overflows; the scaled form
    erfc(x) = erfcx(x) exp(-x^2) is not in `math`, so the product is taken in
    log space where erfc(x) is still representable, and from the asymptotic
    series of erfc past that.
    """
    if x < 25.0:
        value = math.erfc(x)
        if value == 0.0:
            return 0.0
        return math.exp(log_factor + math.log(value))
    # erfc(x) ~ exp(-x^2) / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4)).
    series = 1.0 - 1.0 / (2 * x * x) + 3.0 / (4 * x**4)
    return math.exp(log_factor - x * x) * series / (x * math.sqrt(math.pi))


def _selu_moments(mean, variance):
    """Gaussian moments of the two pieces of selu, for z ~ N(mean, variance).

    Returns (p1, p2, n1, n2): p1 = E[z; z > 0], p2 = E[z^2; z > 0],
    n1 = E[exp(z) - 1; z <= 0], n2 = E[(exp(z) - 1)^2; z <= 0], so that with
    y = scale * (z if z > 0 else alpha (exp(z) - 1)):
    E[y] = scale (p1 + alpha n1) and E[y^2] = scale^2 (p2 + alpha^2 n2).
    """
    m, s2 = mean, variance
    s = math.sqrt(s2)
    pdf = math.exp(-0.5 * (m / s) ** 2) / math.sqrt(2 * math.pi)
    cdf_pos = _normal_cdf(m / s)  # P(z > 0)
    cdf_neg = 1.0 - cdf_pos  # P(z <= 0)
    p1 = m * cdf_pos + s * pdf
    p2 = (m * m + s2) * cdf_pos + m * s * pdf
    # E[exp(k z); z <= 0] = exp(k m + k^2 s2 / 2) Phi(-(m + k s2) / s).
    root2 = math.sqrt(2.0)
    e1 = 0.5 * _erfc_times_exp((m + s2) / (s * root2), m + s2 / 2)
    e2 = 0.5 * _erfc_times_exp((m + 2 * s2) / (s * root2), 2 * m + 2 * s2)
    n1 = e1 - cdf_neg
    n2 = e2 - 2 * e1 + cdf_neg
    return p1, p2, n1, n2


def selu_parameters(mean=0.0, variance=1.0):
    """The (alpha, scale) of the SELU whose fixed point is (`mean`, `variance`).

    Klambauer et al. choose alpha and scale so that a unit whose
    pre-activation is Gaussian with mean `mean` and variance `variance`
    (normalized weights, omega = 0 and tau = 1 in the paper's notation) has an
    output with that same mean and variance. This solves those two equations:
    with closed-form Gaussian integrals the ratio E[y]^2 / E[y^2] does not
    depend on scale, which leaves a quadratic in alpha; scale follows from
    E[y^2] = variance + mean^2. The root with alpha > 0 and E[y] of the sign
    of `mean` is the one returned. At (0, 1) this gives the paper's
    alpha01 = 1.67326... and scale01 = 1.05070....

    Args:
        mean: the fixed-point mean, a float.
        variance: the fixed-point variance, a float > 0.

    Returns:
        A tuple `(alpha, scale)` of Python floats.

    Example:

    >>> from keras_gradstab.activations import selu_parameters
    >>> alpha, scale = selu_parameters(0.0, 1.0)
    >>> round(alpha, 12), round(scale, 12)
    (1.673263242354, 1.050700987355)

    References:
        - *Self-Normalizing Neural Networks*, G. Klambauer, T. Unterthiner, A. Mayr,
          S. Hochreiter, NeurIPS 2017. <https://arxiv.org/abs/1706.02515>
    """
    mean, variance = float(mean), float(variance)
    if not math.isfinite(mean):
        raise ValueError(f"`mean` must be a finite float; received {mean}.")
    if not (math.isfinite(variance) and variance > 0):
        raise ValueError(f"`variance` must be a finite float > 0; received {variance}.")
    p1, p2, n1, n2 = _selu_moments(mean, variance)
    second = variance + mean * mean
    if mean == 0.0:
        candidates = [-p1 / n1]
    else:
        # (p1 + alpha n1)^2 second = mean^2 (p2 + alpha^2 n2).
        qa = n1 * n1 * second - mean * mean * n2
        qb = 2 * p1 * n1 * second
        qc = p1 * p1 * second - mean * mean * p2
        disc = qb * qb - 4 * qa * qc
        if disc < 0 or qa == 0:
            candidates = []
        else:
            # The numerically stable pair of roots.
            q = -0.5 * (qb + math.copysign(math.sqrt(disc), qb))
            candidates = [q / qa] + ([qc / q] if q != 0 else [])
    for alpha in sorted(candidates):
        first = p1 + alpha * n1
        if alpha > 0 and (first == 0 if mean == 0 else first * mean > 0):
            scale = math.sqrt(second / (p2 + alpha * alpha * n2))
            return alpha, scale
    raise ValueError(
        f"No SELU has the fixed point (mean={mean}, variance={variance}): the "
        "fixed-point equations have no solution with alpha > 0 and scale > 0. "
        "Fixed points with a mean near 0 and a variance near 1 are the usual choice."
    )


@keras.saving.register_keras_serializable(package="keras_gradstab")
def selu(x, alpha=ALPHA_01, scale=SCALE_01):
    """Scaled exponential linear unit with free `alpha` and `scale`.

    `scale * x` for `x > 0` and `scale * alpha * (exp(x) - 1)` for `x <= 0`.
    The defaults are the paper's (0, 1) fixed point; `selu_parameters` gives
    them for any other fixed point (and `SELU` holds them for a layer's
    `activation=` argument).

    Args:
        x: input tensor.
        alpha: the saturation parameter (the negative part tends to
            `-scale * alpha`).
        scale: the scale of both parts.

    Returns:
        A tensor of the shape and dtype of `x`.

    Example:

    >>> import numpy as np, keras
    >>> from keras_gradstab.activations import selu
    >>> y = keras.ops.convert_to_numpy(selu(np.array([-1.0, 0.0, 2.0], "float32")))
    >>> [round(float(v), 4) for v in y]
    [-1.1113, 0.0, 2.1014]

    References:
        - *Self-Normalizing Neural Networks*, G. Klambauer, T. Unterthiner, A. Mayr,
          S. Hochreiter, NeurIPS 2017. <https://arxiv.org/abs/1706.02515>
    """
    x = ops.convert_to_tensor(x)
    # exp only of the non-positive part: exp of large x would be inf in the
    # branch `where` discards, and inf * 0 = nan in its gradient.
    positive = x > 0
    negative = alpha * ops.expm1(ops.where(positive, ops.zeros_like(x), x))
    return scale * ops.where(positive, x, negative)


@keras.saving.register_keras_serializable(package="keras_gradstab")
class SELU:
    """SELU for a given fixed point, usable as a layer's `activation=`.

    Holds the `alpha` and `scale` of `selu_parameters(*fixed_point)`, so that
    a `Dense(activation=SELU((mu, nu)))` saves and loads with its parameters.

    Args:
        fixed_point: `(mean, variance)` of the fixed point, default `(0.0, 1.0)`.

    Example:

    >>> import keras
    >>> from keras_gradstab.activations import SELU
    >>> layer = keras.layers.Dense(4, activation=SELU((-0.1, 2.0)))
    >>> round(layer.activation.alpha, 6)
    1.976902

    References:
        - *Self-Normalizing Neural Networks*, G. Klambauer, T. Unterthiner, A. Mayr,
          S. Hochreiter, NeurIPS 2017. <https://arxiv.org/abs/1706.02515>
    """

    def __init__(self, fixed_point=(0.0, 1.0)):
        if len(tuple(fixed_point)) != 2:
            raise ValueError(
                f"`fixed_point` must be a pair (mean, variance); received {fixed_point}."
            )
        self.fixed_point = (float(fixed_point[0]), float(fixed_point[1]))
        self.alpha, self.scale = selu_parameters(*self.fixed_point)

    def __call__(self, x):
        return selu(x, alpha=self.alpha, scale=self.scale)

    def get_config(self):
        return {"fixed_point": list(self.fixed_point)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
