"""Keras layers of keras_gradstab."""

from keras_gradstab.layers.recurrent import NCGRU, NCGRUCell, ScoRNN, ScoRNNCell

__all__ = [
    "NCGRU",
    "NCGRUCell",
    "ScoRNN",
    "ScoRNNCell",
]
