"""Diagnostics of gradient health.

Per-layer gradient reports and flags (`gradient_report`), a training monitor
(`GradientMonitor`), the Jacobian's singular values (dynamical isometry), the
self-normalizing check, and the ReSTE indicators and quantization summary of
binary networks.
"""

from keras_gradstab.diagnostics.gradients import (
    GradientReport,
    gradient_report,
    jacobian_singular_values,
    layer_statistics,
)
from keras_gradstab.diagnostics.monitor import (
    GradientMonitor,
)
from keras_gradstab.diagnostics.quantization_summary import (
    quantization_summary,
)
from keras_gradstab.diagnostics.reste_indicators import (
    ReSTEIndicators,
    estimating_error,
    gradient_stability,
)
from keras_gradstab.diagnostics.self_normalizing import (
    check_self_normalizing,
)

__all__ = [
    "GradientMonitor",
    "GradientReport",
    "ReSTEIndicators",
    "check_self_normalizing",
    "estimating_error",
    "gradient_report",
    "gradient_stability",
    "jacobian_singular_values",
    "layer_statistics",
    "quantization_summary",
]
