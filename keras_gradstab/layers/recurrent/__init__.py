"""Recurrent cells and layers on keras_gradstab.ops.scan: orthogonal (scoRNN, NC-GRU),
normalized (ENRNN) and optimizer-based (SBO-RNN)."""

from keras_gradstab.layers.recurrent.base import (
    ScanCell,
    ScanRNN,
)
from keras_gradstab.layers.recurrent.enrnn import (
    ENRNN,
    ENRNNCell,
)
from keras_gradstab.layers.recurrent.ncgru import (
    NCGRU,
    NCGRUCell,
)
from keras_gradstab.layers.recurrent.sbornn import (
    SBORNN,
    SBORNNCell,
)
from keras_gradstab.layers.recurrent.scornn import (
    ScoRNN,
    ScoRNNCell,
)
from keras_gradstab.layers.recurrent.skew_learning_rate import (
    skew_learning_rate_optimizer,
)

__all__ = [
    "ENRNN",
    "ENRNNCell",
    "NCGRU",
    "NCGRUCell",
    "SBORNN",
    "SBORNNCell",
    "ScanCell",
    "ScanRNN",
    "ScoRNN",
    "ScoRNNCell",
    "skew_learning_rate_optimizer",
]
