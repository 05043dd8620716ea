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
    names=_NAMES,
    objects=_OBJECTS,
    base_class=keras.initializers.Initializer,
    keras_get=keras.initializers.get,
    keras_deserialize=keras.initializers.deserialize,
    own_through_keras=True,
)


# The three functions are documented together in `_registry.document`.
def serialize(initializer):
    return _registry.serialize(initializer)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    return _REGISTRY.get(identifier)


_registry.document(
    serialize,
    deserialize,
    get,
    area="initializers",
    kind="initializer",
    example="DeltaOrthogonal(gain=2.0)",
    registered_name="DeltaOrthogonal",
    class_name="DeltaOrthogonal",
    attr="gain",
    value=2.0,
    names='"delta_orthogonal" and "DeltaOrthogonal"; `Critical` needs an activation, so it has no bare name',
    get_name="delta_orthogonal",
)
