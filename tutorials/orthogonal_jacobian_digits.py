# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # A deep network without skip connections vs a ResNet, on scikit-learn digits
#
# Massucco, Murari & Schonlieb (2025) show that a network whose input-output
# Jacobian is orthogonal trains like a ResNet without any skip connection. We
# build one with `keras_gradstab.models.orthogonal_jacobian_mlp`: a plain stack of
# `OrthogonalDense` layers (kernels exactly orthogonal by a Cayley
# parametrization) with `abs` or `group_sort` activations (|derivative| = 1), so
# the Jacobian of the whole stack is a product of orthogonal matrices and signs
# or permutations: every singular value is 1 at initialization and stays 1 during
# training. Beside it, a ResNet of the same depth made of ordinary `Dense` + ReLU
# blocks `h <- h + relu(h W + b)`, each block's kernel He-initialized with its
# variance divided by the depth (so that the residual stream neither explodes nor
# stays at its input; without that scaling a 64-block ResNet's activations grow
# like 1.5^64). Both get the same `Dense(10)` head, the same optimizer, batches
# and epochs. We compare their validation accuracy and the singular values of
# the Jacobian of their bodies (input to last hidden layer).
#
# Set `KERAS_GRADSTAB_QUICK=1` for the short run the tests execute (8 layers,
# few epochs).

# %%
import os
import time

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import keras_gradstab as kg  # noqa: E402

QUICK = os.environ.get("KERAS_GRADSTAB_QUICK", "0") == "1"
DEPTH = 8 if QUICK else 64
EPOCHS = 3 if QUICK else 20
WIDTH = 64
LEARNING_RATE = 5e-3
_REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT_DIR = os.environ.get("KERAS_GRADSTAB_TUTORIAL_OUT",
                         os.path.join(_REPO, "docs", "tutorials", "figures"))
os.makedirs(OUT_DIR, exist_ok=True)

# %%
digits = load_digits()
x = (digits.images / 16.0).reshape(-1, 64).astype("float32")
x = x - x.mean(axis=0)  # centred pixels
y = digits.target.astype("int32")
order = np.random.default_rng(0).permutation(len(x))
x, y = x[order], y[order]
x_train, y_train, x_val, y_val = x[:1400], y[:1400], x[1400:], y[1400:]
if QUICK:
    x_train, y_train = x_train[:512], y_train[:512]


# %% [markdown]
# The two bodies. `orthogonal_jacobian_mlp` with no `num_classes` is the body
# alone; the ResNet body is written out.

# %%
def orthogonal_body(activation):
    return kg.models.orthogonal_jacobian_mlp((WIDTH,), depth=DEPTH, width=WIDTH,
                                             activation=activation)


def resnet_body():
    inputs = keras.Input((WIDTH,))
    h = inputs
    for i in range(DEPTH):
        branch = keras.layers.Dense(
            WIDTH, activation="relu", name=f"block_{i}",
            kernel_initializer=keras.initializers.VarianceScaling(2.0 / DEPTH, "fan_in"))
        h = keras.layers.Add()([h, branch(h)])
    return keras.Model(inputs, h, name="resnet_body")


BODIES = {
    "OrthogonalDense + abs": lambda: orthogonal_body("abs"),
    "OrthogonalDense + GroupSort": lambda: orthogonal_body("group_sort"),
    "ResNet (Dense + ReLU)": resnet_body,
}


def jacobian_singular_values(body):
    return kg.diagnostics.jacobian_singular_values(body, x_val[:8]).ravel()


def run(name):
    keras.utils.set_random_seed(0)
    body = BODIES[name]()
    model = keras.Sequential([keras.Input((WIDTH,)), body, keras.layers.Dense(10)])
    model.compile(keras.optimizers.Adam(LEARNING_RATE),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    sigma_init = jacobian_singular_values(body)
    start = time.time()
    history = model.fit(x_train, y_train, batch_size=64, epochs=EPOCHS, verbose=0,
                        validation_data=(x_val, y_val))
    seconds = time.time() - start
    sigma_trained = jacobian_singular_values(body)
    return {"name": name, "depth": DEPTH, "seconds": seconds,
            "val_accuracy": [float(a) for a in history.history["val_accuracy"]],
            "final_val_accuracy": float(history.history["val_accuracy"][-1]),
            "sigma_init": sigma_init, "sigma_trained": sigma_trained}


results = {name: run(name) for name in BODIES}
for r in results.values():
    print(f"{r['name']:>28} ({DEPTH} layers): val accuracy {r['final_val_accuracy']:.3f}; "
          f"Jacobian singular values init [{r['sigma_init'].min():.3g}, "
          f"{r['sigma_init'].max():.3g}], trained [{r['sigma_trained'].min():.3g}, "
          f"{r['sigma_trained'].max():.3g}]; {r['seconds']:.0f} s")

# %% [markdown]
# `orthogonal_jacobian_digits_accuracy.png`: validation accuracy per epoch.
#
# What the full run (64 layers, Adam 5e-3, batch 64, 20 epochs, jax) measured:
# the ResNet reaches 97.7%, the orthogonal-Jacobian stacks only 32.5% (abs) and
# 34.8% (GroupSort), with noisy curves that were still rising. So with these
# settings the paper's claim (a plain orthogonal-Jacobian stack trains like a
# ResNet) is NOT reproduced here: gradients do reach every layer (the Jacobian
# stays orthogonal, below), but 64 composed rotations moved by Adam at this
# rate make a slow, noisy optimization problem. At 8 layers (the quick mode)
# the same stacks learn quickly. The learning rate was not tuned (a 64-layer
# run takes about half an hour on this shared CPU).

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for r in results.values():
    ax.plot(np.arange(1, EPOCHS + 1), r["val_accuracy"], label=r["name"])
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy")
ax.set_title(f"{DEPTH} layers on digits, no skip connections vs ResNet")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(os.path.join(OUT_DIR, "orthogonal_jacobian_digits_accuracy.png"), dpi=120)
plt.close(fig)

# %% [markdown]
# `orthogonal_jacobian_digits_singular_values.png`: the singular values of the
# body's input-output Jacobian on 8 validation digits (64 each), sorted, at
# initialization (left) and after training (right). The orthogonal stacks sit on
# 1 (up to float32 rounding) before and after training; the ResNet's spread out.

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
for ax, key, title in zip(axes, ["sigma_init", "sigma_trained"],
                          ["at initialization", "after training"]):
    for r in results.values():
        ax.plot(np.sort(r[key])[::-1], label=r["name"])
    ax.set_yscale("log")
    ax.set_xlabel("index (sorted, 8 examples x 64)")
    ax.set_title(title)
axes[0].set_ylabel("singular value of the body's Jacobian")
axes[1].legend(fontsize=8)
fig.tight_layout()
fig.savefig(os.path.join(OUT_DIR, "orthogonal_jacobian_digits_singular_values.png"), dpi=120)
plt.close(fig)
