"""Regularizers: penalties that pull weights toward gradient-preserving sets."""

import keras

from keras_gradstab import _registry
from keras_gradstab.regularizers.jacobian_orthogonality import JacobianOrthogonality
from keras_gradstab.regularizers.orthogonal_conv import OrthogonalConv

__all__ = ["JacobianOrthogonality", "OrthogonalConv", "deserialize", "get", "serialize"]

ALL_OBJECTS_DICT = _registry.with_class_names(
    {"orthogonal_conv": OrthogonalConv}, JacobianOrthogonality
)
_REGISTRY = _registry.Registry("regularizers", ALL_OBJECTS_DICT, keras_area=keras.regularizers)
serialize, deserialize, get = _REGISTRY.functions(example="OrthogonalConv(0.1)", attr="factor")
