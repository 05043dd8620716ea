import keras
import numpy as np
import pytest
from harness import value_and_grad

from keras_gradstab.dynamics import CellMap, classify, find_fixed_points


def _gru(candidate, candidate_bias, reset_after=True):
    """2-unit GRU, zero input: gates 1/2, h* = tanh(0.5 h* U + b) (z moves no point)."""
    cell = keras.layers.GRUCell(2, reset_after=reset_after)
    cell.build((None, 1))
    rk = np.zeros((2, 6), "float32")
    rk[:, 4:] = candidate
    cell.recurrent_kernel.assign(rk)
    bias = np.zeros(cell.bias.shape, "float32")
    if reset_after:
        bias[0, 4:] = candidate_bias
    else:
        bias[4:] = candidate_bias
    cell.bias.assign(bias)
    return cell


def _grid_roots(cell_map, n=401):
    """Grid cells of [-1, 1]^2 where both components of F(h) - h change sign."""
    axis = np.linspace(-1, 1, n)
    u, v = np.meshgrid(axis, axis, indexing="ij")
    pts = np.stack([u.ravel(), v.ravel()], 1)
    g = (cell_map(pts) - pts).reshape(n, n, 2)
    corners = np.stack([g[:-1, :-1], g[1:, :-1], g[:-1, 1:], g[1:, 1:]])
    both = np.all(corners.min(0) <= 0, -1) & np.all(corners.max(0) >= 0, -1)
    centres = [
        ((axis[a] + axis[a + 1]) / 2, (axis[b] + axis[b + 1]) / 2)
        for a, b in zip(*np.nonzero(both))
    ]
    merged = []
    for c in centres:
        if all(np.hypot(c[0] - m[0], c[1] - m[1]) > 0.02 for m in merged):
            merged.append(c)
    return np.array(merged), axis[1] - axis[0]


def _autodiff_jacobian(cell, h):
    rows = []
    for i in range(2):

        def f(state, i=i):
            out, _ = cell(keras.ops.zeros((1, 1)), [keras.ops.reshape(state, (1, 2))])
            return out[0, i]

        rows.append(value_and_grad(f, h.astype("float32"))[1][0])
    return np.array(rows)


CASES = {
    # Unit 1 bistable (gain 1.5 > 1), unit 2 weakly coupled (gain 0.4): two stable
    # points and a saddle between them.
    "bistable": (
        np.array([[3.0, 0.4], [0.2, 0.8]]),
        np.array([0.1, -0.05]),
        {"stable": 2, "saddle": 1},
    ),
    # 0.5 * U a scaled rotation of modulus 0.9: one attractor, a stable focus.
    "single_attractor": (
        1.8 * np.array([[np.cos(0.6), np.sin(0.6)], [-np.sin(0.6), np.cos(0.6)]]),
        np.array([0.2, 0.0]),
        {"stable": 1},
    ),
}


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("name", sorted(CASES))
def test_gru_fixed_points_match_grid_search(name, reset_after):
    candidate, bias, counts = CASES[name]
    cell = _gru(candidate, bias, reset_after)
    cell_map = CellMap(cell)
    points = find_fixed_points(cell, num_starts=128)
    roots, spacing = _grid_roots(cell_map)
    states = np.array([p.state for p in points])
    assert len(points) == len(roots), (states, roots)
    for r in roots:
        assert np.min(np.linalg.norm(states - r, axis=1)) < 2 * spacing
    kinds = {}
    for p in points:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
        # Backend autodiff of the Keras cell itself, float32.
        eig = np.linalg.eigvals(_autodiff_jacobian(cell, p.state))
        np.testing.assert_allclose(np.sort_complex(eig), np.sort_complex(p.eigenvalues), atol=1e-4)
        assert classify(eig) == (p.kind, p.rotation)
        # Behaviour: a stable point pulls perturbations back, a saddle pushes some out.
        rng = np.random.default_rng(0)
        pert = p.state + 1e-3 * rng.normal(size=(16, 2))
        far = np.linalg.norm(cell_map.orbit(pert, 200)[-1] - p.state, axis=1)
        if p.kind == "stable":
            assert np.all(far < 1e-6)
        else:
            assert np.max(far) > 1e-2
    assert kinds == counts
    if name == "single_attractor":
        assert points[0].rotation


def test_cell_map_matches_keras_cells():
    rng = np.random.default_rng(0)
    cells = [
        keras.layers.SimpleRNNCell(3, activation="relu"),
        keras.layers.GRUCell(3),
        keras.layers.GRUCell(3, reset_after=False, recurrent_activation="hard_sigmoid"),
        keras.layers.LSTMCell(3),
    ]
    for cell in cells:
        cell.build((None, 2))
        cell.bias.assign(rng.normal(size=cell.bias.shape).astype("float32"))
        x = rng.normal(size=2)
        cell_map = CellMap(cell, x)
        assert cell_map.exact
        h = rng.normal(size=(5, cell_map.dim))
        parts = np.split(h.astype("float32"), np.cumsum(cell_map.sizes)[:-1], axis=1)
        _, new = cell(np.tile(x, (5, 1)).astype("float32"), parts)
        new = new if isinstance(new, (list, tuple)) else [new]
        want = np.concatenate([keras.ops.convert_to_numpy(s) for s in new], 1)
        np.testing.assert_allclose(cell_map(h), want, atol=1e-5)


def test_lstm_and_generic_cell_fixed_points():
    class MyCell(keras.layers.SimpleRNNCell):  # not a Keras class: called through Keras
        pass

    lstm = keras.layers.LSTMCell(2)
    lstm.build((None, 1))
    mine = MyCell(2)
    mine.build((None, 1))
    for cell in (lstm, mine):
        cell_map = CellMap(cell, inputs=np.array([0.3]))
        points = find_fixed_points(
            cell,
            inputs=np.array([0.3]),
            num_starts=32 if cell_map.exact else 4,
            max_iterations=30,
            tolerance=1e-9 if cell_map.exact else 1e-5,
        )
        assert points
        for p in points:
            parts = np.split(p.state[None].astype("float32"), np.cumsum(cell_map.sizes)[:-1], 1)
            _, new = cell(np.array([[0.3]], "float32"), parts)
            new = new if isinstance(new, (list, tuple)) else [new]
            got = np.concatenate([keras.ops.convert_to_numpy(s) for s in new], 1)[0]
            np.testing.assert_allclose(got, p.state, atol=1e-5)
    assert not CellMap(mine).exact


def test_bad_arguments():
    cell = keras.layers.GRUCell(2)
    with pytest.raises(ValueError, match="built"):
        find_fixed_points(cell)
    cell.build((None, 3))
    with pytest.raises(ValueError, match="num_starts"):
        find_fixed_points(cell, num_starts=0)
    with pytest.raises(ValueError, match="inputs"):
        find_fixed_points(cell, inputs=np.zeros(2))
