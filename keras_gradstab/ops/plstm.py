"""pLSTM kernels (Pöppel et al., 2025): linear source-transition-mark recurrences on
sequences (`plstm_1d`) and grids (`plstm_2d`), in a recurrent and a parallel form.

Scalar gates, heads folded into the batch, scale s = DK ** -0.5, one DK x DV state
matrix per edge. The recurrent forms run the equations step by step on
`keras_gradstab.ops.scan`; the parallel forms cut the sequence or grid into
chunks, sum all paths inside a chunk in log depth, and carry only the states
that cross chunk borders.
"""

import keras
import numpy as np
from keras import ops

from keras_gradstab.ops._checks import require_floating
from keras_gradstab.ops.linear_recurrence import linear_recurrence
from keras_gradstab.ops.scan import scan

# The gates of `plstm_2d`, in the order of its arguments.
GATES_2D = (
    "source_r",
    "source_d",
    "transition_rl",
    "transition_du",
    "transition_dl",
    "transition_ru",
    "mark_l",
    "mark_u",
    "direct",
)

FORMS = ("recurrent", "parallel")
DEFAULT_CHUNK_1D = 64
DEFAULT_CHUNK_2D = 4


def _check_form(form):
    if form not in FORMS:
        raise ValueError(f"`form` must be one of {FORMS}; received {form!r}.")


def _check_chunk(chunk_size, ndim):
    ok = chunk_size is None or (
        isinstance(chunk_size, int) and not isinstance(chunk_size, bool) and chunk_size >= 1
    )
    if ndim == 2 and isinstance(chunk_size, (tuple, list)):
        ok = len(chunk_size) == 2 and all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in chunk_size
        )
    if not ok:
        allowed = "a positive int" + (" or a pair of them" if ndim == 2 else "")
        raise ValueError(f"`chunk_size` must be None or {allowed}; received {chunk_size!r}.")


def _check_shape(name, x, shape):
    got = tuple(x.shape)
    if len(got) != len(shape) or any(
        w is not None and g is not None and g != w for g, w in zip(got, shape)
    ):
        raise ValueError(f"`{name}` must have shape {shape}; received {got}.")


def _swap01(t):
    # ops.transpose, not ops.moveaxis: moveaxis fails on tf.Variable inputs.
    return ops.transpose(t, (1, 0) + tuple(range(2, len(t.shape))))


def _scan(fn, init, xs):
    """`scan`, with a single step run directly: TensorFlow's XLA gradient of a
    `tf.while_loop` with zero iterations fails ("Update dim size 1 greater
    than dynamic slice dimension: 0"), which a one-step scan would run."""
    if keras.tree.flatten(xs)[0].shape[0] == 1:
        carry, y = fn(init, keras.tree.map_structure(lambda t: t[0], xs))
        return carry, keras.tree.map_structure(lambda t: t[None], y)
    return scan(fn, init, xs)


def _cumprod_doubling(x, axis):
    """Inclusive cumulative product along a static `axis` in ceil(log2 n) rounds.

    Plain products, so the gradient stays exact where factors are zero (the
    division-based gradient of a cumulative product does not).
    """
    n = x.shape[axis]
    axis = axis % len(x.shape)

    def take(t, start, stop):
        index = [slice(None)] * len(t.shape)
        index[axis] = slice(start, stop)
        return t[tuple(index)]

    offset = 1
    while offset < n:
        x = ops.concatenate(
            [take(x, 0, offset), take(x, offset, n) * take(x, 0, n - offset)], axis=axis
        )
        offset *= 2
    return x


# ----------------------------------------------------------------------------- 1D


