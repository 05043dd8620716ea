"""keras_gradstab: Keras 3 pieces that keep gradients from vanishing or exploding.

Importing the package imports every area, so that `keras.saving.load_model`
finds every registered class. `keras_gradstab.tuner` (keras-tuner hypermodels)
is imported on first access only: it needs the optional `keras_tuner`.

Where neither `KERAS_BACKEND` nor `keras.json` chooses a backend and TensorFlow
(Keras's default) is not installed, the package selects the first installed of
jax and torch before Keras is imported.
"""

import importlib

from keras_gradstab import _default_backend

_default_backend.apply()

from keras_gradstab import (  # noqa: E402
    activations,
    backend,
    callbacks,
    constraints,
    datasets,
    diagnostics,
    dynamics,
    initializers,
    layers,
    models,
    ops,
    quantizers,
    regularizers,
    zoo,
)
from keras_gradstab.version import __version__  # noqa: E402

__all__ = [
    "__version__",
    "activations",
    "backend",
    "callbacks",
    "constraints",
    "datasets",
    "diagnostics",
    "dynamics",
    "initializers",
    "layers",
    "models",
    "ops",
    "quantizers",
    "regularizers",
    "zoo",
]


def __getattr__(name):
    # The optional areas: imported on first access (they need optional packages).
    if name == "tuner":
        return importlib.import_module("keras_gradstab.tuner")
    raise AttributeError(f"module 'keras_gradstab' has no attribute {name!r}")
