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

from keras_gradstab.ops._checks import is_finite_number, require_steps
from keras_gradstab.ops.matmul import matmul
from keras_gradstab.ops.scan import scan

UPDATES = ("gd", "heavy_ball", "nesterov")


@keras.saving.register_keras_serializable(package="keras_gradstab")
class SBORNNCell(keras.layers.Layer):
    """The SBO-RNN cell: one optimizer step on `1/2 ||alpha h - relu(h W_h + x W_x + b)||^2`.

    `W_h = I + U V` with `U` `[units, rank]` and `V` `[rank, units]` trained (the
    reference left them random and untrained); `mu` (momentum) is trained, `eta`
    and `alpha` are fixed. See the module docstring for the three updates. The
    cell follows the Keras cell contract (`state_size`, `output_size`,
    `get_initial_state`, `call(inputs, states)`), so `keras.layers.RNN` can run it;
    `SBORNN` runs it faster on `keras_gradstab.ops.scan` with the input projection
    of all steps hoisted out of the loop.

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

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [ops.zeros((batch_size, s), dtype=self.compute_dtype) for s in sizes]

    def project_inputs(self, inputs):
        """`x W_x + b` for inputs of any leading shape (hoisted out of the loop)."""
        return matmul(inputs, self.kernel) + self.bias

    def step_fn(self):
        """A pure `(states, projected_x) -> states` step with the weights read once."""
        u, v = ops.convert_to_tensor(self.u), ops.convert_to_tensor(self.v)
        eta, alpha = self.eta, self.alpha
        mu = ops.convert_to_tensor(self.momentum) if self.update != "gd" else None
        update = self.update

        def grad_f(h, projected):
            pre = h + ops.matmul(ops.matmul(h, u), v) + projected  # h (I + U V) + x W_x + b
            phi = ops.relu(pre)
            r = alpha * h - phi
            rd = r * ops.cast(pre > 0, r.dtype)
            # (r D) W_h^T = r D + ((r D) V^T) U^T
            return alpha * r - rd - ops.matmul(ops.matmul(rd, ops.transpose(v)), ops.transpose(u))

        def step(states, projected):
            h = states[0]
            g = grad_f(h, projected)
            if update == "gd":
                return [h - eta * g]
            m = ops.cast(mu, h.dtype)
            if update == "heavy_ball":
                velocity = m * states[1] - eta * g
                return [h + velocity, velocity]
            y = h - eta * g
            return [y + m * (y - states[1]), y]

        return step

    def call(self, inputs, states, training=None):
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        new_states = self.step_fn()(states, self.project_inputs(inputs))
        out_states = new_states if len(new_states) > 1 else new_states[0]
        return new_states[0], out_states

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
        }


@keras.saving.register_keras_serializable(package="keras_gradstab")
class SBORNN(keras.layers.Layer):
    """SBO-RNN layer (see `SBORNNCell`), run on `keras_gradstab.ops.scan`.

    The input projection `x W_x + b` of all steps is one matmul before the loop;
    the low-rank weights are read once per call; the loop body is pure.

    Args:
        units: hidden size.
        rank: rank of `U V` (the paper uses 50).
        update: `"gd"`, `"heavy_ball"` or `"nesterov"`.
        eta: step size (fixed; the paper uses 1e-3).
        mu: initial momentum (trained).
        alpha: the scale of h in the lower-level problem.
        return_sequences: return all hidden states `[batch, time, units]`.
        return_state: also return the final states.
        go_backwards: run over time from the end.
        **kwargs: other `SBORNNCell` arguments (initializers) and Layer arguments.

    Call arguments:
        inputs: `[batch, time, input_dim]`.
        mask: optional `[batch, time]` booleans; masked steps keep the states.
        initial_state: optional list of state tensors.

    Example:

    >>> import numpy as np
    >>> import keras_gradstab as kg
    >>> layer = kg.layers.SBORNN(8, rank=4, update="nesterov")
    >>> tuple(layer(np.ones((2, 5, 3), "float32")).shape)
    (2, 8)
    """

    _CELL_KEYS = ("kernel_initializer", "low_rank_initializer", "bias_initializer")

    def __init__(
        self,
        units,
        rank=50,
        update="gd",
        eta=1e-3,
        mu=0.5,
        alpha=1.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        **kwargs,
    ):
        cell_kwargs = {k: kwargs.pop(k) for k in self._CELL_KEYS if k in kwargs}
        super().__init__(**kwargs)
        self.supports_masking = True
        self.cell = SBORNNCell(
            units,
            rank=rank,
            update=update,
            eta=eta,
            mu=mu,
            alpha=alpha,
            dtype=self.dtype_policy,
            name="cell",
            **cell_kwargs,
        )
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"SBORNN expects inputs [batch, time, features]; received shape {input_shape}."
            )
        self.cell.build((input_shape[0], input_shape[-1]))

    def call(self, inputs, mask=None, initial_state=None):
        require_steps("SBORNN", inputs, (1,))
        cell = self.cell
        batch = ops.shape(inputs)[0]
        projected = ops.transpose(cell.project_inputs(inputs), (1, 0, 2))  # time-major
        states = list(initial_state) if initial_state is not None else cell.get_initial_state(batch)
        states = [ops.cast(s, projected.dtype) for s in states]
        step = cell.step_fn()
        if mask is None:

            def fn(carry, x):
                new = step(carry, x)
                return new, new[0]

            xs = projected
        else:
            keep = ops.cast(ops.expand_dims(ops.transpose(mask, (1, 0)), -1), projected.dtype)

            def fn(carry, x):
                x, m = x
                new = step(carry, x)
                new = [m * n + (1 - m) * c for n, c in zip(new, carry)]
                return new, new[0]

            xs = (projected, keep)
        final, hs = scan(fn, states, xs, reverse=self.go_backwards)
        output = ops.transpose(hs, (1, 0, 2)) if self.return_sequences else final[0]
        if self.return_state:
            return [output] + list(final)
        return output

    def compute_mask(self, inputs, mask=None):
        if not self.return_sequences:
            return None
        return mask

    def compute_output_shape(self, input_shape):
        units = self.cell.units
        out = (
            (input_shape[0], input_shape[1], units)
            if self.return_sequences
            else (input_shape[0], units)
        )
        if self.return_state:
            n = 1 if self.cell.update == "gd" else 2
            return [out] + [(input_shape[0], units)] * n
        return out

    def get_config(self):
        cell_config = self.cell.get_config()
        return {
            **super().get_config(),
            **{
                k: cell_config[k]
                for k in ("units", "rank", "update", "eta", "mu", "alpha") + self._CELL_KEYS
            },
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
        }
