"""Every public symbol has a Keras-style docstring: a summary line and an example.

The API reference of the docs site is generated from these docstrings, so a
symbol without them would be a blank entry there.
"""

import importlib.util
import inspect

import pytest

import keras_gradstab as kg

AREAS = [name for name in kg.__all__ if inspect.ismodule(getattr(kg, name, None))]
# Areas imported on first access only (they need optional packages).
if importlib.util.find_spec("keras_tuner") is not None:
    AREAS.append("tuner")
SYMBOLS = [(area, name) for area in AREAS for name in getattr(getattr(kg, area), "__all__", [])]


@pytest.mark.parametrize("area,name", SYMBOLS, ids=[f"{a}.{n}" for a, n in SYMBOLS])
def test_public_symbol_is_documented(area, name):
    obj = getattr(getattr(kg, area), name)
    doc = inspect.getdoc(obj) or ""
    summary = doc.strip().splitlines()[0] if doc.strip() else ""
    assert len(summary) > 10, f"{area}.{name} has no summary line"
    assert "Example" in doc and ">>>" in doc, f"{area}.{name} has no `Example:` with >>> lines"
