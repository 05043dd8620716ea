"""Limit cycles of a recurrent cell: recurrence of the orbit, Floquet multipliers."""

import dataclasses

import numpy as np

from keras_gradstab.dynamics.cell_map import CellMap
from keras_gradstab.dynamics.fixed_points import levenberg_marquardt

MIN_TURNS = 2  # a closed curve must be wound around at least this often when recorded


@dataclasses.dataclass
class Cycle:
    """An attracting closed orbit of a cell's step with constant input.

    A discrete map has two kinds: an exactly periodic orbit (`exact=True`,
    integer period, Floquet multipliers = eigenvalues of the product of the step
    Jacobians around it), or an invariant closed curve that the orbit winds along
    without closing exactly (what a Neimark-Sacker bifurcation, e.g. the limit-cycle
    initialization, gives; `exact=False`). For the latter `period` is the mean
    number of steps per turn (from the mean winding angle) and the multipliers are
    `exp(period * lyapunov_exponents)`, the Floquet multipliers of the curve.

    Attributes:
        points: the orbit over one period (at least 2 points), `[p, dim]`.
        period: steps per turn (an integer when exact).
        exact: whether the orbit closes exactly (to the tolerance).
        multipliers: Floquet multipliers, largest modulus first.
        lyapunov_exponents: per-step Lyapunov exponents along the orbit, largest first.
        neutral: number of multipliers of modulus 1 (within tolerance): 1 for a
            cycle (the direction along it), more for an invariant torus.
        stable: no multiplier of modulus above 1 (within tolerance): the orbit
            attracts its neighbourhood.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.dynamics import find_limit_cycles
    >>> cell = keras.layers.SimpleRNNCell(1, use_bias=False)
    >>> cell.build((None, 1))
    >>> _ = cell.recurrent_kernel.assign(np.array([[-2.0]], "float32"))
    >>> (cycle,) = find_limit_cycles(cell, num_starts=2)  # h <- tanh(-2 h): +-0.9575
    >>> cycle.exact, cycle.period, cycle.stable, np.round(np.abs(cycle.points[:, 0]), 4).tolist()
    (True, 2, True, [0.9575, 0.9575])
    """

    points: np.ndarray
    period: float
    exact: bool
    multipliers: np.ndarray
    lyapunov_exponents: np.ndarray
    neutral: int
    stable: bool


def _lyapunov_exponents(cell_map, orbit):
    # Benettin's QR method along the recorded orbit.
    q = np.eye(cell_map.dim)
    sums = np.zeros(cell_map.dim)
    jacobians = cell_map.jacobian(orbit[:-1])
    for jac in jacobians:
        q, r = np.linalg.qr(jac @ q)
        sums += np.log(np.abs(np.diag(r)) + 1e-300)
    return np.sort(sums / len(jacobians))[::-1]


def _winding_period(orbit):
    # Mean angle turned per step around the orbit's centre, in the plane of its two
    # main directions.
    centred = orbit - orbit.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    plane = centred @ vt[:2].T
    angles = np.unwrap(np.arctan2(plane[:, 1], plane[:, 0]))
    per_step = abs(angles[-1] - angles[0]) / (len(angles) - 1)
    return float(2.0 * np.pi / per_step) if per_step > 0 else float("inf")


