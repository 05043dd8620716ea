# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # A binarized CNN with ReSTE on scikit-learn digits
#
# A binarized network computes with `sign(w)` and `sign(x)`: 1-bit weights and
# activations. `sign` has derivative 0 almost everywhere, so training needs a
# surrogate gradient. The straight-through estimator (STE) passes the gradient
# through unchanged where |x| <= 1. ReSTE (Wu et al., ICCV 2023) instead
# differentiates the equivalent forward `f(x) = sign(x) |x|^(1/o)`:
# at `o = 1` it is the clipped STE; as `o` grows, `f` comes closer to `sign`
# (a smaller *estimating error*) while the surrogate gradient near 0 grows
# (a worse *gradient stability*). The paper raises `o` from 1 to 3 on a cosine
# schedule during training (`keras_gradstab.callbacks.ReSTESchedule`) and
# rectifies the gradient for |x| <= 0.1 (a secant slope instead of the
# unbounded power).
#
# We plot the surrogate derivatives, then train the 1W/1A CNN of
# `model_zoo/reste_bnn_digits` (first and last layer full precision) with ReSTE and
# with the STE, the same way, logging `o` and both indicators per epoch
# (`keras_gradstab.diagnostics.ReSTEIndicators`); last, the model's size as 1-bit
# packed kernels. Set `KERAS_GRADSTAB_QUICK=1` for the short run that the tests
# execute.

# %%
import os
import tempfile

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import keras_gradstab as kg  # noqa: E402
from keras_gradstab._tutorial import tutorial_settings

QUICK, OUT_DIR = tutorial_settings()
EPOCHS = 2 if QUICK else 30
WIDTH = 8 if QUICK else 32
MAX_TRAIN = 320 if QUICK else None
results = {}

# %% [markdown]
# ## 1. The surrogate derivatives
#
# The gradient of the quantizer's output with respect to its input, computed by
# the backend's autodiff through `ReSTE` at `o = 1, 2, 3` and through `SteSign`.

# %%
grid = np.linspace(-2.0, 2.0, 801).astype("float32")


def surrogate(quantizer):
    def total(x):
        return ops.sum(quantizer(x))

    _, (grad,) = kg.backend.value_and_grad(total, [ops.convert_to_tensor(grid)])
    return np.asarray(ops.convert_to_numpy(grad))


derivatives = {f"ReSTE o={o:g}": surrogate(kg.quantizers.ReSTE(o=o)) for o in (1.0, 2.0, 3.0)}
derivatives["STE"] = surrogate(kg.quantizers.SteSign())
results["grid"] = grid
results["derivatives"] = derivatives

fig, ax = plt.subplots(figsize=(5, 3.2))
for name, values in derivatives.items():
    ax.plot(grid, values, label=name, ls="--" if name == "STE" else "-")
ax.set_xlabel("x")
ax.set_ylabel("surrogate d sign(x) / dx")
ax.set_ylim(0, 5)
ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(os.path.join(OUT_DIR, "reste_binary_digits_surrogates.png"), dpi=110)

# %% [markdown]
# ## 2. Training ReSTE and the STE the same way
#
# Every binarized layer binarizes its input and its kernel with the estimator,
# pads "same" borders with +1 and clips its latent kernel (`WeightClip`: 1.5 for
# ReSTE, whose gradient reaches 1.5, 1.0 for the STE). Adam with cosine decay from
# 3e-3, batch 64.

# %%
(x_train, y_train), (x_test, y_test) = kg.datasets.digits(seed=0)
if MAX_TRAIN is not None:
    x_train, y_train = x_train[:MAX_TRAIN], y_train[:MAX_TRAIN]


