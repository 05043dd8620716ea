"""Constraints: projections applied to weights after each optimizer step.

`get`, `serialize` and `deserialize` follow `keras.constraints`; string names
("orthogonal_conv") resolve to this library's classes, any other identifier is
handed to `keras.constraints.get`.
"""

import keras

from keras_gradstab.constraints.orthogonal_conv import OrthogonalConv
from keras_gradstab.constraints.weight_clip import WeightClip

__all__ = ["OrthogonalConv", "WeightClip", "deserialize", "get", "serialize"]

ALL_OBJECTS_DICT = {
    "OrthogonalConv": OrthogonalConv,
    "orthogonal_conv": OrthogonalConv,
    "WeightClip": WeightClip,
    "weight_clip": WeightClip,
}


def serialize(constraint):
    """The Keras config dict of `constraint`."""
    return keras.saving.serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    """A constraint from its config dict (or registered name)."""
    return keras.saving.deserialize_keras_object(
        config, module_objects=ALL_OBJECTS_DICT, custom_objects=custom_objects
    )


def get(identifier):
    """A constraint from an instance, a config dict, a name or None.

    Example:

    >>> from keras_gradstab import constraints
    >>> type(constraints.get("orthogonal_conv")).__name__
    'OrthogonalConv'
    """
    if identifier is None:
        return None
    if isinstance(identifier, str) and identifier in ALL_OBJECTS_DICT:
        return ALL_OBJECTS_DICT[identifier]()
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name in ALL_OBJECTS_DICT or str(name).startswith("keras_gradstab>"):
            return deserialize(identifier)
    if isinstance(identifier, keras.constraints.Constraint):
        return identifier
    return keras.constraints.get(identifier)
