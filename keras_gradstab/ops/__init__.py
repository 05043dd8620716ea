"""Math that the layers share, on every backend: the scan core and matrix maps."""

from keras_gradstab.ops.cayley import cayley, neumann_inverse
from keras_gradstab.ops.linear_recurrence import linear_recurrence
from keras_gradstab.ops.plstm import plstm_1d, plstm_2d
from keras_gradstab.ops.scan import scan

__all__ = [
    "cayley",
    "linear_recurrence",
    "neumann_inverse",
    "plstm_1d",
    "plstm_2d",
    "scan",
]
