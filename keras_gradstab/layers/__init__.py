"""Layers: alpha dropout for any SELU fixed point, channel normalization."""

from keras_gradstab.layers.channel_norm import ChannelNormalization
from keras_gradstab.layers.self_normalizing import (
    AlphaDropout,
    FeatureAlphaDropout,
    alpha_dropout_affine,
)

__all__ = ["AlphaDropout", "ChannelNormalization", "FeatureAlphaDropout", "alpha_dropout_affine"]
