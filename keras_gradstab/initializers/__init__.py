"""Initializers: critical initialization for any activation, delta-orthogonal kernels, limit cycles."""

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
    "initializers", _NAMES, objects=_OBJECTS, keras_area=keras.initializers, own_through_keras=True
)
serialize, deserialize, get = _REGISTRY.functions(
    example="DeltaOrthogonal(gain=2.0)",
    attr="gain",
    names='"delta_orthogonal" and "DeltaOrthogonal"; `Critical` needs an activation, '
    "so it has no bare name",
)
