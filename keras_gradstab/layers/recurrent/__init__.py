"""Recurrent cells and layers, each on keras_gradstab.ops.scan."""

from keras_gradstab.layers.recurrent.sbornn import SBORNN, SBORNNCell

__all__ = [
    "SBORNN",
    "SBORNNCell",
]
