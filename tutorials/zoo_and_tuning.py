# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # The model zoo and hyperparameter search
#
# This tutorial walks through the zoo's life cycle with a model small enough to
# train in seconds:
#
# 1. train a self-normalizing MLP (`keras_gradstab.models.snn`) on scikit-learn's
#    8x8 digits;
# 2. save it as a **preset** with `keras_gradstab.zoo.save_preset`: a directory in
#    KerasHub's shape (`config.json`, `model.weights.h5`, `metadata.json` with the
#    task, metric, data seed and the sha256 of every file);
# 3. reload it with `zoo.from_preset` and re-measure its metric with
#    `zoo.evaluate`, which regenerates the test data from the recorded seed;
# 4. list the built-in presets (the table `python -m keras_gradstab` prints);
# 5. search hyperparameters of the same family with keras-tuner through
#    `keras_gradstab.tuner` (the `tuner` extra).
#
# Set `KERAS_GRADSTAB_QUICK=1` for the short run that the tests execute.

# %%
import os
import tempfile

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from keras_gradstab import datasets, models, zoo  # noqa: E402
from keras_gradstab._tutorial import tutorial_settings

QUICK, OUT_DIR = tutorial_settings()
EPOCHS = 4 if QUICK else 30
TRIALS = 2 if QUICK else 8

# %% [markdown]
# ## 1. Train a tiny model
#
# The data description `{"dataset": ..., "kwargs": ...}` names a generator of
# `keras_gradstab.datasets` and its arguments (with the seed): it is what the
# preset records, so anyone can regenerate the exact test split later.

# %%
DATA = {"dataset": "digits", "kwargs": {"seed": 0}}
(x_train, y_train), (x_test, y_test) = datasets.digits(**DATA["kwargs"])

keras.utils.set_random_seed(0)
model = models.snn((8, 8, 1), units=64, depth=4, output_units=10, dropout_rate=0.0,
                   name="tiny_snn")
compile_args = {
    "optimizer": "adam",
    "loss": {"class_name": "SparseCategoricalCrossentropy",
             "config": {"from_logits": True}},
    "metrics": ["accuracy"],
}
model.compile(optimizer=keras.optimizers.Adam(3e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
history = model.fit(x_train, y_train, epochs=EPOCHS, batch_size=64, verbose=0)
print(f"training accuracy after {EPOCHS} epochs: {history.history['accuracy'][-1]:.3f}")

# %% [markdown]
# ## 2. Save it as a preset
#
# `save_preset` writes the three files and measures the metric on the test split
# now; `compile` (JSON-able keyword arguments of `model.compile`) is what
# `from_preset` will compile the model with. `baseline` is the model the preset is
# compared with, trained the same way (`{"model", "metric", "value", "trained"}`),
# or `{"none": <why>}` where there is none.

# %%
preset_dir = os.path.join(tempfile.mkdtemp(prefix="zoo_tutorial_"), "tiny_snn_digits")
metadata = zoo.save_preset(
    model, preset_dir, name="tiny_snn_digits", task="digits classification (8x8)",
    metric="accuracy", data=DATA, recipe="tutorials/zoo_and_tuning.py",
    compile=compile_args, extra={"epochs": EPOCHS},
    baseline={"none": "a tutorial example: no other model was trained"},
)
print(sorted(os.listdir(preset_dir)))
print({k: metadata[k] for k in ("metric", "value", "backend", "keras_version")})

# %% [markdown]
# ## 3. Reload and re-measure
#
# `from_preset` checks the sha256 of every file of the preset against the
# metadata before loading anything (a corrupted or tampered file raises a
# `ValueError` naming it), rebuilds the
# model from `config.json` and loads the weights. `evaluate` regenerates the
# test data from the recorded seed and measures the metric again; on any backend
# it must agree with the recorded value.

# %%
reloaded = zoo.from_preset(preset_dir)
difference = float(np.max(np.abs(reloaded.predict(x_test, verbose=0)
                                 - model.predict(x_test, verbose=0))))
evaluation = zoo.evaluate(preset_dir)
print(f"largest prediction difference after reloading: {difference:.2e}")
print(f"recorded {evaluation['recorded']:.4f}, measured now {evaluation['measured']:.4f}, "
      f"{evaluation['parameters']} parameters")

# %% [markdown]
# ## 4. The built-in presets
#
# The presets that ship inside the package load with no network. Their table,
# with each metric re-measured on the current backend, is what
# `python -m keras_gradstab` prints; here we list the recorded values (the full
# run of this tutorial also re-measures them).

# %%
from keras_gradstab import cli  # noqa: E402

builtin = zoo.list_presets()
if not builtin:
    print("No presets ship with this version yet.")
for name in builtin:
    meta = zoo.preset_metadata(name)
    print(f"{name:<24} {meta['task']:<40} {meta['metric']:<16} {meta['value']:.4f}")
builtin_rows = [] if QUICK else cli.evaluate_presets(builtin)
if builtin_rows:
    print(cli.format_zoo_table(builtin_rows, keras.config.backend()))

# %% [markdown]
# ## 5. Hyperparameter search with keras-tuner
#
# `keras_gradstab.tuner` has one `keras_tuner.HyperModel` per model family; the
# self-normalizing one searches depth, width, AlphaDropout rate and learning rate.
# `tuner.tune(preset)` runs a `RandomSearch` on a preset's task, holding out the
# last 20% of the training split for validation (the test split is not
# touched), and is also the command `keras-gradstab tune snn_mlp_digits`. The same
# command distributes the search over processes or machines with keras-tuner's
# own chief/worker mechanism (see the `keras_gradstab.tuner` docstring).

# %%
from keras_gradstab import tuner  # noqa: E402

search = tuner.tune("snn_mlp_digits", max_trials=TRIALS, epochs=1 if QUICK else 5,
                    max_train=400 if QUICK else 2000, quick=QUICK)
for trial in search["trials"]:
    print(trial["trial_id"], f"val_loss {trial['val_loss']:.4f}", trial["hyperparameters"])
print("best:", search["best_hyperparameters"])

# %% [markdown]
# ## Figure
#
# `zoo_and_tuning.png`, left: the tiny model's training loss per epoch; right:
# the validation loss of every trial of the search, the best one highlighted.

# %%
fig, (ax_train, ax_trials) = plt.subplots(1, 2, figsize=(10, 3.6))
ax_train.plot(np.arange(1, EPOCHS + 1), history.history["loss"], marker="o")
ax_train.set_xlabel("epoch")
ax_train.set_ylabel("training loss")
ax_train.set_title(f"tiny SNN: test accuracy {evaluation['measured']:.3f}")
losses = [t["val_loss"] for t in search["trials"]]
colors = ["tab:orange" if v == search["best_val_loss"] else "tab:blue" for v in losses]
ax_trials.bar([t["trial_id"] for t in search["trials"]], losses, color=colors)
ax_trials.set_xlabel("trial")
ax_trials.set_ylabel("validation loss")
ax_trials.set_title("RandomSearch over SNNHyperModel")
fig.tight_layout()
fig.savefig(os.path.join(OUT_DIR, "zoo_and_tuning.png"), dpi=120)

results = {
    "metadata": metadata,
    "evaluation": evaluation,
    "reload_difference": difference,
    "builtin_presets": builtin,
    "builtin_rows": builtin_rows,
    "search": search,
}
