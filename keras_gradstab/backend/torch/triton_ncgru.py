"""A Triton kernel of the NC-GRU forward recurrence (`reset_after`): all time steps in one launch.

`ncgru_forward` computes what `recurrence.ncgru_recurrence` computes with
`candidate=None`, without autograd (inference). Each program of the kernel
owns a block of batch rows: it loads the three `[H, H]` blocks of the
recurrent matrix and its rows of `h0` once, then loops over the time steps
inside the kernel, reading one step of `projected` and writing one step of
`hs` per iteration. The per-step work of the torch loop (one matrix product,
the gates, modReLU and the update, each a separate kernel) becomes one launch
for the whole sequence.

The state stays in registers across steps; the recurrent matrix blocks too,
which suits small and moderate widths (a block is `next_power_of_2(H)`
squared). Products accumulate in float32 (float64 for float64 inputs) with
IEEE precision (no TF32); float16 and bfloat16 inputs are computed in float32
and stored in their own dtype.

Triton is optional: `AVAILABLE` is False where it cannot be imported. With
`TRITON_INTERPRET=1` set before this module is imported, Triton's interpreter
runs the kernel on CPU tensors (how the tests check it without a GPU); the
variable is read when the kernel is defined, at the import of this module.
"""

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the installation
    triton = tl = None

import torch

AVAILABLE = triton is not None
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

if AVAILABLE:

    @triton.jit
    def _ncgru_kernel(
        p_ptr,
        h0_ptr,
        w_ptr,
        bias_ptr,
        mask_ptr,
        rm_ptr,
        out_ptr,
        steps,
        batch,
        units,
        HAS_MASK: tl.constexpr,
        HAS_RM: tl.constexpr,
        ACC: tl.constexpr,
        BLOCK_B: tl.constexpr,
        BLOCK_H: tl.constexpr,
    ):
        rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
        cols = tl.arange(0, BLOCK_H)
        row_ok, col_ok = rows < batch, cols < units
        ok = row_ok[:, None] & col_ok[None, :]
        state = rows[:, None] * units + cols[None, :]
        # recurrent[k, j] at k * 3H + j: the u, r and candidate blocks, loaded once.
        w_at = cols[:, None] * (3 * units) + cols[None, :]
        w_ok = col_ok[:, None] & col_ok[None, :]
        w_u = tl.load(w_ptr + w_at, mask=w_ok, other=0.0).to(ACC)
        w_r = tl.load(w_ptr + w_at + units, mask=w_ok, other=0.0).to(ACC)
        w_c = tl.load(w_ptr + w_at + 2 * units, mask=w_ok, other=0.0).to(ACC)
        bias = tl.load(bias_ptr + cols, mask=col_ok, other=0.0).to(ACC)[None, :]
        h = tl.load(h0_ptr + state, mask=ok, other=0.0).to(ACC)
        if HAS_RM:
            rm = tl.load(rm_ptr + state, mask=ok, other=0.0).to(ACC)
        # projected[t, b, g * H + j] at (t * B + b) * 3H + g * H + j.
        p_at = rows[:, None] * (3 * units) + cols[None, :]
        for t in range(steps):
            hd = h * rm if HAS_RM else h
            step = p_ptr + t * batch * 3 * units + p_at
            p_u = tl.load(step, mask=ok, other=0.0).to(ACC)
            p_r = tl.load(step + units, mask=ok, other=0.0).to(ACC)
            p_c = tl.load(step + 2 * units, mask=ok, other=0.0).to(ACC)
            # sigmoid as 1 / (1 + exp(-x)): builtins only (`tl.sigmoid` is itself a
            # jitted function, which the interpreter cannot call from a kernel
            # when Triton was imported before `TRITON_INTERPRET` was set).
            u = 1 / (1 + tl.exp(-(p_u + tl.dot(hd, w_u, input_precision="ieee", out_dtype=ACC))))
            r = 1 / (1 + tl.exp(-(p_r + tl.dot(hd, w_r, input_precision="ieee", out_dtype=ACC))))
            cand = p_c + r * tl.dot(hd, w_c, input_precision="ieee", out_dtype=ACC)
            # modrelu(x, b) = where(|x| + b <= 0, 0, x + b sign(x)); NaN stays NaN.
            sign = tl.where(cand > 0, 1.0, tl.where(cand < 0, -1.0, 0.0)).to(ACC)
            c = tl.where(tl.abs(cand) + bias <= 0, 0.0, cand + bias * sign).to(ACC)
            new = c + u * (h - c)
            if HAS_MASK:
                keep = tl.load(mask_ptr + t * batch + rows, mask=row_ok, other=0)
                new = tl.where(keep[:, None] != 0, new, h)
            h = new
            out = out_ptr + t * batch * units + state
            tl.store(out, h.to(out_ptr.dtype.element_ty), mask=ok)


