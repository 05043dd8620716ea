"""An optimizer that trains the skew parameters of the Cayley matrices at their own rate."""

import keras

from keras_gradstab.ops._checks import is_finite_number

SKEW_WEIGHT_NAMES = ("recurrent_skew", "reset_skew")
SKEW_PATTERN = r"(.*/)?(" + "|".join(SKEW_WEIGHT_NAMES) + ")"


def skew_learning_rate_optimizer(optimizer, skew_learning_rate=None, skew_optimizer=None):
    """Wraps `optimizer` so that the skew parameters have their own optimizer.

    scoRNN, NC-GRU and ENRNN train the skew parameter A of their scaled Cayley
    matrices with a smaller learning rate than the other weights (e.g. RMSprop
    1e-4 for A against 1e-3 for the rest in scoRNN, or 1e-5 for ENRNN's A). Those
    rates apply here as they are: the layers store A as the strictly upper
    triangle of `X` (`A = triu(X, 1) - triu(X, 1)^T`), whose gradient is the
    papers' `dL/dA` (scoRNN's `V^T - V`), so a step of rate `lr` changes A by
    exactly the papers' step of rate `lr`, for SGD and for any element-wise
    optimizer (RMSprop, Adam). This builds a
    `keras.optimizers.MultiOptimizer` that sends every weight named
    `recurrent_skew` or `reset_skew` (those of `ScoRNN`, `NCGRU`, `ENRNN` and their
    cells) to `skew_optimizer`, and every other weight to `optimizer`.

    Args:
        optimizer: the `keras.optimizers.Optimizer` for every other weight.
        skew_learning_rate: learning rate of the skew parameters; the skew
            optimizer is then a copy of `optimizer` with this rate. Give this or
            `skew_optimizer`.
        skew_optimizer: an optimizer instance for the skew parameters.

    Returns:
        A `keras.optimizers.MultiOptimizer` to pass to `model.compile`.

    Example:

    >>> import keras
    >>> from keras_gradstab.layers import NCGRU, skew_learning_rate_optimizer
    >>> model = keras.Sequential([keras.Input((10, 3)), NCGRU(8), keras.layers.Dense(1)])
    >>> optimizer = skew_learning_rate_optimizer(keras.optimizers.RMSprop(1e-3), 1e-4)
    >>> model.compile(optimizer=optimizer, loss="mse")
    """
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(
            f"`optimizer` must be a keras.optimizers.Optimizer; received {optimizer!r}."
        )
    if (skew_learning_rate is None) == (skew_optimizer is None):
        raise ValueError(
            "Give exactly one of `skew_learning_rate` and `skew_optimizer`; received "
            f"skew_learning_rate={skew_learning_rate!r}, skew_optimizer={skew_optimizer!r}."
        )
    if skew_optimizer is None:
        if not (is_finite_number(skew_learning_rate) and skew_learning_rate >= 0):
            raise ValueError(
                "`skew_learning_rate` must be a finite number >= 0; received "
                f"{skew_learning_rate!r}."
            )
        config = optimizer.get_config()
        config["learning_rate"] = float(skew_learning_rate)
        config["name"] = f"{optimizer.name}_skew"
        skew_optimizer = optimizer.__class__.from_config(config)
    elif not isinstance(skew_optimizer, keras.optimizers.Optimizer):
        raise ValueError(
            f"`skew_optimizer` must be a keras.optimizers.Optimizer; received {skew_optimizer!r}."
        )
    mapping = keras.optimizers.OptimizerMap(optimizer, {SKEW_PATTERN: skew_optimizer})
    return keras.optimizers.MultiOptimizer(mapping)
