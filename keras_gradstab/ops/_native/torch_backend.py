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

Like `torch.utils.checkpoint(use_reentrant=True)`, step 2 accumulates the
gradients of closed-over tensors into their `.grad` (what `loss.backward()` and
Keras's torch trainer read) rather than returning them through
`torch.autograd.grad`.
"""

import torch
from torch.utils import _pytree as pytree

from keras_gradstab.ops._native import generic

NAME = "torch._Scan"


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
        slices = [x.unbind(0) for x in x_leaves]
        length = len(slices[0])
        order = range(length - 1, -1, -1) if reverse else range(length)
        carry_leaves = init_leaves
        steps = [None] * length
        y_spec = None
        for t in order:
            with torch.enable_grad():
                inputs = [
                    c.detach().requires_grad_() if _differentiable(c) else c
                    for c in carry_leaves
                ]
                new_carry, y = fn(
                    pytree.tree_unflatten(inputs, init_spec),
                    pytree.tree_unflatten([s[t] for s in slices], x_spec),
                )
            new_leaves = _check_carry(init_leaves, init_spec, new_carry)
            y_leaves, y_spec = _flatten_y(y)
            steps[t] = (inputs, new_leaves, y_leaves)
            carry_leaves = new_leaves
        ctx.fn, ctx.reverse, ctx.steps = fn, reverse, steps
        ctx.init_spec, ctx.x_spec, ctx.n_init = init_spec, x_spec, n_init
        meta["y_spec"] = y_spec
        ctx.save_for_backward(*x_leaves)
        n_y = len(steps[0][2])
        ys = [torch.stack([steps[t][2][i] for t in range(length)]).detach() for i in range(n_y)]
        ctx.mark_non_differentiable(
            *[c for c in carry_leaves if not _differentiable(c)],
        )
        return (*[c.detach() for c in carry_leaves], *ys)

    @staticmethod
    def backward(ctx, *grads):
        n_init, steps = ctx.n_init, ctx.steps
        ctx.steps = None
        length = len(steps)
        order = range(length) if ctx.reverse else range(length - 1, -1, -1)
        carry_cot = list(grads[:n_init])
        y_cots = grads[n_init:]
        step_carry_in = [None] * length
        step_carry_cot = [None] * length
        # 1. Carry cotangents, step by step, carry paths only.
        for t in order:
            inputs, new_leaves, y_leaves = steps[t]
            steps[t] = None
            step_carry_in[t] = [c.detach() for c in inputs]
            step_carry_cot[t] = carry_cot
            outs, cots = [], []
            for out, cot in zip(new_leaves + y_leaves, carry_cot + [g[t] for g in y_cots]):
                if out.requires_grad:
                    outs.append(out)
                    cots.append(cot)
            wanted = [c for c in inputs if c.requires_grad]
            found = (
                torch.autograd.grad(outs, wanted, cots, allow_unused=True)
                if outs and wanted
                else [None] * len(wanted)
            )
            found = iter(found)
            carry_cot = []
            for c in inputs:
                g = next(found) if c.requires_grad else None
                carry_cot.append(torch.zeros_like(c) if g is None and _differentiable(c) else g)
        init_grads = [g if _differentiable(c) else None for g, c in zip(carry_cot, step_carry_in[0])]
        # 2. Gradients of xs and of closed-over tensors from one batched call.
        x_leaves = [
            x.detach().requires_grad_() if _differentiable(x) else x for x in ctx.saved_tensors
        ]
        carries = [
            torch.stack([step_carry_in[t][i] for t in range(length)]) for i in range(n_init)
        ]
        carry_cots = [
            None
            if not _differentiable(step_carry_in[0][i])
            else torch.stack([step_carry_cot[t][i] for t in range(length)])
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


def value_and_gradients(loss_fn, variables):
    """`loss_fn()` and its gradients w.r.t. the Keras `variables` (diagnostics only)."""
    values = [v.value for v in variables]
    loss = loss_fn()
    grads = torch.autograd.grad(loss, values, allow_unused=True)
    return loss.detach(), [
        torch.zeros_like(v) if g is None else g for v, g in zip(values, grads)
    ]
