"""Every built-in preset loads on this backend and re-measures its recorded metric.

The test data are regenerated from the seed recorded in the preset's metadata, so
the metric measured now must agree with the recorded one within 0.5 percentage
points (the zoo's promise), whatever backend the preset was trained on.
"""

import pytest

from keras_gradstab import zoo

PRESETS = zoo.list_presets()


@pytest.mark.skipif(not PRESETS, reason="no built-in preset packaged")
@pytest.mark.parametrize("name", PRESETS)
def test_preset_reproduces_its_recorded_metric(name):
    result = zoo.evaluate(name)
    assert result["preset"] == name
    if result["metric"] == "mse":
        assert result["measured"] == pytest.approx(result["recorded"], rel=0.05, abs=1e-6)
    else:
        assert abs(result["measured"] - result["recorded"]) <= 0.005, result
    assert result["parameters"] > 0
