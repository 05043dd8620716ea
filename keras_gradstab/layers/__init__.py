"""Layers: self-normalizing dropout, channel normalization, orthogonal convolutions
and circular padding, quantized layers, orthogonal dense, pLSTM and the pLSTM vision
classifier, and the recurrent layers."""

from keras_gradstab.layers.channel_norm import (
    ChannelNormalization,
)
from keras_gradstab.layers.circular_padding import (
    CircularPadding1D,
    CircularPadding2D,
)
from keras_gradstab.layers.orthogonal_conv import (
    OrthogonalConv1D,
    OrthogonalConv2D,
)
from keras_gradstab.layers.orthogonal_dense import (
    GroupSort,
    MaxMin,
    OrthogonalDense,
)
from keras_gradstab.layers.plstm import (
    PLSTM1D,
    PLSTM2D,
    PLSTMBlock,
)
from keras_gradstab.layers.plstm_vision import (
    PLSTMVisionClassifier,
)
from keras_gradstab.layers.quantized import (
    QuantConv1D,
    QuantConv2D,
    QuantDense,
    QuantDepthwiseConv2D,
)
from keras_gradstab.layers.recurrent import (
    ENRNN,
    NCGRU,
    ENRNNCell,
    NCGRUCell,
    ScanCell,
    ScanRNN,
    ScoRNN,
    ScoRNNCell,
    skew_learning_rate_optimizer,
)
from keras_gradstab.layers.recurrent.sbornn import (
    SBORNN,
    SBORNNCell,
)
from keras_gradstab.layers.self_normalizing import (
    AlphaDropout,
    FeatureAlphaDropout,
    alpha_dropout_affine,
)

__all__ = [
    "AlphaDropout",
    "ChannelNormalization",
    "CircularPadding1D",
    "CircularPadding2D",
    "ENRNN",
    "ENRNNCell",
    "FeatureAlphaDropout",
    "GroupSort",
    "MaxMin",
    "NCGRU",
    "NCGRUCell",
    "OrthogonalConv1D",
    "OrthogonalConv2D",
    "OrthogonalDense",
    "PLSTM1D",
    "PLSTM2D",
    "PLSTMBlock",
    "PLSTMVisionClassifier",
    "QuantConv1D",
    "QuantConv2D",
    "QuantDense",
    "QuantDepthwiseConv2D",
    "SBORNN",
    "SBORNNCell",
    "ScanCell",
    "ScanRNN",
    "ScoRNN",
    "ScoRNNCell",
    "alpha_dropout_affine",
    "skew_learning_rate_optimizer",
]
