"""A builder for self-normalizing MLPs (Klambauer et al., 2017)."""

import keras

from keras_gradstab.activations import SELU
from keras_gradstab.activations import selu as _selu
from keras_gradstab.layers import AlphaDropout


def snn(
    input_shape,
    units=256,
    depth=8,
    output_units=None,
    output_activation=None,
    dropout_rate=0.05,
    fixed_point=(0.0, 1.0),
    standardize=False,
    activation=None,
    kernel_initializer="lecun_normal",
    name="snn",
):
    """A self-normalizing MLP: Dense + selu + lecun_normal (+ AlphaDropout).

    Klambauer et al.'s recipe: standardized inputs; `depth` hidden `Dense`
    layers with selu (for the fixed point `fixed_point`) and weights of
    variance 1 / fan_in; `AlphaDropout` for the same fixed point after each
    hidden layer; no batch normalization. Activations then converge to the
    fixed point's mean and variance whatever the depth. `activation` and
    `kernel_initializer` override the recipe, to build the same network
    without it for comparisons.

    A fixed point other than (0, 1) sets the selu's (alpha, scale) and the
    AlphaDropout's affine map; note that the paper's equations for it assume
    preactivations of mean `mu`, which zero-mean random weights (lecun_normal)
    do not give: such a stack settles where the preactivation mean is 0.

    Args:
        input_shape: the shape of one example, e.g. `(784,)`.
        units: width of every hidden layer.
        depth: number of hidden layers.
        output_units: units of a final `Dense` layer; None for no head.
        output_activation: its activation (e.g. "softmax").
        dropout_rate: the `AlphaDropout` rate (0 for none).
        fixed_point: `(mean, variance)` of the selu fixed point.
        standardize: start with a `keras.layers.Normalization` layer named
            "standardize" (call its `adapt` on the training data).
        activation: hidden activation; default selu for `fixed_point`.
        kernel_initializer: hidden kernel initializer (default lecun_normal).
        name: the model's name.

    Returns:
        A `keras.Sequential` model.

    Example:

    >>> from keras_gradstab.models import snn
    >>> model = snn((20,), units=64, depth=4, output_units=3, output_activation="softmax")
    >>> model.output_shape
    (None, 3)

    References:
        - *Self-Normalizing Neural Networks*, G. Klambauer, T. Unterthiner, A. Mayr,
          S. Hochreiter, NeurIPS 2017. <https://arxiv.org/abs/1706.02515>
    """
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"`depth` must be an integer >= 1; received depth={depth!r}.")
    if not isinstance(units, int) or units < 1:
        raise ValueError(f"`units` must be an integer >= 1; received units={units!r}.")
    fixed_point = (float(fixed_point[0]), float(fixed_point[1]))
    if activation is None:
        activation = _selu if fixed_point == (0.0, 1.0) else SELU(fixed_point)
    layers = [keras.Input(tuple(input_shape))]
    if standardize:
        layers.append(keras.layers.Normalization(name="standardize"))
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten(name="flatten"))
    for i in range(depth):
        layers.append(
            keras.layers.Dense(
                units,
                activation=activation,
                kernel_initializer=kernel_initializer,
                name=f"dense_{i}",
            )
        )
        if dropout_rate:
            layers.append(
                AlphaDropout(dropout_rate, fixed_point=fixed_point, name=f"alpha_dropout_{i}")
            )
    if output_units is not None:
        layers.append(
            keras.layers.Dense(
                output_units,
                activation=output_activation,
                kernel_initializer="lecun_normal",
                name="output",
            )
        )
    return keras.Sequential(layers, name=name)
