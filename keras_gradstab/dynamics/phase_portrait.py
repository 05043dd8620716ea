"""Phase portraits of a recurrent cell in a 2D plane of its state, with nullclines."""

import numpy as np

from keras_gradstab.dynamics.cell_map import CellMap
from keras_gradstab.dynamics.fixed_points import find_fixed_points

_MARKERS = {
    "stable": ("o", "black"),
    "unstable": ("o", "white"),
    "saddle": ("X", "tab:red"),
    "marginal": ("s", "tab:gray"),
}


def phase_portrait(
    cell,
    path,
    inputs=None,
    dims=(0, 1),
    base=None,
    low=-1.0,
    high=1.0,
    resolution=41,
    num_trajectories=8,
    trajectory_steps=200,
    seed=0,
    fixed_points=True,
):
    """Draws the phase portrait of a cell's step in the plane of two state units.

    The plane goes through `base` (zeros by default) along units `dims`. It shows
    the step `F(h) - h` as arrows, the nullclines `F_i(h) = h_i` and
    `F_j(h) = h_j` of the two units (the curves where each stands still), a few
    orbits from random starts in the plane, and the fixed points that
    `find_fixed_points` finds (for a 2-unit state, all of them; otherwise those
    within a grid cell of the plane), marked by kind. Written as a PNG with
    matplotlib's Agg backend.

    Args:
        cell: a built Keras recurrent cell (see `find_fixed_points`).
        path: the PNG file to write.
        inputs: the constant input, shape `[input_dim]`; zeros if `None`.
        dims: the two flat-state units spanning the plane.
        base: the flat state the plane passes through; zeros if `None`.
        low: lower bound of both axes.
        high: upper bound of both axes.
        resolution: grid points per axis for arrows and nullclines.
        num_trajectories: orbits drawn.
        trajectory_steps: steps per orbit.
        seed: seed of the orbits' starts (and of the fixed-point search).
        fixed_points: whether to search for and mark fixed points.

    Returns:
        `path`.

    Example:

    >>> import os, tempfile
    >>> import keras
    >>> from keras_gradstab.dynamics import phase_portrait
    >>> cell = keras.layers.GRUCell(2)
    >>> cell.build((None, 1))
    >>> path = phase_portrait(cell, os.path.join(tempfile.mkdtemp(), "gru.png"))
    >>> os.path.getsize(path) > 0
    True

    References:
        - *Gated Recurrent Units Viewed Through the Lens of Continuous Time
          Dynamical Systems*, I. D. Jordan, P. A. Sokol, I. M. Park, Frontiers in
          Computational Neuroscience, 2021.
          <https://doi.org/10.3389/fncom.2021.678158>
    """
    try:
        import matplotlib
    except ImportError as e:  # pragma: no cover - optional dependency
        raise ImportError("phase_portrait needs matplotlib: pip install matplotlib") from e
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    cell_map = CellMap(cell, inputs)
    i, j = (int(d) for d in dims)
    if i == j or not (0 <= i < cell_map.dim and 0 <= j < cell_map.dim):
        raise ValueError(
            f"`dims` must be two different units in [0, {cell_map.dim}); received {dims!r}."
        )
    if not isinstance(resolution, int) or resolution < 3:
        raise ValueError(f"`resolution` must be an integer >= 3; received {resolution!r}.")
    base = np.zeros(cell_map.dim) if base is None else np.asarray(base, "float64").reshape(-1)
    if base.shape != (cell_map.dim,):
        raise ValueError(f"`base` must have {cell_map.dim} entries; received {base.shape}.")
    axis = np.linspace(low, high, resolution)
    u, v = np.meshgrid(axis, axis)
    grid = np.tile(base, (u.size, 1))
    grid[:, i], grid[:, j] = u.ravel(), v.ravel()
    delta = cell_map(grid) - grid
    du, dv = delta[:, i].reshape(u.shape), delta[:, j].reshape(u.shape)

    fig, ax = plt.subplots(figsize=(6, 6))
    ax.quiver(u, v, du, dv, color="0.6", angles="xy")
    ax.contour(u, v, du, levels=[0.0], colors="tab:blue")
    ax.contour(u, v, dv, levels=[0.0], colors="tab:orange")
    rng = np.random.default_rng(seed)
    starts = np.tile(base, (num_trajectories, 1))
    starts[:, [i, j]] = rng.uniform(low, high, size=(num_trajectories, 2))
    for orbit in np.swapaxes(cell_map.orbit(starts, trajectory_steps), 0, 1):
        ax.plot(orbit[:, i], orbit[:, j], lw=0.8, color="tab:green", alpha=0.8)
    if fixed_points:
        spacing = (high - low) / (resolution - 1)
        others = [k for k in range(cell_map.dim) if k not in (i, j)]
        for point in find_fixed_points(cell, inputs, low=low, high=high, seed=seed):
            if others and np.max(np.abs(point.state[others] - base[others])) > spacing:
                continue
            marker, color = _MARKERS[point.kind]
            ax.plot(
                point.state[i],
                point.state[j],
                marker,
                ms=9,
                mfc=color,
                mec="black",
                label=f"{point.kind}{' (rotating)' if point.rotation else ''}",
            )
        handles, labels = ax.get_legend_handles_labels()
        if labels:
            unique = dict(zip(labels, handles))
            ax.legend(unique.values(), unique.keys(), loc="upper right", fontsize=8)
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel(f"h[{i}]  (blue: nullcline of h[{i}])")
    ax.set_ylabel(f"h[{j}]  (orange: nullcline of h[{j}])")
    ax.set_title(f"{type(cell).__name__}: phase portrait")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
