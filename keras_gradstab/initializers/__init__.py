"""Initializers: critical initialization for any activation, delta-orthogonal kernels, limit cycles.

`get`, `serialize` and `deserialize` resolve this area's class names first and
fall back to `keras.initializers`.
"""

import keras

from keras_gradstab import _registry
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
# Names that `get` builds with default arguments.
_NAMES = {"delta_orthogonal": DeltaOrthogonal, "DeltaOrthogonal": DeltaOrthogonal}

_REGISTRY = _registry.Registry(
    names=_NAMES, objects=_OBJECTS, base_class=keras.initializers.Initializer,
    keras_get=keras.initializers.get,
    keras_deserialize=keras.initializers.deserialize, own_through_keras=True,
)


def serialize(initializer):
    """The Keras config dict of `initializer` (`None` stays `None`).

    Args:
        initializer: an initializer instance (this library's or Keras's), or
            `None`.

    Returns:
        A JSON-able dict that `deserialize` turns back into an equal initializer.

    Example:

    >>> from keras_gradstab import initializers
    >>> config = initializers.serialize(initializers.DeltaOrthogonal(gain=2.0))
    >>> config["registered_name"]
    'keras_gradstab>DeltaOrthogonal'
    >>> config["config"]["gain"]
    2.0
    """
    return _registry.serialize(initializer)


def deserialize(config, custom_objects=None):
    """An initializer from its config dict or name, this area's names first.

    Keras's own initializer names and dicts ("glorot_uniform", ...) work too.

    Args:
        config: a dict from `serialize`, or an initializer name.
        custom_objects: optional `{name: class}` of more classes to look up.

    Returns:
        A new initializer instance.

    Example:

    >>> from keras_gradstab import initializers
    >>> config = initializers.serialize(initializers.DeltaOrthogonal(gain=2.0))
    >>> init = initializers.deserialize(config)
    >>> type(init).__name__, init.gain
    ('DeltaOrthogonal', 2.0)
    """
    return _REGISTRY.deserialize(config, custom_objects)


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
    return _REGISTRY.get(identifier)
