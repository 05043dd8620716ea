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
    names=ALL_OBJECTS_DICT,
    objects=ALL_OBJECTS_DICT,
    base_class=keras.constraints.Constraint,
    keras_get=keras.constraints.get,
    keras_deserialize=keras.constraints.deserialize,
)


# The three functions are documented together in `_registry.document`.
def serialize(constraint):
    return _registry.serialize(constraint)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    return _REGISTRY.get(identifier)


_registry.document(
    serialize,
    deserialize,
    get,
    area="constraints",
    kind="constraint",
    example="WeightClip(0.5)",
    registered_name="WeightClip",
    class_name="WeightClip",
    attr="clip_value",
    value=0.5,
    names='"orthogonal_conv", "weight_clip" and the class names',
    get_name="orthogonal_conv",
)
