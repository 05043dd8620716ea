"""A Keras-layout GRU on torch's native fused GRU (what `torch.nn.GRU` runs).

`gru` takes the weights in Keras's layout and gate order (`reset_after=True`:
update z, reset r, candidate h, along the last axis of `[D, 3H]` and `[H, 3H]`),
reorders them into torch's `[3H, D]` / `[3H, H]` in its gate order (r, z, n) at
every call, and runs `torch._VF.gru`: a C++ loop on CPU (every step's input
product in one matrix product first), cuDNN on CUDA. Autograd carries the
gradients back through the reordering to whatever the weights were built from.
torch's GRU has no per-step mask and no recurrent dropout: a caller needing
either runs another loop. It runs in every floating dtype torch's GRU takes
(float16, bfloat16, float32, float64, on CPU too).

`CALLS["gru"]` counts the calls.
"""

import collections

import torch

CALLS = collections.Counter()


def _torch_gate_order(w):
    """`[..., 3H]` in Keras's gate order (z, r, h) to torch's (r, z, n)."""
    z, r, n = w.chunk(3, dim=-1)
    return torch.cat([r, z, n], dim=-1)


@torch.compiler.disable
def gru(inputs, h0, kernel, recurrent_kernel, bias, recurrent_bias=None):
    """The GRU of Keras's `reset_after=True` form, with sigmoid gates and tanh.

    With row vectors, `[x_z, x_r, x_h] = x_t @ kernel + bias` and
    `[h_z, h_r, h_h] = h @ recurrent_kernel + recurrent_bias`:
    `z = sigmoid(x_z + h_z)`, `r = sigmoid(x_r + h_r)`,
    `c = tanh(x_h + r * h_h)`, `h_t = z * h_{t-1} + (1 - z) * c`.

    Args:
        inputs: `[T, B, D]`, time-major, in processing order.
        h0: `[B, H]`.
        kernel: `[D, 3H]`.
        recurrent_kernel: `[H, 3H]`.
        bias: `[3H]`.
        recurrent_bias: `[3H]` or None (zeros).

    Returns:
        `(hs, h_last)`: `[T, B, H]` and `[B, H]`.

    Example:

    >>> import torch
    >>> from keras_gradstab.backend.torch.gru import gru
    >>> bias = torch.cat([torch.full((8,), -50.0), torch.full((4,), 0.5)])  # z = 0
    >>> hs, h_last = gru(torch.zeros(3, 2, 1), torch.zeros(2, 4), torch.zeros(1, 12),
    ...                  torch.zeros(4, 12), bias)
    >>> [round(float(v), 4) for v in hs[:, 0, 0]]
    [0.4621, 0.4621, 0.4621]
    """
    CALLS["gru"] += 1
    if inputs.dim() != 3 or inputs.shape[0] < 1:
        raise ValueError(
            "`gru` takes `inputs` of shape [T, B, features] with T >= 1; "
            f"received shape {tuple(inputs.shape)}."
        )
    if recurrent_bias is None:
        recurrent_bias = torch.zeros_like(bias)
    params = [
        _torch_gate_order(kernel).t().contiguous(),
        _torch_gate_order(recurrent_kernel).t().contiguous(),
        _torch_gate_order(bias),
        _torch_gate_order(recurrent_bias),
    ]
    # (input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
    # batch_first): the call `torch.nn.GRU.forward` makes.
    hs, h_last = torch._VF.gru(inputs, h0.unsqueeze(0), params, True, 1, 0.0, False, False, False)
    return hs, h_last[0]
