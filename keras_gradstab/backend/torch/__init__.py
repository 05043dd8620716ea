"""PyTorch: a plain Python loop of the step, on one intra-op thread, under autograd.

What costs time in a torch recurrence of small tensors is the per-operation
overhead (Python dispatch in the forward pass, autograd's bookkeeping of one node
per operation in the backward pass), not arithmetic. The scan is the plainest
loop: `fn` called once per time step, the outputs stacked once, and autograd
differentiating that loop itself. `fn` runs as written at every step, so
breakpoints, prints and Python control flow in it behave as in any eager torch
code. Measured alternatives (a recorded step replayed at the ATen level, torch's
scan operator under `torch.compile`, a compiled step) and why this loop was kept
are in benchmarks/RESULTS.md.

`scan` is excluded from `torch.compile` (`torch.compiler.disable`): a compiled
function or a Keras model compiled with `jit_compile=True` runs the scan eagerly
and compiles what surrounds it.

Threads: the per-step operations run on one intra-op thread
(`KERAS_GRADSTAB_TORCH_STEP_THREADS`, default 1; 0 leaves the thread count
alone). Their tensors are too small to gain from more, and on a loaded machine
two OpenMP threads that wait on each other at every small operation make a
256-step scan many times slower (benchmarks/RESULTS.md). The backward pass of the
loop gets the same setting: a pre-hook on the scan's output nodes lowers the
thread count when autograd reaches them, and the count is restored when autograd
leaves the loop (at the node that splits `xs` into steps) or, at the latest, when
the backward call ends.

Because autograd differentiates the loop directly, gradients reach everything:
`init`, `xs` and every tensor `fn` closes over, through `backward()` and
`torch.autograd.grad` alike, and higher-order gradients work.
"""

import contextlib
import os

import torch
from torch.utils import _pytree as pytree

from keras_gradstab.backend import common as generic
from keras_gradstab.backend.torch import gru as _gru
from keras_gradstab.backend.torch import recurrence as _recurrence

NAME = "torch.loop"
fused_recurrence = {
    "gru": _gru.gru,
    "modrelu": _recurrence.modrelu_recurrence,
    "ncgru": _recurrence.ncgru_recurrence,
    "sbornn": _recurrence.sbornn_recurrence,
}
STEP_THREADS = int(os.environ.get("KERAS_GRADSTAB_TORCH_STEP_THREADS", "1"))


