"""A penalty keeping a function's input-output Jacobian near orthogonal (random projections)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gradstab")
class JacobianOrthogonality:
    """Estimates `factor * ||J^T J - I||_F^2` of a function's Jacobian J at each input.

    For independent standard normal probes `v`, `w` in the input space,
    `E[((J v) . (J w) - v . w)^2] = ||J^T J - I||_F^2` (since `E[(v^T A w)^2] =
    ||A||_F^2`): two Jacobian-vector products per probe pair, so the cost is a few
    forward passes whatever the input size, not the `n^2` of the full Jacobian
    (Massucco, Murari & Schonlieb 2025 keep the Jacobian orthogonal during training
    with such a regularizer). The Jacobian-vector products are central
    differences `(f(x + e v) - f(x - e v)) / 2e`: only forward passes of keras.ops,
    so the penalty is differentiable w.r.t. the weights on every backend. The
    estimate is unbiased for piecewise-linear networks (abs, GroupSort, ReLU) away
    from kinks within `epsilon`, and has an `O(epsilon^2)` bias for smooth ones.

    Use it in a custom `train_step` or `compute_loss`:
    `loss = loss + regularizer(hidden_stack, x)`.

    Args:
        factor: weight of the penalty.
        num_probes: probe pairs per example (more: less variance).
        epsilon: finite-difference step, relative to the input scale 1.
        seed: integer seed of the probes, or `None`.

    Example:

    >>> import numpy as np
    >>> import keras_gradstab as kg
    >>> reg = kg.regularizers.JacobianOrthogonality(seed=0)
    >>> round(float(reg(lambda x: x, np.ones((4, 3), "float32"))), 4)  # J = I
    0.0
    """

    def __init__(self, factor=1.0, num_probes=1, epsilon=1e-3, seed=None):
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 0:
            raise ValueError(f"`factor` must be a number >= 0; received {factor!r}.")
        if isinstance(num_probes, bool) or not isinstance(num_probes, int) or num_probes < 1:
            raise ValueError(f"`num_probes` must be a positive integer; received {num_probes!r}.")
        if not isinstance(epsilon, (int, float)) or epsilon <= 0:
            raise ValueError(f"`epsilon` must be a positive number; received {epsilon!r}.")
        self.factor = float(factor)
        self.num_probes = num_probes
        self.epsilon = float(epsilon)
        self.seed = seed
        self._seeds = keras.random.SeedGenerator(seed)

    def __call__(self, function, inputs):
        """The penalty for `function` (a model, layer or callable) at `inputs` `[B, ...]`."""
        x = ops.convert_to_tensor(inputs)
        reps = (self.num_probes,) + (1,) * (len(x.shape) - 1)
        x = ops.tile(x, reps)
        v = keras.random.normal(ops.shape(x), seed=self._seeds, dtype=x.dtype)
        w = keras.random.normal(ops.shape(x), seed=self._seeds, dtype=x.dtype)
        e = self.epsilon
        out = function(ops.concatenate([x + e * v, x - e * v, x + e * w, x - e * w], 0))
        out = ops.reshape(out, (4, -1) + tuple(out.shape[1:]))
        jv = (out[0] - out[1]) / (2 * e)
        jw = (out[2] - out[3]) / (2 * e)
        n = ops.shape(x)[0]
        jv, jw = ops.reshape(jv, (n, -1)), ops.reshape(jw, (n, -1))
        v, w = ops.reshape(v, (n, -1)), ops.reshape(w, (n, -1))
        sample = (ops.sum(jv * jw, axis=1) - ops.sum(v * w, axis=1)) ** 2
        return self.factor * ops.mean(sample)

    def get_config(self):
        return {"factor": self.factor, "num_probes": self.num_probes,
                "epsilon": self.epsilon, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
