"""Layers of the library."""

from keras_gradstab.layers.orthogonal_dense import GroupSort, MaxMin, OrthogonalDense
from keras_gradstab.layers.recurrent.sbornn import SBORNN, SBORNNCell

__all__ = [
    "GroupSort",
    "MaxMin",
    "OrthogonalDense",
    "SBORNN",
    "SBORNNCell",
]
