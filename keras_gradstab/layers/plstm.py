"""pLSTM layers (Pöppel et al., 2025): `PLSTM1D`, `PLSTM2D` and `PLSTMBlock`.

Queries, keys, values and the scalar gates of every head are projections of the
input at each position; heads are folded into the batch and the recurrence runs
in `keras_gradstab.ops.plstm_1d` / `plstm_2d`. Two gate parametrizations keep
the path sums from exploding:

- P-mode (directed propagation): every incoming state is split between the
  outgoing edges with non-negative weights that sum to one, so a source's
  influence is a probability mass that can only shrink.
- D-mode (diffusive distribution): one cross transition is removed (T^dl = 0),
  leaving a single path between any two cells, and each |T| < 1 (tanh), so a
  signal decays with distance.
"""

import keras
import numpy as np
from keras import ops

from keras_gradstab.ops._checks import require_steps
from keras_gradstab.ops.plstm import FORMS, GATES_2D, _check_chunk, plstm_1d, plstm_2d

MODES = ("P", "D", "PD")
ORIENTATIONS = (1, 2, 4)
# Gate bias initialisations of the paper's vision model (Poeppel et al., 2025).
SOURCE_BIAS, MARK_BIAS, DIRECT_BIAS = -4.0, -4.0, -6.0


def _check_positive_int(name, value, allow_none=False):
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        allowed = "None or a positive int" if allow_none else "a positive int"
        raise ValueError(f"`{name}` must be {allowed}; received {value!r}.")


def _split_heads(num_heads, mode):
    """Number of P-mode and D-mode heads; "PD" gives the first half to P."""
    if mode == "P":
        return num_heads, 0
    if mode == "D":
        return 0, num_heads
    return num_heads - num_heads // 2, num_heads // 2


