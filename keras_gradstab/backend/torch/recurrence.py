"""Fused recurrences on torch: a loop with no autograd graph and a hand-written backward.

Each entry point is a `torch.autograd.Function`. Its forward pass runs the
recurrence under `torch.no_grad()` into preallocated buffers (time-major,
`[T, B, ...]`) and saves only what the backward pass needs. Its backward pass
runs the loop in reverse, carrying only the gradient of the state, and stores
the per-step gradients of the pre-activations; every weight gradient is then one
matrix product over all `T * B` rows and every bias gradient one sum. Without
grad mode (or when no input requires a gradient) only the loop runs. The
backward passes are once differentiable (a second-order gradient raises).

Shared conventions:

- `mask`: a bool tensor `[T, B, 1]` or None; where False the step keeps the
  previous state (`h_t = h_{t-1}`, every state for SBORNN).
- `recurrent_mask`: a `[B, H]` tensor or None that multiplies the state before
  the recurrent products only.
- `modrelu(x, b) = where(|x| + b <= 0, 0, x + b * sign(x))`, computed as
  `relu(|x| + b) * sign(x)` (the same values; NaN in `x` or `b` gives NaN).

`CALLS` counts the calls of each entry point (by function name). On CUDA
tensors the entry points run through `cuda_graphs.dispatch` (recorded once per
shape into CUDA graphs, then replayed).
"""

import collections

import torch
from torch.autograd.function import once_differentiable

from keras_gradstab.backend.torch import cuda_graphs

CALLS = collections.Counter()


def _time_steps(name, projected):
    if projected.dim() != 3 or projected.shape[0] < 1:
        raise ValueError(
            f"`{name}` takes `projected` of shape [T, B, features] with T >= 1; "
            f"received shape {tuple(projected.shape)}."
        )


def _modrelu_(out, x, bias, sign_buffer):
    """`out = modrelu(x, bias)` in place (`out` and `sign_buffer` shaped like `x`)."""
    torch.abs(x, out=out)
    out.add_(bias)
    out.relu_()
    torch.sign(x, out=sign_buffer)
    out.mul_(sign_buffer)
    return out


def _modrelu_active(pre, bias):
    """The derivative of modrelu w.r.t. its input: 1 unless `|x| + b <= 0`."""
    return torch.logical_not((pre.abs() + bias) <= 0).to(pre.dtype)


def _previous_states(h0, hs):
    """`[h_0, h_1, ..., h_{T-1}]`: the state each step starts from."""
    return torch.cat([h0.unsqueeze(0), hs[:-1]], dim=0)


def _state_outer(h0, hs, d):
    """`sum_t h_{t-1}^T d_t` over all steps and rows, without concatenating `h0`."""
    first = h0.t() @ d[0]
    if hs.shape[0] == 1:
        return first
    return torch.addmm(first, _rows(hs[:-1]).t(), _rows(d[1:]))


def _rows(x):
    return x.reshape(-1, x.shape[-1])


def _mask_factors(mask, dtype):
    """`(keep, skip)` as `dtype` tensors `[T, B, 1]` (None without a mask)."""
    if mask is None:
        return None, None
    keep = mask.to(dtype)
    return keep, 1 - keep


def _grad_or_zeros(grad, like):
    return torch.zeros_like(like) if grad is None else grad


