"""Fixed points of a recurrent cell and their classification (Jordan, Sokol & Park 2021)."""

import dataclasses

import numpy as np

from keras_gradstab.dynamics.cell_map import CellMap


@dataclasses.dataclass
class FixedPoint:
    """A fixed point `h* = F(h*)` of a cell's step with constant input.

    Attributes:
        state: the flat state `h*` (all of the cell's states concatenated).
        eigenvalues: eigenvalues of the step's Jacobian at `h*` (complex).
        kind: `"stable"` (every |lambda| < 1), `"unstable"` (every |lambda| > 1),
            `"saddle"` (some below 1, some above) or `"marginal"` (some |lambda| = 1
            within tolerance: linearization does not decide).
        rotation: whether some eigenvalue is complex (orbits spiral around it).
        residual: `||F(h*) - h*||`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.dynamics import find_fixed_points
    >>> turn = np.array([[0.0, -0.9], [0.9, 0.0]])  # a quarter turn, scaled by 0.9
    >>> cell = keras.layers.SimpleRNNCell(
    ...     2, use_bias=False, recurrent_initializer=keras.initializers.Constant(turn))
    >>> cell.build((None, 1))
    >>> (point,) = find_fixed_points(cell)  # h <- tanh(h W): only h* = 0, a stable spiral
    >>> point.kind, point.rotation, np.round(np.abs(point.eigenvalues), 4).tolist()
    ('stable', True, [0.9, 0.9])
    """

    state: np.ndarray
    eigenvalues: np.ndarray
    kind: str
    rotation: bool
    residual: float


def classify(eigenvalues, tolerance=1e-6):
    """Classifies a fixed point of a discrete map by its Jacobian's eigenvalues.

    Args:
        eigenvalues: the eigenvalues (complex allowed).
        tolerance: |lambda| within this of 1 counts as marginal; an imaginary
            part above it counts as rotation.

    Returns:
        `(kind, rotation)`: kind one of `"stable"`, `"unstable"`, `"saddle"`,
        `"marginal"`; rotation a bool.

    Example:

    >>> from keras_gradstab.dynamics import classify
    >>> classify([0.5 + 0.5j, 0.5 - 0.5j])
    ('stable', True)
    >>> classify([1.5, 0.2])
    ('saddle', False)

    References:
        - *Gated Recurrent Units Viewed Through the Lens of Continuous Time
          Dynamical Systems*, I. D. Jordan, P. A. Sokol, I. M. Park, Frontiers in
          Computational Neuroscience, 2021.
          <https://doi.org/10.3389/fncom.2021.678158>
    """
    eigenvalues = np.asarray(eigenvalues, "complex128")
    moduli = np.abs(eigenvalues)
    rotation = bool(np.any(np.abs(eigenvalues.imag) > tolerance))
    if np.any(np.abs(moduli - 1.0) <= tolerance):
        return "marginal", rotation
    if np.all(moduli < 1.0):
        return "stable", rotation
    if np.all(moduli > 1.0):
        return "unstable", rotation
    return "saddle", rotation


def _starts(cell_map, num_starts, low, high, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=(num_starts, cell_map.dim))


def levenberg_marquardt(cell_map, h, max_iterations=100, tolerance=1e-9):
    """Levenberg-Marquardt on `1/2 ||F(h) - h||^2` from each row of `h` (float64).

    Returns the final points `[N, dim]` and their costs `||F(h) - h||^2` `[N]`; a
    start converged where `sqrt(cost) <= tolerance`.
    """
    h = np.array(h, "float64")
    num_starts = len(h)
    eye = np.eye(cell_map.dim)
    damping = np.full(num_starts, 1e-3)
    residual = cell_map(h) - h
    cost = np.sum(residual**2, axis=1)
    for _ in range(max_iterations):
        active = cost > tolerance**2 / 4
        if not np.any(active):
            break
        jac = cell_map.jacobian(h[active]) - eye
        jt = np.swapaxes(jac, 1, 2)
        lhs = jt @ jac + damping[active, None, None] * eye
        step = -np.linalg.solve(lhs, (jt @ residual[active][..., None]))[..., 0]
        trial = h[active] + step
        trial_residual = cell_map(trial) - trial
        trial_cost = np.sum(trial_residual**2, axis=1)
        better = np.isfinite(trial_cost) & (trial_cost < cost[active])
        idx = np.flatnonzero(active)
        h[idx[better]] = trial[better]
        residual[idx[better]] = trial_residual[better]
        cost[idx[better]] = trial_cost[better]
        damping[idx[better]] = np.maximum(damping[idx[better]] / 3.0, 1e-12)
        damping[idx[~better]] *= 4.0
    return h, cost


