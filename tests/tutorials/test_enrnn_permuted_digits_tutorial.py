"""The ENRNN tutorial runs in quick mode; the matrices it reports keep their promises."""


def test_tutorial_runs_and_matrices_stay_normalized(tmp_path, run_tutorial):
    results = run_tutorial("enrnn_permuted_digits")
    assert (tmp_path / "enrnn_permuted_digits.png").exists()
    assert len(results["epochs"]) == 3
    # NumPy's eigenvalues of the matrix the layer uses: spectral radius at most 1.
    assert results["max_spectral_radius"] <= 1.0 + 1e-5
    assert results["max_orthogonality_error"] < 1e-5
    losses = [r["loss"] for r in results["epochs"]]
    assert losses[-1] < losses[0]
