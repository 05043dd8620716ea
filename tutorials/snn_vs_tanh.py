# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # A 64-layer self-normalizing network against tanh with Glorot initialization
#
# Klambauer et al. (2017) built SELU so that the mean and variance of a layer's
# activations are pulled toward a fixed point (0, 1) whatever the depth, with
# weights of variance 1 / fan_in (lecun_normal). Here two 64-layer MLPs of the
# same width get the same standard-normal inputs:
#
# - the SNN of `keras_gradstab.models.snn` (selu, lecun_normal);
# - the same stack with tanh and glorot_uniform.
#
# We look at the activation mean and variance of every layer, at the norm of
# the loss gradient with respect to every layer's output (the error signal that
# backpropagation carries, recorded during training by
# `keras_gradstab.diagnostics.GradientMonitor`), and at the verdict of
# `keras_gradstab.diagnostics.gradient_report` for each network.
# Set `KERAS_GRADSTAB_QUICK=1` for the short run that the tests execute
# (width 64 and 10 training steps instead of width 256 and 200).

# %%
import os

import keras
import numpy as np

import keras_gradstab as kg
from keras_gradstab._tutorial import tutorial_settings

QUICK, OUT_DIR = tutorial_settings()
DEPTH = 64
WIDTH = 64 if QUICK else 256
BATCH = 64 if QUICK else 128
STEPS = 10 if QUICK else 200
EVERY = 5 if QUICK else 50

# %% [markdown]
# Data: standard-normal inputs and a smooth random teacher (a regression
# target), the same for both networks. The probe batch of the monitor is a
# fixed batch of the same data, so records at different steps compare.

# %%
rng = np.random.default_rng(0)
x = rng.normal(size=(STEPS * BATCH, WIDTH)).astype("float32")
teacher = rng.normal(size=(WIDTH, 1)) / np.sqrt(WIDTH)
y = np.sin(3 * x @ teacher).astype("float32")
x_probe, y_probe = x[:BATCH], y[:BATCH]


def build(kind):
    keras.utils.set_random_seed(0)
    if kind == "snn":
        return kg.models.snn((WIDTH,), units=WIDTH, depth=DEPTH, output_units=1,
                             dropout_rate=0.0, name="snn")
    return kg.models.snn((WIDTH,), units=WIDTH, depth=DEPTH, output_units=1,
                         dropout_rate=0.0, activation="tanh",
                         kernel_initializer="glorot_uniform", name="tanh_glorot")


# %% [markdown]
# ## At initialization: `gradient_report`
#
# The report's flag compares the error signal at the first hidden layer with
# the one at the last layer (`ratio` = first / last).

# %%
models, reports = {}, {}
for kind in ("snn", "tanh"):
    models[kind] = build(kind)
    reports[kind] = kg.diagnostics.gradient_report(models[kind], x_probe, y_probe)
    print(f"--- {kind} ---")
    print("\n".join(str(reports[kind]).splitlines()[-1:]))

# %% [markdown]
# ## Training with the monitor
#
# Both networks train for the same number of Adam steps; the monitor records
# every layer's gradient norms and activation statistics on the probe batch.

# %%
monitors, losses = {}, {}
for kind, model in models.items():
    model.compile(keras.optimizers.Adam(1e-4), "mse")
    monitors[kind] = kg.diagnostics.GradientMonitor(x_probe, y_probe, every=EVERY)
    history = model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False,
                        callbacks=[monitors[kind]])
    losses[kind] = float(model.evaluate(x_probe, y_probe, verbose=0))
    monitors[kind].plot(os.path.join(OUT_DIR, f"snn_vs_tanh_monitor_{kind}.png"))
    print(f"{kind}: probe loss after {STEPS} steps {losses[kind]:.4f}")

# %% [markdown]
# ## Figures
#
# - `snn_vs_tanh.png`: left, the activation mean and variance of every hidden
#   layer at initialization (the SNN stays at (0, 1); tanh's variance decays
#   like 1 / depth); right, the norm of the error signal at every layer at
#   initialization (log scale).
# - `snn_vs_tanh_monitor_snn.png` and `snn_vs_tanh_monitor_tanh.png`: the
#   monitor's own plots, the error-signal norm vs depth (one line per recorded
#   step) and vs training step (one line per layer).

# %%
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

figure = Figure(figsize=(11, 3.6))
FigureCanvasAgg(figure)
stats_axes, grad_axes = figure.subplots(1, 2)
results = {"depth": DEPTH, "width": WIDTH, "steps": STEPS, "loss": losses}
for kind, color in (("snn", "tab:blue"), ("tanh", "tab:red")):
    rows = [r for r in monitors[kind].history
            if r["step"] == 0 and r["layer"].startswith("dense_")]
    depth = [r["depth"] for r in rows]
    mean = np.array([r["activation_mean"] for r in rows])
    var = np.array([r["activation_var"] for r in rows])
    grad = np.array([r["output_grad_norm"] for r in rows])
    stats_axes.plot(depth, mean, color=color, linestyle="--", label=f"{kind} mean")
    stats_axes.plot(depth, var, color=color, label=f"{kind} variance")
    grad_axes.plot(depth, grad, color=color, label=kind)
    report = reports[kind]
    results[kind] = {
        "ratio": report.ratio,
        "threshold": report.threshold,
        "vanishing": bool(report.vanishing),
        "exploding": bool(report.exploding),
        "max_abs_mean": float(np.abs(mean).max()),
        "max_abs_var_minus_1": float(np.abs(var - 1).max()),
        "last_var": float(var[-1]),
    }
stats_axes.set_xlabel("hidden layer")
stats_axes.set_title("activations at initialization")
stats_axes.legend(fontsize=8)
grad_axes.set_yscale("log")
grad_axes.set_xlabel("layer")
grad_axes.set_ylabel("|dL / d output|")
grad_axes.set_title("error signal at initialization")
grad_axes.legend(fontsize=8)
figure.tight_layout()
figure.savefig(os.path.join(OUT_DIR, "snn_vs_tanh.png"), dpi=110)

for kind in ("snn", "tanh"):
    r = results[kind]
    verdict = "vanishing" if r["vanishing"] else "exploding" if r["exploding"] else "healthy"
    print(f"{kind:5s}: first/last error-signal ratio {r['ratio']:.3g} -> {verdict}; "
          f"max |mean| {r['max_abs_mean']:.3f}, max |var - 1| {r['max_abs_var_minus_1']:.3f}")

# %% [markdown]
# What to read: the SNN's activations stay at mean 0 and variance 1 through all
# 64 layers, and its error signal changes smoothly with depth: it grows toward
# the input by about chi^(depth / 2), chi = scale^2 E[selu'(z)^2] = 1.07 at the
# fixed point (`report.chi` is the measured value). The tanh network's activation
# variance decays like 1 / depth and its error signal shrinks toward the input
# (a power law: tanh with C_W = 1 is critical, but its fixed point is K* = 0).
# `gradient_report` flags tanh as vanishing and not the SNN. Its default
# threshold, one e-fold over the whole depth (the criticality window
# |chi - 1| = O(1 / depth)), calls the SNN's ninefold growth exploding, which is
# what chi = 1.07 means; in the full run: SNN ratio 10.8, tanh 0.161.
