"""Activations whose Jacobian is orthogonal almost everywhere (|derivative| = 1).

With them, `U sigma(V x + b)` with orthogonal U, V has an orthogonal input-output
Jacobian almost everywhere (Massucco, Murari & Schonlieb, 2025): `abs` gives a
diagonal of +-1, `group_sort` and `max_min` give permutation matrices.
"""

import keras
from keras import ops


def _check_axis_size(name, size, group):
    if size is not None and size % group:
        raise ValueError(
            f"{name} needs the size of the sorted axis ({size}) to be a multiple of {group}."
        )


@keras.saving.register_keras_serializable(package="keras_gradstab")
def abs(x):  # noqa: A001 - the activation's name in the paper and in `get("abs")`
    """The absolute value `|x|`, whose derivative is +-1 almost everywhere.

    Args:
        x: input tensor.

    Returns:
        `|x|`.

    Example:

    >>> import keras
    >>> from keras_gradstab import activations
    >>> keras.ops.convert_to_numpy(activations.abs(keras.ops.array([-2.0, 3.0]))).tolist()
    [2.0, 3.0]

    References:
        - E. Massucco, D. Murari, C.-B. Schönlieb, orthogonal-Jacobian networks,
          2025. <https://arxiv.org/abs/2508.02882>
    """
    return ops.absolute(x)


@keras.saving.register_keras_serializable(package="keras_gradstab")
def group_sort(x, group_size=2, axis=-1):
    """GroupSort (Anil, Lucas & Grosse, 2019): sorts each group of units, ascending.

    The units along `axis` split into consecutive groups of `group_size`; each group
    is sorted. The Jacobian is a permutation matrix. `group_size=2` is MaxMin on
    adjacent pairs (min first).

    Args:
        x: input tensor.
        group_size: units per group, an integer >= 1 that divides the axis size.
        axis: the axis of the units.

    Returns:
        A tensor of the shape of `x`.

    Example:

    >>> import keras
    >>> from keras_gradstab import activations
    >>> x = keras.ops.array([[3.0, 1.0, -1.0, 2.0]])
    >>> keras.ops.convert_to_numpy(activations.group_sort(x)).tolist()
    [[1.0, 3.0, -1.0, 2.0]]

    References:
        - *Sorting Out Lipschitz Function Approximation*, C. Anil, J. Lucas, R.
          Grosse, ICML 2019. <https://arxiv.org/abs/1811.05381>
    """
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"`group_size` must be an integer >= 1; received {group_size!r}.")
    x = ops.convert_to_tensor(x)
    axis = axis % len(x.shape)
    size = x.shape[axis]
    _check_axis_size("group_sort", size, group_size)
    moved = ops.moveaxis(x, axis, -1)
    shape = ops.shape(moved)
    grouped = ops.reshape(moved, tuple(shape[:-1]) + (size // group_size, group_size))
    out = ops.reshape(ops.sort(grouped, axis=-1), shape)
    return ops.moveaxis(out, -1, axis)


@keras.saving.register_keras_serializable(package="keras_gradstab")
def max_min(x, axis=-1):
    """MaxMin (Chernodub & Nowicki, 2016): `[max(a, b), min(a, b)]` of the two halves.

    The units along `axis` split into halves `a` and `b`; the output is the
    elementwise max of the halves followed by their min. The Jacobian is a
    permutation matrix.

    Args:
        x: input tensor; the axis size must be even.
        axis: the axis of the units.

    Returns:
        A tensor of the shape of `x`.

    Example:

    >>> import keras
    >>> from keras_gradstab import activations
    >>> x = keras.ops.array([[3.0, -1.0, 1.0, 2.0]])
    >>> keras.ops.convert_to_numpy(activations.max_min(x)).tolist()
    [[3.0, 2.0, 1.0, -1.0]]

    References:
        - *Norm-preserving Orthogonal Permutation Linear Unit Activation Functions
          (OPLU)*, A. Chernodub, D. Nowicki, 2016.
        - *Sorting Out Lipschitz Function Approximation*, C. Anil, J. Lucas, R.
          Grosse, ICML 2019. <https://arxiv.org/abs/1811.05381>
    """
    x = ops.convert_to_tensor(x)
    _check_axis_size("max_min", x.shape[axis], 2)
    a, b = ops.split(x, 2, axis=axis)
    return ops.concatenate([ops.maximum(a, b), ops.minimum(a, b)], axis=axis)
