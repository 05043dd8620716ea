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


def plstm_2d_reference(q, k, v, *gates):
    """Returns h [B, X, Y, DV].

    `gates`: the nine gate arrays [B, X, Y] in the order of `plstm_2d`'s
    arguments (S^r, S^d, T^rl, T^du, T^dl, T^ru, M^l, M^u, D); T^dl and T^ru may
    be None (zero).
    """
    q, k, v = _f64(q, k, v)
    s_r, s_d, t_rl, t_du, t_dl, t_ru, m_l, m_u, d = _f64(*gates)
    batch, size_x, size_y, dk = q.shape
    dv = v.shape[-1]
    scale = dk**-0.5
    zero = np.zeros(s_r.shape)
    t_dl = zero if t_dl is None else t_dl
    t_ru = zero if t_ru is None else t_ru
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
                    t_rl[b, x, y] * from_left + t_ru[b, x, y] * from_up + s_r[b, x, y] * kv
                )
                down[x, y] = t_du[b, x, y] * from_up + t_dl[b, x, y] * from_left + s_d[b, x, y] * kv
                h[b, x, y] = scale * (
                    m_l[b, x, y] * (q[b, x, y] @ from_left)
                    + m_u[b, x, y] * (q[b, x, y] @ from_up)
                    + d[b, x, y] * (q[b, x, y] @ k[b, x, y]) * v[b, x, y]
                )
    return h