class _PLSTMBase(keras.layers.Layer):
    """What PLSTM1D and PLSTM2D share: projections, gates, per-head norm."""

    _rank = None  # input rank: 3 for sequences, 4 for grids
    _p_gates = ()  # names of the P-mode gate preactivations
    _d_gates = ()  # names of the D-mode gate preactivations

    def __init__(
        self,
        num_heads,
        key_dim=None,
        value_dim=None,
        output_dim=None,
        mode="P",
        form="parallel",
        chunk_size=None,
        epsilon=1e-6,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_positive_int("num_heads", num_heads)
        _check_positive_int("key_dim", key_dim, allow_none=True)
        _check_positive_int("value_dim", value_dim, allow_none=True)
        _check_positive_int("output_dim", output_dim, allow_none=True)
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}; received {mode!r}.")
        if mode == "PD" and num_heads < 2:
            raise ValueError(
                f"`mode='PD'` splits the heads between P and D and needs `num_heads` >= 2; "
                f"received num_heads={num_heads}."
            )
        if form not in FORMS:
            raise ValueError(f"`form` must be one of {FORMS}; received {form!r}.")
        _check_chunk(chunk_size, self._rank - 2)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.output_dim = output_dim
        self.mode = mode
        self.form = form
        self.chunk_size = chunk_size
        self.epsilon = epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        if len(input_shape) != self._rank:
            raise ValueError(
                f"{type(self).__name__} expects inputs of rank {self._rank}; received "
                f"shape {tuple(input_shape)}."
            )
        dim = input_shape[-1]
        if dim is None:
            raise ValueError("The last axis (features) of the input must be known.")
        heads = self.num_heads
        self._dk = self.key_dim or max(1, dim // heads)
        self._dv = self.value_dim or max(1, dim // heads)
        self._heads_p, self._heads_d = _split_heads(heads, self.mode)
        init = self.kernel_initializer
        self.query_kernel = self.add_weight(
            name="query_kernel", shape=(dim, heads, self._dk), initializer=init
        )
        self.key_kernel = self.add_weight(
            name="key_kernel", shape=(dim, heads, self._dk), initializer=init
        )
        self.value_kernel = self.add_weight(
            name="value_kernel", shape=(dim, heads, self._dv), initializer=init
        )
        self._gate_weights = {}
        for prefix, count, names in (
            ("p", self._heads_p, self._p_gates),
            ("d", self._heads_d, self._d_gates),
        ):
            if not count:
                continue
            kernel = self.add_weight(
                name=f"{prefix}_gate_kernel",
                shape=(dim, count, len(names)),
                initializer=init,
            )
            bias = self.add_weight(
                name=f"{prefix}_gate_bias", shape=(count, len(names)), initializer="zeros"
            )
            bias.assign(self._gate_bias_init(prefix, count, names))
            self._gate_weights[prefix] = (kernel, bias)
        self.norm_scale = self.add_weight(
            name="norm_scale", shape=(heads, self._dv), initializer="ones"
        )
        self.output_kernel = self.add_weight(
            name="output_kernel",
            shape=(heads, self._dv, self.output_dim or dim),
            initializer=init,
        )
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.output_dim or dim,), initializer="zeros"
        )

    def _gate_bias_init(self, prefix, count, names):
        bias = np.zeros((count, len(names)), "float32")
        for i, name in enumerate(names):
            if name.startswith("source"):
                bias[:, i] = SOURCE_BIAS
            elif name.startswith("mark"):
                bias[:, i] = MARK_BIAS
            elif name == "direct":
                bias[:, i] = DIRECT_BIAS
            elif name == "orientation":
                # Each head prefers another direction (sigmoid from 0.12 to 0.88).
                bias[:, i] = np.linspace(-2.0, 2.0, count)
        return bias

    def _gates(self, x, prefix):
        """{name: [B, ..., heads]} sigmoid-free preactivations of one mode's gates."""
        kernel, bias = self._gate_weights[prefix]
        names = self._p_gates if prefix == "p" else self._d_gates
        # tensordot is one 2D product; an ellipsis einsum would broadcast batch
        # axes (see keras_gradstab.ops.matmul).
        z = ops.tensordot(x, ops.cast(kernel, x.dtype), axes=1) + ops.cast(bias, x.dtype)
        return {name: z[..., i] for i, name in enumerate(names)}

    def _project(self, x):
        def proj(kernel):
            return ops.tensordot(x, ops.cast(kernel, x.dtype), axes=1)

        return proj(self.query_kernel), proj(self.key_kernel), proj(self.value_kernel)

    def _fold(self, t):
        """[B, ..., H, (D)] -> [B * H, ..., (D)]: heads into the batch."""
        spatial = self._rank - 2
        has_features = len(t.shape) == self._rank + 1
        perm = (0, spatial + 1) + tuple(range(1, spatial + 1))
        if has_features:
            perm = perm + (spatial + 2,)
        t = ops.transpose(t, perm)
        return ops.reshape(t, (-1,) + tuple(t.shape[2:]))

    def _finish(self, h, dtype):
        """[B * H, ..., DV] -> per-head RMSNorm -> output projection."""
        spatial = self._rank - 2
        h = ops.reshape(h, (-1, self.num_heads) + tuple(h.shape[1:]))
        h = ops.transpose(h, (0,) + tuple(range(2, spatial + 2)) + (1, spatial + 2))
        h = h * ops.rsqrt(ops.mean(ops.square(h), axis=-1, keepdims=True) + self.epsilon)
        h = ops.cast(h * ops.cast(self.norm_scale, h.dtype), dtype)
        return ops.tensordot(h, ops.cast(self.output_kernel, dtype), axes=2) + ops.cast(
            self.output_bias, dtype
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim or input_shape[-1],)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "output_dim": self.output_dim,
            "mode": self.mode,
            "form": self.form,
            "chunk_size": self.chunk_size,
            "epsilon": self.epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package="keras_gradstab")
