"""What the orthogonal recurrent cells share: the scaled-Cayley skew initializer, the
diagonal D, argument checks, and the RNN layer whose time loop runs on `ops.scan`.

Conventions of every cell here: states are row vectors and a recurrent matrix acts
on the right, `h @ W` (Keras's convention; the papers write `W h`, so our `W` is the
transpose of theirs, which changes neither orthogonality nor the spectral radius).

The data path of a layer, read top to bottom:
1. the cell builds its recurrent matrices once per call (`recurrent_constants`);
2. the input projections of every step in one matmul (`project_inputs`);
3. one `keras_gradstab.ops.scan` over time calling the cell's pure `step`.
"""

import math

import keras
import numpy as np
from keras import ops

# Not public in Keras 3, but keras.layers.RNN.call draws the dropout masks before
# its loop only for cells that are instances of this class (needed on JAX).
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_gradstab import ops as kg_ops
from keras_gradstab.layers.recurrent.skew_learning_rate import SKEW_WEIGHT_NAMES
from keras_gradstab.ops._checks import require_steps


@keras.saving.register_keras_serializable(package="keras_gradstab")
class CayleySkewInitializer(keras.initializers.Initializer):
    """Initial skew parameter X of the scaled Cayley transform, A = U - U^T with U
    the strictly upper triangle of X (see `skew`).

    A is block diagonal with 2x2 blocks [[0, s], [-s, 0]],
    s = -sqrt((1 - cos t) / (1 + cos t)), t ~ U[0, pi/2] (Helfrich et al., 2018):
    X holds the upper entries s and zeros elsewhere.
    """

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        n = shape[-1]
        pairs = (n + 1) // 2
        t = keras.random.uniform((pairs,), 0.0, math.pi / 2, seed=self.seed)
        s = -ops.sqrt((1.0 - ops.cos(t)) / (1.0 + ops.cos(t)))
        s = ops.repeat(s, 2)[:n]
        even_rows = ops.cast(ops.arange(n) % 2 == 0, s.dtype)
        x = ops.eye(n, k=1) * ops.expand_dims(s * even_rows, -1)
        return ops.cast(x, dtype or "float32")

    def get_config(self):
        return {"seed": self.seed}


def check_units(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")


def check_n_neg(n_neg, units, name="n_neg"):
    if n_neg is None:
        return units // 2
    if isinstance(n_neg, bool) or not isinstance(n_neg, int) or not 0 <= n_neg <= units:
        raise ValueError(
            f"`{name}` (the number of -1 entries of D) must be an integer in "
            f"[0, {units}]; received {n_neg!r}."
        )
    return n_neg


def check_rate(name, value):
    if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a float in [0, 1); received {value!r}.")
    return float(value)


def diagonal_d(units, n_neg):
    """The diagonal of D: `units - n_neg` entries +1 followed by `n_neg` entries -1."""
    return np.concatenate([np.ones(units - n_neg), -np.ones(n_neg)]).astype("float32")


def skew(x):
    """A = U - U^T, U the strictly upper triangle of X: skew-symmetric by construction.

    An SGD step `X -= lr dL/dX` changes A by `-lr dL/dA`, with `dL/dA` the
    gradient with respect to A's free entries `a_ij = -a_ji` (`G - G^T` for `G`
    the derivative with respect to an unconstrained A), as the papers step A.
    """
    upper = ops.triu(ops.convert_to_tensor(x), k=1)
    return upper - ops.transpose(upper)


def upper_skew_parameter(x):
    """The X with zero lower triangle and diagonal that `skew` maps to `X - X^T`.

    Applied to the skew parameters on load, it converts weight files that define
    `A = X - X^T` with a full X (the entries are exact differences, so A and the
    outputs are bit for bit those of that definition) and leaves an already upper X
    unchanged.
    """
    x = ops.convert_to_tensor(x)
    return ops.triu(x - ops.transpose(x), k=1)


def scaled_cayley(x, d):
    """W = (I + A)^-1 (I - A) D with A = skew(X), by one solve."""
    return kg_ops.cayley(skew(x), d)


class OrthogonalCellMixin(DropoutRNNCell):
    """Cell side of the contract with `OrthogonalRNN`.

    A cell defines `recurrent_constants(training, update_state)` (the recurrent
    matrices, built once per sequence, and every other weight that `step` reads:
    `step` runs again in torch's backward pass, after a `stateless_call` scope
    has closed, so it must read tensors, never Keras variables), `project_inputs(inputs)` (works on
    `[..., input_dim]`, so on a whole sequence at once) and the pure
    `step(projected, h, constants, recurrent_mask)`. `call` composes them for
    one step, so the cell also works in `keras.layers.RNN(cell)`, rebuilding the
    matrices at every step there.
    """

    def init_shared(
        self,
        *,
        units,
        kernel_initializer,
        bias_initializer,
        kernel_regularizer,
        dropout,
        recurrent_dropout,
        seed,
    ):
        """Checks and stores the arguments every orthogonal cell takes.

        `kernel_initializer=None` means U(-0.01, 0.01) (the scoRNN paper's input
        kernel). Sets `state_size` and `output_size` to `units`.
        """
        if kernel_initializer is None:
            kernel_initializer = keras.initializers.RandomUniform(-0.01, 0.01, seed=seed)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.state_size = units
        self.output_size = units

    def load_own_variables(self, store):
        super().load_own_variables(store)
        for name in SKEW_WEIGHT_NAMES:
            variable = getattr(self, name, None)
            if variable is not None:
                variable.assign(upper_skew_parameter(variable))

    def shared_config(self):
        """The config entries of the arguments stored by `init_shared`."""
        return {
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }

    def call(self, inputs, states, training=False):
        h = states[0] if isinstance(states, (list, tuple)) else states
        if training and self.dropout > 0:
            inputs = inputs * self.get_dropout_mask(inputs)
        recurrent_mask = None
        if training and self.recurrent_dropout > 0:
            recurrent_mask = self.get_recurrent_dropout_mask(h)
        constants = self.recurrent_constants(training=training, update_state=False)
        h = self.step(self.project_inputs(inputs), h, constants, recurrent_mask)
        return h, [h]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.state_size), dtype=self.compute_dtype)]

    def recurrent_matrices(self):
        """The recurrent matrices the next call would use, as a dict of tensors."""
        constants = self.recurrent_constants(training=False, update_state=False)
        return {key: constants[key] for key in self.reported_matrices}

    def _as_compute(self, x):
        return ops.cast(x, self.compute_dtype)


