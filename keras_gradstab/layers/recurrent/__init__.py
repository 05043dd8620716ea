"""Recurrent layers with orthogonal or normalized recurrent matrices."""

from keras_gradstab.layers.recurrent.ncgru import NCGRU, NCGRUCell
from keras_gradstab.layers.recurrent.scornn import ScoRNN, ScoRNNCell

__all__ = [
    "NCGRU",
    "NCGRUCell",
    "ScoRNN",
    "ScoRNNCell",
]
