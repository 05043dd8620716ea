"""Regularizers: penalties that pull weights toward gradient-preserving sets.

`get`, `serialize` and `deserialize` follow `keras.regularizers`; string names
("orthogonal_conv") resolve to this library's classes, any other identifier is
handed to `keras.regularizers.get`.
"""

import keras

from keras_gradstab.regularizers.jacobian_orthogonality import JacobianOrthogonality
from keras_gradstab.regularizers.orthogonal_conv import OrthogonalConv

__all__ = ["JacobianOrthogonality", "OrthogonalConv", "deserialize", "get", "serialize"]

ALL_OBJECTS_DICT = {
    "OrthogonalConv": OrthogonalConv,
    "orthogonal_conv": OrthogonalConv,
    "JacobianOrthogonality": JacobianOrthogonality,
}


def serialize(regularizer):
    """The Keras config dict of `regularizer`."""
    return keras.saving.serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    """A regularizer from its config dict (or registered name)."""
    return keras.saving.deserialize_keras_object(
        config, module_objects=ALL_OBJECTS_DICT, custom_objects=custom_objects
    )


def get(identifier):
    """A regularizer from an instance, a config dict, a name or None.

    Example:

    >>> from keras_gradstab import regularizers
    >>> type(regularizers.get("orthogonal_conv")).__name__
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
    if isinstance(identifier, keras.regularizers.Regularizer):
        return identifier
    return keras.regularizers.get(identifier)