class _StateGradient:
    """The gradient that reaches the previous state through the recurrent product.

    `step(t, rows, extra)` returns `grad_hs[t-1] + (rows @ weight_t + extra[0] *
    extra[1]) * recurrent_mask` (no `grad_hs` term at t = 0) in one of two buffers
    used in turn. With `keep_masked`, the gradient of the masked state
    (`hd = h * recurrent_mask`) of each step stays in `d_hd`, `[T, B, H]`.
    """

    def __init__(self, h0, grad_steps, weight_t, recurrent_mask, keep_masked):
        self.grad_steps, self.weight_t, self.recurrent_mask = grad_steps, weight_t, recurrent_mask
        self.buffers = (torch.empty_like(h0), torch.empty_like(h0))
        steps = len(grad_steps)
        self.d_hd = h0.new_empty((steps,) + tuple(h0.shape)) if keep_masked else None
        self.d_hd_steps = self.d_hd.unbind(0) if keep_masked else [torch.empty_like(h0)] * steps

    def step(self, t, rows, extra=None):
        out = self.buffers[t % 2]
        grad_prev = self.grad_steps[t - 1] if t > 0 else None
        if self.recurrent_mask is None:
            if grad_prev is None:
                torch.mm(rows, self.weight_t, out=out)
            else:
                torch.addmm(grad_prev, rows, self.weight_t, out=out)
            if extra is not None:
                out.addcmul_(*extra)
            return out
        d_hd = torch.mm(rows, self.weight_t, out=self.d_hd_steps[t])
        if extra is not None:
            d_hd.addcmul_(*extra)
        torch.mul(d_hd, self.recurrent_mask, out=out)
        if grad_prev is not None:
            out.add_(grad_prev)
        return out


# ---------------------------------------------------------------------------
# modReLU recurrence (ScoRNN, ENRNN)
# ---------------------------------------------------------------------------


def _modrelu_forward(projected, h0, kernel, bias, mask, recurrent_mask, save):
    steps = projected.shape[0]
    hs = projected.new_empty(projected.shape)
    pre = projected.new_empty(projected.shape) if save else None
    pre_step = torch.empty_like(h0)
    sign_buffer = torch.empty_like(h0)
    new = torch.empty_like(h0) if mask is not None else None
    hd = torch.empty_like(h0) if recurrent_mask is not None else None
    p_steps, h_steps = projected.unbind(0), hs.unbind(0)
    a_steps = pre.unbind(0) if save else None
    m_steps = mask.unbind(0) if mask is not None else None
    h = h0
    for t in range(steps):
        a = a_steps[t] if save else pre_step
        if recurrent_mask is not None:
            torch.mul(h, recurrent_mask, out=hd)
            torch.addmm(p_steps[t], hd, kernel, out=a)
        else:
            torch.addmm(p_steps[t], h, kernel, out=a)
        if mask is None:
            h = _modrelu_(h_steps[t], a, bias, sign_buffer)
        else:
            _modrelu_(new, a, bias, sign_buffer)
            h = torch.where(m_steps[t], new, h, out=h_steps[t])
    return hs, pre


def _modrelu_backward(ctx, grad_hs, grad_last):
    _, h0, kernel, bias, mask, recurrent_mask, hs, pre = ctx.saved_tensors
    needs = ctx.needs_input_grad
    steps = hs.shape[0]
    grad_hs = _grad_or_zeros(grad_hs, hs)
    keep, skip = _mask_factors(mask, hs.dtype)
    active = _modrelu_active(pre, bias)
    if keep is not None:
        active.mul_(keep)
    d_pre = torch.empty_like(pre)
    want_rm = recurrent_mask is not None and needs[5]
    g_steps, da_steps, act_steps = grad_hs.unbind(0), d_pre.unbind(0), active.unbind(0)
    skip_steps = skip.unbind(0) if skip is not None else None
    state_grad = _StateGradient(h0, g_steps, kernel.t(), recurrent_mask, want_rm)
    dh = _grad_or_zeros(grad_last, h0) + g_steps[-1]
    for t in range(steps - 1, -1, -1):
        torch.mul(dh, act_steps[t], out=da_steps[t])
        nxt = state_grad.step(t, da_steps[t])
        if skip is not None:
            nxt.addcmul_(dh, skip_steps[t])
        dh = nxt
    grads = [None] * 6
    if needs[0]:
        grads[0] = d_pre
    if needs[1]:
        grads[1] = dh.clone()
    if needs[2] and recurrent_mask is None:
        grads[2] = _state_outer(h0, hs, d_pre)
    elif needs[2] or want_rm:
        previous = _previous_states(h0, hs)
        if needs[2]:
            grads[2] = _rows(previous * recurrent_mask).t() @ _rows(d_pre)
        if want_rm:
            grads[5] = (previous * state_grad.d_hd).sum(0)
    if needs[3]:
        grads[3] = _rows(d_pre * torch.sign(pre)).sum(0)
    return tuple(grads)


