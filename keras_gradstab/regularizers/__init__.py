"""Regularizers: penalties that pull weights toward gradient-preserving sets.

`get`, `serialize` and `deserialize` follow `keras.regularizers`; string names
("orthogonal_conv") resolve to this library's classes, any other identifier is
handed to `keras.regularizers.get`.
"""

import keras

from keras_gradstab import _registry
from keras_gradstab.regularizers.jacobian_orthogonality import JacobianOrthogonality
from keras_gradstab.regularizers.orthogonal_conv import OrthogonalConv

__all__ = ["JacobianOrthogonality", "OrthogonalConv", "deserialize", "get", "serialize"]

ALL_OBJECTS_DICT = {
    "OrthogonalConv": OrthogonalConv,
    "orthogonal_conv": OrthogonalConv,
    "JacobianOrthogonality": JacobianOrthogonality,
}

_REGISTRY = _registry.Registry(
    names=ALL_OBJECTS_DICT, objects=ALL_OBJECTS_DICT, base_class=keras.regularizers.Regularizer,
    keras_get=keras.regularizers.get, keras_deserialize=keras.regularizers.deserialize,
)


def serialize(regularizer):
    """The Keras config dict of `regularizer` (`None` stays `None`).

    Args:
        regularizer: a regularizer instance (this library's or Keras's), or `None`.

    Returns:
        A JSON-able dict that `deserialize` turns back into an equal regularizer.

    Example:

    >>> from keras_gradstab import regularizers
    >>> config = regularizers.serialize(regularizers.OrthogonalConv(0.1))
    >>> config["registered_name"]
    'keras_gradstab>OrthogonalConvRegularizer'
    >>> config["config"]["factor"]
    0.1
    """
    return _registry.serialize(regularizer)


def deserialize(config, custom_objects=None):
    """A regularizer from its config dict (from `serialize`) or a registered name.

    Args:
        config: a dict from `serialize`, or a class name of this area.
        custom_objects: optional `{name: class}` of more classes to look up.

    Returns:
        A new regularizer instance.

    Example:

    >>> from keras_gradstab import regularizers
    >>> reg = regularizers.deserialize(regularizers.serialize(regularizers.OrthogonalConv(0.1)))
    >>> type(reg).__name__, reg.factor
    ('OrthogonalConv', 0.1)
    """
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    """A regularizer from an instance, a config dict, a name or None.

    Names of this area ("orthogonal_conv" and the class names) build the class
    with its default arguments; any other identifier is handed to
    `keras.regularizers.get`.

    Args:
        identifier: `None`, a name, a config dict from `serialize`, or an
            instance.

    Returns:
        The regularizer (a new instance for names and dicts), or `None`.

    Example:

    >>> from keras_gradstab import regularizers
    >>> type(regularizers.get("orthogonal_conv")).__name__
    'OrthogonalConv'
    """
    return _REGISTRY.get(identifier)
