"""Recurrent cells as dynamical systems: fixed points, limit cycles, phase portraits."""

from keras_gradstab.dynamics.cell_map import CellMap
from keras_gradstab.dynamics.fixed_points import FixedPoint, classify, find_fixed_points
from keras_gradstab.dynamics.limit_cycles import Cycle, find_limit_cycles
from keras_gradstab.dynamics.phase_portrait import phase_portrait

__all__ = [
    "CellMap",
    "Cycle",
    "FixedPoint",
    "classify",
    "find_fixed_points",
    "find_limit_cycles",
    "phase_portrait",
]