@contextlib.contextmanager
def _step_threads():
    previous = torch.get_num_threads()
    if STEP_THREADS <= 0 or previous == STEP_THREADS:
        yield
        return
    torch.set_num_threads(STEP_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def concatenate(tensors, axis):
    return torch.cat(tensors, dim=axis)


def flip(x, axis):
    return torch.flip(x, dims=(axis,))


def associative_scan(combine, elems, axis, reverse=False):
    # torch ops throughout: keras.ops would turn float64 into float32 here.
    return generic.associative_scan(
        combine, elems, axis, reverse, concatenate=concatenate, flip=flip
    )


def _check_carry(init_leaves, init_spec, carry):
    leaves, spec = pytree.tree_flatten(carry)
    if spec != init_spec or any(
        a.shape != b.shape or a.dtype != b.dtype for a, b in zip(init_leaves, leaves)
    ):
        raise ValueError(
            "`fn` must return a carry with the structure, shapes and dtypes of `init`; "
            f"`init` is {pytree.tree_unflatten(init_leaves, init_spec)} but `fn` "
            f"returned {carry}."
        )
    return leaves


def _flatten_y(y):
    # torch's pytree takes None for a leaf; a `None` output has no leaves here.
    if y is None:
        return [], None
    return pytree.tree_flatten(y)


def _unflatten_y(leaves, spec):
    return None if spec is None else pytree.tree_unflatten(leaves, spec)


class _BackwardThreads:
    """Runs the backward pass of one scan on `STEP_THREADS` intra-op threads."""

    def __init__(self):
        self.previous = None

    def enter(self, *_):
        if self.previous is None and STEP_THREADS > 0:
            self.previous = torch.get_num_threads()
            if self.previous != STEP_THREADS:
                torch.set_num_threads(STEP_THREADS)
            torch.autograd.Variable._execution_engine.queue_callback(self.leave)

    def leave(self, *_):
        if self.previous is not None:
            torch.set_num_threads(self.previous)
            self.previous = None

    def attach(self, outputs, exits):
        nodes = {o.grad_fn for o in outputs if o.grad_fn is not None}
        for node in nodes:
            node.register_prehook(self.enter)
        for node in {x.grad_fn for x in exits if x.grad_fn is not None} - nodes:
            node.register_prehook(self.leave)


def _loop(fn, init, xs, reverse):
    init_leaves, init_spec = pytree.tree_flatten(init)
    x_leaves, x_spec = pytree.tree_flatten(xs)
    slices = [x.unbind(0) for x in x_leaves]
    length = len(slices[0])
    steps = range(length - 1, -1, -1) if reverse else range(length)
    carry, ys, y_spec = init, [None] * length, None
    for t in steps:
        carry, y = fn(carry, pytree.tree_unflatten([s[t] for s in slices], x_spec))
        if t == steps[0]:
            _check_carry(init_leaves, init_spec, carry)
        ys[t], y_spec = _flatten_y(y)
    stacked = [torch.stack([ys[t][i] for t in range(length)]) for i in range(len(ys[0]))]
    return carry, _unflatten_y(stacked, y_spec), [s[0] for s in slices if s]


@torch.compiler.disable
def scan(fn, init, xs, reverse=False):
    with _step_threads():
        carry, ys, first_slices = _loop(fn, init, xs, reverse)
    if torch.is_grad_enabled() and STEP_THREADS > 0:
        outputs = [
            t
            for t in pytree.tree_leaves(carry) + pytree.tree_leaves(ys)
            if isinstance(t, torch.Tensor) and t.requires_grad
        ]
        if outputs:
            _BackwardThreads().attach(outputs, first_slices)
    return carry, ys


def value_and_grad(fn, args):
    """`fn(*args)` (a scalar) and its gradients w.r.t. every tensor of `args`.

    Gradients are read from `.grad` after `backward()` (what Keras's torch
    trainer reads too).
    """
    leaves = [torch.as_tensor(a).detach().requires_grad_() for a in args]
    with torch.enable_grad():
        value = fn(*leaves)
        value.backward()
    return value.detach(), [torch.zeros_like(a) if a.grad is None else a.grad for a in leaves]


def batch_jacobian(fn, x):
    """d fn(x)[b, i] / d x[b, j] for `fn` mapping [B, n] to [B, m] example by example."""
    x = torch.as_tensor(x).detach()
    with torch.enable_grad():
        # Examples are independent: the Jacobian of the batch sum of outputs
        # w.r.t. the batch of inputs holds every example's Jacobian.
        jac = torch.autograd.functional.jacobian(lambda t: fn(t).sum(0), x)
    return jac.permute(1, 0, 2)


def jvp(fn, x, tangent):
    """`fn(x)` and the Jacobian-vector product `J(x) tangent`, exact.

    Two reverse passes (the transpose of a vector-Jacobian product is a
    Jacobian-vector product), both with `create_graph=True`, so the result is
    differentiable w.r.t. the weights `fn` closes over (what a training step's
    `backward()` needs; forward-mode dual tensors do not give that here).
    """
    x = torch.as_tensor(x).detach().requires_grad_()
    with torch.enable_grad():
        y = fn(x)
        dummy = torch.zeros_like(y, requires_grad=True)
        (vjp,) = torch.autograd.grad(y, x, dummy, create_graph=True)
        (product,) = torch.autograd.grad(vjp, dummy, tangent.to(vjp.dtype), create_graph=True)
    return y, product


def reste_backward(x, upstream, o, lower, threshold, zone_scale, floor):
    """ReSTE's `upstream * g'(x)` (`ReSTE.backward` in keras_gradstab/quantizers/reste.py).

    The formula of the `keras.ops` form there in base 2 (exp2 costs half of exp
    on CPU), on two temporaries updated in place: on CPU each out-of-place element-wise op
    allocates a fresh tensor, and for activation-sized tensors the allocation
    costs more than the arithmetic (measured 4.6 ms against 15 ms for 524k
    floats on a loaded machine). Under `create_graph` (grad mode on) in-place ops
    would break autograd: returns None there, and the caller uses the
    `keras.ops` form.
    """
    if torch.is_grad_enabled():
        return None
    inverse = 1.0 / o
    zone = torch.abs(x)
    clipped = zone.clamp(lower, threshold)
    # `floor` and `zone_scale` work in base 2 as in base e (see reste.py).
    zone.sub_(clipped).sign_().mul_(-zone_scale).add_(torch.log2(inverse)).clamp_(floor, 0.0)
    return clipped.log2_().mul_(inverse - 1.0).add_(zone).exp2_().mul_(upstream)
