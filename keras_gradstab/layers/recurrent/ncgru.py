"""NC-GRU: a GRU whose candidate's recurrent matrix is a scaled Cayley orthogonal matrix
(Mucllari, Zadorozhnyy, Ye & Nguyen, 2022), with the optional Neumann-series update of
the cached inverse (I + A)^-1."""

import keras
from keras import ops

from keras_gradstab import ops as kg_ops
from keras_gradstab.activations import modrelu
from keras_gradstab.layers.recurrent._orthogonal import (
    OrthogonalCellMixin,
    OrthogonalRNN,
    check_n_neg,
    check_units,
    diagonal_d,
    scaled_cayley,
    skew,
)
from keras_gradstab.ops.cayley import solve_identity_plus
from keras_gradstab.ops.matmul import matmul

_CELL_KEYS = (
    "units",
    "n_neg",
    "reset_after",
    "candidate_activation",
    "orthogonal_reset",
    "cayley_inverse",
    "neumann_terms",
    "refresh_every",
    "update_gate_bias",
    "reset_gate_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "dropout",
    "recurrent_dropout",
    "seed",
)
_INVERSES = ("solve", "neumann")
_CANDIDATE_ACTIVATIONS = ("modrelu", "tanh")


class _GateBias(keras.initializers.Initializer):
    """`base` for the whole `[update | reset]` bias, then the given constants per gate."""

    def __init__(self, base, update, reset):
        self.base, self.update, self.reset = base, update, reset

    def __call__(self, shape, dtype=None):
        n = shape[-1] // 2
        base = self.base(shape, dtype=dtype)
        parts = [base[:n], base[n:]]
        for i, value in enumerate((self.update, self.reset)):
            if value is not None:
                parts[i] = ops.full((n,), value, dtype=dtype)
        return ops.concatenate(parts)


def _check_gate_bias(name, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"`{name}` must be a number or None; received {value!r}.")
    return None if value is None else float(value)


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1; received {value!r}.")


