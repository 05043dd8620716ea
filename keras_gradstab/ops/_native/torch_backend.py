"""PyTorch: a scan whose backward pass does not pay autograd's cost per weight.

Measured on a 2-core CPU (benchmarks/RESULTS.md), a recurrence under plain
autograd spends most of its time in the backward pass, on the bookkeeping of one
graph node per operation per step. `_Scan` splits the backward pass in two:

1. The carry's cotangents run backwards step by step, each through its own small
   autograd graph built during the forward pass, asking only for the gradient of
   the step's input carry (so the weight-gradient products are skipped).
2. With every step's input carry and output cotangent known, `fn` is called once
   on all steps together (`torch.func.vmap` over time) and one backward call
   through that batched graph gives the gradients of `xs` and of every tensor `fn`
   closes over: a few large matrix products instead of T small ones.

The per-step parts (the forward loop and step 1) run on one intra-op thread
(`KERAS_GRADSTAB_TORCH_STEP_THREADS`, default 1): their tensors are too small to
gain from more, and on a loaded machine two OpenMP threads waiting on each other
at every small op made a 256-step scan 17x slower (14.3 s against 0.83 s,
measured here). Step 2's large products keep the caller's thread count.

Like `torch.utils.checkpoint(use_reentrant=True)`, step 2 accumulates the
gradients of closed-over tensors into their `.grad` (what `loss.backward()` and
Keras's torch trainer read) rather than returning them through
`torch.autograd.grad`.
"""

import contextlib
import os

import torch
from torch.utils import _pytree as pytree

from keras_gradstab.ops._native import generic

NAME = "torch._Scan"
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


def _differentiable(x):
    return x.is_floating_point() or x.is_complex()


def _no_grad_scan(fn, init, xs, reverse):
    with _step_threads():
        return _no_grad_loop(fn, init, xs, reverse)


def _no_grad_loop(fn, init, xs, reverse):
    init_leaves, init_spec = pytree.tree_flatten(init)
    x_leaves, x_spec = pytree.tree_flatten(xs)
    slices = [x.unbind(0) for x in x_leaves]
    length = len(slices[0])
    steps = range(length - 1, -1, -1) if reverse else range(length)
    carry = init
    ys = [None] * length
    y_spec = None
    for t in steps:
        carry, y = fn(carry, pytree.tree_unflatten([s[t] for s in slices], x_spec))
        if t == steps[0]:
            _check_carry(init_leaves, init_spec, carry)
        ys[t], y_spec = _flatten_y(y)
    stacked = [torch.stack([ys[t][i] for t in range(length)]) for i in range(len(ys[0]))]
    return carry, _unflatten_y(stacked, y_spec)


