"""Deep networks without skip connections whose input-output Jacobian is orthogonal."""

import keras

from keras_gradstab.layers.orthogonal_dense import OrthogonalDense


def orthogonal_jacobian_mlp(input_shape, depth, width=None, num_classes=None,
                            activation="abs", name="orthogonal_jacobian_mlp"):
    """A plain deep stack of `OrthogonalDense` layers with a norm-preserving activation.

    Flatten, then `depth` layers `OrthogonalDense(width, activation)`, then (if
    `num_classes`) a linear `OrthogonalDense(num_classes)` head giving logits. With
    `activation` `"abs"`, `"group_sort"` or `"max_min"` and `width` equal to the
    flattened input size, the Jacobian of the stack before the head is orthogonal
    almost everywhere, at initialization and after any training step (Massucco,
    Murari & Schonlieb, 2025): gradients neither vanish nor explode with depth,
    without skip connections. A `width` other than the input size makes the first
    layer a rectangular isometry (or coisometry).

    Args:
        input_shape: shape of one example (without the batch axis).
        depth: number of hidden layers, a positive integer.
        width: units per hidden layer; the flattened input size if `None`.
        num_classes: size of the linear head, or `None` for no head.
        activation: activation of the hidden layers.
        name: model name.

    Returns:
        A `keras.Sequential` model.

    Example:

    >>> from keras_gradstab.models import orthogonal_jacobian_mlp
    >>> model = orthogonal_jacobian_mlp((8, 8), depth=4, num_classes=10)
    >>> model.output_shape
    (None, 10)
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"`depth` must be a positive integer; received {depth!r}.")
    flat = 1
    for d in input_shape:
        flat *= int(d)
    width = flat if width is None else width
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"`width` must be a positive integer or None; received {width!r}.")
    layers = [keras.Input(shape=tuple(input_shape)), keras.layers.Flatten()]
    layers += [OrthogonalDense(width, activation=activation, name=f"orthogonal_dense_{i}")
               for i in range(depth)]
    if num_classes is not None:
        layers.append(OrthogonalDense(num_classes, name="head"))
    return keras.Sequential(layers, name=name)
