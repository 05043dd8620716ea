"""Weight constraints."""

from keras_gradstab.constraints.weight_clip import WeightClip

__all__ = [
    "WeightClip",
]
