"""Model builders."""

from keras_gradstab.models.orthogonal_jacobian import orthogonal_jacobian_mlp

__all__ = [
    "orthogonal_jacobian_mlp",
]
