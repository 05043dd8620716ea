"""Keras layers of keras_gradstab."""

from keras_gradstab.layers.recurrent import (
    ENRNN,
    NCGRU,
    ENRNNCell,
    NCGRUCell,
    ScoRNN,
    ScoRNNCell,
    skew_learning_rate_optimizer,
)

__all__ = [
    "ENRNN",
    "ENRNNCell",
    "NCGRU",
    "NCGRUCell",
    "ScoRNN",
    "ScoRNNCell",
    "skew_learning_rate_optimizer",
]
