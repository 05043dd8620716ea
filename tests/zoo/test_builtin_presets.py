"""Every built-in preset ships, loads on this backend and re-measures its recorded metric.

The test data are regenerated from the seed recorded in the preset's metadata, so
the metric measured now must agree with the recorded one within the metric's
tolerance (`keras_gradstab.zoo.within_tolerance`), whatever backend the preset
was trained on. A package without its presets fails here (it is not skipped).
"""

import os

import pytest

from keras_gradstab import zoo
from keras_gradstab.zoo import presets

PRESETS = zoo.list_presets()


def test_the_presets_ship_with_their_files():
    assert PRESETS, f"no built-in preset under {presets.PRESETS_DIR}"
    for name in PRESETS:
        for file in presets.PRESET_FILES:
            assert os.path.isfile(os.path.join(presets.PRESETS_DIR, name, file)), (name, file)
        metadata = zoo.preset_metadata(name)  # checks the files' sha256 and the schema
        assert metadata["name"] == name
        assert metadata["recipe"] == f"model_zoo/{name}/train.py"


@pytest.mark.parametrize("name", PRESETS)
def test_preset_reproduces_its_recorded_metric(name):
    result = zoo.evaluate(name)
    assert result["preset"] == name
    assert zoo.within_tolerance(result["metric"], result["measured"], result["recorded"]), result
    assert result["parameters"] > 0
    baseline = result["baseline"]
    if "none" in baseline:
        assert result["improvement"] is None
    else:
        assert baseline["metric"] == result["metric"]
        sign = 1 if zoo.metric_spec(result["metric"]).higher_is_better else -1
        assert result["improvement"] == pytest.approx(
            sign * (result["recorded"] - baseline["value"])
        )
