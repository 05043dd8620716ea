"""Backend fast paths, chosen once from `keras.config.backend()`.

Each backend module defines `scan(fn, init, xs, reverse)`,
`associative_scan(combine, elems, axis, reverse)` and `concatenate(tensors, axis)`. A backend without a module of
its own (numpy, openvino) falls back to `keras.ops`.
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
value_and_gradients = getattr(_module, "value_and_gradients", generic.value_and_gradients)
