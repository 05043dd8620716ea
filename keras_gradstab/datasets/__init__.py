"""Deterministic, seeded data sets generated locally (no download).

Each returns `(x_train, y_train), (x_test, y_test)` like `keras.datasets`.
"""

from keras_gradstab.datasets.arrow_pointing import arrow_pointing
from keras_gradstab.datasets.digits import digits, mnist1d
from keras_gradstab.datasets.long_memory import adding, copying, copying_baseline

__all__ = ["adding", "arrow_pointing", "copying", "copying_baseline", "digits", "mnist1d"]