class _ModReLURecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, projected, h0, kernel, bias, mask, recurrent_mask):
        hs, pre = _modrelu_forward(projected, h0, kernel, bias, mask, recurrent_mask, save=True)
        ctx.save_for_backward(None, h0, kernel, bias, mask, recurrent_mask, hs, pre)
        return hs, hs[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_hs, grad_last):
        return _modrelu_backward(ctx, grad_hs, grad_last)


def _needs_graph(*tensors):
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


@torch.compiler.disable
def modrelu_recurrence(projected, h0, kernel, modrelu_bias, mask=None, recurrent_mask=None):
    """`h_t = modrelu(p_t + (h_{t-1} * rm) @ kernel, modrelu_bias)` over all steps.

    Args:
        projected: `[T, B, H]`, the input projection of every step.
        h0: `[B, H]`, the initial state.
        kernel: `[H, H]`, the recurrent matrix.
        modrelu_bias: `[H]`.
        mask: bool `[T, B, 1]` or None (False keeps the previous state).
        recurrent_mask: `[B, H]` or None, multiplies the state before the product.

    Returns:
        `(hs, h_last)`: `[T, B, H]`, the state after each step, and `[B, H]`.

    Example:

    >>> import torch
    >>> from keras_gradstab.backend.torch.recurrence import modrelu_recurrence
    >>> projected, h0 = torch.ones(3, 2, 4), torch.zeros(2, 4)  # T=3, B=2, H=4
    >>> hs, h_last = modrelu_recurrence(projected, h0, 0.5 * torch.eye(4), torch.zeros(4))
    >>> [float(v) for v in hs[:, 0, 0]]
    [1.0, 1.5, 1.75]
    """
    CALLS["modrelu_recurrence"] += 1
    _time_steps("modrelu_recurrence", projected)
    args = (projected, h0, kernel, modrelu_bias, mask, recurrent_mask)
    return cuda_graphs.dispatch(_modrelu_run, args)


def _modrelu_run(*args):
    if _needs_graph(*args[:4], args[5]):
        return _ModReLURecurrence.apply(*args)
    with torch.no_grad():
        hs, _ = _modrelu_forward(*args, save=False)
    return hs, hs[-1]


# ---------------------------------------------------------------------------
# NC-GRU recurrence
# ---------------------------------------------------------------------------


def _ncgru_forward(projected, h0, recurrent, candidate, bias, mask, recurrent_mask, save):
    """The NC-GRU loop. Returns `(hs, gates, cand, diff)`.

    `gates` is `[T, B, 3H]` (`[u, r, r_c]`, reset_after) or `[T, B, 2H]` (`[u, r]`),
    `cand` `[T, B, H]` the modReLU input and `diff` `[T, B, H]` the
    `h_{t-1} - c_t` of each step; all three None unless `save`.
    """
    steps, units = projected.shape[0], h0.shape[-1]
    reset_after = candidate is None
    width = 3 * units if reset_after else 2 * units
    hs = h0.new_empty((steps,) + tuple(h0.shape))
    lead = 1 if not save else steps
    gates = projected.new_empty((lead,) + tuple(h0.shape[:-1]) + (width,))
    cand, diff = (h0.new_empty((lead,) + tuple(h0.shape)) for _ in range(2))

    def per_step(x):  # the views of each step (one buffer reused without `save`)
        views = x.unbind(0)
        return views if save else views * steps

    ur_s, u_s = per_step(gates[..., : 2 * units]), per_step(gates[..., :units])
    r_s, rc_s = per_step(gates[..., units : 2 * units]), per_step(gates[..., 2 * units :])
    g_s, cand_s, diff_s = per_step(gates), per_step(cand), per_step(diff)
    c = torch.empty_like(h0)
    sign_buffer = torch.empty_like(h0)
    hd = torch.empty_like(h0) if recurrent_mask is not None else None
    rh = torch.empty_like(h0) if not reset_after else None
    new = torch.empty_like(h0) if mask is not None else None
    p_ur = projected[..., : 2 * units].unbind(0)
    p_c = projected[..., 2 * units :].unbind(0)
    h_steps = hs.unbind(0)
    m_steps = mask.unbind(0) if mask is not None else None
    h = h0
    for t in range(steps):
        a, d = cand_s[t], diff_s[t]
        hdt = h if recurrent_mask is None else torch.mul(h, recurrent_mask, out=hd)
        torch.mm(hdt, recurrent, out=g_s[t])
        ur = ur_s[t].add_(p_ur[t])
        ur.sigmoid_()
        if reset_after:
            torch.addcmul(p_c[t], r_s[t], rc_s[t], out=a)
        else:
            torch.mul(r_s[t], hdt, out=rh)
            torch.addmm(p_c[t], rh, candidate, out=a)
        _modrelu_(c, a, bias, sign_buffer)
        torch.sub(h, c, out=d)
        if mask is None:
            h = torch.addcmul(c, u_s[t], d, out=h_steps[t])
        else:
            torch.addcmul(c, u_s[t], d, out=new)
            h = torch.where(m_steps[t], new, h, out=h_steps[t])
    if not save:
        return hs, None, None, None
    return hs, gates, cand, diff


