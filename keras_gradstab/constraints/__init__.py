"""Constraints: projections applied to weights after each optimizer step.

`get`, `serialize` and `deserialize` follow `keras.constraints`; string names
("orthogonal_conv") resolve to this library's classes, any other identifier is
handed to `keras.constraints.get`.
"""

import keras

from keras_gradstab import _registry
from keras_gradstab.constraints.orthogonal_conv import OrthogonalConv
from keras_gradstab.constraints.weight_clip import WeightClip

__all__ = ["OrthogonalConv", "WeightClip", "deserialize", "get", "serialize"]

ALL_OBJECTS_DICT = {
    "OrthogonalConv": OrthogonalConv,
    "orthogonal_conv": OrthogonalConv,
    "WeightClip": WeightClip,
    "weight_clip": WeightClip,
}

_REGISTRY = _registry.Registry(
    "constraints",
    ALL_OBJECTS_DICT,
    keras_area=keras.constraints,
    base_class=keras.constraints.Constraint,
)


# The three functions are documented together by `Registry.document`.
def serialize(constraint):
    return _REGISTRY.serialize(constraint)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    return _REGISTRY.get(identifier)


_REGISTRY.document(serialize, deserialize, get, example="WeightClip(0.5)", attr="clip_value")
