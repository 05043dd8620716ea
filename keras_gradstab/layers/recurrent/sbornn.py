"""SBO-RNN: hidden states as optimizer steps on a lower-level problem (NeurIPS 2021).

The lower-level problem at step t is `f(h) = 1/2 ||alpha h - phi(h)||^2` with
`phi(h) = relu(h W_h + x_t W_x + b)` and the low-rank recurrent matrix
`W_h = I + U V`. Its gradient (row vectors, `D = diag(phi > 0)`) is
`grad f = (alpha h - phi) (alpha I - W_h D)^T`. One recurrent step is one step of
an optimizer on f:

- `"gd"`:          `h_t = h_{t-1} - eta grad f(h_{t-1})`
- `"heavy_ball"`:  `v_t = mu v_{t-1} - eta grad f(h_{t-1})`, `h_t = h_{t-1} + v_t`
- `"nesterov"`:    `y_t = h_{t-1} - eta grad f(h_{t-1})`, `h_t = y_t + mu (y_t - y_{t-1})`
"""

import keras
from keras import ops

from keras_gradstab.layers.recurrent._orthogonal import check_rate
from keras_gradstab.layers.recurrent.base import CellArgumentsRNN, ScanCell
from keras_gradstab.ops._checks import is_finite_number
from keras_gradstab.ops.matmul import matmul

UPDATES = ("gd", "heavy_ball", "nesterov")


@keras.saving.register_keras_serializable(package="keras_gradstab")
class SBORNNCell(ScanCell):
    """The SBO-RNN cell: one optimizer step on `1/2 ||alpha h - relu(h W_h + x W_x + b)||^2`.

    `W_h = I + U V` with `U` `[units, rank]` and `V` `[rank, units]` trained (the
    reference left them random and untrained); `mu` (momentum) is trained, `eta`
    and `alpha` are fixed. See the module docstring for the three updates. The
    cell is a `ScanCell`: `keras.layers.RNN` can run it, and `SBORNN` runs it
    faster with the input projection of all steps hoisted out of the loop.

    Args:
        units: hidden size.
        rank: rank of `U V`.
        update: `"gd"`, `"heavy_ball"` or `"nesterov"`.
        eta: step size (fixed).
        mu: initial momentum (trained; unused by `"gd"`).
        alpha: the scale of h in the lower-level problem (fixed).
        kernel_initializer: initializer of `W_x`.
        low_rank_initializer: initializer of `U` and `V`.
        bias_initializer: initializer of `b`.
        dropout: fraction of the inputs to drop (one mask per sequence).
        recurrent_dropout: fraction of the state to drop where it enters `phi`
            (`(h * mask) W_h`; one mask per sequence).
        seed: random seed of the dropout masks.

    Call arguments:
        inputs: `[batch, input_dim]`.
        states: list of the state tensors `[batch, units]` (1 for `"gd"`, 2 for the
            momentum updates: `[h, v]` or `[h, y]`).

    Example:

    >>> import numpy as np
    >>> import keras_gradstab as kg
    >>> cell = kg.layers.SBORNNCell(4, rank=2, update="heavy_ball")
    >>> out, states = cell(np.ones((2, 3), "float32"), cell.get_initial_state(2))
    >>> tuple(out.shape), len(states)
    ((2, 4), 2)
    """

    def __init__(
        self,
        units,
        rank=50,
        update="gd",
        eta=1e-3,
        mu=0.5,
        alpha=1.0,
        kernel_initializer="glorot_uniform",
        low_rank_initializer=None,
        bias_initializer="zeros",
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("units", units), ("rank", rank)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")
        if update not in UPDATES:
            raise ValueError(f"`update` must be one of {UPDATES}; received {update!r}.")
        for name, value in (("eta", eta), ("mu", mu), ("alpha", alpha)):
            if not is_finite_number(value):
                raise ValueError(f"`{name}` must be a finite number; received {value!r}.")
        if eta <= 0:
            raise ValueError(f"`eta` must be positive; received {eta}.")
        self.units = units
        self.rank = rank
        self.update = update
        self.eta = float(eta)
        self.mu = float(mu)
        self.alpha = float(alpha)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.low_rank_initializer = keras.initializers.get(
            low_rank_initializer
            or keras.initializers.RandomNormal(stddev=1.0 / (units * rank) ** 0.25 / 4)
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        if self.dropout or self.recurrent_dropout:
            # Only then: files saved without dropout hold no generator state.
            self.seed_generator = keras.random.SeedGenerator(seed=seed)
        num_states = 1 if update == "gd" else 2
        self.state_size = [units] * num_states if num_states > 1 else units
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(input_dim, self.units), initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.units,), initializer=self.bias_initializer
        )
        self.u = self.add_weight(
            name="u", shape=(self.units, self.rank), initializer=self.low_rank_initializer
        )
        self.v = self.add_weight(
            name="v", shape=(self.rank, self.units), initializer=self.low_rank_initializer
        )
        if self.update != "gd":
            self.momentum = self.add_weight(
                name="mu", shape=(), initializer=keras.initializers.Constant(self.mu)
            )

    def project_inputs(self, inputs):
        """`x W_x + b` for inputs of any leading shape (hoisted out of the loop)."""
        return matmul(inputs, self.kernel) + self.bias

    def recurrent_constants(self, training=False, update_state=False):
        constants = {"u": ops.convert_to_tensor(self.u), "v": ops.convert_to_tensor(self.v)}
        if self.update != "gd":
            constants["mu"] = ops.convert_to_tensor(self.momentum)
        return constants

    fused_recurrence = "sbornn"

    def fused_call(self, function, projected, states, constants, mask, recurrent_mask):
        if recurrent_mask is not None:
            return None
        mu = constants.get("mu")
        outputs, states = function(
            projected,
            tuple(states),
            ops.cast(constants["u"], projected.dtype),
            ops.cast(constants["v"], projected.dtype),
            None if mu is None else ops.cast(mu, projected.dtype),
            self.eta,
            self.alpha,
            self.update,
            mask,
        )
        return outputs, list(states)

    def step(self, projected, states, constants, recurrent_mask=None):
        u, v = constants["u"], constants["v"]
        h, alpha, eta = states[0], self.alpha, self.eta
        hd = h if recurrent_mask is None else h * recurrent_mask
        pre = hd + ops.matmul(ops.matmul(hd, u), v) + projected  # h (I + U V) + x W_x + b
        phi = ops.relu(pre)
        r = alpha * h - phi
        rd = r * ops.cast(pre > 0, r.dtype)
        # grad f = (r D) W_h^T = r D + ((r D) V^T) U^T
        g = alpha * r - rd - ops.matmul(ops.matmul(rd, ops.transpose(v)), ops.transpose(u))
        if self.update == "gd":
            return [h - eta * g]
        m = ops.cast(constants["mu"], h.dtype)
        if self.update == "heavy_ball":
            velocity = m * states[1] - eta * g
            return [h + velocity, velocity]
        y = h - eta * g
        return [y + m * (y - states[1]), y]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "rank": self.rank,
            "update": self.update,
            "eta": self.eta,
            "mu": self.mu,
            "alpha": self.alpha,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "low_rank_initializer": keras.initializers.serialize(self.low_rank_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="keras_gradstab")
