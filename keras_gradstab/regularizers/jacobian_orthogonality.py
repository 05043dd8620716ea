"""A penalty keeping a function's input-output Jacobian near orthogonal (random projections)."""

import keras
from keras import ops

from keras_gradstab import backend
from keras_gradstab.ops._checks import is_finite_number


@keras.saving.register_keras_serializable(package="keras_gradstab")
class JacobianOrthogonality:
    """Estimates `factor * ||J^T J - I||_F^2` of a function's Jacobian J at each input.

    For independent standard normal probes `v`, `w` in the input space,
    `E[((J v) . (J w) - v . w)^2] = ||J^T J - I||_F^2` (since `E[(v^T A w)^2] =
    ||A||_F^2`). `J v` and `J w` are exact Jacobian-vector products from the
    backend's autodiff (forward mode on JAX and TensorFlow, two reverse passes on
    torch), taken in one call on the batch of both probes: the cost is that of a
    few forward passes whatever the input size, not the `n^2` of the full
    Jacobian, and the estimate is unbiased for any network, including at the
    kinks of `abs`, GroupSort or ReLU that finite differences step across
    (Massucco, Murari & Schonlieb 2025 keep the Jacobian orthogonal during
    training with such a regularizer). The penalty is differentiable w.r.t. the
    weights that `function` uses, on every backend.

    Use it in a custom `train_step` or `compute_loss`:
    `loss = loss + regularizer(hidden_stack, x)`.

    Args:
        factor: weight of the penalty.
        num_probes: probe pairs per example (more: less variance).
        seed: integer seed of the probes, or `None`.

    Example:

    >>> import numpy as np
    >>> import keras_gradstab as kg
    >>> reg = kg.regularizers.JacobianOrthogonality(seed=0)
    >>> round(float(reg(lambda x: x, np.ones((4, 3), "float32"))), 4)  # J = I
    0.0

    References:
        - E. Massucco, D. Murari, C.-B. Schönlieb, orthogonal-Jacobian networks,
          2025. <https://arxiv.org/abs/2508.02882>
    """

    def __init__(self, factor=1.0, num_probes=1, seed=None):
        if not (is_finite_number(factor) and factor >= 0):
            raise ValueError(f"`factor` must be a finite number >= 0; received {factor!r}.")
        if isinstance(num_probes, bool) or not isinstance(num_probes, int) or num_probes < 1:
            raise ValueError(f"`num_probes` must be a positive integer; received {num_probes!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` must be an integer or None; received {seed!r}.")
        self.factor = float(factor)
        self.num_probes = num_probes
        self.seed = seed
        self._seeds = keras.random.SeedGenerator(seed)

    def __call__(self, function, inputs):
        """The penalty for `function` (a model, layer or callable) at `inputs` `[B, ...]`."""
        x = ops.convert_to_tensor(inputs)
        reps = (2 * self.num_probes,) + (1,) * (len(x.shape) - 1)
        x = ops.tile(x, reps)  # [v probes; w probes] in one batch
        probes = keras.random.normal(ops.shape(x), seed=self._seeds, dtype=x.dtype)
        _, products = backend.jvp(function, x, probes)
        n = ops.shape(x)[0] // 2
        products = ops.reshape(products, (2, n, -1))
        probes = ops.reshape(probes, (2, n, -1))
        sample = (
            ops.sum(products[0] * products[1], axis=1) - ops.sum(probes[0] * probes[1], axis=1)
        ) ** 2
        return self.factor * ops.mean(sample)

    def get_config(self):
        return {"factor": self.factor, "num_probes": self.num_probes, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
