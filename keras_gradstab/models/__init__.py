"""Model builders: self-normalizing MLPs; Model builders."""

from keras_gradstab.models.orthogonal_jacobian import (
    orthogonal_jacobian_mlp,
)
from keras_gradstab.models.snn import (
    snn,
)

__all__ = [
    "orthogonal_jacobian_mlp",
    "snn",
]