@keras.saving.register_keras_serializable(package="keras_gradstab")
class NCGRUCell(OrthogonalCellMixin, keras.layers.Layer):
    """Cell of NC-GRU: a GRU whose candidate uses an orthogonal recurrent matrix.

    With row vectors and gates `[u, r] = sigmoid(x W_g + h U_g + b_g)`:

    - `reset_after=True` (the PyTorch reference, Keras's default GRU form):
      `cand = x W_c + r * (h U_c)`;
    - `reset_after=False` (the TensorFlow reference): `cand = x W_c + (r * h) U_c`;

    then `c = modReLU(cand, b)` and `h' = u * h + (1 - u) * c`. U_c = (I + A)^-1
    (I - A) D is the scaled Cayley transform of the trainable skew-symmetric
    A = triu(X, 1) - triu(X, 1)^T (X is `recurrent_skew`), D diagonal with `n_neg`
    entries -1. With
    `orthogonal_reset=True` (the NC-GRU(U_c, U_r) variant) the reset gate's
    recurrent matrix is a second Cayley matrix (`reset_skew`); the update gate is
    never constrained.

    `candidate_activation="tanh"` departs from the paper: `c = tanh(cand + b)`,
    the modReLU bias b acting as the candidate's input bias (the recurrent
    candidate bias is 0). The cell is then exactly a GRU (with `reset_after=True`,
    Keras's default form, `keras.layers.GRU(reset_after=True)` with zero
    `recurrent_bias`) whose candidate recurrent matrix is the orthogonal U_c, and
    `NCGRU` runs it on the backend's native fused GRU where there is one (on
    torch, what `torch.nn.GRU` runs), for calls without a mask and without
    recurrent dropout; other calls run the scan. The weights are those of
    `"modrelu"`.

    `cayley_inverse="solve"` builds U_c by one linear solve per call.
    `cayley_inverse="neumann"` keeps B = (I + A)^-1 as non-trainable state (like
    BatchNormalization's moving statistics): each training call updates it with
    the actual change dA of A since the previous training call,
    (I + A + dA)^-1 ~ sum_j (-B dA)^j B (`neumann_terms` terms), and recomputes it
    exactly every `refresh_every` training calls. Using the actual dA, not the
    `-lr * grad` of plain SGD, keeps it correct under Adam or any optimizer. The
    state advances only in `NCGRU` (once per training call); in
    `keras.layers.RNN(cell)` the cell solves exactly.

    The papers train the skew parameters with a smaller learning rate:
    `keras_gradstab.layers.skew_learning_rate_optimizer` builds such an optimizer.
    A step of rate `lr` on X moves A by `lr` times the papers' `dL/dA`, so their
    rates for A apply as they are.

    Gate biases and long memory: with zero gate biases (the reference's
    initialization, our default) u = r = 1/2 at the start, so the step's
    Jacobian is about `I / 2 + U_c / 4`, whose eigenvalues have moduli in
    [1/4, 3/4]: gradients shrink at least 4/3-fold per step and a dependency
    over 200 steps is not found (on the copying task at T=200 such a cell stays
    on the memoryless plateau). `update_gate_bias=-8.0, reset_gate_bias=8.0`
    start the cell as scoRNN (u ~ 3e-4, r ~ 1 - 3e-4, so
    `h' ~ modReLU(x W_c + h U_c)`, whose Jacobian is orthogonal where modReLU
    passes), and the gates are learned from there: this learns copying at
    T=200 as fast as `ScoRNN` (see `model_zoo/ncgru_copying`).

    Args:
        units: positive integer, size of the state.
        n_neg: number of -1 entries of D, in `[0, units]`; `None` means
            `units // 2`.
        reset_after: where the reset gate acts (see above).
        candidate_activation: `"modrelu"` (the paper) or `"tanh"` (a GRU with an
            orthogonal candidate matrix; see above).
        orthogonal_reset: make the reset gate's recurrent matrix orthogonal too.
        cayley_inverse: `"solve"` or `"neumann"`.
        neumann_terms: highest power of the Neumann series (`"neumann"` only).
        refresh_every: training calls between exact refreshes of the cached
            inverse (`"neumann"` only).
        update_gate_bias: initial value of every unit's update-gate bias
            (a float), or `None` to use `bias_initializer`.
        reset_gate_bias: initial value of every unit's reset-gate bias, or
            `None` to use `bias_initializer`.
        kernel_initializer: initializer of the input kernel `[W_g | W_c]`.
        recurrent_initializer: initializer of the gates' recurrent kernel.
        bias_initializer: initializer of the gate and modReLU biases.
        kernel_regularizer: optional regularizer of the input kernel.
        recurrent_regularizer: optional regularizer of the gates' recurrent kernel.
        dropout: fraction of the inputs to drop (one mask per sequence).
        recurrent_dropout: fraction of the state to drop before the recurrent
            products (one mask per sequence).
        seed: random seed.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `[batch, input_dim]`, one step.
        states: a list of one `[batch, units]` tensor.
        training: whether dropout is active.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.layers import NCGRUCell
    >>> tuple(keras.layers.RNN(NCGRUCell(8))(np.ones((2, 5, 3), "float32")).shape)
    (2, 8)
    """

    def __init__(
        self,
        units,
        n_neg=None,
        reset_after=True,
        candidate_activation="modrelu",
        orthogonal_reset=False,
        cayley_inverse="solve",
        neumann_terms=6,
        refresh_every=50,
        update_gate_bias=None,
        reset_gate_bias=None,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_units("units", units)
        if cayley_inverse not in _INVERSES:
            raise ValueError(
                f"`cayley_inverse` must be one of {_INVERSES}; received {cayley_inverse!r}."
            )
        if candidate_activation not in _CANDIDATE_ACTIVATIONS:
            raise ValueError(
                f"`candidate_activation` must be one of {_CANDIDATE_ACTIVATIONS}; "
                f"received {candidate_activation!r}."
            )
        _check_positive_int("neumann_terms", neumann_terms)
        _check_positive_int("refresh_every", refresh_every)
        for name, value in (("reset_after", reset_after), ("orthogonal_reset", orthogonal_reset)):
            if not isinstance(value, bool):
                raise ValueError(f"`{name}` must be a bool; received {value!r}.")
        self.units = units
        self.n_neg = n_neg
        self._n_neg = check_n_neg(n_neg, units)
        self.reset_after = reset_after
        self.candidate_activation = candidate_activation
        self.orthogonal_reset = orthogonal_reset
        self.cayley_inverse = cayley_inverse
        self.neumann_terms = neumann_terms
        self.refresh_every = refresh_every
        self.update_gate_bias = _check_gate_bias("update_gate_bias", update_gate_bias)
        self.reset_gate_bias = _check_gate_bias("reset_gate_bias", reset_gate_bias)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.init_shared(
            units=units,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
        )
        self.reported_matrices = (
            ("orthogonal", "orthogonal_reset") if orthogonal_reset else ("orthogonal",)
        )

    def build(self, input_shape):
        n = self.units
        self.kernel = self.add_input_kernel(input_shape, 3 * n)
        gates = 1 if self.orthogonal_reset else 2
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel",
            shape=(n, gates * n),
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
        )
        self.recurrent_skew = self.add_skew_weight("recurrent_skew", n)
        if self.orthogonal_reset:
            self.reset_skew = self.add_skew_weight("reset_skew", n)
        gate_bias_initializer = self.bias_initializer
        if self.update_gate_bias is not None or self.reset_gate_bias is not None:
            gate_bias_initializer = _GateBias(
                self.bias_initializer, self.update_gate_bias, self.reset_gate_bias
            )
        self.bias = self.add_weight(name="bias", shape=(2 * n,), initializer=gate_bias_initializer)
        self.modrelu_bias = self.add_modrelu_bias()
        self._caches = {}
        if self.cayley_inverse == "neumann":
            names = ("recurrent", "reset") if self.orthogonal_reset else ("recurrent",)
            for name in names:
                # (A, (I + A)^-1) of the last training call, A = 0 at first.
                self._caches[name] = tuple(
                    self.add_weight(
                        name=f"{name}_{kind}",
                        shape=(n, n),
                        initializer=initializer,
                        trainable=False,
                        autocast=False,
                    )
                    for kind, initializer in (
                        ("cached_skew", "zeros"),
                        ("cached_inverse", "identity"),
                    )
                )
            self.cache_steps = self.add_weight(
                name="cache_steps",
                shape=(),
                initializer="zeros",
                dtype="int32",
                trainable=False,
                autocast=False,
            )
        self._d = diagonal_d(n, self._n_neg)

    def _orthogonal(self, name, x, training, update_state):
        if self.cayley_inverse == "solve":
            return scaled_cayley(x, self._d)
        cached_skew, cached_inverse = self._caches[name]
        a = skew(x)
        eye = ops.eye(self.units, dtype=a.dtype)
        # Copies: the variables are assigned below, after the graph has used them.
        old_a = ops.copy(ops.convert_to_tensor(cached_skew))
        old_inverse = ops.copy(ops.convert_to_tensor(cached_inverse))

        def exact():
            return solve_identity_plus(a, eye)

        def series():
            # (I + A_old + dA)^-1 = (I + B dA)^-1 B, B = (I + A_old)^-1.
            return ops.matmul(
                kg_ops.neumann_inverse(ops.matmul(old_inverse, a - old_a), self.neumann_terms),
                old_inverse,
            )

        refresh = ops.equal(ops.mod(ops.convert_to_tensor(self.cache_steps), self.refresh_every), 0)
        inverse = ops.cond(refresh, exact, series)
        if update_state:
            cached_skew.assign(ops.stop_gradient(a))
            cached_inverse.assign(ops.stop_gradient(inverse))
        return ops.matmul(inverse, eye - a) * ops.convert_to_tensor(self._d, a.dtype)

    def recurrent_constants(self, training=False, update_state=False):
        orthogonal = self._orthogonal("recurrent", self.recurrent_skew, training, update_state)
        constants = {"orthogonal": orthogonal}
        gates = self._as_compute(self.recurrent_kernel)
        if self.orthogonal_reset:
            constants["orthogonal_reset"] = self._orthogonal(
                "reset", self.reset_skew, training, update_state
            )
            gates = ops.concatenate(
                [gates, self._as_compute(constants["orthogonal_reset"])], axis=-1
            )
        if update_state and self.cayley_inverse == "neumann":
            self.cache_steps.assign(self.cache_steps + 1)
        # One matmul per step: the gates' and (reset_after) the candidate's products.
        if self.reset_after:
            constants["recurrent"] = ops.concatenate([gates, self._as_compute(orthogonal)], -1)
        else:
            constants["recurrent"] = gates
            constants["candidate"] = self._as_compute(orthogonal)
        constants["modrelu_bias"] = ops.convert_to_tensor(self.modrelu_bias)
        return constants

    def _input_bias(self):
        """The bias of `project_inputs`: the gates' bias, then the candidate's (the
        modReLU bias with `"tanh"`, zeros with `"modrelu"`, which adds it in modReLU)."""
        if self.candidate_activation == "tanh":
            candidate_bias = self.modrelu_bias
        else:
            candidate_bias = ops.zeros((self.units,), self.bias.dtype)
        return ops.cast(ops.concatenate([self.bias, candidate_bias]), self.compute_dtype)

    def project_inputs(self, inputs):
        return matmul(inputs, self.kernel) + self._input_bias()

    fused_recurrence = "ncgru"

    fused_constants = ("recurrent", "candidate")

    def fused_call(self, function, projected, states, constants, mask, recurrent_mask):
        if self.candidate_activation != "modrelu":
            return None  # the fused NC-GRU loop applies modReLU
        return super().fused_call(function, projected, states, constants, mask, recurrent_mask)

    def fused_input_call(self, fused_recurrence, inputs, states, constants, mask, recurrent_mask):
        """The backend's native GRU (`fused_recurrence["gru"]`) for the tanh form
        with `reset_after=True`, where the call has no mask and no recurrent dropout."""
        gru = fused_recurrence.get("gru")
        if (
            gru is None
            or self.candidate_activation != "tanh"
            or not self.reset_after
            or mask is not None
            or recurrent_mask is not None
        ):
            return None
        kernel = self._as_compute(self.kernel)
        outputs, h = gru(inputs, states[0], kernel, constants["recurrent"], self._input_bias())
        return outputs, [h]

    def step(self, projected, states, constants, recurrent_mask=None):
        h = states[0]
        # ops.split, not slices: on TensorFlow (graph mode, as Keras runs it there)
        # the gradient of a slice builds a zero tensor of the whole input and adds
        # into it; the gradient of a split is one concatenation. That made the
        # training step ~25% faster there (benchmarks/recurrent).
        hd = h if recurrent_mask is None else h * recurrent_mask
        p_u, p_r, p_c = ops.split(projected, 3, axis=-1)
        recurrent = ops.matmul(hd, constants["recurrent"])
        if self.reset_after:
            r_u, r_r, r_c = ops.split(recurrent, 3, axis=-1)
        else:
            r_u, r_r = ops.split(recurrent, 2, axis=-1)
        u = ops.sigmoid(p_u + r_u)
        r = ops.sigmoid(p_r + r_r)
        if self.reset_after:
            candidate = p_c + r * r_c
        else:
            candidate = p_c + ops.matmul(r * hd, constants["candidate"])
        if self.candidate_activation == "tanh":
            c = ops.tanh(candidate)
        else:
            c = modrelu(candidate, constants["modrelu_bias"])
        return [c + u * (h - c)]  # u h + (1 - u) c

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "n_neg": self.n_neg,
            "reset_after": self.reset_after,
            "candidate_activation": self.candidate_activation,
            "orthogonal_reset": self.orthogonal_reset,
            "cayley_inverse": self.cayley_inverse,
            "neumann_terms": self.neumann_terms,
            "refresh_every": self.refresh_every,
            "update_gate_bias": self.update_gate_bias,
            "reset_gate_bias": self.reset_gate_bias,
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            **self.shared_config(),
        }