class PLSTM1D(_PLSTMBase):
    """pLSTM over sequences: a linear attention with a gated, path-summed mask.

    Per head, with gates computed from the input at each step,
    h_t = s (M_t q_t^T C_{t-1} + D_t (q_t . k_t) v_t) and
    C_t = T_t C_{t-1} + S_t k_t v_t^T (`keras_gradstab.ops.plstm_1d`), then a
    per-head RMSNorm and an output projection. S, M, D are sigmoids; the
    transition is a sigmoid in P-mode (0 < T < 1: a state is never amplified
    nor flipped) and a tanh in D-mode (|T| < 1). "PD" gives the first half of
    the heads P-mode gates and the rest D-mode gates. Causal: h_t depends on
    inputs up to t.

    Args:
        num_heads: number of heads.
        key_dim: query/key size per head (default features // num_heads).
        value_dim: value size per head (default features // num_heads).
        output_dim: output features (default: the input's).
        mode: "P", "D" or "PD".
        form: "parallel" (chunkwise, default) or "recurrent" (a scan).
        chunk_size: chunk length of the parallel form (None: up to 64).
        epsilon: of the per-head RMSNorm.
        kernel_initializer: of the projections.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `[batch, time, features]`.

    Returns:
        `[batch, time, output_dim]`.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.layers import PLSTM1D
    >>> layer = PLSTM1D(num_heads=2)
    >>> tuple(layer(np.ones((1, 5, 8), "float32")).shape)
    (1, 5, 8)

    References:
        - *pLSTM: parallelizable Linear Source Transition Mark networks*, K. Pöppel,
          R. Freinschlag, T. Schmied, W. Lin, S. Hochreiter, 2025.
          <https://arxiv.org/abs/2506.11997>
    """

    _rank = 3
    _p_gates = ("source", "transition", "mark", "direct")
    _d_gates = ("source", "transition", "mark", "direct")

    def call(self, inputs):
        require_steps("PLSTM1D", inputs, (1,))
        dtype = self.compute_dtype
        # The recurrence runs in float32 at least: products of many gates lose
        # everything in bfloat16.
        x = ops.cast(inputs, "float32" if dtype in ("float16", "bfloat16") else dtype)
        q, k, v = self._project(x)
        gates = {}
        for prefix, squash in (("p", ops.sigmoid), ("d", ops.tanh)):
            if prefix not in self._gate_weights:
                continue
            z = self._gates(x, prefix)
            part = {
                "source": ops.sigmoid(z["source"]),
                "transition": squash(z["transition"]),
                "mark": ops.sigmoid(z["mark"]),
                "direct": ops.sigmoid(z["direct"]),
            }
            for name, g in part.items():
                gates.setdefault(name, []).append(g)
        gates = {n: self._fold(ops.concatenate(g, axis=-1)) for n, g in gates.items()}
        h = plstm_1d(
            self._fold(q),
            self._fold(k),
            self._fold(v),
            gates["source"],
            gates["transition"],
            gates["mark"],
            gates["direct"],
            chunk_size=self.chunk_size,
            form=self.form,
        )
        return self._finish(h, dtype)