def _ncgru_backward(ctx, grad_hs, grad_last):
    (_, h0, recurrent, candidate, bias, mask, recurrent_mask, hs, gates, cand, diff) = (
        ctx.saved_tensors
    )
    needs = ctx.needs_input_grad
    steps, units = hs.shape[0], hs.shape[-1]
    reset_after = candidate is None
    grad_hs = _grad_or_zeros(grad_hs, hs)
    keep, skip = _mask_factors(mask, hs.dtype)
    # The states each step starts from, built only where more than dW needs them.
    previous = None
    if recurrent_mask is not None or not reset_after:
        previous = _previous_states(h0, hs)
    hd_all = previous if recurrent_mask is None else previous * recurrent_mask
    u, r = gates[..., :units], gates[..., units : 2 * units]
    one_minus_u = 1 - u
    # d cand = dh * q_c;  d(u's pre-activation) = dh * q_u;  direct path dh * direct.
    inactive = cand.abs().add_(bias) <= 0
    q_c = torch.where(inactive, 0, one_minus_u)
    del inactive
    q_u = one_minus_u.mul_(u).mul_(diff)
    direct = u
    if keep is not None:
        q_c.mul_(keep)
        q_u.mul_(keep)
        direct = u * keep + skip
    # d(r's pre-activation) = d(r's input) * q_r.
    q_r = (gates[..., 2 * units :] if reset_after else hd_all) * r * (1 - r)
    d_proj = hs.new_empty(tuple(hs.shape[:-1]) + (3 * units,))
    d_u, d_r, d_c = (d_proj[..., i * units : (i + 1) * units] for i in range(3))
    if reset_after:
        d_rec = torch.empty_like(gates)  # [d u_pre, d r_pre, d r_c]
        d_rec_steps = d_rec.unbind(0)
        d_r, d_rc = d_rec[..., units : 2 * units], d_rec[..., 2 * units :]
        d_u = d_rec[..., :units]
        d_rc_steps = d_rc.unbind(0)
    else:
        d_rec_steps = d_proj[..., : 2 * units].unbind(0)
        d_rh = torch.empty_like(hs)
        d_rh_steps = d_rh.unbind(0)
        candidate_t = candidate.t()
    want_rm = recurrent_mask is not None and needs[6]
    g_steps = grad_hs.unbind(0)
    du_steps, dr_steps, dc_steps = d_u.unbind(0), d_r.unbind(0), d_c.unbind(0)
    qc_steps, qu_steps, qr_steps = q_c.unbind(0), q_u.unbind(0), q_r.unbind(0)
    r_steps, direct_steps = r.unbind(0), direct.unbind(0)
    state_grad = _StateGradient(h0, g_steps, recurrent.t(), recurrent_mask, want_rm)
    dh = _grad_or_zeros(grad_last, h0) + g_steps[-1]
    for t in range(steps - 1, -1, -1):
        torch.mul(dh, qu_steps[t], out=du_steps[t])
        dc = torch.mul(dh, qc_steps[t], out=dc_steps[t])
        if reset_after:
            torch.mul(dc, qr_steps[t], out=dr_steps[t])
            torch.mul(dc, r_steps[t], out=d_rc_steps[t])
            extra = None
        else:
            drh = torch.mm(dc, candidate_t, out=d_rh_steps[t])
            torch.mul(drh, qr_steps[t], out=dr_steps[t])
            extra = (drh, r_steps[t])
        nxt = state_grad.step(t, d_rec_steps[t], extra)
        nxt.addcmul_(dh, direct_steps[t])
        dh = nxt
    grads = [None] * 7
    if reset_after:
        d_proj[..., : 2 * units] = d_rec[..., : 2 * units]
    if needs[0]:
        grads[0] = d_proj
    if needs[1]:
        grads[1] = dh.clone()
    if needs[2]:
        d_gates = d_rec if reset_after else d_proj[..., : 2 * units]
        if previous is None:
            grads[2] = _state_outer(h0, hs, d_gates)
        else:
            grads[2] = _rows(hd_all).t() @ _rows(d_gates)
    if not reset_after and needs[3]:
        grads[3] = _rows(hd_all * r).t() @ _rows(d_c)
    if needs[4]:
        grads[4] = _rows(d_c * torch.sign(cand)).sum(0)
    if want_rm:
        grads[6] = (previous * state_grad.d_hd).sum(0)
    return tuple(grads)


