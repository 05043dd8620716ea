"""The orthogonal-Jacobian tutorial runs in quick mode; its reported results are checked."""

import numpy as np


def test_tutorial_orthogonal_bodies_keep_unit_singular_values(tmp_path, run_tutorial):
    results = run_tutorial("orthogonal_jacobian_digits")
    for name in ["accuracy", "singular_values"]:
        with open(tmp_path / f"orthogonal_jacobian_digits_{name}.png", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    resnet = results.pop("ResNet (Dense + ReLU)")
    assert len(results) == 3
    for r in results.values():
        # The body's Jacobian (the backend's autodiff, 8 examples x 64 singular
        # values) is orthogonal at initialization and stays so after training,
        # with random and with identity-initialized hidden layers.
        for key in ["sigma_init", "sigma_trained"]:
            assert r[key].shape == (8 * 64,)
            assert np.max(np.abs(r[key] - 1.0)) < 1e-4, (r["name"], key)
    # The ResNet's is not (so the check above can tell them apart).
    assert resnet["sigma_init"].max() / resnet["sigma_init"].min() > 2
    # Random rotations + abs pull the digits' features together (mean cosine up);
    # identity-initialized hidden layers keep the first layer's geometry.
    random = results["OrthogonalDense + abs, random init"]
    identity = results["OrthogonalDense + abs, identity init"]
    assert random["cosine_init"] > identity["cosine_init"] + 0.1
    assert random["probe_init"] < identity["probe_init"]
    for r in [identity, results["OrthogonalDense + GroupSort, identity init"], resnet]:
        assert len(r["val_accuracy"]) == 3
        assert r["final_val_accuracy"] > 0.3, r["name"]  # chance is 0.1
