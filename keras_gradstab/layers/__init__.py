"""Layers of the library."""

from keras_gradstab.layers.orthogonal_dense import GroupSort, MaxMin, OrthogonalDense

__all__ = [
    "GroupSort",
    "MaxMin",
    "OrthogonalDense",
]