class _NCGRURecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, projected, h0, recurrent, candidate, bias, mask, recurrent_mask):
        hs, gates, cand, diff = _ncgru_forward(
            projected, h0, recurrent, candidate, bias, mask, recurrent_mask, save=True
        )
        ctx.save_for_backward(
            None, h0, recurrent, candidate, bias, mask, recurrent_mask, hs, gates, cand, diff
        )
        return hs, hs[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_hs, grad_last):
        return _ncgru_backward(ctx, grad_hs, grad_last)


@torch.compiler.disable
def ncgru_recurrence(
    projected, h0, recurrent, candidate, modrelu_bias, mask=None, recurrent_mask=None
):
    """The NC-GRU loop: gates from one product of the (masked) state per step.

    With `hd = h * recurrent_mask` and `projected = [p_u | p_r | p_c]`:

    - `candidate is None` (reset after): `[r_u, r_r, r_c] = hd @ recurrent`
      (`recurrent` `[H, 3H]`), `cand = p_c + r * r_c`;
    - otherwise: `[r_u, r_r] = hd @ recurrent` (`[H, 2H]`),
      `cand = p_c + (r * hd) @ candidate` (`candidate` `[H, H]`);

    with `u = sigmoid(p_u + r_u)`, `r = sigmoid(p_r + r_r)`,
    `c = modrelu(cand, modrelu_bias)` and `h_t = c + u * (h_{t-1} - c)`.

    Args:
        projected: `[T, B, 3H]`.
        h0: `[B, H]`.
        recurrent: `[H, 3H]` or `[H, 2H]`.
        candidate: `[H, H]` or None.
        modrelu_bias: `[H]`.
        mask: bool `[T, B, 1]` or None (False keeps the previous state).
        recurrent_mask: `[B, H]` or None.

    Returns:
        `(hs, h_last)`: `[T, B, H]` and `[B, H]`.

    Example:

    >>> import torch
    >>> from keras_gradstab.backend.torch.recurrence import ncgru_recurrence
    >>> projected = torch.cat([torch.zeros(3, 2, 8), torch.ones(3, 2, 4)], -1)  # u = r = 1/2
    >>> recurrent, bias = torch.zeros(4, 12), torch.zeros(4)
    >>> hs, h_last = ncgru_recurrence(projected, torch.zeros(2, 4), recurrent, None, bias)
    >>> [float(v) for v in hs[:, 0, 0]]
    [0.5, 0.75, 0.875]
    """
    CALLS["ncgru_recurrence"] += 1
    _time_steps("ncgru_recurrence", projected)
    args = (projected, h0, recurrent, candidate, modrelu_bias, mask, recurrent_mask)
    return cuda_graphs.dispatch(_ncgru_run, args)


