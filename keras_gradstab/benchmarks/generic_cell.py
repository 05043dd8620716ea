"""Forward+backward of a GRU cell that a user writes in `keras.ops`, looped by
`keras_gradstab.ops.scan`, against Keras's and torch's own GRUs (torch only).

Every case computes `(y ** 2).mean()` of the outputs of a GRU with 128 units over
an input of shape [32, T, 64] and its gradient w.r.t. every weight (eager
`backward()`), timed with the process's CPU time (`time.process_time`) on one
intra-op thread (`torch.set_num_threads(1)`), the cases taking turns
(`interleaved_samples`) and the median reported:

- `keras.layers.RNN(GRUCell)`: Keras's generic RNN layer running its cell.
- `kg.ops.scan(cell.call)`: `UserGRUCell` (below: `state_size`, `build`,
  `call(inputs, states, training=None)`, all `keras.ops`) called once per step by
  `kg.ops.scan`, as a user's layer would loop its cell.
- `kg.layers.ScanRNN(UserGRUCell)`: the same cell in the library's drop-in
  for `keras.layers.RNN` (the layer a user would write instead of the loop).
- `... (2 threads, ...)`: the same with the process at two intra-op threads, the
  case the scan's thread handling is for (`KERAS_GRADSTAB_TORCH_STEP_THREADS`).
- `torch scan op (compiled)`: the same step under torch's scan operator
  (`torch._higher_order_ops.scan`) in `torch.compile(fullgraph=True)`; the
  first call's time (compile included) is the `compile seconds` column.
  `KERAS_GRADSTAB_BENCH_COMPILE=0` leaves this case out.
- `torch loop, no Keras`: the same GRU step written in torch ops (input
  product hoisted, one Python loop, autograd), no Keras code at all: what any
  per-step loop that lets autograd record each step costs.
- `keras.layers.GRU`, `torch.nn.GRU`: the fused layers, for scale.

Rows give `seconds` (median CPU seconds), `vs keras.layers.RNN` (its CPU time
over the case's: above 1 is faster than Keras's RNN layer) and `wall seconds`
(median wall time of the same runs).
"""

import os
import statistics
import time

import keras
import numpy as np
from keras import ops

import keras_gradstab as kg
from keras_gradstab.benchmarks.timing import interleaved_samples, torch_backward

BATCH, UNITS, FEATURES = 32, 128, 64
BASELINE = "keras.layers.RNN(GRUCell)"


class UserGRUCell(keras.layers.Layer):
    """A GRU cell (Keras's `reset_after=True` form) as a user writes one."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], 3 * self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(
            (self.units, 3 * self.units), initializer="orthogonal", name="recurrent_kernel"
        )
        self.bias = self.add_weight((3 * self.units,), initializer="zeros", name="bias")

    def call(self, inputs, states, training=None):
        h = states[0]
        u = self.units
        x = ops.matmul(inputs, self.kernel) + self.bias
        hx = ops.matmul(h, self.recurrent_kernel)
        z = ops.sigmoid(x[:, :u] + hx[:, :u])
        r = ops.sigmoid(x[:, u : 2 * u] + hx[:, u : 2 * u])
        c = ops.tanh(x[:, 2 * u :] + r * hx[:, 2 * u :])
        h = z * h + (1.0 - z) * c
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _cell_loss(cell, x):
    """`(y ** 2).mean()` of `cell` looped over time by `kg.ops.scan`."""

    def step(states, x_t):
        y, states = cell.call(x_t, states)
        return states, y

    h0 = [ops.zeros((x.shape[0], cell.units), dtype=x.dtype)]
    _, ys = kg.ops.scan(step, h0, ops.transpose(x, (1, 0, 2)))
    return ops.mean(ys**2)


def _torch_loop(cell, x):
    """`(y ** 2).mean()` of `cell`'s GRU written in torch ops, no Keras code."""
    import torch

    kernel, recurrent, bias = (w.value for w in (cell.kernel, cell.recurrent_kernel, cell.bias))

    def loss():
        inputs = torch.addmm(bias, x.transpose(0, 1).reshape(-1, x.shape[-1]), kernel)
        h = torch.zeros(x.shape[0], cell.units, dtype=x.dtype)
        outputs = []
        for x_t in inputs.view(x.shape[1], x.shape[0], -1).unbind(0):
            xz, xr, xc = x_t.chunk(3, -1)
            hz, hr, hc = (h @ recurrent).chunk(3, -1)
            z = torch.sigmoid(xz + hz)
            c = torch.tanh(xc + torch.sigmoid(xr + hr) * hc)
            h = z * h + (1.0 - z) * c
            outputs.append(h)
        return (torch.stack(outputs) ** 2).mean()

    return loss