def find_fixed_points(
    cell,
    inputs=None,
    num_starts=256,
    low=-1.0,
    high=1.0,
    seed=0,
    max_iterations=100,
    tolerance=1e-9,
    distinct=1e-5,
):
    """Finds the fixed points of `h <- F(h, x)` for a recurrent cell and constant input.

    Minimizes `1/2 ||F(h) - h||^2` from `num_starts` points drawn uniformly in
    `[low, high]^dim` by Levenberg-Marquardt steps (Jacobians by central
    differences in float64), keeps the minima where the residual is below
    `tolerance`, merges those closer than `distinct`, and classifies each by the
    eigenvalues of the step's Jacobian (`classify`). Saddles and unstable points are
    found too, since the search solves `F(h) = h` rather than iterating `F`.

    Args:
        cell: a built Keras recurrent cell: `GRUCell`, `SimpleRNNCell`, `LSTMCell`
            or any cell with integer `state_size` (the flat state concatenates
            the cell's states, e.g. `[h, c]` for an LSTM).
        inputs: the constant input, shape `[input_dim]`; zeros if `None`.
        num_starts: number of starting points.
        low: lower bound of the box the starts are drawn from.
        high: upper bound of that box.
        seed: seed of the starting points.
        max_iterations: Levenberg-Marquardt iterations per start.
        tolerance: largest residual `||F(h) - h||` accepted.
        distinct: points closer than this are one fixed point.

    Returns:
        A list of `FixedPoint`, sorted by state.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.dynamics import find_fixed_points
    >>> cell = keras.layers.SimpleRNNCell(1, use_bias=False)
    >>> cell.build((None, 1))
    >>> _ = cell.recurrent_kernel.assign(np.array([[2.0]], "float32"))
    >>> [(round(float(p.state[0]), 3) + 0.0, p.kind) for p in find_fixed_points(cell)]
    [(-0.958, 'stable'), (0.0, 'unstable'), (0.958, 'stable')]

    References:
        - *Gated Recurrent Units Viewed Through the Lens of Continuous Time
          Dynamical Systems*, I. D. Jordan, P. A. Sokol, I. M. Park, Frontiers in
          Computational Neuroscience, 2021.
          <https://doi.org/10.3389/fncom.2021.678158>
    """
    if not isinstance(num_starts, int) or num_starts < 1:
        raise ValueError(f"`num_starts` must be a positive integer; received {num_starts!r}.")
    if not low < high:
        raise ValueError(f"`low` must be below `high`; received low={low}, high={high}.")
    cell_map = CellMap(cell, inputs)
    h, cost = levenberg_marquardt(
        cell_map, _starts(cell_map, num_starts, low, high, seed), max_iterations, tolerance
    )
    found = []
    for point in h[np.sqrt(cost) <= tolerance]:
        if all(np.linalg.norm(point - q) > distinct for q in found):
            found.append(point)
    found.sort(key=tuple)
    points = []
    for point in found:
        eigenvalues = np.linalg.eigvals(cell_map.jacobian(point)[0])
        kind, rotation = classify(eigenvalues)
        res = float(np.linalg.norm(cell_map(point) - point))
        points.append(FixedPoint(point, eigenvalues, kind, rotation, res))
    return points
