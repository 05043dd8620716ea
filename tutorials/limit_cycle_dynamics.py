# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Recurrent networks as dynamical systems: limit-cycle initialization
#
# With zero input, a recurrent cell is a map `h <- F(h)`. Its long-run behaviour
# decides whether gradients survive many steps: near a stable fixed point every
# perturbation shrinks (gradients vanish), in chaos they grow. Sokol, Jordan,
# Kadile & Park (2019) initialize a tanh RNN just past the bifurcation where the
# stable fixed point at 0 becomes an attracting closed orbit (a limit cycle):
# perturbations across the orbit shrink, the one along it neither shrinks nor
# grows. `keras_gradstab.initializers.LimitCycle` gives the recurrent matrix
# (2x2 blocks `s R(t)`, `s` in [1, 1.1]), `put_on_limit_cycle` sets a Keras layer on it.
#
# We look at (1) the orbit of a 2-unit tanh RNN and what
# `keras_gradstab.dynamics.find_limit_cycles` reports about it (period, Floquet
# multipliers); (2) the gradient `d h_k / d h_0` through 1000 steps of a 64-unit
# RNN, limit cycle against Glorot; (3) the phase portrait of a 2-unit GRU with its
# fixed points found and classified. `KERAS_GRADSTAB_QUICK=1` runs a shorter
# version (the tests run it).

# %%
import os

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import keras_gradstab as kg  # noqa: E402
from keras_gradstab._tutorial import tutorial_settings
from keras_gradstab.dynamics import CellMap, find_fixed_points, find_limit_cycles  # noqa: E402

QUICK, OUT_DIR = tutorial_settings()
STEPS = 1000
UNITS = 64
GLOROT_DRAWS = 6 if QUICK else 20
results = {}

# %% [markdown]
# ## 1. The orbit of a 2-unit tanh RNN on the limit cycle
#
# `SimpleRNN(2)` with zero input computes `h <- tanh(h W)`. With `W = s R(t)`,
# `s > 1`, the origin is an unstable focus and every orbit winds onto a closed
# curve. `find_limit_cycles` iterates orbits from random starts, drops the
# transient, and reports the cycle: its period (steps per turn; not an integer,
# the orbit winds along the curve without closing exactly) and its Floquet
# multipliers: one of modulus 1 (along the cycle), one inside the unit circle
# (across it: the cycle attracts).

# %%
rnn2 = keras.layers.SimpleRNN(2)
rnn2.build((None, 1, 1))
w2 = kg.initializers.put_on_limit_cycle(rnn2, kg.initializers.LimitCycle(seed=0))
(cycle,) = find_limit_cycles(rnn2.cell, num_starts=4, transient=1000, num_steps=1000)
(origin,) = find_fixed_points(rnn2.cell)
print(f"W = {np.round(w2, 3).tolist()}")
print(f"origin: {origin.kind}, rotating={origin.rotation}, |eigenvalues| "
      f"{np.round(np.abs(origin.eigenvalues), 4).tolist()}")
print(f"cycle: stable={cycle.stable}, period {cycle.period:.2f} steps, |Floquet multipliers| "
      f"{np.round(np.abs(cycle.multipliers), 4).tolist()}, neutral directions {cycle.neutral}")
results["cycle"] = {"stable": cycle.stable, "period": cycle.period, "neutral": cycle.neutral,
                    "multiplier_moduli": np.abs(cycle.multipliers).tolist(),
                    "origin": origin.kind}

orbits = CellMap(rnn2.cell).orbit(np.array([[0.01, 0.0], [0.9, -0.9]]), 300)
fig, ax = plt.subplots(figsize=(4.5, 4.5))
for k, start in enumerate(["near the origin", "far out"]):
    ax.plot(orbits[:, k, 0], orbits[:, k, 1], ".", ms=2, label=f"orbit from {start}")
