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
    names=ALL_OBJECTS_DICT, objects=ALL_OBJECTS_DICT, base_class=keras.constraints.Constraint,
    keras_get=keras.constraints.get, keras_deserialize=keras.constraints.deserialize,
)


def serialize(constraint):
    """The Keras config dict of `constraint` (`None` stays `None`).

    Args:
        constraint: a constraint instance (this library's or Keras's), or `None`.

    Returns:
        A JSON-able dict that `deserialize` turns back into an equal constraint.

    Example:

    >>> from keras_gradstab import constraints
    >>> config = constraints.serialize(constraints.WeightClip(0.5))
    >>> config["registered_name"]
    'keras_gradstab>WeightClip'
    >>> config["config"]["clip_value"]
    0.5
    """
    return _registry.serialize(constraint)


def deserialize(config, custom_objects=None):
    """A constraint from its config dict (from `serialize`) or a registered name.

    Args:
        config: a dict from `serialize`, or a class name of this area.
        custom_objects: optional `{name: class}` of more classes to look up.

    Returns:
        A new constraint instance.

    Example:

    >>> from keras_gradstab import constraints
    >>> clip = constraints.deserialize(constraints.serialize(constraints.WeightClip(0.5)))
    >>> type(clip).__name__, clip.clip_value
    ('WeightClip', 0.5)
    """
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    """A constraint from an instance, a config dict, a name or None.

    Names of this area ("orthogonal_conv", "weight_clip" and the class names)
    build the class with its default arguments; any other identifier is
    handed to `keras.constraints.get`.

    Args:
        identifier: `None`, a name, a config dict from `serialize`, or an
            instance.

    Returns:
        The constraint (a new instance for names and dicts), or `None`.

    Example:

    >>> from keras_gradstab import constraints
    >>> type(constraints.get("orthogonal_conv")).__name__
    'OrthogonalConv'
    """
    return _REGISTRY.get(identifier)