# Batch rows per program: the smallest tile `tl.dot` takes. The time loop is
# serial, so rows are the only dimension to spread over programs.
BLOCK_B = 16


def ncgru_forward(projected, h0, recurrent, modrelu_bias, mask=None, recurrent_mask=None):
    """The NC-GRU (`reset_after`) forward loop in one Triton kernel launch, no autograd.

    With `hd = h * recurrent_mask`, `[r_u, r_r, r_c] = hd @ recurrent` and
    `projected = [p_u | p_r | p_c]`: `u = sigmoid(p_u + r_u)`,
    `r = sigmoid(p_r + r_r)`, `c = modrelu(p_c + r * r_c, modrelu_bias)`,
    `h_t = c + u * (h_{t-1} - c)` (kept at `h_{t-1}` where `mask` is False).

    Args:
        projected: `[T, B, 3H]`.
        h0: `[B, H]`.
        recurrent: `[H, 3H]`.
        modrelu_bias: `[H]`.
        mask: bool `[T, B, 1]` or None.
        recurrent_mask: `[B, H]` or None.

    Returns:
        `(hs, h_last)`: `[T, B, H]` and `[B, H]` (a view of `hs`).

    Raises:
        ImportError: where `triton` is not installed.

    Example (CUDA tensors, or CPU tensors with `TRITON_INTERPRET=1` set before
    the import):

    >>> import torch
    >>> from keras_gradstab.backend.torch import triton_ncgru
    >>> projected = torch.cat([torch.zeros(3, 2, 8), torch.ones(3, 2, 4)], -1)  # u = r = 1/2
    >>> hs, h_last = triton_ncgru.ncgru_forward(
    ...     projected, torch.zeros(2, 4), torch.zeros(4, 12), torch.zeros(4)
    ... )
    >>> [float(v) for v in hs[:, 0, 0]]
    [0.5, 0.75, 0.875]
    """
    if not AVAILABLE:
        raise ImportError("`ncgru_forward` needs the `triton` package; it is not installed.")
    if projected.dim() != 3 or projected.shape[0] < 1:
        raise ValueError(
            "`projected` must have shape [T, B, 3H] with T >= 1; "
            f"received shape {tuple(projected.shape)}."
        )
    steps, batch, width = projected.shape
    units = h0.shape[-1]
    expected = {
        "projected": ((steps, batch, 3 * units), projected),
        "h0": ((batch, units), h0),
        "recurrent": ((units, 3 * units), recurrent),
        "modrelu_bias": ((units,), modrelu_bias),
        "mask": ((steps, batch, 1), mask),
        "recurrent_mask": ((batch, units), recurrent_mask),
    }
    for name, (shape, tensor) in expected.items():
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ValueError(
                f"`{name}` must have shape {shape} (T={steps}, B={batch}, H={units}); "
                f"received shape {tuple(tensor.shape)}."
            )
    if projected.dtype not in DTYPES:
        raise ValueError(
            f"`projected` must have one of the dtypes {DTYPES}; received {projected.dtype}."
        )
    acc = tl.float64 if projected.dtype == torch.float64 else tl.float32
    hs = projected.new_empty((steps, batch, units))
    mask_arg = mask.reshape(steps, batch).to(torch.int8).contiguous() if mask is not None else hs
    rm_arg = recurrent_mask.contiguous() if recurrent_mask is not None else hs
    _ncgru_kernel[(triton.cdiv(batch, BLOCK_B),)](
        projected.contiguous(),
        h0.contiguous(),
        recurrent.contiguous(),
        modrelu_bias.contiguous(),
        mask_arg,
        rm_arg,
        hs,
        steps,
        batch,
        units,
        HAS_MASK=mask is not None,
        HAS_RM=recurrent_mask is not None,
        ACC=acc,
        BLOCK_B=BLOCK_B,
        BLOCK_H=max(16, triton.next_power_of_2(units)),
    )
    return hs, hs[-1]
