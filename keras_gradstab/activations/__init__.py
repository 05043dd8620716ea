"""Activations: `selu` with free parameters, `selu_parameters` for any fixed point.

`get`, `serialize` and `deserialize` resolve this area's names first
("selu" is ours, with the paper's (0, 1) parameters) and fall back to
`keras.activations` for every other name.
"""

import keras

from keras_gradstab.activations.selu import SELU, selu, selu_parameters

__all__ = ["SELU", "deserialize", "get", "selu", "selu_parameters", "serialize"]

_OBJECTS = {"selu": selu, "SELU": SELU}


def serialize(activation):
    """The config of `activation` (a name for functions, a dict for objects)."""
    return keras.activations.serialize(activation)


def deserialize(config, custom_objects=None):
    """The activation of `config`, looking up this area's names first."""
    objects = dict(_OBJECTS)
    objects.update(custom_objects or {})
    if isinstance(config, str) and config in objects:
        return objects[config]
    return keras.saving.deserialize_keras_object(
        config,
        module_objects={**keras.activations.__dict__, **objects},
        custom_objects=custom_objects,
    )


def get(identifier):
    """An activation from a name, a config dict or a callable.

    Args:
        identifier: `None` (linear), a string ("selu" is this area's, other
            names are Keras's), a config dict, or a callable.

    Returns:
        A callable activation.

    Example:

    >>> from keras_gradstab import activations
    >>> activations.get("selu") is activations.selu
    True
    """
    if identifier is None:
        return keras.activations.linear
    if isinstance(identifier, str):
        if identifier in _OBJECTS and identifier != "SELU":
            return _OBJECTS[identifier]
        return keras.activations.get(identifier)
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    else:
        obj = identifier
    if callable(obj):
        return obj
    raise ValueError(
        "`identifier` must be None, an activation name, a config dict or a "
        f"callable; received {identifier!r}."
    )
