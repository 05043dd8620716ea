"""Initializers: critical initialization for any activation, delta-orthogonal kernels, limit cycles.

`get`, `serialize` and `deserialize` resolve this area's class names first and
fall back to `keras.initializers`.
"""

import keras

from keras_gradstab.initializers.critical import Critical, critical_parameters
from keras_gradstab.initializers.delta_orthogonal import DeltaOrthogonal
from keras_gradstab.initializers.limit_cycle import LimitCycle, put_on_limit_cycle

__all__ = [
    "Critical",
    "DeltaOrthogonal",
    "LimitCycle",
    "critical_parameters",
    "deserialize",
    "get",
    "put_on_limit_cycle",
    "serialize",
]

_OBJECTS = {"Critical": Critical, "DeltaOrthogonal": DeltaOrthogonal,
            "delta_orthogonal": DeltaOrthogonal, "LimitCycle": LimitCycle}


def serialize(initializer):
    """The config dict of `initializer`."""
    return keras.initializers.serialize(initializer)


def deserialize(config, custom_objects=None):
    """The initializer of `config`, looking up this area's names first."""
    return keras.initializers.deserialize(config, custom_objects={**_OBJECTS,
                                                                  **(custom_objects or {})})


def get(identifier):
    """An initializer from a name, a config dict or an instance.

    Args:
        identifier: "delta_orthogonal" (this area's; `Critical` needs an
            activation so it has no bare name), a Keras initializer name, a
            config dict, or an initializer.

    Returns:
        An initializer.

    Example:

    >>> from keras_gradstab import initializers
    >>> type(initializers.get("delta_orthogonal")).__name__
    'DeltaOrthogonal'
    """
    if isinstance(identifier, str) and identifier in ("delta_orthogonal", "DeltaOrthogonal"):
        return DeltaOrthogonal()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    return keras.initializers.get(identifier)