@keras.saving.register_keras_serializable(package="keras_gradstab")
class PLSTM2D(_PLSTMBase):
    """pLSTM over grids: states flow along both axes in up to four orientations.

    Per head, the 2D recurrence of `keras_gradstab.ops.plstm_2d` runs on the
    grid flipped along none, one or both axes (`num_orientations` = 1: none;
    2: none and both; 4: all four), each result is flipped back and they are
    summed; the direct term D (q . k) v is added once. Then a per-head RMSNorm
    and an output projection. All orientations share the gates of a cell.

    P-mode gates (Pöppel et al.'s directed propagation, with the constraint
    enforced): an orientation gate sigma = sigmoid(.) (biases spread from -2
    to 2 over heads) and tau = sigmoid(.) give a = sigma * tau in (0, 1);
    T^rl = T^ru = a, T^du = T^dl = 1 - a, so every incoming state is split
    between its two outgoing edges with non-negative weights summing to one;
    S^r = sigma S, S^d = (1 - sigma) S; M^l = M^u = M. The reference
    implementation lets tau go negative (tanh), which breaks that bound.

    D-mode gates (diffusive distribution): T^dl = 0, T^rl, T^du, T^ru = tanh(.),
    S^r, S^d, M^l, M^u, D = sigmoid(.).

    Args:
        num_heads: number of heads ("PD": first half P-mode, rest D-mode).
        key_dim: query/key size per head (default features // num_heads).
        value_dim: value size per head (default features // num_heads).
        output_dim: output features (default: the input's).
        mode: "P", "D" or "PD".
        num_orientations: 1, 2 or 4.
        form: "parallel" (tiles, default) or "recurrent" (a scan). Both
            compute the same function. On a GPU, JAX computes float32 matrix
            products in TF32 by default; set
            `JAX_DEFAULT_MATMUL_PRECISION=highest` for full float32.
        chunk_size: tile side of the parallel form (None: 4).
        epsilon: of the per-head RMSNorm.
        kernel_initializer: of the projections.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `[batch, x, y, features]`.

    Returns:
        `[batch, x, y, output_dim]`.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.layers import PLSTM2D
    >>> layer = PLSTM2D(num_heads=2, mode="PD")
    >>> tuple(layer(np.ones((1, 4, 3, 8), "float32")).shape)
    (1, 4, 3, 8)

    References:
        - *pLSTM: parallelizable Linear Source Transition Mark networks*, K. Pöppel,
          R. Freinschlag, T. Schmied, W. Lin, S. Hochreiter, 2025.
          <https://arxiv.org/abs/2506.11997>
    """

    _rank = 4
    _p_gates = ("source", "mark", "direct", "orientation", "split")
    _d_gates = (
        "source_r",
        "source_d",
        "transition_rl",
        "transition_du",
        "transition_ru",
        "mark_l",
        "mark_u",
        "direct",
    )

    def __init__(self, num_heads, num_orientations=4, **kwargs):
        super().__init__(num_heads, **kwargs)
        if num_orientations not in ORIENTATIONS:
            raise ValueError(
                f"`num_orientations` must be one of {ORIENTATIONS}; received {num_orientations!r}."
            )
        self.num_orientations = num_orientations

    def _edge_gates(self, x):
        """The nine gates of plstm_2d, [B, X, Y, H] each (T^dl None in pure D)."""
        names = GATES_2D
        parts = {n: [] for n in names}
        if "p" in self._gate_weights:
            z = self._gates(x, "p")
            sigma = ops.sigmoid(z["orientation"])
            a = sigma * ops.sigmoid(z["split"])
            source = ops.sigmoid(z["source"])
            mark = ops.sigmoid(z["mark"])
            values = (
                sigma * source,
                (1.0 - sigma) * source,
                a,
                1.0 - a,
                1.0 - a,
                a,
                mark,
                mark,
                ops.sigmoid(z["direct"]),
            )
            for n, g in zip(names, values):
                parts[n].append(g)
        if "d" in self._gate_weights:
            z = self._gates(x, "d")
            for n in names:
                if n == "transition_dl":
                    parts[n].append(ops.zeros_like(z["direct"]))
                elif n.startswith("transition"):
                    parts[n].append(ops.tanh(z[n]))
                else:
                    parts[n].append(ops.sigmoid(z[n]))
        gates = {n: ops.concatenate(g, axis=-1) for n, g in parts.items()}
        if self.mode == "D":
            gates["transition_dl"] = None
        return gates

    def _orient(self, t):
        """Stacks the flipped copies of [N, X, Y, ...] along the batch axis."""
        copies = [t]
        if self.num_orientations == 2:
            copies.append(ops.flip(ops.flip(t, axis=1), axis=2))
        elif self.num_orientations == 4:
            copies += [
                ops.flip(t, axis=1),
                ops.flip(t, axis=2),
                ops.flip(ops.flip(t, axis=1), axis=2),
            ]
        return ops.concatenate(copies, axis=0)

    def _unorient(self, h):
        """Flips back and sums [orientations, N, X, Y, ...]."""
        copies = [h[i] for i in range(self.num_orientations)]
        out = copies[0]
        if self.num_orientations == 2:
            out = out + ops.flip(ops.flip(copies[1], axis=1), axis=2)
        elif self.num_orientations == 4:
            out = out + ops.flip(copies[1], axis=1) + ops.flip(copies[2], axis=2)
            out = out + ops.flip(ops.flip(copies[3], axis=1), axis=2)
        return out

    def call(self, inputs):
        require_steps("PLSTM2D", inputs, (1, 2))
        dtype = self.compute_dtype
        x = ops.cast(inputs, "float32" if dtype in ("float16", "bfloat16") else dtype)
        q, k, v = (self._fold(t) for t in self._project(x))
        gates = {n: None if g is None else self._fold(g) for n, g in self._edge_gates(x).items()}
        direct = gates.pop("direct")
        names = [n for n, g in gates.items() if g is not None]
        # One stacked tensor flipped once per orientation (fewer ops to compile).
        stacked = self._orient(
            ops.concatenate([q, k, v] + [gates[n][..., None] for n in names], axis=-1)
        )
        dk, dv = self._dk, self._dv
        oriented = {n: stacked[..., 2 * dk + dv + i] for i, n in enumerate(names)}
        for n, g in gates.items():
            if g is None:
                oriented[n] = None
        h = plstm_2d(
            stacked[..., :dk],
            stacked[..., dk : 2 * dk],
            stacked[..., 2 * dk : 2 * dk + dv],
            **oriented,
            direct=ops.zeros_like(oriented["source_r"]),
            chunk_size=self.chunk_size,
            form=self.form,
        )
        h = self._unorient(ops.reshape(h, (self.num_orientations, -1) + tuple(h.shape[1:])))
        h = h + self._dk**-0.5 * (direct * ops.sum(q * k, axis=-1))[..., None] * v
        return self._finish(h, dtype)

    def get_config(self):
        return {**super().get_config(), "num_orientations": self.num_orientations}