ax.plot(cycle.points[:, 0], cycle.points[:, 1], "kD", ms=5, label="cycle found (one turn)")
ax.plot(0, 0, "o", mfc="white", mec="black", label=f"origin ({origin.kind})")
ax.set_aspect("equal")
ax.set_title(f"tanh RNN on a limit cycle: period {cycle.period:.1f} steps")
ax.legend(fontsize=7, loc="lower right")
fig.tight_layout()
fig.savefig(os.path.join(OUT_DIR, "limit_cycle_dynamics_orbit.png"), dpi=120)
plt.close(fig)

# %% [markdown]
# `limit_cycle_dynamics_orbit.png`: orbits from inside and outside converge to the
# cycle that `find_limit_cycles` reports (black).
#
# ## 2. Gradients through 1000 steps: limit cycle vs Glorot
#
# For a 64-unit tanh RNN with zero input we push 16 random perturbations `V` of
# `h_0` through the step Jacobians (`CellMap.jacobian`, float64) and record the
# norm of `V d h_k / d h_0` relative to step 1. With the limit-cycle matrix (32
# independent 2-D cycles, a torus) it stays within [1e-3, 1e3].
#
# Glorot's uniform recurrent matrix has entries of variance 1/n: its spectral
# radius sits at the edge, 1 +- O(n^-1/2), and what happens depends on the draw.
# Some draws' orbits settle on a fixed point or a period-2 orbit (`h*`, `-h*`);
# there every Floquet multiplier is inside the unit circle, and the gradient
# decays geometrically, at the rate of the largest multiplier: out of the range
# long before step 1000. The other draws' orbits keep winding on an attractor
# with a neutral direction, and their gradient stays in range. So a Glorot RNN
# leaves the range for some draws (10 of 20 in `tests/dynamics`), not reliably;
# the limit cycle never does.

# %%
def gradient_ratios(w, h0, probes):
    """Relative norms of V dh_k/dh_0 for h <- tanh(h w), and the last 3 states."""
    cell = keras.layers.SimpleRNNCell(w.shape[0])
    cell.build((None, 1))
    cell.recurrent_kernel.assign(w.astype("float32"))
    cell.bias.assign(np.zeros(w.shape[0], "float32"))
    cell_map = CellMap(cell)  # SimpleRNNCell: an exact float64 transcription of its step
    orbit = cell_map.orbit(h0, STEPS)[:, 0]
    product, norms = probes, []
    for jac in cell_map.jacobian(orbit[:-1]):
        product = product @ jac.T
        norms.append(np.linalg.norm(product))
    return np.array(norms) / norms[0], orbit[-3:]


def in_range(ratios):
    return bool(ratios.min() >= 1e-3 and ratios.max() <= 1e3)


runs = []
for seed in range(GLOROT_DRAWS):
    rng = np.random.default_rng(seed)
    h0 = 0.5 * rng.normal(size=UNITS)
    probes = rng.normal(size=(16, UNITS))
    limit = np.sqrt(6.0 / (2 * UNITS))
    w_glorot = rng.uniform(-limit, limit, size=(UNITS, UNITS))
    w_lc = np.asarray(keras.ops.convert_to_numpy(
        kg.initializers.LimitCycle(seed=seed)((UNITS, UNITS))), "float64")
    lc, _ = gradient_ratios(w_lc, h0, probes)
    glorot, last = gradient_ratios(w_glorot, h0, probes)
    periodic = bool(np.linalg.norm(last[2] - last[0]) < 1e-8)  # period 1 or 2
    runs.append({"seed": seed, "limit_cycle": lc, "glorot": glorot, "periodic": periodic})
results["gradients"] = [{"seed": r["seed"], "limit_cycle_in_range": in_range(r["limit_cycle"]),
                         "glorot_in_range": in_range(r["glorot"]),
                         "glorot_periodic": r["periodic"],
                         "glorot_final": float(r["glorot"][-1]),
                         "limit_cycle_final": float(r["limit_cycle"][-1])} for r in runs]
