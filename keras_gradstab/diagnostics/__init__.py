"""Diagnostics of gradient health."""

from keras_gradstab.diagnostics.quantization_summary import quantization_summary
from keras_gradstab.diagnostics.reste_indicators import (
    ReSTEIndicators,
    estimating_error,
    gradient_stability,
)

__all__ = [
    "ReSTEIndicators",
    "estimating_error",
    "gradient_stability",
    "quantization_summary",
]
