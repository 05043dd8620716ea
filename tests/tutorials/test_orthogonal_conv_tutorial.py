"""The orthogonal-convolution tutorial runs in quick mode and shows the trade-off."""


def test_tutorial_runs_and_regularizer_lowers_orthogonality_error(tmp_path, run_tutorial):
    results = run_tutorial("orthogonal_conv_digits")
    assert (tmp_path / "orthogonal_conv_digits.png").exists()
    by_factor = {r["factor"]: r for r in results if not r["exact"]}
    exact = [r for r in results if r["exact"]][0]
    assert by_factor[1.0]["sigma_error"] < by_factor[0.0]["sigma_error"]
    assert exact["sigma_error"] < 1e-4
    assert all(r["accuracy"] > 0.8 for r in results)  # chance is 0.1