def _ncgru_run(*args):
    if _needs_graph(*args[:5], args[6]):
        return _NCGRURecurrence.apply(*args)
    with torch.no_grad():
        hs = _ncgru_forward(*args, save=False)[0]
    return hs, hs[-1]


# ---------------------------------------------------------------------------
# SBO-RNN recurrence
# ---------------------------------------------------------------------------

SBORNN_UPDATES = ("gd", "heavy_ball", "nesterov")


def _sbornn_forward(projected, h0, s0, u, v, mu, eta, alpha, update, mask, save):
    """The SBO-RNN loop. Returns `(hs, second, pre)`: the first state after each
    step, the second state after each step (None for "gd") and the
    pre-activation `h (I + U V) + p` of each step (None unless `save`)."""
    steps = projected.shape[0]
    hs = projected.new_empty(projected.shape)
    second = projected.new_empty(projected.shape) if update != "gd" else None
    pre = projected.new_empty(projected.shape) if save else None
    pre_step = torch.empty_like(h0)
    hu = h0.new_empty(tuple(h0.shape[:-1]) + (u.shape[-1],))
    z = torch.empty_like(hu)
    phi, r, active, g, tmp = (torch.empty_like(h0) for _ in range(5))
    new_h, new_s = torch.empty_like(h0), torch.empty_like(h0)
    u_t, v_t = u.t(), v.t()
    p_steps, h_steps = projected.unbind(0), hs.unbind(0)
    s_steps = second.unbind(0) if second is not None else None
    a_steps = pre.unbind(0) if save else None
    m_steps = mask.unbind(0) if mask is not None else None
    h, s = h0, s0
    for t in range(steps):
        a = a_steps[t] if save else pre_step
        torch.mm(h, u, out=hu)
        torch.addmm(p_steps[t], hu, v, out=a)
        a.add_(h)
        torch.clamp_min(a, 0, out=phi)
        torch.gt(a, 0, out=active)
        torch.mul(h, alpha, out=r)
        r.sub_(phi)  # r = alpha h - phi
        r.mul_(active)  # rd = r D
        torch.mm(r, v_t, out=z)
        # g = alpha r - rd - (rd V^T) U^T, with r = rd + (1 - D) r folded in:
        torch.mul(h, alpha, out=g)
        g.sub_(phi)
        g.mul_(alpha)
        g.sub_(r)
        g.addmm_(z, u_t, alpha=-1)
        out_h = h_steps[t] if mask is None else new_h
        out_s = (s_steps[t] if mask is None else new_s) if s is not None else None
        if update == "gd":
            torch.add(h, g, alpha=-eta, out=out_h)
        elif update == "heavy_ball":
            torch.mul(s, mu, out=out_s)
            out_s.add_(g, alpha=-eta)
            torch.add(h, out_s, out=out_h)
        else:
            torch.add(h, g, alpha=-eta, out=out_s)  # y
            torch.sub(out_s, s, out=tmp)
            torch.add(out_s, tmp, alpha=mu, out=out_h)
        if mask is not None:
            out_h = torch.where(m_steps[t], out_h, h, out=h_steps[t])
            if s is not None:
                out_s = torch.where(m_steps[t], out_s, s, out=s_steps[t])
        h, s = out_h, out_s
    return hs, second, pre