@keras.saving.register_keras_serializable(package="keras_gradstab")
class NCGRU(OrthogonalRNN):
    """NC-GRU layer: a GRU whose candidate's recurrent matrix is orthogonal.

    `model.add(NCGRU(64))` where a `keras.layers.GRU(64)` would go. The orthogonal
    matrices are built from their skew parameters once per sequence by the scaled
    Cayley transform, and the time loop runs on `keras_gradstab.ops.scan` with the
    input projections of every step in one matmul. See `NCGRUCell` for the
    equations, `reset_after`, `orthogonal_reset` and the `"neumann"` inverse.
    Masking, `return_sequences`, `return_state`, `go_backwards`, `stateful`,
    dropout and `keras.layers.Bidirectional` behave as in `keras.layers.GRU`.

    The papers train the skew parameters with their own, smaller learning rate:
    compile with `keras_gradstab.layers.skew_learning_rate_optimizer(...)`.

    Args:
        units: positive integer, size of the state.
        n_neg: number of -1 entries of D; `None` means `units // 2`.
        reset_after: `True`: `cand = x W_c + r * (h U_c)`; `False`:
            `cand = x W_c + (r * h) U_c`.
        candidate_activation: `"modrelu"` (the paper, default) or `"tanh"`:
            `c = tanh(cand + b)`, a GRU whose candidate recurrent matrix is
            orthogonal; with `reset_after=True` it runs on the backend's native
            GRU where there is one (torch), unless the call has a mask or
            recurrent dropout.
        orthogonal_reset: the reset gate's recurrent matrix is orthogonal too.
        cayley_inverse: `"solve"` (exact, default) or `"neumann"`.
        neumann_terms: terms of the Neumann series (`"neumann"` only).
        refresh_every: training calls between exact refreshes (`"neumann"` only).
        update_gate_bias: initial update-gate bias (a float) or `None` for
            `bias_initializer`; `-8.0` with `reset_gate_bias=8.0` starts the
            layer as scoRNN, which long-memory tasks need (see `NCGRUCell`).
        reset_gate_bias: initial reset-gate bias (a float) or `None`.
        kernel_initializer: initializer of the input kernel.
        recurrent_initializer: initializer of the gates' recurrent kernel.
        bias_initializer: initializer of the biases.
        kernel_regularizer: optional regularizer of the input kernel.
        recurrent_regularizer: optional regularizer of the gates' recurrent kernel.
        dropout: fraction of the inputs to drop.
        recurrent_dropout: fraction of the state to drop before the recurrent
            products.
        seed: random seed.
        **kwargs: the arguments of `keras.layers.RNN` (`return_sequences`,
            `return_state`, `go_backwards`, `stateful`, `zero_output_for_mask`)
            and the base layer arguments.

    Call arguments:
        sequences: `[batch, timesteps, input_dim]`.
        initial_state: optional list of one `[batch, units]` tensor.
        mask: optional boolean `[batch, timesteps]`.
        training: whether dropout is active and the Neumann cache advances.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.layers import NCGRU
    >>> layer = NCGRU(8, return_sequences=True, return_state=True)
    >>> sequences, state = layer(np.ones((4, 5, 3), "float32"))
    >>> tuple(sequences.shape), tuple(state.shape)
    ((4, 5, 8), (4, 8))
    """

    cell_class = NCGRUCell
    cell_keys = _CELL_KEYS
    cell_name = "ncgru_cell"
