"""JAX: `jax.lax.scan` and `jax.lax.associative_scan`."""

import jax
import jax.numpy as jnp

NAME = "jax.lax.scan"


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


def value_and_gradients(loss_fn, variables):
    """`loss_fn()` and its gradients w.r.t. the Keras `variables` (diagnostics only)."""
    import keras

    def loss_of(values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return loss_fn()

    loss, grads = jax.value_and_grad(loss_of)([v.value for v in variables])
    return loss, list(grads)
