"""Layers: orthogonal convolutions and the circular padding they need."""

from keras_gradstab.layers.circular_padding import CircularPadding1D, CircularPadding2D
from keras_gradstab.layers.orthogonal_conv import OrthogonalConv1D, OrthogonalConv2D

__all__ = ["CircularPadding1D", "CircularPadding2D", "OrthogonalConv1D", "OrthogonalConv2D"]
