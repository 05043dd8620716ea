"""ENRNN: an RNN whose state couples an orthogonal block and a block normalized by its
spectral radius (Helfrich & Ye, "Eigenvalue normalized recurrent neural networks for
short term memory", AAAI 2020)."""

import keras
from keras import ops

from keras_gradstab import ops as kg_ops
from keras_gradstab.layers.recurrent._orthogonal import (
    SHARED_CELL_KEYS,
    CayleySkewInitializer,
    ModReLUCellMixin,
    OrthogonalRNN,
    check_n_neg,
    check_units,
    diagonal_d,
    scaled_cayley,
)

_CELL_KEYS = (
    "orthogonal_units",
    "normalized_units",
    "n_neg",
    "power_squarings",
) + SHARED_CELL_KEYS


@keras.saving.register_keras_serializable(package="keras_gradstab")
class NormalizedBlockInitializer(keras.initializers.Initializer):
    """ENRNN's initial W2 = Cayley(A2) D2, D2 diagonal of pairs of U(-1, 1) values:
    its singular values are |D2| <= 1, so its spectral radius starts below 1."""

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        n = shape[-1]
        x = CayleySkewInitializer(self.seed)((n, n), "float32")
        d = ops.repeat(keras.random.uniform(((n + 1) // 2,), -1.0, 1.0, seed=self.seed), 2)[:n]
        return ops.cast(kg_ops.cayley(x - ops.transpose(x), d), dtype or "float32")

    def get_config(self):
        return {"seed": self.seed}


def _safe_norm(v):
    return ops.sqrt(ops.sum(v * v) + 1e-30)


def _orthonormal_pair(q):
    """Gram-Schmidt on the two columns of q [n, 2]."""
    a = q[:, 0] / _safe_norm(q[:, 0])
    b = q[:, 1] - ops.sum(a * q[:, 1]) * a
    return ops.stack([a, b / _safe_norm(b)], axis=1)


def _larger_column(c):
    first = ops.sum(c[:, 0] ** 2) >= ops.sum(c[:, 1] ** 2)
    return ops.where(first, c[:, 0], c[:, 1])


def spectral_radius(w, squarings=24):
    """Spectral radius rho of the square matrix `w`, with its gradient.

    S = W^(2^squarings) (rescaled after each squaring; gradient stopped) is, up to a
    factor, the part of W^k on its dominant eigenvalues: rank 1 for a dominant real
    eigenvalue, rank 2 for a dominant complex pair. Its columns and rows give the
    right and left eigenvectors u, y (or invariant planes Q, P), and
    rho = |y^T W u / y^T u| (or, for a pair, the modulus of the eigenvalues of the
    2x2 oblique projection (P^T Q)^-1 P^T W Q) is linear in W with the eigenvectors
    stopped, which gives exactly the first-order eigenvalue perturbation: the
    gradient of rho. Only matrix products: it runs and differentiates on every
    backend and under XLA, where `keras.ops.eig` does not.
    """
    w = ops.convert_to_tensor(w)
    n = w.shape[-1]
    s = ops.stop_gradient(w)
    for _ in range(squarings):
        s = ops.matmul(s, s)
        s = s / (ops.max(ops.abs(s)) + 1e-30)
    i = ops.cast(ops.arange(n), w.dtype)
    probe = ops.stack([ops.cos(0.7 * i + 0.3), ops.sin(1.3 * i + 0.5)], 1)
    right = ops.stop_gradient(ops.matmul(s, probe))
    left = ops.stop_gradient(ops.matmul(ops.transpose(s), probe))
    # Rank 1 or 2: the second direction of `right` relative to its size.
    q = _orthonormal_pair(right)
    second = _safe_norm(right[:, 1] - ops.sum(q[:, 0] * right[:, 1]) * q[:, 0])
    rank_one = second < 1e-3 * ops.sqrt(ops.max(ops.sum(right * right, axis=0)))
    # Dominant real eigenvalue: lambda = y^T W u / y^T u.
    u, y = _larger_column(right), _larger_column(left)
    yu = ops.sum(y * u)
    yu = ops.where(ops.abs(yu) > 1e-30, yu, 1e-30)
    real_rho = ops.abs(ops.sum(y * ops.matmul(w, u)) / yu)
    # Dominant pair: eigenvalues of H = (P^T Q)^-1 P^T W Q.
    p = _orthonormal_pair(left)
    m = ops.matmul(ops.transpose(p), q)
    k = ops.matmul(ops.matmul(ops.transpose(p), w), q)
    det_m = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    det_m = ops.where(ops.abs(det_m) > 1e-30, det_m, 1e-30)
    m_inv = ops.stack([ops.stack([m[1, 1], -m[0, 1]]), ops.stack([-m[1, 0], m[0, 0]])]) / det_m
    h = ops.matmul(m_inv, k)
    trace = h[0, 0] + h[1, 1]
    det = h[0, 0] * h[1, 1] - h[0, 1] * h[1, 0]
    disc = trace * trace / 4.0 - det
    tiny = ops.cast(1e-30, w.dtype)
    pair_rho = ops.where(
        disc >= 0,
        ops.abs(trace) / 2.0 + ops.sqrt(ops.maximum(disc, tiny)),  # two real eigenvalues
        ops.sqrt(ops.maximum(det, tiny)),  # |lambda|^2 = det for a conjugate pair
    )
    return ops.where(rank_one, real_rho, pair_rho)


@keras.saving.register_keras_serializable(package="keras_gradstab")
class ENRNNCell(ModReLUCellMixin, keras.layers.Layer):
    """Cell of ENRNN: an orthogonal block coupled with an eigenvalue-normalized block.

    The state is `h = [h1 (orthogonal_units) | h2 (normalized_units)]`, row vectors:

        rec1 = h1 W1 + h2 W3
        rec2 = h2 W2_bar,   W2_bar = W2 / max(1, rho(W2))
        h'   = modReLU(x U + [rec1, rec2], b)

    W1 = (I + A)^-1 (I - A) D is the scaled Cayley transform of the skew-symmetric
    A = triu(X, 1) - triu(X, 1)^T (X is `recurrent_skew`, D has `n_neg` entries -1), W2
    (`normalized_kernel`) is a free matrix divided by its spectral radius rho once
    rho > 1 (`spectral_radius`, gradient through rho included), and W3
    (`coupling_kernel`) feeds the normalized block into the orthogonal one. The
    whole recurrent matrix [[W1, 0], [W3, W2_bar]] is block triangular, so its
    spectral radius is at most 1 whatever W3. (The reference latches: once it
    has normalized W2 it keeps dividing; here W2 is divided whenever rho > 1.)

    The papers train the skew parameter with a smaller learning rate:
    `keras_gradstab.layers.skew_learning_rate_optimizer` builds such an optimizer.
    A step of rate `lr` on X moves A by `lr` times the papers' `dL/dA`, so their
    rates for A apply as they are.

    Args:
        orthogonal_units: n1, size of the orthogonal block.
        normalized_units: n2, size of the normalized block.
        n_neg: number of -1 entries of D, in `[0, n1]`; `None` means `n1 // 2`.
        power_squarings: the spectral radius is read from W2^(2^power_squarings).
        kernel_initializer: initializer of U (default U(-0.01, 0.01)).
        bias_initializer: initializer of the modReLU bias.
        kernel_regularizer: optional regularizer of U.
        dropout: fraction of the inputs to drop.
        recurrent_dropout: fraction of the state to drop before the recurrent
            product.
        seed: random seed.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `[batch, input_dim]`, one step.
        states: a list of one `[batch, n1 + n2]` tensor.
        training: whether dropout is active.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.layers import ENRNNCell
    >>> tuple(keras.layers.RNN(ENRNNCell(6, 2))(np.ones((2, 5, 3), "float32")).shape)
    (2, 8)
    """

    reported_matrices = ("orthogonal", "normalized", "coupling")

    def __init__(
        self,
        orthogonal_units,
        normalized_units,
        n_neg=None,
        power_squarings=24,
        kernel_initializer=None,
        bias_initializer="zeros",
        kernel_regularizer=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_units("orthogonal_units", orthogonal_units)
        check_units("normalized_units", normalized_units)
        check_units("power_squarings", power_squarings)
        self.orthogonal_units = orthogonal_units
        self.normalized_units = normalized_units
        self.units = orthogonal_units + normalized_units
        self.n_neg = n_neg
        self._n_neg = check_n_neg(n_neg, orthogonal_units)
        self.power_squarings = power_squarings
        self.init_shared(
            units=self.units,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
        )

    def build(self, input_shape):
        n1, n2 = self.orthogonal_units, self.normalized_units
        self.kernel = self.add_input_kernel(input_shape, n1 + n2)
        # Recurrent parameters stay float32 under mixed precision (solve, rho).
        self.recurrent_skew = self.add_skew_weight("recurrent_skew", n1)
        self.normalized_kernel = self.add_weight(
            name="normalized_kernel",
            shape=(n2, n2),
            initializer=NormalizedBlockInitializer(self.seed),
            autocast=False,
        )
        self.coupling_kernel = self.add_weight(
            name="coupling_kernel",
            shape=(n2, n1),
            initializer="zeros",
            autocast=False,
        )
        self.modrelu_bias = self.add_modrelu_bias()
        self._d = diagonal_d(n1, self._n_neg)

    def recurrent_constants(self, training=False, update_state=False):
        w1 = scaled_cayley(self.recurrent_skew, self._d)
        w2 = ops.convert_to_tensor(self.normalized_kernel)
        w2 = w2 / ops.maximum(spectral_radius(w2, self.power_squarings), 1.0)
        w3 = ops.convert_to_tensor(self.coupling_kernel)
        zeros = ops.zeros((self.orthogonal_units, self.normalized_units), w1.dtype)
        recurrent = ops.concatenate(
            [ops.concatenate([w1, zeros], 1), ops.concatenate([w3, w2], 1)], 0
        )
        return {
            "orthogonal": w1,
            "normalized": w2,
            "coupling": w3,
            "recurrent": self._as_compute(recurrent),
            "modrelu_bias": ops.convert_to_tensor(self.modrelu_bias),
        }

    fused_constants = ("recurrent",)

    def get_config(self):
        return {
            **super().get_config(),
            "orthogonal_units": self.orthogonal_units,
            "normalized_units": self.normalized_units,
            "n_neg": self.n_neg,
            "power_squarings": self.power_squarings,
            **self.shared_config(),
        }


@keras.saving.register_keras_serializable(package="keras_gradstab")
class ENRNN(OrthogonalRNN):
    """ENRNN layer: an orthogonal block and a spectral-radius-normalized block.

    `ENRNN(n1, n2)` has a state of n1 + n2 units: the first n1 evolve by a scaled
    Cayley orthogonal matrix W1, the last n2 by W2 / max(1, rho(W2)), and W3
    couples the second block into the first (see `ENRNNCell`). The matrices are
    built once per sequence; the loop runs on `keras_gradstab.ops.scan` with the
    input projections in one matmul. Masking, `return_sequences`, `return_state`,
    `go_backwards`, `stateful`, dropout and `keras.layers.Bidirectional` work as
    for `keras.layers.SimpleRNN`.

    The papers train the skew parameter with its own, smaller learning rate:
    compile with `keras_gradstab.layers.skew_learning_rate_optimizer(...)`.

    Args:
        orthogonal_units: n1.
        normalized_units: n2.
        n_neg: number of -1 entries of D (of W1); `None` means `n1 // 2`.
        power_squarings: the spectral radius is read from W2^(2^power_squarings).
        kernel_initializer: initializer of the input kernel (default
            U(-0.01, 0.01)).
        bias_initializer: initializer of the modReLU bias.
        kernel_regularizer: optional regularizer of the input kernel.
        dropout: fraction of the inputs to drop.
        recurrent_dropout: fraction of the state to drop before the recurrent
            product.
        seed: random seed.
        **kwargs: the arguments of `keras.layers.RNN` (`return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `zero_output_for_mask`)
            and the base layer arguments.

    Call arguments:
        sequences: `[batch, timesteps, input_dim]`.
        initial_state: optional list of one `[batch, n1 + n2]` tensor.
        mask: optional boolean `[batch, timesteps]`.
        training: whether dropout is active.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.layers import ENRNN
    >>> model = keras.Sequential([keras.Input((5, 3)), ENRNN(6, 2), keras.layers.Dense(2)])
    >>> tuple(model(np.ones((4, 5, 3), "float32")).shape)
    (4, 2)
    """

    cell_class = ENRNNCell
    cell_keys = _CELL_KEYS
    cell_name = "enrnn_cell"