def plstm_1d(
    q,
    k,
    v,
    source,
    transition,
    mark,
    direct,
    chunk_size=None,
    initial_state=None,
    return_state=False,
    form="recurrent",
):
    """pLSTM over sequences: a linear attention whose mask is a product of gates.

    With scale s = DK ** -0.5 and state C_{-1} = `initial_state` (zero if
    omitted), for t = 0 .. T-1:

        h_t = s * (M_t q_t^T C_{t-1} + D_t (q_t . k_t) v_t)
        C_t = T_t C_{t-1} + S_t k_t v_t^T

    Equivalently h_a = s * sum_b G[a, b] (q_a . k_b) v_b with
    G[a, b] = M_a T_{a-1} ... T_{b+1} S_b for a > b and G[a, a] = D_a.

    - `form="recurrent"` runs the recurrence on `keras_gradstab.ops.scan`.
    - `form="parallel"` cuts the sequence into chunks of `chunk_size` steps,
      builds each chunk's G block from transition products computed in
      ceil(log2(chunk_size)) doubling rounds, applies it as masked attention,
      and carries the states between chunks with `linear_recurrence`. Memory
      O(T * chunk_size + (T / chunk_size) * DK * DV). The result does not depend
      on `chunk_size`.

    Args:
        q: queries, `[B, T, DK]`.
        k: keys, `[B, T, DK]`.
        v: values, `[B, T, DV]`.
        source: S, `[B, T]`.
        transition: T, `[B, T]`.
        mark: M, `[B, T]`.
        direct: D, `[B, T]`.
        chunk_size: chunk length of the parallel form (default
            min(T, 64)); ignored by the recurrent form.
        initial_state: optional C_{-1}, `[B, DK, DV]`.
        return_state: also return the last state C_{T-1}.
        form: `"recurrent"` or `"parallel"`.

    Returns:
        h, `[B, T, DV]`; with `return_state`, the pair `(h, C_{T-1})`.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab import ops
    >>> q = k = v = np.ones((1, 3, 2), "float32")
    >>> ones = np.ones((1, 3), "float32")
    >>> h = ops.plstm_1d(q, k, v, ones, 0.5 * ones, ones, ones)
    >>> tuple(h.shape)
    (1, 3, 2)

    References:
        - *pLSTM: parallelizable Linear Source Transition Mark networks*, K. Pöppel,
          R. Freinschlag, T. Schmied, W. Lin, S. Hochreiter, 2025.
          <https://arxiv.org/abs/2506.11997>
    """
    _check_form(form)
    _check_chunk(chunk_size, 1)
    if not isinstance(return_state, bool):
        raise ValueError(f"`return_state` must be a bool; received {return_state!r}.")
    q, k, v = (ops.convert_to_tensor(t) for t in (q, k, v))
    for name, t in (("q", q), ("k", k), ("v", v)):
        require_floating(name, t)
        if len(t.shape) != 3:
            raise ValueError(f"`{name}` must have rank 3 ([B, T, D]); received {tuple(t.shape)}.")
    batch, length, dk = q.shape
    dv = v.shape[-1]
    _check_shape("k", k, (batch, length, dk))
    _check_shape("v", v, (batch, length, dv))
    gates = []
    for name, g in (
        ("source", source),
        ("transition", transition),
        ("mark", mark),
        ("direct", direct),
    ):
        g = ops.cast(ops.convert_to_tensor(g), q.dtype)
        _check_shape(name, g, (batch, length))
        gates.append(g)
    if initial_state is not None:
        initial_state = ops.cast(ops.convert_to_tensor(initial_state), q.dtype)
        _check_shape("initial_state", initial_state, (batch, dk, dv))
    if form == "recurrent":
        h, state = _plstm_1d_recurrent(q, k, v, *gates, initial_state)
    else:
        chunk = min(length, DEFAULT_CHUNK_1D if chunk_size is None else chunk_size)
        h, state = _plstm_1d_parallel(q, k, v, *gates, chunk, initial_state)
    return (h, state) if return_state else h


def _plstm_1d_recurrent(q, k, v, source, transition, mark, direct, initial_state):
    dk, dv = q.shape[-1], v.shape[-1]
    scale = dk**-0.5
    # Everything that does not need the state, for all steps before the loop.
    direct_out = (direct * ops.sum(q * k, axis=-1))[..., None] * v
    time_major = [_swap01(t) for t in (q, k, v, source, transition, mark)]
    if initial_state is None:
        initial_state = ops.zeros((ops.shape(q)[0], dk, dv), dtype=q.dtype)

    def step(state, x):
        q_t, k_t, v_t, s_t, t_t, m_t = x
        read = m_t[:, None] * ops.einsum("bk,bkv->bv", q_t, state)
        state = t_t[:, None, None] * state + s_t[:, None, None] * (
            k_t[:, :, None] * v_t[:, None, :]
        )
        return state, read

    state, reads = _scan(step, initial_state, tuple(time_major))
    return scale * (_swap01(reads) + direct_out), state


