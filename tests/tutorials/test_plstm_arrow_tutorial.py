"""The pLSTM tutorial runs in quick mode: P-mode bounded, D-mode decaying, and the
recorded arrow-pointing run shown."""

import numpy as np


def test_tutorial_shows_bounded_p_mode_and_decaying_d_mode(tmp_path, run_tutorial):
    results = run_tutorial("plstm_arrow")
    assert (tmp_path / "plstm_arrow_stability.png").exists()
    assert (tmp_path / "plstm_arrow_extrapolation.png").exists()
    sizes = results["grid_sizes"]
    free = results["unconstrained_max_abs_h"]
    for peaks in results["p_mode_max_abs_h"].values():
        # P-mode: never above the path-mass bound (2n - 1) / sqrt(dk), dk = 4;
        # transitions of 0.75 explode instead.
        assert all(p <= (2 * n - 1) / 2 for n, p in zip(sizes, peaks)), peaks
        assert free[-1] > 100 * max(peaks)
    assert free[-1] > 100 * free[0]
    near_far = np.asarray(results["d_mode_jacobian_norm_by_distance"])
    assert near_far[12:].max() < 1e-2 * near_far[1:3].max(), near_far
    recorded = results["arrow"]["recorded"]
    assert set(recorded) == {"plstm", "vit"}
    for r in recorded.values():
        assert 0.0 <= r["accuracy_twice_size"] <= 1.0 and r["parameters"] > 0