def _with_threads(n, fn):
    import torch

    def run():
        previous = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            return fn()
        finally:
            torch.set_num_threads(previous)

    return run


def _with_attr(module, name, value, fn):
    def run():
        previous = getattr(module, name)
        setattr(module, name, value)
        try:
            return fn()
        finally:
            setattr(module, name, previous)

    return run


def _compiled_scan(cell, x):
    """The step under torch's scan operator in `torch.compile(fullgraph=True)`."""
    import torch
    from torch._higher_order_ops.scan import scan

    def step(h, x_t):
        y, states = cell.call(x_t, [h])
        # The operator refuses outputs that alias each other (the carry is `y`).
        return states[0], y.clone()

    @torch.compile(fullgraph=True)
    def loss(x):
        h0 = torch.zeros(x.shape[0], cell.units, dtype=x.dtype)
        _, ys = scan(step, h0, x.transpose(0, 1))
        return (ys**2).mean()

    return lambda: loss(x)


def _timers(x, compile_scan=True):
    """{case: zero-argument callable doing forward+backward}, and compile seconds."""
    import torch

    from keras_gradstab.backend import torch as torch_backend

    x = torch.as_tensor(x)
    seconds_to_compile = {}
    keras.utils.set_random_seed(0)
    rnn = keras.layers.RNN(keras.layers.GRUCell(UNITS), return_sequences=True)
    rnn.build(x.shape)
    gru = keras.layers.GRU(UNITS, return_sequences=True)
    gru.build(x.shape)
    cell = UserGRUCell(UNITS)
    cell.build(x.shape[1:])
    torch_gru = torch.nn.GRU(FEATURES, UNITS, batch_first=True)

    def backward(loss, params):
        return torch_backward(loss, [getattr(p, "value", p) for p in params])

    def user(fn):
        return backward(fn, cell.weights)

    scan_cell = user(lambda: _cell_loss(cell, x))
    cases = {BASELINE: backward(lambda: ops.mean(rnn(x) ** 2), rnn.weights)}
    cases["kg.ops.scan(cell.call)"] = scan_cell
    layer = kg.layers.ScanRNN(cell, return_sequences=True)
    layer.build(x.shape)
    cases["kg.layers.ScanRNN(UserGRUCell)"] = user(lambda: ops.mean(layer(x) ** 2))
    cases["kg.ops.scan(cell.call) (2 threads)"] = _with_threads(2, scan_cell)
    if hasattr(torch_backend, "STEP_THREADS"):
        cases["kg.ops.scan(cell.call) (2 threads, no thread change)"] = _with_threads(
            2, _with_attr(torch_backend, "STEP_THREADS", 0, scan_cell)
        )
    if compile_scan:
        compiled = user(_compiled_scan(cell, x))
        start = time.process_time()
        compiled()
        seconds_to_compile["torch scan op (compiled)"] = time.process_time() - start
        cases["torch scan op (compiled)"] = compiled
    cases["torch loop, no Keras"] = user(_torch_loop(cell, x))
    cases["keras.layers.GRU"] = backward(lambda: ops.mean(gru(x) ** 2), gru.weights)
    cases["torch.nn.GRU"] = backward(
        lambda: (torch_gru(x)[0] ** 2).mean(), list(torch_gru.parameters())
    )
    return cases, seconds_to_compile


def run(quick=False, steps=None, repeats=None):
    if keras.config.backend() != "torch":
        return []
    import torch

    steps = steps or (32 if quick else 256)
    repeats = repeats or (3 if quick else 7)
    compile_scan = os.environ.get("KERAS_GRADSTAB_BENCH_COMPILE", "1") != "0"
    x = np.random.default_rng(0).normal(size=(BATCH, steps, FEATURES)).astype("float32")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        timers, compile_seconds = _timers(x, compile_scan)
        samples = interleaved_samples(timers, repeats, clocks=("process", "wall"))
    finally:
        torch.set_num_threads(previous)
    seconds, wall = (
        {name: statistics.median(v) for name, v in samples[clock].items()}
        for clock in ("process", "wall")
    )
    rows = []
    for name, value in seconds.items():
        row = {
            "benchmark": "generic_cell",
            "backend": "torch",
            "case": name,
            "shape": f"B={BATCH} T={steps} D={FEATURES} H={UNITS}",
            "seconds": value,
            "vs keras.layers.RNN": seconds[BASELINE] / value,
            "wall seconds": wall[name],
        }
        if name in compile_seconds:
            row["compile seconds"] = compile_seconds[name]
        rows.append(row)
    return rows