def _sbornn_backward(ctx, grad_hs, *grad_finals):
    h0, s0, u, v, mu, mask, hs, second, pre = ctx.saved_tensors
    eta, alpha, update, mu_value = ctx.eta, ctx.alpha, ctx.update, ctx.mu_value
    needs = ctx.needs_input_grad
    steps = hs.shape[0]
    grad_hs = _grad_or_zeros(grad_hs, hs)
    keep, skip = _mask_factors(mask, hs.dtype)
    active = (pre > 0).to(pre.dtype)
    # relu's own derivative: 1 unless pre <= 0 (so 1 at NaN, as torch's relu has it).
    relu_active = torch.logical_not(pre <= 0).to(pre.dtype)
    d_pre, d_g = torch.empty_like(pre), torch.empty_like(pre)
    d_pv = hs.new_empty(tuple(hs.shape[:-1]) + (u.shape[-1],))
    d_gu = torch.empty_like(d_pv)
    d_mu_rows = torch.empty_like(pre) if update != "gd" and needs[5] else None
    u_t, v_t = u.t(), v.t()
    g_steps, act_steps, relu_steps = grad_hs.unbind(0), active.unbind(0), relu_active.unbind(0)
    dpre_steps, dg_steps = d_pre.unbind(0), d_g.unbind(0)
    dpv_steps, dgu_steps = d_pv.unbind(0), d_gu.unbind(0)
    keep_steps = keep.unbind(0) if keep is not None else None
    skip_steps = skip.unbind(0) if skip is not None else None
    e, ed, dh_new, ds_new, dy = (torch.empty_like(h0) for _ in range(5))
    dh = _grad_or_zeros(grad_finals[0], h0) + g_steps[-1]
    ds = None
    if update != "gd":
        ds = _grad_or_zeros(grad_finals[1], h0).clone()
    for t in range(steps - 1, -1, -1):
        if keep is not None:
            dhn = torch.mul(dh, keep_steps[t], out=dh_new)
            dsn = torch.mul(ds, keep_steps[t], out=ds_new) if ds is not None else None
        else:
            dhn, dsn = dh, ds
        dg = dg_steps[t]
        if update == "gd":
            torch.mul(dhn, -eta, out=dg)
            direct = dhn
            ds_prev = None
        elif update == "heavy_ball":
            dvt = torch.add(dsn, dhn, out=dy if d_mu_rows is None else d_mu_rows[t])
            torch.mul(dvt, -eta, out=dg)
            ds_prev = dvt * mu_value
            direct = dhn
        else:
            if d_mu_rows is not None:
                d_mu_rows[t].copy_(dhn)
            direct = torch.add(dsn, dhn, alpha=1 + mu_value, out=dy)
            torch.mul(direct, -eta, out=dg)
            ds_prev = dhn * -mu_value
        # Through g = alpha r - r D (I + U V)^T, r = alpha h - relu(pre):
        torch.mm(dg, u, out=dgu_steps[t])
        torch.addmm(dg, dgu_steps[t], v, out=e)
        torch.mul(e, act_steps[t], out=ed)
        dp = torch.mul(dg, relu_steps[t], out=dpre_steps[t])
        dp.mul_(-alpha)
        dp.add_(ed)  # d pre = e D - alpha dg D_relu
        torch.mm(dp, v_t, out=dpv_steps[t])
        dh_prev = torch.add(direct, dg, alpha=alpha * alpha)
        dh_prev.sub_(ed, alpha=alpha)
        dh_prev.add_(dp)
        dh_prev.addmm_(dpv_steps[t], u_t)
        if skip is not None:
            dh_prev.addcmul_(dh, skip_steps[t])
            if ds is not None:
                ds_prev.addcmul_(ds, skip_steps[t])
        if t > 0:
            dh_prev.add_(g_steps[t - 1])
        dh, ds = dh_prev, ds_prev
    grads = [None] * 10
    if needs[0]:
        grads[0] = d_pre
    if needs[1]:
        grads[1] = dh
    if ds is not None and needs[2]:
        grads[2] = ds
    previous = _previous_states(h0, hs)
    if needs[3] or needs[4]:
        rd = (alpha * previous - torch.relu(pre)) * active
    if needs[3]:
        z = _rows(rd) @ v_t
        grads[3] = torch.addmm(_rows(previous).t() @ _rows(d_pv), _rows(d_g).t(), z, alpha=-1)
    if needs[4]:
        hu = _rows(previous) @ u
        grads[4] = torch.addmm(hu.t() @ _rows(d_pre), _rows(d_gu).t(), _rows(rd), alpha=-1)
    if d_mu_rows is not None:
        if update == "heavy_ball":
            factor = _previous_states(s0, second)
        else:
            factor = second - _previous_states(s0, second)
        grads[5] = (d_mu_rows * factor).sum().to(mu.dtype)
    return tuple(grads)


