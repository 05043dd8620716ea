"""NumPy backend: the `keras.ops` forms of `keras_gradstab.backend.common`."""

from keras_gradstab.backend.common import (  # noqa: F401
    NAME,
    associative_scan,
    batch_jacobian,
    concatenate,
    fused_recurrence,
    jvp,
    reste_backward,
    scan,
    value_and_grad,
)
