"""The copying tutorial runs in quick mode; its baseline and curves are checked."""

import math

import numpy as np


def test_tutorial_runs_with_the_memoryless_baseline(tmp_path, run_tutorial):
    results = run_tutorial("ncgru_copying")
    assert (tmp_path / "ncgru_copying.png").exists()
    t = results["time_steps"]
    # The closed form 10 log 8 / (T + 20), and the memoryless predictor's loss on the data.
    assert math.isclose(results["baseline"], 10 * math.log(8) / (t + 20), rel_tol=1e-9)
    assert math.isclose(results["memoryless_on_data"], results["baseline"], rel_tol=1e-6)
    assert set(results["curves"]) == {"NCGRU", "ScoRNN", "GRU"}
    assert set(results["recall_accuracy"]) == set(results["curves"])
    assert all(0.0 <= a <= 1.0 for a in results["recall_accuracy"].values())
    for curve in results["curves"].values():
        assert all(np.isfinite(curve))
        # Every model learns at least to predict blanks: from log(9) ~ 2.2 at the start
        # to well under it.
        assert curve[-1] < curve[0] < 2.5
