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

_OBJECTS = {
    "Critical": Critical,
    "DeltaOrthogonal": DeltaOrthogonal,
    "delta_orthogonal": DeltaOrthogonal,
    "LimitCycle": LimitCycle,
}
# Names that `get` builds with default arguments.
_NAMES = {"delta_orthogonal": DeltaOrthogonal, "DeltaOrthogonal": DeltaOrthogonal}

_REGISTRY = _registry.Registry(
    "initializers",
    _NAMES,
    objects=_OBJECTS,
    keras_area=keras.initializers,
    base_class=keras.initializers.Initializer,
    own_through_keras=True,
)


# The three functions are documented together by `Registry.document`.
def serialize(initializer):
    return _REGISTRY.serialize(initializer)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    return _REGISTRY.get(identifier)


_REGISTRY.document(
    serialize,
    deserialize,
    get,
    example="DeltaOrthogonal(gain=2.0)",
    attr="gain",
    names='"delta_orthogonal" and "DeltaOrthogonal"; `Critical` needs an activation, '
    "so it has no bare name",
)