@keras.saving.register_keras_serializable(package="keras_gradstab")
class PLSTMBlock(keras.layers.Layer):
    """A pre-norm pLSTM block: x + pLSTM(RMSNorm(x)), then x + MLP(RMSNorm(x)).

    The pLSTM is `PLSTM1D` for `[batch, time, features]` inputs and `PLSTM2D`
    for `[batch, x, y, features]`; the MLP is Dense(mlp_ratio * features, GELU)
    then Dense(features). Both residual branches keep the features' size.

    Args:
        num_heads: heads of the pLSTM.
        mode: "P", "D" or "PD".
        mlp_ratio: hidden size of the MLP over the features' size.
        num_orientations: 1, 2 or 4 (grids only).
        form: "parallel" or "recurrent".
        chunk_size: chunk (sequences) or tile side (grids) of the parallel form.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `[batch, time, features]` or `[batch, x, y, features]`.

    Returns:
        A tensor of the input's shape.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab.layers import PLSTMBlock
    >>> block = PLSTMBlock(num_heads=2)
    >>> tuple(block(np.ones((1, 3, 3, 8), "float32")).shape)
    (1, 3, 3, 8)

    References:
        - *pLSTM: parallelizable Linear Source Transition Mark networks*, K. Pöppel,
          R. Freinschlag, T. Schmied, W. Lin, S. Hochreiter, 2025.
          <https://arxiv.org/abs/2506.11997>
    """

    def __init__(
        self,
        num_heads,
        mode="P",
        mlp_ratio=4,
        num_orientations=4,
        form="parallel",
        chunk_size=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_positive_int("mlp_ratio", mlp_ratio)
        self.num_heads = num_heads
        self.mode = mode
        self.mlp_ratio = mlp_ratio
        self.num_orientations = num_orientations
        self.form = form
        self.chunk_size = chunk_size
        self._plstm_kwargs = {
            "num_heads": num_heads,
            "mode": mode,
            "form": form,
            "chunk_size": chunk_size,
            "dtype": self.dtype_policy,
        }
        # Checks the arguments now; the layer that matches the input's rank is
        # made in build.
        PLSTM2D(**self._plstm_kwargs, num_orientations=num_orientations)

    def build(self, input_shape):
        if len(input_shape) not in (3, 4):
            raise ValueError(
                "PLSTMBlock expects [batch, time, features] or [batch, x, y, features]; "
                f"received shape {tuple(input_shape)}."
            )
        dim = input_shape[-1]
        if len(input_shape) == 3:
            self.plstm = PLSTM1D(**self._plstm_kwargs, name="plstm")
        else:
            self.plstm = PLSTM2D(
                **self._plstm_kwargs, num_orientations=self.num_orientations, name="plstm"
            )
        self.norm_1 = keras.layers.RMSNormalization(dtype=self.dtype_policy, name="norm_1")
        self.norm_2 = keras.layers.RMSNormalization(dtype=self.dtype_policy, name="norm_2")
        self.mlp_in = keras.layers.Dense(
            self.mlp_ratio * dim, activation="gelu", dtype=self.dtype_policy, name="mlp_in"
        )
        self.mlp_out = keras.layers.Dense(dim, dtype=self.dtype_policy, name="mlp_out")
        self.norm_1.build(input_shape)
        self.plstm.build(input_shape)
        self.norm_2.build(input_shape)
        self.mlp_in.build(input_shape)
        self.mlp_out.build(tuple(input_shape[:-1]) + (self.mlp_ratio * dim,))

    def call(self, inputs):
        x = inputs + self.plstm(self.norm_1(inputs))
        return x + self.mlp_out(self.mlp_in(self.norm_2(x)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "mode": self.mode,
            "mlp_ratio": self.mlp_ratio,
            "num_orientations": self.num_orientations,
            "form": self.form,
            "chunk_size": self.chunk_size,
        }
