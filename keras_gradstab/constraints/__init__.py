"""Constraints: projections applied to weights after each optimizer step."""

import keras

from keras_gradstab import _registry
from keras_gradstab.constraints.orthogonal_conv import OrthogonalConv
from keras_gradstab.constraints.weight_clip import WeightClip

__all__ = ["OrthogonalConv", "WeightClip", "deserialize", "get", "serialize"]

ALL_OBJECTS_DICT = _registry.with_class_names(
    {"orthogonal_conv": OrthogonalConv, "weight_clip": WeightClip}
)
_REGISTRY = _registry.Registry("constraints", ALL_OBJECTS_DICT, keras_area=keras.constraints)
serialize, deserialize, get = _REGISTRY.functions(example="WeightClip(0.5)", attr="clip_value")
