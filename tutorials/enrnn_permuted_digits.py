# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # ENRNN on permuted pixel-by-pixel digits: accuracy, spectral radius, orthogonality
#
# `keras_gradstab.layers.ENRNN(n1, n2)` keeps one state `h = [h1 | h2]`: the first
# n1 units evolve by a scaled Cayley orthogonal matrix W1, the last n2 by a free
# matrix W2 divided by its spectral radius once that exceeds 1, and W3 couples
# the second block into the first. The whole recurrent matrix
# `[[W1, 0], [W3, W2 / max(1, rho(W2))]]` then has spectral radius at most 1,
# whatever training does to W2 and W3.
#
# We train it on scikit-learn's 8x8 digits read one pixel at a time in a fixed
# random order (`keras_gradstab.datasets.digits(sequential=True, permuted=True)`,
# the small analogue of permuted pixel MNIST) and follow, after every epoch, the
# validation accuracy, the spectral radius of the normalized block (computed
# independently, by NumPy's eigenvalues of the matrix the layer uses) and the
# orthogonality error `max |W1^T W1 - I|`. Set `KERAS_GRADSTAB_QUICK=1` for the
# short run that the tests execute.

# %%
import os

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import keras_gradstab as kg  # noqa: E402
from keras_gradstab._tutorial import tutorial_settings

QUICK, OUT_DIR = tutorial_settings()
N1, N2 = (12, 4) if QUICK else (96, 32)
EPOCHS = 3 if QUICK else 30

(x_train, y_train), (x_test, y_test) = kg.datasets.digits(sequential=True, permuted=True, seed=0)
if QUICK:
    x_train, y_train = x_train[:512], y_train[:512]

# %% [markdown]
# The model and a callback that reads the matrices in use after every epoch
# (`ENRNN.recurrent_matrices()`).

# %%
keras.utils.set_random_seed(0)
layer = kg.layers.ENRNN(N1, N2, seed=0)
model = keras.Sequential([keras.Input((64, 1)), layer, keras.layers.Dense(10)])
# The papers train the skew parameter with a smaller learning rate.
model.compile(
    optimizer=kg.layers.skew_learning_rate_optimizer(
        keras.optimizers.RMSprop(1e-3, clipnorm=1.0), skew_learning_rate=1e-4),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)


def matrix_health(layer):
    matrices = {k: keras.ops.convert_to_numpy(v) for k, v in layer.recurrent_matrices().items()}
    w1, w2 = matrices["orthogonal"].astype("float64"), matrices["normalized"].astype("float64")
    return {
        "spectral_radius": float(np.max(np.abs(np.linalg.eigvals(w2)))),
        "orthogonality_error": float(np.max(np.abs(w1.T @ w1 - np.eye(len(w1))))),
    }


class Follow(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append({"epoch": epoch + 1, "loss": float(logs["loss"]),
                          "val_accuracy": float(logs["val_accuracy"]), **matrix_health(layer)})


follow = Follow()
model.fit(x_train, y_train, batch_size=64, epochs=EPOCHS, verbose=0,
          validation_data=(x_test, y_test), callbacks=[follow])
results = {"epochs": follow.rows, "test_accuracy": follow.rows[-1]["val_accuracy"],
           "max_spectral_radius": max(r["spectral_radius"] for r in follow.rows),
           "max_orthogonality_error": max(r["orthogonality_error"] for r in follow.rows)}
print(f"test accuracy {results['test_accuracy']:.3f}; over training: spectral radius of "
      f"the normalized block <= {results['max_spectral_radius']:.6f}, "
      f"max |W1^T W1 - I| <= {results['max_orthogonality_error']:.1e}")

# %% [markdown]
# The figure `enrnn_permuted_digits.png` (full mode: 30 epochs, jax, 95.0% test
# accuracy at the end): left, validation accuracy (on the test split) per epoch;
# middle, the spectral radius of the normalized block W2 / max(1, rho(W2)), by
# NumPy's eigenvalues (training pushes rho(W2) past 1 within a few epochs; the
# normalization then holds it at 1, never above); right, the
# orthogonality error of W1 (float32 round-off: the Cayley transform is exactly
# orthogonal by construction, whatever the optimizer does to its skew parameter).

# %%
epochs = [r["epoch"] for r in follow.rows]
fig, axes = plt.subplots(1, 3, figsize=(10, 3))
axes[0].plot(epochs, [r["val_accuracy"] for r in follow.rows])
axes[0].set_ylabel("validation accuracy")
axes[1].plot(epochs, [r["spectral_radius"] for r in follow.rows])
axes[1].axhline(1.0, color="k", linestyle="--")
axes[1].set_ylabel("spectral radius of W2 normalized")
axes[2].semilogy(epochs, [max(r["orthogonality_error"], 1e-9) for r in follow.rows])
axes[2].set_ylabel("max |W1^T W1 - I|")
for ax in axes:
    ax.set_xlabel("epoch")
fig.tight_layout()
fig.savefig(os.path.join(OUT_DIR, "enrnn_permuted_digits.png"), dpi=120)
