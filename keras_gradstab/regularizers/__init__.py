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
    "regularizers",
    ALL_OBJECTS_DICT,
    keras_area=keras.regularizers,
    base_class=keras.regularizers.Regularizer,
)


# The three functions are documented together by `Registry.document`.
def serialize(regularizer):
    return _REGISTRY.serialize(regularizer)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    return _REGISTRY.get(identifier)


_REGISTRY.document(serialize, deserialize, get, example="OrthogonalConv(0.1)", attr="factor")
