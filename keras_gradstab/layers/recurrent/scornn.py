"""scoRNN: a simple RNN whose recurrent matrix is a scaled Cayley orthogonal matrix
(Helfrich, Willmott & Ye, "Orthogonal recurrent neural networks with scaled Cayley
transform", ICML 2018)."""

import keras
from keras import ops

from keras_gradstab.layers.recurrent._orthogonal import (
    SHARED_CELL_KEYS,
    ModReLUCellMixin,
    OrthogonalRNN,
    check_n_neg,
    check_units,
    diagonal_d,
    scaled_cayley,
)

_CELL_KEYS = (
    "units",
    "n_neg",
) + SHARED_CELL_KEYS


@keras.saving.register_keras_serializable(package="keras_gradstab")
class ScoRNNCell(ModReLUCellMixin, keras.layers.Layer):
    """Cell of scoRNN: `h' = modReLU(x U + h W, b)`, W orthogonal.

    W = (I + A)^-1 (I - A) D is the scaled Cayley transform of the skew-symmetric
    A = triu(X, 1) - triu(X, 1)^T of the trainable X (`recurrent_skew`; its
    diagonal and lower triangle are unused), and D diagonal with `n_neg` entries -1
    (Helfrich, Willmott & Ye, ICML 2018). Plain autodiff through W
    gives the paper's Cayley update, with any optimizer, and W stays orthogonal to
    float precision. States are row vectors: the cell computes `h @ W`, the
    transpose of the paper's `W h`. Used in `keras.layers.RNN(cell)` the cell
    rebuilds W at every step; `ScoRNN` builds it once per sequence.

    The papers train the skew parameter with a smaller learning rate:
    `keras_gradstab.layers.skew_learning_rate_optimizer` builds such an optimizer.
    A step of rate `lr` on X moves A by `lr` times the papers' `dL/dA` (the
    gradient with respect to A's free entries), so their rates for A apply as
    they are.

    Args:
        units: positive integer, size of the state.
        n_neg: number of -1 entries of D, in `[0, units]`; `None` means
            `units // 2`.
        kernel_initializer: initializer of the input kernel U (default
            U(-0.01, 0.01), as in the paper).
        bias_initializer: initializer of the modReLU bias b.
        kernel_regularizer: optional regularizer of U.
        dropout: fraction of the inputs to drop (one mask per sequence).
        recurrent_dropout: fraction of the state to drop before the recurrent
            product (one mask per sequence).
        seed: random seed of the initializers and dropout masks.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `[batch, input_dim]`, one step.
        states: a list of one `[batch, units]` tensor.
        training: whether dropout is active.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.layers import ScoRNNCell
    >>> layer = keras.layers.RNN(ScoRNNCell(8))
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 8)
    """

    reported_matrices = ("orthogonal",)

    def __init__(
        self,
        units,
        n_neg=None,
        kernel_initializer=None,
        bias_initializer="zeros",
        kernel_regularizer=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_units("units", units)
        self.units = units
        self.n_neg = n_neg
        self._n_neg = check_n_neg(n_neg, units)
        self.init_shared(
            units=units,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
        )

    def build(self, input_shape):
        self.kernel = self.add_input_kernel(input_shape, self.units)
        self.recurrent_skew = self.add_skew_weight("recurrent_skew", self.units)
        self.modrelu_bias = self.add_modrelu_bias()
        self._d = diagonal_d(self.units, self._n_neg)

    def recurrent_constants(self, training=False, update_state=False):
        return {
            "orthogonal": scaled_cayley(self.recurrent_skew, self._d),
            "modrelu_bias": ops.convert_to_tensor(self.modrelu_bias),
        }

    fused_constants = ("orthogonal",)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "n_neg": self.n_neg,
            **self.shared_config(),
        }


@keras.saving.register_keras_serializable(package="keras_gradstab")
class ScoRNN(OrthogonalRNN):
    """scoRNN layer: an RNN with a scaled Cayley orthogonal recurrent matrix.

    `h_t = modReLU(x_t U + h_{t-1} W, b)` with W = (I + A)^-1 (I - A) D built once
    per sequence from the trainable skew parameter (see `ScoRNNCell`). The time
    loop runs on `keras_gradstab.ops.scan` with the input projections of all
    steps in one matmul. Everything of `keras.layers.RNN` works: masking,
    `return_sequences`, `return_state`, `go_backwards`, `stateful`,
    `keras.layers.Bidirectional`.

    The papers train the skew parameter with its own, smaller learning rate (e.g.
    RMSprop 1e-4 against 1e-3): pass
    `keras_gradstab.layers.skew_learning_rate_optimizer(...)` to `compile`.

    Args:
        units: positive integer, size of the state.
        n_neg: number of -1 entries of D; `None` means `units // 2`.
        kernel_initializer: initializer of U (default U(-0.01, 0.01)).
        bias_initializer: initializer of the modReLU bias.
        kernel_regularizer: optional regularizer of U.
        dropout: fraction of the inputs to drop.
        recurrent_dropout: fraction of the state to drop before `h @ W`.
        seed: random seed.
        **kwargs: the arguments of `keras.layers.RNN` (`return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `zero_output_for_mask`)
            and the base layer arguments.

    Call arguments:
        sequences: `[batch, timesteps, input_dim]`.
        initial_state: optional list of one `[batch, units]` tensor.
        mask: optional boolean `[batch, timesteps]`.
        training: whether dropout is active.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.layers import ScoRNN
    >>> layer = ScoRNN(8)
    >>> tuple(layer(np.ones((4, 5, 3), "float32")).shape)
    (4, 8)
    >>> w = keras.ops.convert_to_numpy(layer.recurrent_matrices()["orthogonal"])
    >>> bool(np.allclose(w @ w.T, np.eye(8), atol=1e-5))
    True
    """

    cell_class = ScoRNNCell
    cell_keys = _CELL_KEYS
    cell_name = "scornn_cell"
