"""Backend fast paths, chosen once from `keras.config.backend()`.

Each backend module defines `scan(fn, init, xs, reverse)`,
`associative_scan(combine, elems, axis, reverse)`, `concatenate(tensors, axis)`,
and the autodiff the diagnostics and regularizers need: `value_and_grad(fn, args)`,
`batch_jacobian(fn, x)` and `jvp(fn, x, tangent)`. A backend without a module of
its own (numpy, openvino) falls back to `keras.ops`. Optional fast paths (None where a
backend has none): `reste_backward` (the quantizer's surrogate gradient, in place).
"""

import importlib

import keras

from keras_gradstab.ops._native import generic

BACKEND = keras.config.backend()

try:
    _module = importlib.import_module(f"{__name__}.{BACKEND}_backend")
except ModuleNotFoundError:
    _module = generic

NAME = _module.NAME
scan = _module.scan
associative_scan = _module.associative_scan
concatenate = _module.concatenate
value_and_grad = _module.value_and_grad
batch_jacobian = _module.batch_jacobian
jvp = _module.jvp
reste_backward = getattr(_module, "reste_backward", None)