def build_model(quantizer, clip):
    binary = dict(input_quantizer=quantizer, kernel_quantizer=quantizer,
                  kernel_constraint=kg.constraints.WeightClip(clip), use_bias=False)
    bn = keras.layers.BatchNormalization
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Rescaling(2.0, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(WIDTH, 3, padding="same", use_bias=False)(x)  # full precision
    x = bn()(x)
    x = kg.layers.QuantConv2D(WIDTH, 3, padding="same", pad_values=1.0, **binary)(x)
    x = bn()(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = kg.layers.QuantConv2D(2 * WIDTH, 3, padding="same", pad_values=1.0, **binary)(x)
    x = bn()(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = kg.layers.QuantDense(4 * WIDTH, **binary)(x)
    x = bn()(x)
    outputs = keras.layers.Dense(10)(x)  # full precision
    return keras.Model(inputs, outputs)


def train(quantizer, clip, reste):
    keras.utils.set_random_seed(0)
    model = build_model(quantizer, clip)
    steps = EPOCHS * int(np.ceil(len(x_train) / 64))
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
                      3e-3, steps)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    callbacks = []
    if reste:
        callbacks = [kg.callbacks.ReSTESchedule(o_end=3.0),
                     kg.diagnostics.ReSTEIndicators(x_train[:256], y_train[:256])]
    history = model.fit(x_train, y_train, batch_size=64, epochs=EPOCHS, verbose=0,
                        callbacks=callbacks, validation_data=(x_test, y_test))
    return model, history.history


reste_model, reste_history = train("reste", 1.5, reste=True)
_, ste_history = train("ste_sign", 1.0, reste=False)
results["reste"] = {key: [float(v) for v in values] for key, values in reste_history.items()}
results["ste"] = {key: [float(v) for v in values] for key, values in ste_history.items()}
print(f"test accuracy after {EPOCHS} epochs: ReSTE {results['reste']['val_accuracy'][-1]:.4f}, "
      f"STE {results['ste']['val_accuracy'][-1]:.4f}")

# %% [markdown]
# `o` rises on the cosine schedule and reaches 3 at the last epoch, and the
# estimating error falls with it. The gradient-stability indicator (the variance
# of the latent weights' gradient magnitudes on a fixed batch) is measured on the
# weights of each epoch, so it mostly follows the loss: it falls as the network
# fits, and does not show the rise with `o` that the paper's trade-off describes
# at fixed weights. In the recorded full run (jax, 30 epochs, this smaller model
# than the preset's) ReSTE reached 96.94% test accuracy and the STE 97.21%: on
# these 8x8 digits the two estimators end level; the preset recipe
# (`model_zoo/reste_bnn_digits`) records 98.61% for ReSTE, 97.49% for the STE.

# %%
epochs = np.arange(1, EPOCHS + 1)
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
axes[0].plot(epochs, results["reste"]["reste_o"], "o-")
axes[0].set_title("o (ReSTESchedule)", fontsize=9)
axes[1].plot(epochs, results["reste"]["reste_estimating_error"], "o-", label="estimating error")
ax2 = axes[1].twinx()
ax2.plot(epochs, results["reste"]["reste_gradient_stability"], "s--", color="C1",
         label="gradient stability (var |dL/dw|)")
axes[1].set_title("ReSTE indicators", fontsize=9)
axes[1].set_xlabel("epoch")
axes[1].legend(loc="lower left", fontsize=7)
ax2.legend(loc="upper right", fontsize=7)
axes[2].plot(epochs, results["reste"]["val_accuracy"], "o-", label="ReSTE")
axes[2].plot(epochs, results["ste"]["val_accuracy"], "s--", label="STE")
axes[2].set_title("test accuracy", fontsize=9)
axes[2].set_xlabel("epoch")
axes[2].legend(fontsize=7)
fig.tight_layout()
fig.savefig(os.path.join(OUT_DIR, "reste_binary_digits_training.png"), dpi=110)

# %% [markdown]
# ## 3. What binarization saves
#
# `quantization_summary` counts bits, memory and MACs per layer;
# `pack_binary_weights` writes the binarized kernels as 1 bit each (plus every
# other variable in float32), and `load_packed_weights` restores an equal model.

# %%
summary = kg.diagnostics.quantization_summary(reste_model)  # prints the table
with tempfile.TemporaryDirectory() as tmp:
    packed_path = os.path.join(tmp, "packed.npz")
    kg.quantizers.pack_binary_weights(reste_model, packed_path)
    packed_bytes = os.path.getsize(packed_path)
    restored = build_model("reste", 1.5)
    kg.quantizers.load_packed_weights(restored, packed_path)
    same = np.array_equal(reste_model.predict(x_test, verbose=0).argmax(-1),
                          restored.predict(x_test, verbose=0).argmax(-1))
float32_bytes = summary[-1]["float32_bytes"]
results["packed"] = {"bytes": packed_bytes, "float32_bytes": float32_bytes,
                     "same_predictions": bool(same)}
print(f"packed file {packed_bytes} bytes against {float32_bytes} bytes of float32 "
      f"weights; same predictions after reload: {same}")

# %% [markdown]
# ## Figures
#
# `reste_binary_digits_surrogates.png`: the surrogate derivatives of ReSTE at
# o = 1, 2, 3 and of the STE. `reste_binary_digits_training.png`: `o` per epoch, the
# two indicators, and the test accuracy of ReSTE and the STE trained the same way.