class _SBORNNRecurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, projected, h0, s0, u, v, mu, eta, alpha, update, mask):
        mu_value = None if mu is None else float(mu.to(projected.dtype))
        hs, second, pre = _sbornn_forward(
            projected, h0, s0, u, v, mu_value, eta, alpha, update, mask, save=True
        )
        ctx.save_for_backward(h0, s0, u, v, mu, mask, hs, second, pre)
        ctx.eta, ctx.alpha, ctx.update, ctx.mu_value = eta, alpha, update, mu_value
        if second is None:
            return hs, hs[-1].clone()
        return hs, hs[-1].clone(), second[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_hs, *grad_finals):
        return _sbornn_backward(ctx, grad_hs, *grad_finals)


@torch.compiler.disable
def sbornn_recurrence(projected, states, u, v, mu, eta, alpha, update, mask=None):
    """The SBO-RNN loop: one optimizer step on `1/2 ||alpha h - relu(h W_h + p)||^2`
    per time step, with `W_h = I + u @ v`.

    With `grad f(h) = alpha r - (r D) W_h^T`, `r = alpha h - relu(pre)`,
    `pre = h W_h + p_t`, `D = (pre > 0)`:

    - `"gd"`: `h_t = h - eta grad f(h)`;
    - `"heavy_ball"`: `v_t = mu v - eta grad f(h)`, `h_t = h + v_t`;
    - `"nesterov"`: `y_t = h - eta grad f(h)`, `h_t = y_t + mu (y_t - y_{t-1})`.

    Args:
        projected: `[T, B, H]`, `x W_x + b` of every step.
        states: a tuple of `[B, H]` tensors: `(h,)` for "gd", `(h, v)` or `(h, y)`.
        u: `[H, R]`; v: `[R, H]`.
        mu: a 0-d tensor (None for "gd").
        eta, alpha: Python floats.
        update: `"gd"`, `"heavy_ball"` or `"nesterov"`.
        mask: bool `[T, B, 1]` or None (False keeps every state).

    Returns:
        `(hs, final_states)`: `[T, B, H]`, the first state after each step, and
        a tuple of the final states.

    Example:

    >>> import torch
    >>> from keras_gradstab.backend.torch.recurrence import sbornn_recurrence
    >>> u, v = torch.zeros(4, 1), torch.zeros(1, 4)  # W_h = I: h moves toward 2 h = h + 1
    >>> hs, (h,) = sbornn_recurrence(
    ...     torch.ones(3, 2, 4), (torch.zeros(2, 4),), u, v, None, 0.5, 2.0, "gd"
    ... )
    >>> [float(v) for v in hs[:, 0, 0]]
    [0.5, 0.75, 0.875]
    """
    CALLS["sbornn_recurrence"] += 1
    _time_steps("sbornn_recurrence", projected)
    if update not in SBORNN_UPDATES:
        raise ValueError(f"`update` must be one of {SBORNN_UPDATES}; received {update!r}.")
    states = tuple(states)
    expected = 1 if update == "gd" else 2
    if len(states) != expected:
        raise ValueError(
            f"`states` must hold {expected} tensor(s) for update={update!r}; "
            f"received {len(states)}."
        )
    if update != "gd" and mu is None:
        raise ValueError(f"`mu` must be a tensor for update={update!r}; received None.")
    h0 = states[0]
    s0 = states[1] if update != "gd" else None
    mu = None if update == "gd" else mu
    eta, alpha = float(eta), float(alpha)
    args = (projected, h0, s0, u, v, mu, eta, alpha, update, mask)
    # The momentum updates read `mu` on the host: no graph records them.
    return cuda_graphs.dispatch(_sbornn_run, args, graphable=mu is None)


def _sbornn_run(projected, h0, s0, u, v, mu, eta, alpha, update, mask):
    if _needs_graph(projected, h0, s0, u, v, mu):
        out = _SBORNNRecurrence.apply(projected, h0, s0, u, v, mu, eta, alpha, update, mask)
        return out[0], tuple(out[1:])
    with torch.no_grad():
        mu_value = None if mu is None else float(mu.to(projected.dtype))
        hs, second, _ = _sbornn_forward(
            projected, h0, s0, u, v, mu_value, eta, alpha, update, mask, save=False
        )
    finals = (hs[-1],) if second is None else (hs[-1], second[-1])
    return hs, finals
