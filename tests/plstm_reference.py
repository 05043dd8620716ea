"""A NumPy double-loop oracle of the pLSTM recurrences (float64), cell by cell.

The equations of Pöppel et al. (2025) with scalar gates, one state matrix
C (DK x DV) per edge, scale s = DK ** -0.5:

1D:  h_t = s (M_t q_t^T C_{t-1} + D_t (q_t . k_t) v_t),  C_t = T_t C_{t-1} + S_t k_t v_t^T

2D:  C^r_{x,y} = T^rl C^r_{x-1,y} + T^ru C^d_{x,y-1} + S^r k v^T
     C^d_{x,y} = T^du C^d_{x,y-1} + T^dl C^r_{x-1,y} + S^d k v^T
     h_{x,y}   = s (M^l q^T C^r_{x-1,y} + M^u q^T C^d_{x,y-1} + D (q . k) v)

with zero states entering at the borders. No vectorization across cells, so
that it shares nothing with the library's parallel forms.
"""

import numpy as np


def _f64(*arrays):
    return [None if a is None else np.asarray(a, dtype="float64") for a in arrays]


def plstm_1d_reference(q, k, v, source, transition, mark, direct, initial_state=None):
    """Returns (h [B, T, DV], final state [B, DK, DV])."""
    q, k, v, source, transition, mark, direct, initial_state = _f64(
        q, k, v, source, transition, mark, direct, initial_state
    )
    batch, length, dk = q.shape
    dv = v.shape[-1]
    scale = dk**-0.5
    h = np.zeros((batch, length, dv))
    final = np.zeros((batch, dk, dv))
    for b in range(batch):
        c = np.zeros((dk, dv)) if initial_state is None else initial_state[b].copy()
        for t in range(length):
            h[b, t] = scale * (
                mark[b, t] * (q[b, t] @ c) + direct[b, t] * (q[b, t] @ k[b, t]) * v[b, t]
            )
            c = transition[b, t] * c + source[b, t] * np.outer(k[b, t], v[b, t])
        final[b] = c
    return h, final


def plstm_2d_reference(
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
):
    """Returns h [B, X, Y, DV]. `transition_dl` / `transition_ru` may be None (zero)."""
    (
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
    ) = _f64(
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
    )
    batch, size_x, size_y, dk = q.shape
    dv = v.shape[-1]
    scale = dk**-0.5
    zero = np.zeros(source_r.shape)
    transition_dl = zero if transition_dl is None else transition_dl
    transition_ru = zero if transition_ru is None else transition_ru
    h = np.zeros((batch, size_x, size_y, dv))
    for b in range(batch):
        right = np.zeros((size_x, size_y, dk, dv))
        down = np.zeros((size_x, size_y, dk, dv))
        for x in range(size_x):
            for y in range(size_y):
                from_left = right[x - 1, y] if x > 0 else np.zeros((dk, dv))
                from_up = down[x, y - 1] if y > 0 else np.zeros((dk, dv))
                kv = np.outer(k[b, x, y], v[b, x, y])
                right[x, y] = (
                    transition_rl[b, x, y] * from_left
                    + transition_ru[b, x, y] * from_up
                    + source_r[b, x, y] * kv
                )
                down[x, y] = (
                    transition_du[b, x, y] * from_up
                    + transition_dl[b, x, y] * from_left
                    + source_d[b, x, y] * kv
                )
                h[b, x, y] = scale * (
                    mark_l[b, x, y] * (q[b, x, y] @ from_left)
                    + mark_u[b, x, y] * (q[b, x, y] @ from_up)
                    + direct[b, x, y] * (q[b, x, y] @ k[b, x, y]) * v[b, x, y]
                )
    return h