class OrthogonalRNN(keras.layers.RNN):
    """`keras.layers.RNN` whose time loop runs on `keras_gradstab.ops.scan`.

    Masking, `go_backwards`, `stateful`, `return_state`, dropout and `Bidirectional`
    go through `keras.layers.RNN.call` unchanged; only `inner_loop` is replaced.

    A subclass names its `cell_class`, the cell's argument names `cell_keys` (they
    are the layer's arguments and config keys too) and `cell_name`. Positional
    arguments and the keyword arguments in `cell_keys` build the cell; the others
    go to `keras.layers.RNN`.
    """

    cell_class = None
    cell_keys = ()
    cell_name = None

    def __init__(
        self,
        *cell_args,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        cell_kwargs = {key: kwargs.pop(key) for key in self.cell_keys if key in kwargs}
        cell = self.cell_class(
            *cell_args,
            **cell_kwargs,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=self.cell_name,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)

    @property
    def units(self):
        return self.cell.units

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        h0 = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        # The recurrent matrices, once for the whole sequence.
        constants = cell.recurrent_constants(training=training, update_state=bool(training))
        # Dropout masks: drawn by RNN.call before the loop, one per sequence.
        if training and cell.dropout > 0:
            dropout_mask = cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(dropout_mask, 1)
        recurrent_mask = None
        if training and cell.recurrent_dropout > 0:
            recurrent_mask = cell.get_recurrent_dropout_mask(h0)
        # The input projections of every step in one matmul.
        projected = ops.transpose(cell.project_inputs(sequences), (1, 0, 2))
        if self.go_backwards:
            # Keras returns the outputs in processing order.
            projected = ops.flip(projected, 0)
        xs = {"x": projected}
        if mask is not None:
            mask = ops.expand_dims(ops.transpose(ops.cast(mask, "bool"), (1, 0)), -1)
            xs["mask"] = ops.flip(mask, 0) if self.go_backwards else mask
        zero_output = self.zero_output_for_mask
        want_sequences = self.return_sequences

        def step(h, x):
            new_h = cell.step(x["x"], h, constants, recurrent_mask)
            if "mask" in x:
                new_h = ops.where(x["mask"], new_h, h)
                output = (
                    ops.where(x["mask"], new_h, ops.zeros_like(new_h)) if zero_output else new_h
                )
            else:
                output = new_h
            return new_h, (output if want_sequences else None)

        h_last, outputs = kg_ops.scan(step, h0, xs)
        if want_sequences:
            last_output = outputs[-1]
            outputs = ops.transpose(outputs, (1, 0, 2))
        else:
            last_output = h_last
            outputs = ops.expand_dims(h_last, 1)
        return last_output, outputs, [h_last]

    def call(self, sequences, initial_state=None, mask=None, training=False):
        require_steps(type(self).__name__, sequences, (1,))
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def recurrent_matrices(self):
        """The cell's recurrent matrices (see the cell's `recurrent_matrices`)."""
        return self.cell.recurrent_matrices()

    def get_config(self):
        """RNN's own keys plus the cell's arguments, without `cell`."""
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        return {**config, **{key: cell_config[key] for key in self.cell_keys}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
