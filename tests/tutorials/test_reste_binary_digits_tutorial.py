"""The ReSTE tutorial runs in quick mode: its plotted surrogate derivatives are the
paper's closed form, `o` follows the schedule, and the estimating error falls."""

import numpy as np


def test_tutorial_surrogates_schedule_and_indicators(tmp_path, run_tutorial):
    results = run_tutorial("reste_binary_digits")
    assert (tmp_path / "reste_binary_digits_surrogates.png").exists()
    assert (tmp_path / "reste_binary_digits_training.png").exists()
    grid = np.asarray(results["grid"])
    o3 = np.asarray(results["derivatives"]["ReSTE o=3"])

    def at(x):
        return o3[np.argmin(np.abs(grid - x))]

    # Closed form at o = 3: rectified secant slope 0.1^(1/3 - 1) inside |x| <= 0.1,
    # (1/3) |x|^(-2/3) up to 1.5, zero beyond.
    for x in (-0.05, 0.0, 0.05):
        np.testing.assert_allclose(at(x), 0.1 ** (-2 / 3), rtol=1e-4)
    np.testing.assert_allclose(at(1.0), 1 / 3, rtol=1e-3)
    np.testing.assert_allclose(at(-1.5), (1 / 3) * 1.5 ** (-2 / 3), rtol=1e-3)
    assert at(1.6) == 0.0 and at(-1.9) == 0.0
    # At o = 1 ReSTE is the STE clipped at its threshold (1.5).
    away = np.abs(np.abs(grid) - 1.5) > 1e-3
    np.testing.assert_allclose(
        np.asarray(results["derivatives"]["ReSTE o=1"])[away],
        np.where(np.abs(grid) <= 1.5, 1.0, 0.0)[away],
        atol=1e-6,
    )
    reste = results["reste"]
    assert reste["reste_o"][0] == 1.0
    np.testing.assert_allclose(reste["reste_o"][-1], 3.0, rtol=1e-6)
    errors = reste["reste_estimating_error"]
    assert errors[-1] < errors[0]
    assert all(np.isfinite(reste["reste_gradient_stability"]))
    assert results["packed"]["same_predictions"]
    assert results["packed"]["bytes"] < results["packed"]["float32_bytes"]
