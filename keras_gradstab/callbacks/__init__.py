"""Training callbacks."""

from keras_gradstab.callbacks.reste_schedule import ReSTESchedule

__all__ = [
    "ReSTESchedule",
]
