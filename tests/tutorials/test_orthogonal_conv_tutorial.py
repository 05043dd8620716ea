"""The orthogonal-convolution tutorial runs in quick mode and shows the trade-off."""

import os
import runpy

TUTORIAL = os.path.join(os.path.dirname(__file__), "..", "..", "tutorials",
                        "orthogonal_conv_digits.py")


def test_tutorial_runs_and_regularizer_lowers_orthogonality_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_GRADSTAB_QUICK", "1")
    monkeypatch.setenv("KERAS_GRADSTAB_TUTORIAL_OUT", str(tmp_path))
    results = runpy.run_path(TUTORIAL)["results"]
    assert (tmp_path / "orthogonal_conv_digits.png").exists()
    by_factor = {r["factor"]: r for r in results if not r["exact"]}
    exact = [r for r in results if r["exact"]][0]
    assert by_factor[1.0]["sigma_error"] < by_factor[0.0]["sigma_error"]
    assert exact["sigma_error"] < 1e-4
    assert all(r["accuracy"] > 0.8 for r in results)  # chance is 0.1
