"""The limit-cycle tutorial runs in quick mode; its reported results are checked."""

import numpy as np


def test_tutorial_cycle_gradients_and_gru_fixed_points(tmp_path, run_tutorial):
    results = run_tutorial("limit_cycle_dynamics")
    for name in ["orbit", "gradients", "gru_phase"]:
        with open(tmp_path / f"limit_cycle_dynamics_{name}.png", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # 1. A stable cycle around an unstable origin: one multiplier on the unit
    #    circle (along the cycle), one inside.
    cycle = results["cycle"]
    assert cycle["stable"] and cycle["neutral"] == 1 and cycle["origin"] == "unstable"
    assert abs(cycle["multiplier_moduli"][0] - 1) < 0.05 and cycle["multiplier_moduli"][1] < 0.95
    # 2. The limit cycle keeps every draw in [1e-3, 1e3]; a Glorot draw leaves
    #    the range exactly when its orbit settles on a period-1 or -2 orbit, and
    #    the quick draws hold both kinds.
    rows = results["gradients"]
    assert all(r["limit_cycle_in_range"] for r in rows)
    assert all(r["glorot_in_range"] != r["glorot_periodic"] for r in rows)
    assert any(r["glorot_periodic"] for r in rows) and not all(r["glorot_periodic"] for r in rows)
    # 3. The bistable GRU: with zero gate weights and biases both gates are 1/2,
    #    so F(h) = 0.5 h + 0.5 tanh(0.5 h U + b) (NumPy, float64). Each reported
    #    point is a root, its eigenvalues are those of this closed-form Jacobian,
    #    and the kinds are two stable points and one saddle.
    u = np.array([[3.0, 0.4], [0.2, 0.8]])
    b = np.array([0.1, -0.05])
    kinds = sorted(p["kind"] for p in results["gru_fixed_points"])
    assert kinds == ["saddle", "stable", "stable"]
    for p in results["gru_fixed_points"]:
        h = np.array(p["state"])
        c = np.tanh(0.5 * h @ u + b)
        np.testing.assert_allclose(0.5 * h + 0.5 * c, h, atol=1e-8)
        jac = 0.5 * np.eye(2) + 0.25 * (u * (1 - c**2)[None, :]).T  # dF_i / dh_j
        np.testing.assert_allclose(
            np.sort_complex(np.linalg.eigvals(jac)),
            np.sort_complex(np.array(p["eigenvalues"])),
            atol=1e-6,
        )