def _plstm_1d_parallel(q, k, v, source, transition, mark, direct, chunk, initial_state):
    batch = ops.shape(q)[0]
    length, dk, dv = q.shape[1], q.shape[-1], v.shape[-1]
    scale = dk**-0.5
    n_chunks = -(-length // chunk)
    pad = n_chunks * chunk - length
    direct_out = (direct * ops.sum(q * k, axis=-1))[..., None] * v
    if pad:
        # Padding at the end with T = 1, S = M = 0 leaves earlier steps and the
        # final state unchanged.
        q, k, v = (ops.pad(t, ((0, 0), (0, pad), (0, 0))) for t in (q, k, v))
        source, mark = (ops.pad(g, ((0, 0), (0, pad))) for g in (source, mark))
        transition = ops.pad(transition, ((0, 0), (0, pad)), constant_values=1.0)

    def chunked(t):
        return ops.reshape(t, (batch, n_chunks, chunk) + tuple(t.shape[2:]))

    q, k, v, source, transition, mark = (chunked(t) for t in (q, k, v, source, transition, mark))
    # cum[a, c] = T_c ... T_a for a >= c and 1 otherwise (c = 0 .. chunk); column c
    # = b + 1 holds the transitions after a source at b.
    rows = np.arange(chunk)[:, None]
    cols = np.arange(chunk + 1)[None, :]
    factors = ops.where(ops.convert_to_tensor(rows >= cols), transition[..., :, None], 1.0)
    cum = _cumprod_doubling(factors, axis=-2)
    # before[a, c] = T_c ... T_{a-1}: the product up to, not including, step a.
    before = ops.concatenate([ops.ones_like(cum[..., :1, :]), cum[..., :-1, :]], axis=-2)
    strictly_lower = ops.convert_to_tensor(np.tril(np.ones((chunk, chunk)), -1), q.dtype)
    gate = mark[..., :, None] * before[..., 1:] * source[..., None, :] * strictly_lower
    scores = ops.einsum("bnak,bnck->bnac", q, k) * gate
    inner = ops.einsum("bnac,bncv->bnav", scores, v)
    # Carried states: C_n = A_n C_{n-1} + U_n over chunks.
    decay = cum[..., -1, 0]
    weights = cum[..., -1, 1:] * source
    inputs = ops.einsum("bnc,bnck,bncv->bnkv", weights, k, v)
    states = linear_recurrence(
        ops.broadcast_to(decay[..., None, None], ops.shape(inputs)),
        inputs,
        initial=initial_state,
    )
    if initial_state is None:
        initial_state = ops.zeros_like(states[:, 0])
    entering = ops.concatenate([initial_state[:, None], states[:, :-1]], axis=1)
    outer = (mark * before[..., 0])[..., None] * ops.einsum("bnak,bnkv->bnav", q, entering)
    h = ops.reshape(inner + outer, (batch, n_chunks * chunk, dv))[:, :length]
    return scale * (h + direct_out), states[:, -1]


# ----------------------------------------------------------------------------- 2D


def plstm_2d(
    q,
    k,
    v,
    source_r,
    source_d,
    transition_rl,
    transition_du,
    transition_dl,
    transition_ru,
    mark_l,
    mark_u,
    direct,
    chunk_size=None,
    form="recurrent",
):
    """pLSTM over grids: states flow right (along x) and down (along y).

    Each cell (x, y) emits a rightward state C^r and a downward state C^d (zero
    where they would enter the grid from outside); with s = DK ** -0.5:

        C^r_{x,y} = T^rl C^r_{x-1,y} + T^ru C^d_{x,y-1} + S^r k v^T
        C^d_{x,y} = T^du C^d_{x,y-1} + T^dl C^r_{x-1,y} + S^d k v^T
        h_{x,y}   = s (M^l q^T C^r_{x-1,y} + M^u q^T C^d_{x,y-1} + D (q . k) v)

    (T^ab: "to a, from b"). One orientation; a layer sums the four flips.

    - `form="recurrent"`: `keras_gradstab.ops.scan` over x carrying the column of
      rightward states; inside a step the downward states along y are a linear
      recurrence (`linear_recurrence`).
    - `form="parallel"`: the grid is cut into tiles of `chunk_size` cells per
      side. Inside a tile, the sums over all paths from each cell and each
      border state to each cell's marks and to the tile's outgoing borders come
      from one sweep over the tile's columns that runs the recurrence with
      scalar states, one per source (O(chunk^5) per tile, O(chunk^3) per cell);
      the cells' own contributions are then a masked linear attention inside
      the tile. Border states cross between tiles in a wavefront over the
      anti-diagonals of tiles. Memory O(X Y chunk^2), never O((X Y)^2). The
      result does not depend on `chunk_size`.

    Args:
        q: queries, `[B, X, Y, DK]`.
        k: keys, `[B, X, Y, DK]`.
        v: values, `[B, X, Y, DV]`.
        source_r, source_d: S^r, S^d, `[B, X, Y]`.
        transition_rl, transition_du: T^rl, T^du, `[B, X, Y]`.
        transition_dl, transition_ru: T^dl, T^ru, `[B, X, Y]` or None (zero; D-mode
            drops one of them).
        mark_l, mark_u: M^l, M^u, `[B, X, Y]`.
        direct: D, `[B, X, Y]`.
        chunk_size: tile side of the parallel form, an int or a pair (cx, cy)
            (default 4, clipped to the grid); ignored by the recurrent form.
        form: `"recurrent"` or `"parallel"`.

    Returns:
        h, `[B, X, Y, DV]`.

    Example:

    >>> import numpy as np
    >>> from keras_gradstab import ops
    >>> q = k = v = np.ones((1, 3, 3, 2), "float32")
    >>> g = np.full((1, 3, 3), 0.5, "float32")
    >>> h = ops.plstm_2d(q, k, v, g, g, g, g, None, g, g, g, g, form="parallel")
    >>> tuple(h.shape)
    (1, 3, 3, 2)

    References:
        - *pLSTM: parallelizable Linear Source Transition Mark networks*, K. Pöppel,
          R. Freinschlag, T. Schmied, W. Lin, S. Hochreiter, 2025.
          <https://arxiv.org/abs/2506.11997>
    """
    _check_form(form)
    _check_chunk(chunk_size, 2)
    q, k, v = (ops.convert_to_tensor(t) for t in (q, k, v))
    for name, t in (("q", q), ("k", k), ("v", v)):
        require_floating(name, t)
        if len(t.shape) != 4:
            raise ValueError(
                f"`{name}` must have rank 4 ([B, X, Y, D]); received {tuple(t.shape)}."
            )
    batch, size_x, size_y, dk = q.shape
    dv = v.shape[-1]
    _check_shape("k", k, (batch, size_x, size_y, dk))
    _check_shape("v", v, (batch, size_x, size_y, dv))
    values = (
        source_r,
        source_d,
        transition_rl,
        transition_du,
        transition_dl,
        transition_ru,
        mark_l,
        mark_u,
        direct,
    )
    gates = {}
    for name, g in zip(GATES_2D, values):
        if g is None and name in ("transition_dl", "transition_ru"):
            gates[name] = None
            continue
        if g is None:
            raise ValueError(f"`{name}` must be a tensor; received None.")
        g = ops.cast(ops.convert_to_tensor(g), q.dtype)
        _check_shape(name, g, (batch, size_x, size_y))
        gates[name] = g
    zero = ops.zeros_like(gates["source_r"])
    for name in ("transition_dl", "transition_ru"):
        if gates[name] is None:
            gates[name] = zero
    # q, k, v and the gates of the states (all but `direct`), the scans' inputs.
    inputs = (q, k, v, *(gates[name] for name in GATES_2D[:-1]))
    if form == "recurrent":
        h = _plstm_2d_recurrent(inputs)
    else:
        if chunk_size is None:
            chunk_size = DEFAULT_CHUNK_2D
        if isinstance(chunk_size, int):
            chunk_size = (chunk_size, chunk_size)
        chunk = (min(chunk_size[0], size_x), min(chunk_size[1], size_y))
        h = _plstm_2d_parallel(inputs, chunk)
    direct_out = (gates["direct"] * ops.sum(q * k, axis=-1))[..., None] * v
    return dk**-0.5 * (h + direct_out)


def _plstm_2d_recurrent(inputs):
    """The states' reads of `plstm_2d` (without the direct term or the scale), column by column."""
    q, v = inputs[0], inputs[2]
    batch = ops.shape(q)[0]
    size_y, dk, dv = q.shape[2], q.shape[-1], v.shape[-1]
    xs = tuple(_swap01(t) for t in inputs)

    def column(from_left, x):
        q_x, k_x, v_x, sr, sd, trl, tdu, tdl, tru, ml, mu = x
        kv = k_x[..., :, None] * v_x[..., None, :]

        def g(t):
            return t[..., None, None]

        # C^d along y: a linear recurrence whose inputs know the column to the left.
        down = linear_recurrence(
            ops.broadcast_to(g(tdu), ops.shape(kv)), g(tdl) * from_left + g(sd) * kv
        )
        from_up = ops.concatenate([ops.zeros_like(down[:, :1]), down[:, :-1]], axis=1)
        right = g(trl) * from_left + g(tru) * from_up + g(sr) * kv
        read = ml[..., None] * ops.einsum("byk,bykv->byv", q_x, from_left) + mu[
            ..., None
        ] * ops.einsum("byk,bykv->byv", q_x, from_up)
        return right, read

    init = ops.zeros((batch, size_y, dk, dv), dtype=q.dtype)
    _, reads = _scan(column, init, xs)
    return _swap01(reads)


def _tile_paths(sr, sd, trl, tdu, tdl, tru, ml, mu):
    """Path sums inside every tile, by one sweep over the tile's columns.

    Gates are `[B, nx, ny, cx, cy]`. Impulses e (m = cy + cx + cx cy of them): a
    unit state entering from the left border at row iy, then one entering from
    the top border at column ix, then a source at cell p = ix * cy + iy (S^r into
    its rightward state, S^d into its downward one). Each impulse is run through
    the tile's recurrence with scalar states; a column is one step, which only
    carries the impulses that can have reached it (the borders and the sources
    of this and earlier columns). Inside a column the downward states along y
    are `Tcol @ inputs`, Tcol[y, z] the product of T^du over rows z .. y (a
    cy x (cy + 1) matrix; input 0 is the state from the top). The cost is
    O(m cx cy^2) per tile, O(chunk^3) per cell.

    Returns:
        read: `[B, nx, ny, cx cy, m]`, the gating of impulse e at the marks of
            cell p (what `M^l q^T C^r_in + M^u q^T C^d_in` receives from e).
        leaving: `[B, nx, ny, cy + cx, m]`, the gating of impulse e at the states
            leaving the tile: rightward states of the last column (per row),
            then downward states of the last row (per column).
    """
    cx, cy = sr.shape[-2], sr.shape[-1]
    borders = cy + cx
    m = borders + cx * cy
    dtype = sr.dtype
    # cum[..., ix, y, z] = T^du_z ... T^du_y for z <= y (1 for z > y), z = 0 .. cy.
    rows = np.arange(cy)[:, None]
    cols = np.arange(cy + 1)[None, :]
    factors = ops.where(ops.convert_to_tensor(rows >= cols), tdu[..., :, None], 1.0)
    cum = _cumprod_doubling(factors, axis=-2)
    # Column z of the inputs reaches row y when z <= y + 1 (z = y + 1: the cell's own input).
    transfer = cum * ops.convert_to_tensor(cols <= rows + 1, dtype)
    eye = np.eye(m, dtype="float32")

    def at(t, ix):
        return t[..., ix, None, :]  # [B, nx, ny, 1, cy]

    def pad_impulses(t, total):
        return ops.pad(t, ((0, 0),) * (len(t.shape) - 2) + ((0, total - t.shape[-2]), (0, 0)))

    reads, bottoms = [], []
    for ix in range(cx):
        active = borders + (ix + 1) * cy
        own = ops.convert_to_tensor(eye[:active, active - cy : active], dtype)
        top = ops.convert_to_tensor(eye[:active, cy + ix : cy + ix + 1], dtype)
        if ix == 0:  # the states entering from the left border
            from_left = ops.convert_to_tensor(eye[:active, :cy], dtype)
        else:
            from_left = pad_impulses(from_left, active)
        inputs = at(tdl, ix) * from_left + at(sd, ix) * own
        top = ops.broadcast_to(top, tuple(ops.shape(inputs)[:-1]) + (1,))
        down = ops.einsum(
            "bijyz,bijez->bijey", transfer[..., ix, :, :], ops.concatenate([top, inputs], -1)
        )
        from_up = ops.concatenate([top, down[..., :-1]], axis=-1)
        reads.append(pad_impulses(at(ml, ix) * from_left + at(mu, ix) * from_up, m))
        bottoms.append(pad_impulses(down[..., -1:], m))
        from_left = at(trl, ix) * from_left + at(tru, ix) * from_up + at(sr, ix) * own
    read = ops.concatenate(reads, axis=-1)  # [B, nx, ny, m, cx cy], p = ix * cy + iy
    leaving = ops.concatenate([from_left] + bottoms, axis=-1)  # [B, nx, ny, m, cy + cx]
    return ops.swapaxes(read, -1, -2), ops.swapaxes(leaving, -1, -2)


def _skew_indices(nx, ny):
    """Gather indices from tiles (row-major, plus one zero entry at nx * ny) to
    anti-diagonals [d, i] -> tile (i, d - i), and back."""
    diagonals = nx + ny - 1
    skew = np.full((diagonals, nx), nx * ny, dtype="int32")
    unskew = np.zeros((nx * ny,), dtype="int32")
    for i in range(nx):
        for j in range(ny):
            skew[i + j, i] = i * ny + j
            unskew[i * ny + j] = (i + j) * nx + i
    return skew.reshape(-1), unskew


def _plstm_2d_parallel(inputs, chunk):
    """The states' reads of `plstm_2d` (without the direct term or the scale), tile by tile."""
    q, v = inputs[0], inputs[2]
    batch = ops.shape(q)[0]
    size_x, size_y, dk, dv = q.shape[1], q.shape[2], q.shape[-1], v.shape[-1]
    cx, cy = chunk
    nx, ny = -(-size_x // cx), -(-size_y // cy)
    cells = cx * cy
    pad_x, pad_y = nx * cx - size_x, ny * cy - size_y

    def tiles(t):
        # [B, X, Y, ...] -> [B, nx, ny, cx * cy, ...]; zero padding at the far
        # borders reaches no real cell (states only flow right and down).
        rest = tuple(t.shape[3:])
        if pad_x or pad_y:
            t = ops.pad(t, ((0, 0), (0, pad_x), (0, pad_y)) + ((0, 0),) * len(rest))
        t = ops.reshape(t, (batch, nx, cx, ny, cy) + rest)
        t = ops.transpose(t, (0, 1, 3, 2, 4) + tuple(range(5, 5 + len(rest))))
        return ops.reshape(t, (batch, nx, ny, cells) + rest)

    q, k, v, sr, sd, trl, tdu, tdl, tru, ml, mu = (tiles(t) for t in inputs)

    def grid(t):
        return ops.reshape(t, (batch, nx, ny, cx, cy))

    read, leaving = _tile_paths(*(grid(t) for t in (sr, sd, trl, tdu, tdl, tru, ml, mu)))
    borders = cx + cy
    scores = ops.einsum("bijpk,bijck->bijpc", q, k) * read[..., borders:]
    inner = ops.einsum("bijpc,bijcv->bijpv", scores, v)
    # Border to border: the states leaving a tile from its sources and entering states.
    through = leaving[..., :borders]
    emitted = ops.einsum("bijoc,bijck,bijcv->bijokv", leaving[..., borders:], k, v)
    # Wavefront over anti-diagonals of tiles: tile (i, j) takes its left border
    # from tile (i - 1, j) and its top border from tile (i, j - 1).
    skew, unskew = _skew_indices(nx, ny)
    diagonals = nx + ny - 1

    def to_diagonals(t):
        rest = tuple(t.shape[3:])
        flat = ops.reshape(t, (batch, nx * ny) + rest)
        flat = ops.concatenate([flat, ops.zeros_like(flat[:, :1])], axis=1)
        skewed = ops.reshape(ops.take(flat, skew, axis=1), (batch, diagonals, nx) + rest)
        return _swap01(skewed)

    def wave(carry, x):
        right_prev, bottom_prev = carry
        through_d, emitted_d = x
        from_left = ops.concatenate([ops.zeros_like(right_prev[:, :1]), right_prev[:, :-1]], axis=1)
        entering = ops.concatenate([from_left, bottom_prev], axis=2)
        leaving_d = ops.einsum("bioe,biekv->biokv", through_d, entering) + emitted_d
        return (leaving_d[:, :, :cy], leaving_d[:, :, cy:]), entering

    init = (
        ops.zeros((batch, nx, cy, dk, dv), dtype=q.dtype),
        ops.zeros((batch, nx, cx, dk, dv), dtype=q.dtype),
    )
    _, entering = _scan(wave, init, (to_diagonals(through), to_diagonals(emitted)))
    entering = ops.reshape(_swap01(entering), (batch, diagonals * nx, cy + cx, dk, dv))
    entering = ops.reshape(ops.take(entering, unskew, axis=1), (batch, nx, ny, cy + cx, dk, dv))
    queried = ops.einsum("bijpk,bijekv->bijpev", q, entering)
    outer = ops.einsum("bijpe,bijpev->bijpv", read[..., :borders], queried)
    h = ops.reshape(inner + outer, (batch, nx, ny, cx, cy, dv))
    h = ops.reshape(ops.transpose(h, (0, 1, 3, 2, 4, 5)), (batch, nx * cx, ny * cy, dv))
    return h[:, :size_x, :size_y]
