"""The zoo-and-tuning tutorial runs in quick mode: its preset round trip is exact,
the model it trains beats chance, and its 2-trial search returns the best trial."""

import pytest

pytest.importorskip("keras_tuner", reason="the tutorial tunes with keras-tuner (`tuner` extra)")


def test_tutorial_saves_reloads_evaluates_and_tunes(tmp_path, run_tutorial):
    results = run_tutorial("zoo_and_tuning")
    assert (tmp_path / "zoo_and_tuning.png").stat().st_size > 0
    evaluation = results["evaluation"]
    assert evaluation["measured"] == evaluation["recorded"]
    assert evaluation["measured"] > 0.5  # chance is 0.1
    # 4 hidden layers of 64 on 64 inputs, and a 10-way head.
    assert evaluation["parameters"] == 64 * 64 + 64 + 3 * (64 * 64 + 64) + 64 * 10 + 10
    assert results["reload_difference"] < 1e-6
    trials = results["search"]["trials"]
    assert len(trials) == 2
    assert results["search"]["best_val_loss"] == min(t["val_loss"] for t in trials)
