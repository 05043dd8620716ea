"""Keras layers that keep gradients from vanishing or exploding."""

from keras_gradstab.layers.plstm import PLSTM1D, PLSTM2D, PLSTMBlock

__all__ = ["PLSTM1D", "PLSTM2D", "PLSTMBlock"]
