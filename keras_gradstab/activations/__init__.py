"""Activations of the library, with `get`, `serialize` and `deserialize` by name."""

import keras

from keras_gradstab.activations.norm_preserving import abs, group_sort, max_min

_BY_NAME = {
    "abs": abs,
    "group_sort": group_sort,
    "max_min": max_min,
}


def get(identifier):
    """An activation function from a name, a serialized dict or a callable.

    Our names (`"abs"`, `"group_sort"`, `"max_min"`) come first; anything else goes
    to `keras.activations.get`.
    """
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    if isinstance(identifier, dict):
        return deserialize(identifier)
    return keras.activations.get(identifier)


def serialize(activation):
    """Our activations serialize to their name; the rest as Keras does."""
    for name, fn in _BY_NAME.items():
        if activation is fn:
            return name
    return keras.activations.serialize(activation)


def deserialize(config):
    """Inverse of `serialize`."""
    if isinstance(config, str):
        return get(config)
    return keras.saving.deserialize_keras_object(config)


__all__ = [
    "abs",
    "deserialize",
    "get",
    "group_sort",
    "max_min",
    "serialize",
]
