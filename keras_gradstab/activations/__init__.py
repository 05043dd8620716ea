"""Activations: `selu` for any fixed point, `modrelu`, and the norm-preserving `abs`, `group_sort`, `max_min`.

`get`, `serialize` and `deserialize` resolve this area's names first and fall
back to `keras.activations` for every other name.
"""

import keras

from keras_gradstab import _registry
from keras_gradstab.activations.modrelu import modrelu
from keras_gradstab.activations.norm_preserving import abs, group_sort, max_min
from keras_gradstab.activations.selu import SELU, selu, selu_parameters

__all__ = [
    "SELU",
    "abs",
    "deserialize",
    "get",
    "group_sort",
    "max_min",
    "modrelu",
    "selu",
    "selu_parameters",
    "serialize",
]

# Functions by name; `SELU` (a class with parameters) serializes as a config dict.
_FUNCTIONS = {
    "abs": abs,
    "group_sort": group_sort,
    "max_min": max_min,
    "modrelu": modrelu,
    "selu": selu,
}
_REGISTRY = _registry.Registry(
    "activations",
    _FUNCTIONS,
    objects={**_FUNCTIONS, "SELU": SELU},
    keras_area=keras.activations,
    default=keras.activations.linear,
    own_through_keras=True,
)


def serialize(activation):
    """The config of `activation`: a name for this area's functions, else as Keras does.

    Args:
        activation: an activation function (this area's or Keras's) or a
            `SELU` instance.

    Returns:
        A name (this area's functions and Keras's) or a config dict (`SELU`).

    Example:

    >>> from keras_gradstab import activations
    >>> activations.serialize(activations.modrelu)
    'modrelu'
    >>> activations.serialize(activations.SELU(fixed_point=(-0.1, 2.0)))["registered_name"]
    'keras_gradstab>SELU'
    """
    return _REGISTRY.serialize(activation)


def deserialize(config, custom_objects=None):
    """The activation of `config`, looking up this area's names first.

    Args:
        config: a name (this area's first, then Keras's) or a config dict from
            `serialize`.
        custom_objects: optional `{name: object}` of more activations.

    Returns:
        The activation (a function, or a new `SELU` instance for its dict).

    Example:

    >>> from keras_gradstab import activations
    >>> activations.deserialize("group_sort") is activations.group_sort
    True
    >>> selu = activations.deserialize(activations.serialize(activations.SELU(fixed_point=(-0.1, 2.0))))
    >>> round(selu.alpha, 6), round(selu.scale, 6)
    (1.976902, 1.073851)
    """
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    """An activation from a name, a config dict or a callable.

    Args:
        identifier: `None` (linear), a string (this area's names first, then
            Keras's), a config dict, or a callable.

    Returns:
        A callable activation.

    Example:

    >>> from keras_gradstab import activations
    >>> activations.get("selu") is activations.selu
    True
    """
    return _REGISTRY.get(identifier)
