"""Keras layers of keras_gradstab."""

from keras_gradstab.layers.recurrent import ScoRNN, ScoRNNCell

__all__ = [
    "ScoRNN",
    "ScoRNNCell",
]
