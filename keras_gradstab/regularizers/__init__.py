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
    names=ALL_OBJECTS_DICT,
    objects=ALL_OBJECTS_DICT,
    base_class=keras.regularizers.Regularizer,
    keras_get=keras.regularizers.get,
    keras_deserialize=keras.regularizers.deserialize,
)


# The three functions are documented together in `_registry.document`.
def serialize(regularizer):
    return _registry.serialize(regularizer)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    return _REGISTRY.get(identifier)


_registry.document(
    serialize,
    deserialize,
    get,
    area="regularizers",
    kind="regularizer",
    example="OrthogonalConv(0.1)",
    registered_name="OrthogonalConvRegularizer",
    class_name="OrthogonalConv",
    attr="factor",
    value=0.1,
    names='"orthogonal_conv" and the class names',
    get_name="orthogonal_conv",
)
