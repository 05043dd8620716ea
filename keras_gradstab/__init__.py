"""keras_gradstab: Keras 3 pieces that keep gradients from vanishing or exploding.

Importing the package imports every area, so that `keras.saving.load_model`
finds every registered class.
"""

from keras_gradstab import activations
from keras_gradstab import callbacks
from keras_gradstab import constraints
from keras_gradstab import datasets
from keras_gradstab import diagnostics
from keras_gradstab import dynamics
from keras_gradstab import initializers
from keras_gradstab import layers
from keras_gradstab import models
from keras_gradstab import ops
from keras_gradstab import quantizers
from keras_gradstab import regularizers
from keras_gradstab import zoo
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
