"""Math that the layers share, on every backend: the scan core and matrix maps."""

from keras_gradstab.ops.cayley import (
    cayley,
    neumann_inverse,
)
from keras_gradstab.ops.circular_pad import (
    circular_pad,
)
from keras_gradstab.ops.conv_singular_values import (
    conv_singular_values,
    conv_spectral_bounds,
    dense_conv_operator,
)
from keras_gradstab.ops.linear_recurrence import (
    linear_recurrence,
)
from keras_gradstab.ops.matmul import (
    matmul,
)
from keras_gradstab.ops.orthogonal_conv import (
    check_orthogonal_conv,
    lorth,
)
from keras_gradstab.ops.plstm import (
    plstm_1d,
    plstm_2d,
)
from keras_gradstab.ops.scan import (
    scan,
)

__all__ = [
    "cayley",
    "check_orthogonal_conv",
    "circular_pad",
    "conv_singular_values",
    "conv_spectral_bounds",
    "dense_conv_operator",
    "linear_recurrence",
    "lorth",
    "matmul",
    "neumann_inverse",
    "plstm_1d",
    "plstm_2d",
    "scan",
]
