"""Callbacks: measurements of gradient-relevant properties during training."""

from keras_gradstab.callbacks.orthogonality_monitor import OrthogonalityMonitor

__all__ = ["OrthogonalityMonitor"]