def _spirals_into_stable_point(cell_map, orbit, shrink_tolerance):
    # The fixed point the orbit winds around: Levenberg-Marquardt from its mean.
    centre, cost = levenberg_marquardt(cell_map, orbit.mean(axis=0, keepdims=True))
    if not cost[0] <= 1e-18:
        return False
    centre = centre[0]
    if np.max(np.abs(np.linalg.eigvals(cell_map.jacobian(centre)[0]))) >= 1.0:
        return False  # an unstable centre: the orbit is repelled, not attracted
    # The distance to it, in the first and the last quarter of the record.
    distance = np.linalg.norm(orbit - centre, axis=1)
    quarter = max(1, len(distance) // 4)
    return distance[-quarter:].max() < (1.0 - shrink_tolerance) * distance[:quarter].max()


def find_limit_cycles(
    cell,
    inputs=None,
    num_starts=8,
    low=-1.0,
    high=1.0,
    seed=0,
    transient=2000,
    num_steps=2000,
    max_period=500,
    tolerance=1e-6,
    neutral_tolerance=5e-3,
    shrink_tolerance=1e-3,
):
    """Finds attracting cycles of `h <- F(h, x)` by recurrence of orbits.

    Each start (uniform in `[low, high]^dim`) is iterated `transient` steps, then
    `num_steps` more are recorded. Orbits that settle on a fixed point or leave
    every bound are dropped. An orbit that returns to its first recorded state
    within `tolerance` after `p <= max_period` steps is an exact period-`p` cycle;
    otherwise it winds along an invariant closed curve (see `Cycle`). Stability
    comes from the Floquet multipliers; orbits of several starts that lie on the
    same attractor are merged.

    A slowly decaying spiral (e.g. a GRU with near-saturated update gates, or a
    rotation scaled just below 1) has not settled after the transient and has
    per-step Lyapunov exponents within `neutral_tolerance` of 0, yet it is not a
    cycle. Two checks drop it: a curve that is not closed exactly must be wound
    around at least twice in the `num_steps` recorded (`MIN_TURNS`); and an orbit
    that winds around a fixed point whose Jacobian has every eigenvalue inside the
    unit circle, and whose distance to that point shrinks by more than
    `shrink_tolerance` (relative) between the first and the last quarter of the
    record, converges to the point and is dropped. An orbit on a genuine cycle keeps
    its distance to the point it encircles. (An orbit still approaching, from
    outside, a cycle that encloses a stable point is dropped too: raise
    `transient` for slowly attracting cycles.)

    Args:
        cell: a built Keras recurrent cell (see `find_fixed_points`).
        inputs: the constant input, shape `[input_dim]`; zeros if `None`.
        num_starts: number of starting points.
        low: lower bound of the box of starts.
        high: upper bound of the box of starts.
        seed: seed of the starts.
        transient: steps discarded before recording.
        num_steps: steps recorded per orbit.
        max_period: longest exact period looked for.
        tolerance: return distance of an exact cycle, and the step size below
            which an orbit counts as settled on a fixed point.
        neutral_tolerance: a per-step Lyapunov exponent within this of 0 counts as
            neutral (modulus-1 multiplier).
        shrink_tolerance: relative shrinking of the distance to a stable fixed
            point over the record above which an orbit counts as converging to it.

    Returns:
        A list of `Cycle`.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_gradstab.dynamics import find_limit_cycles
    >>> cell = keras.layers.SimpleRNNCell(2, use_bias=False)
    >>> cell.build((None, 1))
    >>> c, s = 1.05 * np.cos(0.5), 1.05 * np.sin(0.5)
    >>> _ = cell.recurrent_kernel.assign(np.array([[c, s], [-s, c]], "float32"))
    >>> cycles = find_limit_cycles(cell, num_starts=2)
    >>> len(cycles), cycles[0].stable, cycles[0].neutral
    (1, True, 1)

    References:
        - *Adjoint Dynamics of Stable Limit Cycle Neural Networks*, P. Sokol, I.
          Jordan, E. Kadile, I. M. Park, Asilomar Conference on Signals, Systems,
          and Computers, 2019.
    """
    if not isinstance(num_starts, int) or num_starts < 1:
        raise ValueError(f"`num_starts` must be a positive integer; received {num_starts!r}.")
    for name, value in (
        ("transient", transient),
        ("num_steps", num_steps),
        ("max_period", max_period),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")
    if not (isinstance(shrink_tolerance, (int, float)) and 0 <= shrink_tolerance < 1):
        raise ValueError(
            f"`shrink_tolerance` must be a number in [0, 1); received {shrink_tolerance!r}."
        )
    if max_period >= num_steps:
        raise ValueError(f"`max_period` ({max_period}) must be below `num_steps` ({num_steps}).")
    cell_map = CellMap(cell, inputs)
    rng = np.random.default_rng(seed)
    h = rng.uniform(low, high, size=(num_starts, cell_map.dim))
    for _ in range(transient):
        h = cell_map(h)
    orbits = cell_map.orbit(h, num_steps)  # [T + 1, N, dim]
    cycles = []
    members = []
    for i in range(num_starts):
        orbit = orbits[:, i]
        if not np.all(np.isfinite(orbit)):
            continue
        steps = np.linalg.norm(np.diff(orbit, axis=0), axis=1)
        if np.max(steps[-max_period:]) < tolerance:
            continue  # settled on a fixed point
        scale = np.ptp(orbit, axis=0).max()
        if any(np.min(np.linalg.norm(m - orbit[0], axis=1)) < 5e-2 * scale for m in members):
            continue  # same attractor as an earlier start
        returns = np.linalg.norm(orbit[1 : max_period + 1] - orbit[0], axis=1)
        closing = np.flatnonzero(returns < tolerance * max(1.0, scale))
        if not closing.size:
            if _winding_period(orbit) * MIN_TURNS > num_steps:
                continue  # not wound around often enough to show a closed curve
            if _spirals_into_stable_point(cell_map, orbit, shrink_tolerance):
                continue  # a decaying spiral
        exponents = _lyapunov_exponents(cell_map, orbit)
        if closing.size:
            period = int(closing[0] + 1)
            product = np.eye(cell_map.dim)
            for jac in cell_map.jacobian(orbit[:period]):
                product = jac @ product
            multipliers = np.linalg.eigvals(product)
            multipliers = multipliers[np.argsort(-np.abs(multipliers))]
            points = orbit[:period]
            log_moduli = np.log(np.abs(multipliers) + 1e-300) / period
        else:
            period = _winding_period(orbit)
            multipliers = np.exp(period * exponents).astype("complex128")
            points = orbit[: max(2, min(len(orbit), int(np.ceil(period)) + 1))]
            log_moduli = exponents
        neutral = int(np.sum(np.abs(log_moduli) <= neutral_tolerance))
        stable = bool(np.all(log_moduli <= neutral_tolerance))
        cycles.append(
            Cycle(points, period, bool(closing.size), multipliers, exponents, neutral, stable)
        )
        members.append(orbit)
    return cycles
