"""Callbacks: measurements of gradient-relevant properties during training; Training callbacks."""

from keras_gradstab.callbacks.orthogonality_monitor import (
    OrthogonalityMonitor,
)
from keras_gradstab.callbacks.reste_schedule import (
    ReSTESchedule,
)

__all__ = [
    "OrthogonalityMonitor",
    "ReSTESchedule",
]
