# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # pLSTM on grids: bounded P-mode, decaying D-mode, and arrow-pointing extrapolation
#
# A 2D pLSTM (`keras_gradstab.layers.PLSTM2D`, kernels in
# `keras_gradstab.ops.plstm_2d`) sums, for every cell, the contributions of all
# cells before it along every path of the grid, each path weighted by the
# product of its transition gates. There are binom(dx + dy, dx) paths between
# two cells, so unconstrained transitions explode with distance. The two modes
# of Pöppel et al. (2025) prevent that:
#
# 1. **P-mode** (directed propagation) splits every incoming state between the
#    two outgoing edges with non-negative weights summing to one: the outputs
#    stay bounded whatever the grid size and the input scale.
# 2. **D-mode** (diffusive distribution) keeps a single path between two cells
#    and |T| < 1 on each edge: the influence of a cell decays with distance.
#
# The third part shows the zoo preset `plstm2d_arrow` (recipe `model_zoo/plstm2d_arrow`): a
# `PLSTMVisionClassifier` trained on arrow-pointing images at one size and
# tested at twice that size, beside a ViT trained the same way.
# Set `KERAS_GRADSTAB_QUICK=1` for the short run that the tests execute.

# %%
import os

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import keras_gradstab as kg  # noqa: E402
from keras_gradstab._tutorial import tutorial_settings

QUICK, OUT_DIR = tutorial_settings()
SIZES = (8, 16, 32) if QUICK else (8, 16, 32, 64)
results = {}


def run_jit(fn):
    """`fn` jitted on JAX (whose eager mode compiles every op separately)."""
    if keras.config.backend() == "jax":
        import jax

        return jax.jit(fn)
    return fn


# %% [markdown]
# ## 1. P-mode stays bounded as the grid grows
#
# We take the gates of a freshly built P-mode `PLSTM2D` computed from random
# inputs at two scales (1 and 100: large inputs saturate the gates), unit-norm
# queries, keys and values, and run one orientation of the recurrence on grids
# of 8 x 8 to 64 x 64 cells. For comparison, the same recurrence with every
# transition at 0.75 (what P-mode forbids: an incoming state then leaves with
# weight 1.5) and sources, marks at 0.5.


# %%
def p_mode_peak(size, scale, seed=0):
    keras.utils.set_random_seed(seed)
    layer = kg.layers.PLSTM2D(num_heads=2, mode="P")
    x = scale * np.random.default_rng(seed).normal(size=(1, size, size, 8)).astype("float32")
    layer.build(x.shape)
    x = ops.convert_to_tensor(x)
    gates = {n: layer._fold(t) for n, t in layer._edge_gates(x).items()}
    q, k, v = (layer._fold(t) for t in layer._project(x))
    q, k, v = (t / ops.sqrt(ops.sum(t * t, axis=-1, keepdims=True)) for t in (q, k, v))
    h = run_jit(lambda *a: kg.ops.plstm_2d(*a, form="recurrent"))(
        q, k, v, *(gates[n] for n in ("source_r", "source_d", "transition_rl",
                                      "transition_du", "transition_dl", "transition_ru",
                                      "mark_l", "mark_u", "direct")))
    return float(np.max(np.abs(ops.convert_to_numpy(h))))


def unconstrained_peak(size, seed=0):
    q, k, v = np.random.default_rng(seed).normal(size=(3, 1, size, size, 2)).astype("float32")
    half = np.full((1, size, size), 0.5, "float32")
    heavy = np.full((1, size, size), 0.75, "float32")
    h = run_jit(lambda *a: kg.ops.plstm_2d(*a, form="recurrent"))(
        q, k, v, half, half, heavy, heavy, heavy, heavy, half, half, half)
    return float(np.max(np.abs(ops.convert_to_numpy(h))))


p_mode = {scale: [p_mode_peak(n, scale) for n in SIZES] for scale in (1.0, 100.0)}
unconstrained = [unconstrained_peak(n) for n in SIZES]
results["grid_sizes"] = list(SIZES)
results["p_mode_max_abs_h"] = {str(s): v for s, v in p_mode.items()}
results["unconstrained_max_abs_h"] = unconstrained
for i, n in enumerate(SIZES):
    print(f"{n:3d} x {n:<3d} P-mode max |h|: scale 1 {p_mode[1.0][i]:.3f}, scale 100 "
          f"{p_mode[100.0][i]:.3f}; transitions 0.75: {unconstrained[i]:.3g}")

# %% [markdown]
# ## 2. D-mode influence decays with distance
#
# The gradient of one output of the corner cell (0, 0) of a D-mode `PLSTM2D`
# (four orientations) with respect to every input cell, its norm averaged over
# the cells at each Manhattan distance from the corner.

# %%
GRID = 12 if QUICK else 24
keras.utils.set_random_seed(0)
d_layer = kg.layers.PLSTM2D(num_heads=2, mode="D", form="recurrent")
x_grid = np.random.default_rng(5).normal(size=(1, GRID, GRID, 4)).astype("float32")
d_layer.build(x_grid.shape)
readout = np.random.default_rng(6).normal(size=(4,)).astype("float32")


def corner_output(x):
    return ops.sum(d_layer(x)[:, 0, 0] * ops.convert_to_tensor(readout))