class SBORNN(CellArgumentsRNN):
    """SBO-RNN layer (see `SBORNNCell`), a `ScanRNN` over its cell.

    The input projection `x W_x + b` of all steps is one matmul before the loop;
    the low-rank weights are read once per call; the loop body is pure (on torch,
    a fused loop with its own backward pass through time). Masking,
    `return_sequences`, `return_state`, `go_backwards`, `stateful`, dropout and
    `keras.layers.Bidirectional` behave as in `keras.layers.SimpleRNN`.

    Args:
        units: hidden size.
        rank: rank of `U V` (the paper uses 50).
        update: `"gd"`, `"heavy_ball"` or `"nesterov"`.
        eta: step size (fixed; the paper uses 1e-3).
        mu: initial momentum (trained).
        alpha: the scale of h in the lower-level problem.
        kernel_initializer: initializer of `W_x`.
        low_rank_initializer: initializer of `U` and `V`.
        bias_initializer: initializer of `b`.
        dropout: fraction of the inputs to drop.
        recurrent_dropout: fraction of the state to drop where it enters `phi`.
        seed: random seed of the dropout masks.
        **kwargs: the arguments of `keras.layers.RNN` (`return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `zero_output_for_mask`)
            and the base layer arguments.

    Call arguments:
        sequences: `[batch, time, input_dim]`.
        initial_state: optional list of state tensors.
        mask: optional `[batch, time]` booleans; masked steps keep the states.
        training: whether dropout is active.

    Example:

    >>> import numpy as np
    >>> import keras_gradstab as kg
    >>> layer = kg.layers.SBORNN(8, rank=4, update="nesterov")
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 8)

    References:
        - *SBO-RNN: Reformulating Recurrent Neural Networks via Stochastic
          Bilevel Optimization*, Z. Zhang, Y. Yue, G. Wu, Y. Li, H. Zhang,
          NeurIPS 2021.
          <https://papers.neurips.cc/paper/2021/hash/d87ca511e2a8593c8039ef732f5bffed-Abstract.html>
    """

    cell_class = SBORNNCell
    cell_keys = (
        "units",
        "rank",
        "update",
        "eta",
        "mu",
        "alpha",
        "kernel_initializer",
        "low_rank_initializer",
        "bias_initializer",
        "dropout",
        "recurrent_dropout",
        "seed",
    )
    cell_name = "cell"
