"""Every piece of backend-specific code of the library, chosen once from
`keras.config.backend()`, in the shape of `keras.backend`.

One module per backend (`jax`, `tensorflow`, `torch`, `numpy`); a backend without a
module of its own (openvino) uses `common`, written with `keras.ops` alone. Each
module defines the same functions, which the rest of the library calls through this
package and never from a backend module directly:

- `scan(fn, init, xs, reverse)`: the loop primitive under `keras_gradstab.ops.scan`.
- `associative_scan(combine, elems, axis, reverse)` and `concatenate(tensors, axis)`
  (both keep float64, which `keras.ops` turns into float32 on jax and torch).
- `value_and_grad(fn, args)`, `batch_jacobian(fn, x)`, `jvp(fn, x, tangent)`: the
  autodiff of the diagnostics and regularizers.
- `reste_backward(...)`: the ReSTE quantizer's surrogate gradient computed in place,
  or `None` where a backend has no such fast path.
- `fused_recurrence`: a mapping from a fused cell's name to a function that runs a
  whole recurrence of that cell with its own backward pass through time, empty
  where a backend has none (see `keras_gradstab.layers.ScanRNN`).
"""

import importlib

import keras

from keras_gradstab.backend import common

# The functions below are for the library's own modules and for contributors; users
# reach them through `keras_gradstab.ops` and the layers, so the API reference lists
# only this module's description.
__all__ = []

BACKEND = keras.config.backend()

CONTRACT = (
    "NAME",
    "scan",
    "associative_scan",
    "concatenate",
    "value_and_grad",
    "batch_jacobian",
    "jvp",
    "reste_backward",
    "fused_recurrence",
)

try:
    module = importlib.import_module(f"{__name__}.{BACKEND}")
except ModuleNotFoundError:
    module = common

NAME = module.NAME
scan = module.scan
associative_scan = module.associative_scan
concatenate = module.concatenate
value_and_grad = module.value_and_grad
batch_jacobian = module.batch_jacobian
jvp = module.jvp
reste_backward = module.reste_backward
fused_recurrence = module.fused_recurrence