class _Scan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fn, reverse, meta, n_init, anchor, *flat):
        init_spec, x_spec = meta["init_spec"], meta["x_spec"]
        init_leaves, x_leaves = list(flat[:n_init]), flat[n_init:]
        slices = [x.unbind(0) for x in x_leaves]  # outside the graph: no x gradients here
        length = len(slices[0])
        order = list(range(length - 1, -1, -1) if reverse else range(length))
        carry_in = [None] * length  # the carry each step received, as values
        carry_cot = [[None] * n_init for _ in range(length)]  # filled by hooks in backward
        y_steps = [None] * length
        y_spec = None

        def hook(t, i):
            def store(grad):
                carry_cot[t][i] = grad

            return store

        with torch.enable_grad(), _step_threads():
            start = [c.detach().requires_grad_() if _differentiable(c) else c for c in init_leaves]
            carry = start
            previous = None
            for t in order:
                if previous is not None:
                    # An identity view between steps: its gradient is exactly what the
                    # later steps send back to `previous`'s carry output, without the
                    # part that reaches it through `previous`'s own y.
                    carry = [c.view_as(c) if c.requires_grad else c for c in carry]
                    for i, c in enumerate(carry):
                        if c.requires_grad:
                            c.register_hook(hook(previous, i))
                carry_in[t] = [c.detach() for c in carry]
                new_carry, y = fn(
                    pytree.tree_unflatten(carry, init_spec),
                    pytree.tree_unflatten([s[t] for s in slices], x_spec),
                )
                if previous is None:
                    carry = _check_carry(init_leaves, init_spec, new_carry)
                else:
                    carry = pytree.tree_leaves(new_carry)
                y_steps[t], y_spec = _flatten_y(y)
                previous = t
            ys = [torch.stack([y_steps[t][i] for t in range(length)]) for i in range(len(y_steps[0]))]
        ctx.fn, ctx.reverse, ctx.last = fn, reverse, previous
        ctx.init_spec, ctx.x_spec, ctx.n_init = init_spec, x_spec, n_init
        ctx.graph = (start, carry, ys)
        ctx.carry_in, ctx.carry_cot = carry_in, carry_cot
        meta["y_spec"] = y_spec
        ctx.save_for_backward(*x_leaves)
        ctx.mark_non_differentiable(*[c for c in carry if not _differentiable(c)])
        return (*[c.detach() for c in carry], *[y.detach() for y in ys])

    @staticmethod
    def backward(ctx, *grads):
        n_init, length = ctx.n_init, len(ctx.carry_in)
        start, carry, ys = ctx.graph
        ctx.graph = None
        carry_in, carry_cot = ctx.carry_in, ctx.carry_cot
        y_cots = grads[n_init:]
        carry_cot[ctx.last] = list(grads[:n_init])
        # 1. Carry cotangents: one backward call through the chain of steps, asking
        #    only for the initial carry, so no weight-gradient product runs; the
        #    hooks record what reaches each step's carry.
        pairs = [(o, g) for o, g in zip(carry + ys, list(grads)) if o.requires_grad]
        wanted = [c for c in start if c.requires_grad]
        with _step_threads():
            found = iter(
                torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                    allow_unused=True)
                if pairs and wanted
                else [None] * len(wanted)
            )
        init_grads = []
        for c in start:
            g = next(found) if c.requires_grad else None
            init_grads.append(torch.zeros_like(c) if g is None and _differentiable(c) else g)
        # 2. Gradients of xs and of closed-over tensors from one batched call.
        x_leaves = [
            x.detach().requires_grad_() if _differentiable(x) else x for x in ctx.saved_tensors
        ]
        carries = [torch.stack([carry_in[t][i] for t in range(length)]) for i in range(n_init)]
        carry_cots = [
            None
            if not _differentiable(carry_in[0][i])
            else torch.stack(
                [
                    torch.zeros_like(carry_in[t][i]) if carry_cot[t][i] is None else carry_cot[t][i]
                    for t in range(length)
                ]
            )
            for i in range(n_init)
        ]
        fn, init_spec, x_spec = ctx.fn, ctx.init_spec, ctx.x_spec

        def all_steps(carry_leaves, x_leaves):
            new_carry, y = fn(
                pytree.tree_unflatten(list(carry_leaves), init_spec),
                pytree.tree_unflatten(list(x_leaves), x_spec),
            )
            return tuple(pytree.tree_leaves(new_carry) + _flatten_y(y)[0])

        with torch.enable_grad():
            outs = torch.func.vmap(all_steps)(tuple(carries), tuple(x_leaves))
            pairs = [
                (o, g)
                for o, g in zip(outs, carry_cots + list(y_cots))
                if g is not None and o.requires_grad
            ]
            if pairs:
                torch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        x_grads = [x.grad if x.requires_grad else None for x in x_leaves]
        return (None, None, None, None, None, *init_grads, *x_grads)


def scan(fn, init, xs, reverse=False):
    if not torch.is_grad_enabled():
        return _no_grad_scan(fn, init, xs, reverse)
    init_leaves, init_spec = pytree.tree_flatten(init)
    x_leaves, x_spec = pytree.tree_flatten(xs)
    # The anchor makes the loop part of the autograd graph even when neither
    # `init` nor `xs` needs a gradient but the weights `fn` closes over do.
    anchor = torch.zeros((), requires_grad=True)
    meta = {"init_spec": init_spec, "x_spec": x_spec}
    out = _Scan.apply(fn, reverse, meta, len(init_leaves), anchor, *init_leaves, *x_leaves)
    carry = pytree.tree_unflatten(list(out[: len(init_leaves)]), init_spec)
    return carry, _unflatten_y(list(out[len(init_leaves) :]), meta["y_spec"])


def value_and_grad(fn, args):
    """`fn(*args)` (a scalar) and its gradients w.r.t. every tensor of `args`.

    Gradients are read from `.grad` after `backward()`, not from
    `torch.autograd.grad`: `scan` above delivers the gradients of the tensors
    its step closes over that way.
    """
    leaves = [torch.as_tensor(a).detach().requires_grad_() for a in args]
    with torch.enable_grad():
        value = fn(*leaves)
        value.backward()
    return value.detach(), [
        torch.zeros_like(a) if a.grad is None else a.grad for a in leaves
    ]


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
