"""Activations that keep gradients stable."""

from keras_gradstab.activations.modrelu import modrelu

__all__ = [
    "modrelu",
]
