"""keras_gradstab: Keras 3 pieces that keep gradients from vanishing or exploding.

Importing the package imports every area, so that `keras.saving.load_model`
finds every registered class.
"""

from keras_gradstab import (
    activations,
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
from keras_gradstab.version import __version__

__all__ = [
    "__version__",
    "activations",
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
