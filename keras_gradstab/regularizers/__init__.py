"""Regularizers of the library."""

from keras_gradstab.regularizers.jacobian_orthogonality import JacobianOrthogonality

__all__ = [
    "JacobianOrthogonality",
]
