"""Pretrained presets that ship inside the package (no network needed)."""

from keras_gradstab.zoo.presets import (
    check_baseline,
    check_metadata,
    evaluate,
    from_preset,
    improvement,
    list_presets,
    load,
    measure,
    metric_spec,
    preset_metadata,
    rehash,
    save_preset,
    within_tolerance,
)

__all__ = [
    "check_baseline",
    "check_metadata",
    "evaluate",
    "from_preset",
    "improvement",
    "list_presets",
    "load",
    "measure",
    "metric_spec",
    "preset_metadata",
    "rehash",
    "save_preset",
    "within_tolerance",
]
