"""Diagnostics of gradient health: per-layer reports, a training monitor,
Jacobian spectra, and a check of the self-normalizing recipe."""

from keras_gradstab.diagnostics.gradients import (
    GradientReport,
    gradient_report,
    jacobian_singular_values,
    layer_statistics,
)
from keras_gradstab.diagnostics.monitor import GradientMonitor
from keras_gradstab.diagnostics.self_normalizing import check_self_normalizing

__all__ = [
    "GradientMonitor",
    "GradientReport",
    "check_self_normalizing",
    "gradient_report",
    "jacobian_singular_values",
    "layer_statistics",
]
