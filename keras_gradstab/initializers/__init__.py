"""Initializers that place a network where gradients neither vanish nor explode."""

from keras_gradstab.initializers.limit_cycle import LimitCycle, put_on_limit_cycle

__all__ = [
    "LimitCycle",
    "put_on_limit_cycle",
]