for r in results["gradients"]:
    print(f"draw {r['seed']}: limit cycle in range {r['limit_cycle_in_range']} "
          f"(ratio at step 1000 {r['limit_cycle_final']:.3g}); Glorot "
          f"{'settles on a period-1/2 orbit' if r['glorot_periodic'] else 'keeps winding'}, "
          f"in range {r['glorot_in_range']} (ratio {r['glorot_final']:.3g})")

fig, ax = plt.subplots(figsize=(6, 4))
steps = np.arange(1, STEPS + 1)
for k, r in enumerate(runs):
    ax.plot(steps, r["limit_cycle"], color="tab:blue", lw=1,
            label="limit cycle" if k == 0 else None)
for label, periodic, style in [("Glorot, orbit keeps winding", False, "-"),
                               ("Glorot, orbit settles (period 1 or 2)", True, "--")]:
    for k, r in enumerate(x for x in runs if x["periodic"] == periodic):
        ax.plot(steps, r["glorot"], style, color="tab:red", lw=1,
                label=label if k == 0 else None)
ax.axhspan(1e-3, 1e3, color="0.9", zorder=0)
ax.set_yscale("log")
ax.set_ylim(1e-12, 1e6)
ax.set_xlabel("step k")
ax.set_ylabel("||V dh_k/dh_0|| / ||V dh_1/dh_0||")
ax.set_title(f"tanh RNN, {UNITS} units, zero input, {GLOROT_DRAWS} draws")
ax.legend(fontsize=7, loc="lower left")
fig.tight_layout()
fig.savefig(os.path.join(OUT_DIR, "limit_cycle_dynamics_gradients.png"), dpi=120)
plt.close(fig)

# %% [markdown]
# `limit_cycle_dynamics_gradients.png`: the grey band is [1e-3, 1e3]. Every
# limit-cycle draw (blue) stays in it; the Glorot draws whose orbit settles on a
# fixed point or a period-2 orbit (red, dashed) decay geometrically out of it.
#
# ## 3. Phase portrait of a 2-unit GRU
#
# A GRU with zero input and hand-set weights: gates at 1/2, candidate recurrent
# matrix `U`, so `h <- 0.5 h + 0.5 tanh(0.5 h U + b)` (the update gate sets the
# speed, not where the fixed points are). With a gain above 1 on the first unit
# it is bistable: two stable points and a saddle between them.
# `find_fixed_points` solves `F(h) = h` from many starts (so it finds the saddle
# too) and classifies each point by the eigenvalues of the step's Jacobian;
# `phase_portrait` draws the step as arrows, the nullclines of both units and a
# few orbits.

# %%
gru = keras.layers.GRUCell(2)
gru.build((None, 1))
recurrent = np.zeros((2, 6), "float32")
recurrent[:, 4:] = [[3.0, 0.4], [0.2, 0.8]]
gru.recurrent_kernel.assign(recurrent)
bias = np.zeros(gru.bias.shape, "float32")
bias[0, 4:] = [0.1, -0.05]
gru.bias.assign(bias)
points = find_fixed_points(gru, num_starts=64 if QUICK else 256)
for p in points:
    print(f"fixed point {np.round(p.state, 4).tolist()}: {p.kind}, |eigenvalues| "
          f"{np.round(np.abs(p.eigenvalues), 4).tolist()}")
results["gru_fixed_points"] = [{"state": p.state.tolist(), "kind": p.kind,
                                "eigenvalues": p.eigenvalues.tolist()} for p in points]
kg.dynamics.phase_portrait(gru, os.path.join(OUT_DIR, "limit_cycle_dynamics_gru_phase.png"),
                           resolution=15 if QUICK else 31,
                           num_trajectories=4 if QUICK else 12)

# %% [markdown]
# `limit_cycle_dynamics_gru_phase.png`: the nullclines (blue and orange) cross at
# the three fixed points; orbits flow away from the saddle (red cross) into one of
# the two stable points (black).
