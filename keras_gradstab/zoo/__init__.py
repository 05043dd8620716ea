"""Pretrained presets that ship inside the package (no network needed)."""

from keras_gradstab.zoo.presets import (
    evaluate,
    from_preset,
    list_presets,
    load,
    preset_metadata,
    save_preset,
)

__all__ = ["evaluate", "from_preset", "list_presets", "load", "preset_metadata", "save_preset"]
