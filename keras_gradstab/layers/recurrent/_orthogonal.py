"""What the orthogonal recurrent cells share: the scaled-Cayley skew initializer, the
diagonal D, argument checks, and the RNN layer whose time loop runs on `ops.scan`.

Conventions of every cell here: states are row vectors and a recurrent matrix acts
on the right, `h @ W` (Keras's convention; the papers write `W h`, so our `W` is the
transpose of theirs, which changes neither orthogonality nor the spectral radius).

The data path of a layer, read top to bottom:
1. the cell builds its recurrent matrices once per call (`recurrent_constants`);
2. the input projections of every step in one matmul (`project_inputs`);
3. one `keras_gradstab.ops.scan` over time calling the cell's pure `step`, or the
   backend's fused recurrence of the cell (see `keras_gradstab.layers.ScanRNN`).
"""

import math

import keras
import numpy as np
from keras import ops

from keras_gradstab import ops as kg_ops
from keras_gradstab.activations import modrelu
from keras_gradstab.layers.recurrent.base import CellArgumentsRNN, ScanCell
from keras_gradstab.layers.recurrent.skew_learning_rate import SKEW_WEIGHT_NAMES
from keras_gradstab.ops.matmul import matmul


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


# The config keys of the arguments `OrthogonalCellMixin.init_shared` stores.
SHARED_CELL_KEYS = (
    "kernel_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "dropout",
    "recurrent_dropout",
    "seed",
)


class OrthogonalCellMixin(ScanCell):
    """What the orthogonal cells add to `ScanCell`: the shared arguments, their
    config, the conversion of old skew parameters on load, and `recurrent_matrices`.

    `recurrent_constants` holds every weight that `step` reads (the recurrent
    matrices and the modReLU bias): `step` may run again in torch's backward pass,
    after a `stateless_call` scope has closed, so it reads tensors, never Keras
    variables. In `keras.layers.RNN(cell)` the matrices are rebuilt at every step.
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

    # The constants the backend's fused recurrence takes after the state, in order
    # (a missing one is passed as None), before the modReLU bias.
    fused_constants = ()

    def fused_call(self, function, projected, states, constants, mask, recurrent_mask):
        matrices = [
            None if constants.get(key) is None else self._as_compute(constants[key])
            for key in self.fused_constants
        ]
        bias = ops.cast(constants["modrelu_bias"], projected.dtype)
        outputs, h = function(projected, states[0], *matrices, bias, mask, recurrent_mask)
        return outputs, [h]

    def recurrent_matrices(self):
        """The recurrent matrices the next call would use, as a dict of tensors."""
        constants = self.recurrent_constants(training=False, update_state=False)
        return {key: constants[key] for key in self.reported_matrices}

    def _as_compute(self, x):
        return ops.cast(x, self.compute_dtype)

    def add_input_kernel(self, input_shape, width):
        """The input kernel `[input_dim, width]` (`kernel_initializer`, `kernel_regularizer`)."""
        return self.add_weight(
            name="kernel",
            shape=(input_shape[-1], width),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )

    def add_skew_weight(self, name, units):
        """A `[units, units]` skew parameter with the scaled-Cayley initialization.

        It stays float32 under mixed precision (the Cayley solve needs it); the
        matrices built from it are cast to the compute dtype afterwards.
        """
        return self.add_weight(
            name=name,
            shape=(units, units),
            initializer=CayleySkewInitializer(self.seed),
            autocast=False,
        )

    def add_modrelu_bias(self):
        """The modReLU bias `[units]` (`bias_initializer`)."""
        return self.add_weight(
            name="modrelu_bias", shape=(self.units,), initializer=self.bias_initializer
        )


class ModReLUCellMixin(OrthogonalCellMixin):
    """A cell `h' = modReLU(x U + h W, b)` (scoRNN, ENRNN): `project_inputs`, `step`
    and the backend's fused modReLU loop.

    U is the cell's `kernel`, W the recurrent constant named by the cell's single
    entry of `fused_constants`, b the `modrelu_bias` constant.
    """

    fused_recurrence = "modrelu"

    def project_inputs(self, inputs):
        return matmul(inputs, self.kernel)

    def step(self, projected, states, constants, recurrent_mask=None):
        h = states[0]
        if recurrent_mask is not None:
            h = h * recurrent_mask
        (recurrent,) = self.fused_constants
        w = self._as_compute(constants[recurrent])
        return [modrelu(projected + ops.matmul(h, w), constants["modrelu_bias"])]


class OrthogonalRNN(CellArgumentsRNN):
    """A `CellArgumentsRNN` whose cell reports its recurrent matrices."""

    def recurrent_matrices(self):
        """The cell's recurrent matrices (see the cell's `recurrent_matrices`)."""
        return self.cell.recurrent_matrices()
