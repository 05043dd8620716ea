"""JAX: `jax.lax.scan` and `jax.lax.associative_scan`."""

import jax
import jax.numpy as jnp

NAME = "jax.lax.scan"
reste_backward = None
fused_recurrence = {}


def _structure_error(carry, new_carry):
    raise ValueError(
        "`fn` must return a carry with the structure, shapes and dtypes of `init`; "
        f"`init` is {carry} but `fn` returned {new_carry}."
    )


def scan(fn, init, xs, reverse=False):
    # Check the carry's type once, at trace time, so that a mismatch names the
    # argument instead of surfacing as a lax type error.
    x0 = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), xs)
    spec = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), init)
    new_carry, _ = jax.eval_shape(fn, spec, x0)
    if jax.tree_util.tree_structure(new_carry) != jax.tree_util.tree_structure(spec) or any(
        a.shape != b.shape or a.dtype != b.dtype
        for a, b in zip(jax.tree_util.tree_leaves(spec), jax.tree_util.tree_leaves(new_carry))
    ):
        _structure_error(spec, new_carry)
    return jax.lax.scan(fn, init, xs, reverse=reverse)


def associative_scan(combine, elems, axis, reverse=False):
    return jax.lax.associative_scan(combine, elems, reverse=reverse, axis=axis)


def concatenate(tensors, axis):
    return jnp.concatenate(tensors, axis=axis)


def value_and_grad(fn, args):
    """`fn(*args)` (a scalar) and its gradients w.r.t. every tensor of `args`."""
    # One compiled program: un-jitted, every primitive of a deep model is
    # dispatched (and compiled) on its own, which is slower by far.
    value, grads = jax.jit(jax.value_and_grad(lambda a: fn(*a)))(list(args))
    return value, list(grads)


def batch_jacobian(fn, x):
    """d fn(x)[b, i] / d x[b, j] for `fn` mapping [B, n] to [B, m] example by example."""
    return jax.vmap(jax.jacrev(lambda xi: fn(xi[None])[0]))(x)


def jvp(fn, x, tangent):
    """`fn(x)` and the Jacobian-vector product `J(x) tangent`, exact (forward mode).

    Differentiable: inside an outer gradient (a training step) the product's
    gradient w.r.t. the weights `fn` closes over is the exact one.
    """
    return jax.jvp(fn, (x,), (tangent,))