def corner_gradient(x):
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        return np.asarray(jax.jit(jax.grad(corner_output))(x))
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = corner_output(x)
        return tape.gradient(y, x).numpy()
    import torch

    x = torch.tensor(x, requires_grad=True)
    corner_output(x).backward()
    return x.grad.numpy()


norms = np.linalg.norm(corner_gradient(x_grid)[0], axis=-1)
distance = np.add.outer(np.arange(GRID), np.arange(GRID))
by_distance = np.array([norms[distance == d].mean() for d in range(2 * GRID - 1)])
results["d_mode_jacobian_norm_by_distance"] = by_distance.tolist()
print("D-mode Jacobian norm vs distance:", np.array2string(by_distance, precision=3))

# %% [markdown]
# ## 3. Arrow pointing: trained at one size, tested at twice that size
#
# `model_zoo/plstm2d_arrow/train.py` trains a pLSTM classifier and a ViT of
# similar size the same way on 64-px images and tests them on 64-px images and
# on 128-px images with objects of the same size, so arrow and circle lie
# further apart than in any training image; the position embedding is
# resampled to the larger grid of patches. At 64 px the paper's proportions
# draw an arrow about one pixel wide whose head cannot be told from its tail,
# so the recipe draws the arrow 2.5 times longer and wider
# (`arrow_pointing(..., arrow_scale=2.5)`; circles and border padding keep the
# paper's proportions). The pLSTM of that run ships as the zoo preset
# `plstm2d_arrow` (trained on a GPU: 100,000 images, 20 epochs, the
# epoch kept by separate validation images at twice the size). Below are the
# accuracies recorded in its metadata, with the ViT's beside them: both reach
# 95-98% at the training size; at twice the size the pLSTM keeps 70.0% and
# the ViT 67.25%, below the paper's 77.8% for its much larger pLSTM (the
# recipe's README gives all runs and commands).

# %%
metadata = kg.zoo.preset_metadata("plstm2d_arrow")
recorded = metadata["results"]
results["arrow"] = {"recorded": recorded}
for kind, r in recorded.items():
    print(f"{kind:6s} ({r['parameters']} parameters): {r['accuracy_train_size']:.3f} at "
          f"{metadata['train_image_size']} px, {r['accuracy_twice_size']:.3f} at "
          f"{metadata['test_image_size']} px")

# %% [markdown]
# ## Figures
#
# `plstm_arrow_stability.png`: left, max |h| against the grid side for P-mode
# gates (inputs of scale 1 and 100) and for transitions of 0.75 (log scale);
# right, the D-mode Jacobian norm against the distance from the corner cell.
# `plstm_arrow_extrapolation.png`: left, a training image and a test image at
# twice the size (same object size); right, the accuracy of the pLSTM and the
# ViT at the training size and at twice that size.

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
for scale, peaks in p_mode.items():
    axes[0].plot(SIZES, peaks, "o-", label=f"P-mode, input scale {scale:g}")
axes[0].plot(SIZES, unconstrained, "s--", label="transitions 0.75 (unconstrained)")
axes[0].set_yscale("log")
axes[0].set_xlabel("grid side (cells)")
axes[0].set_ylabel("max |h|")
axes[0].legend(fontsize=7)
axes[1].semilogy(np.arange(len(by_distance)), np.maximum(by_distance, 1e-12), "o-")
axes[1].set_xlabel("Manhattan distance from the corner cell")
axes[1].set_ylabel("mean |d h_corner / d x|")
axes[1].set_title("D-mode", fontsize=9)
fig.tight_layout()
fig.savefig(os.path.join(OUT_DIR, "plstm_arrow_stability.png"), dpi=110)

train_kwargs = dict(metadata["train_data"]["kwargs"], num_train=1, num_test=0)
(x_small, _), _ = kg.datasets.arrow_pointing(**train_kwargs)
_, (x_large, y_large) = kg.datasets.arrow_pointing(
    **dict(metadata["data"]["kwargs"], num_train=0, num_test=1))
fig = plt.figure(figsize=(9, 3.2))
ax = fig.add_subplot(1, 3, 1)
ax.imshow(x_small[0, ..., 0], cmap="gray", extent=(0, x_small.shape[1], x_small.shape[1], 0))
ax.set_title(f"train: {x_small.shape[1]} px", fontsize=9)
ax = fig.add_subplot(1, 3, 2)
ax.imshow(x_large[0, ..., 0], cmap="gray", extent=(0, x_large.shape[1], x_large.shape[1], 0))
ax.set_title(f"test: {x_large.shape[1]} px, label {y_large[0]}", fontsize=9)
ax = fig.add_subplot(1, 3, 3)
kinds = list(recorded)
width = 0.35
for i, key in enumerate(("accuracy_train_size", "accuracy_twice_size")):
    ax.bar(np.arange(len(kinds)) + (i - 0.5) * width, [recorded[k][key] for k in kinds],
           width, label=key.replace("accuracy_", "").replace("_", " "))
ax.axhline(0.78, color="gray", ls=":", lw=1)
ax.set_xticks(np.arange(len(kinds)), kinds)
ax.set_ylim(0.4, 1.0)
ax.set_ylabel("test accuracy")
ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(os.path.join(OUT_DIR, "plstm_arrow_extrapolation.png"), dpi=110)
