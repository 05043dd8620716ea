"""Model builders: self-normalizing MLPs."""

from keras_gradstab.models.snn import snn

__all__ = ["snn"]
