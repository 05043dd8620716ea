# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # NC-GRU and scoRNN against a GRU on the copying task
#
# The copying task (`keras_gradstab.datasets.copying`): 10 symbols drawn from 8,
# then T blank steps, a delimiter, and the model must write the 10 symbols back.
# A model that forgets them can do no better than predicting blanks everywhere and
# a uniform guess at the 10 recall steps: its cross-entropy per step is
# `10 log(8) / (T + 20)` (`datasets.copying_baseline`), the memoryless baseline.
# Getting below it means remembering something across T steps.
#
# We train `keras_gradstab.layers.NCGRU` (a GRU whose candidate's recurrent
# matrix is a scaled Cayley orthogonal matrix), `keras_gradstab.layers.ScoRNN`
# (a plain RNN with a scaled Cayley orthogonal matrix and modReLU) and
# `keras.layers.GRU`, all of the same state size, the same way: same data, same
# RMSprop optimizer (the skew parameters at a tenth of the learning rate, built
# by `keras_gradstab.layers.skew_learning_rate_optimizer`), same batch and number
# of steps. Set `KERAS_GRADSTAB_QUICK=1` for the short run that the tests execute.
#
# The gate biases matter. With zero gate biases an NC-GRU starts with both gates
# at 1/2, so one step maps a change of the state through about `I/2 + U_c/4`,
# whose eigenvalues have moduli between 1/4 and 3/4: over 200 steps the
# gradient that would tie the recall to the symbols vanishes, just as in a GRU.
# `NCGRU(..., update_gate_bias=-8.0, reset_gate_bias=8.0)` starts with the update
# gate shut and the reset gate open, so the cell starts as a scoRNN
# (`h' = modReLU(x W_c + h U_c)`, an orthogonal Jacobian where modReLU passes)
# and learns its gates from there. The full run trains both initializations.

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
TIME_STEPS = 10 if QUICK else 200
UNITS = 8 if QUICK else 64
BATCH = 32
STEPS_PER_EPOCH = 10 if QUICK else 50
EPOCHS = 3 if QUICK else 12

# %% [markdown]
# The data: fresh sequences for every step of training (no repetition), and the
# memoryless baseline. We check the formula against the cross-entropy of the
# memoryless predictor computed directly on the data.

# %%
(x, y), (x_test, y_test) = kg.datasets.copying(
    TIME_STEPS, num_train=BATCH * STEPS_PER_EPOCH * EPOCHS, num_test=64 if QUICK else 500, seed=0)
LENGTH = x.shape[1]
baseline = float(kg.datasets.copying_baseline(TIME_STEPS))
# The memoryless predictor: blank with probability 1 where the target is blank,
# uniform over the 8 symbols at the recall steps.
memoryless = np.where(y == 0, 0.0, np.log(8.0)).mean()
print(f"T = {TIME_STEPS}: memoryless baseline {baseline:.4f} (on the data: {memoryless:.4f})")


# %%
MODELS = {
    "NCGRU": lambda: kg.layers.NCGRU(UNITS, return_sequences=True, seed=0,
                                     update_gate_bias=-8.0, reset_gate_bias=8.0),
    "ScoRNN": lambda: kg.layers.ScoRNN(UNITS, return_sequences=True, seed=0),
    "GRU": lambda: keras.layers.GRU(UNITS, return_sequences=True, seed=0),
}
if not QUICK:
    MODELS["NCGRU, zero gate biases"] = lambda: kg.layers.NCGRU(
        UNITS, return_sequences=True, seed=0)


def build(kind):
    keras.utils.set_random_seed(0)
    recurrent = MODELS[kind]()
    return keras.Sequential([
        keras.Input((LENGTH,), dtype="int32"),
        keras.layers.Embedding(10, 16),
        recurrent,
        keras.layers.Dense(9, activation="softmax"),
    ])


def run(kind):
    model = build(kind)
    optimizer = kg.layers.skew_learning_rate_optimizer(
        keras.optimizers.RMSprop(1e-3, clipnorm=1.0), skew_learning_rate=1e-4)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    # Each point: the mean loss over STEPS_PER_EPOCH batches of sequences not seen before.
    chunk = BATCH * STEPS_PER_EPOCH
    curve = []
    for i in range(EPOCHS):
        part = slice(i * chunk, (i + 1) * chunk)
        history = model.fit(x[part], y[part], batch_size=BATCH, epochs=1, shuffle=False,
                            verbose=0)
        curve.append(float(history.history["loss"][-1]))
    # Held-out sequences: the fraction of the 10 recalled symbols predicted right
    # (chance is 1/8).
    recalled = model.predict(x_test, batch_size=len(x_test), verbose=0)[:, -10:].argmax(-1)
    return curve, float(np.mean(recalled == y_test[:, -10:]))


runs = {kind: run(kind) for kind in MODELS}
curves = {kind: r[0] for kind, r in runs.items()}
results = {
    "time_steps": TIME_STEPS,
    "baseline": baseline,
    "memoryless_on_data": float(memoryless),
    "final_loss": {kind: c[-1] for kind, c in curves.items()},
    "recall_accuracy": {kind: r[1] for kind, r in runs.items()},
    "curves": curves,
    "steps": [STEPS_PER_EPOCH * (i + 1) for i in range(EPOCHS)],
}
for kind, curve in curves.items():
    below = curve[-1] < baseline
    print(f"{kind:>24}: final loss {curve[-1]:.4f} ({'below' if below else 'not below'} "
          f"the baseline {baseline:.4f}), recalled symbols right on held-out sequences "
          f"{results['recall_accuracy'][kind]:.1%}")

# %% [markdown]
# The figure `ncgru_copying.png`: mean cross-entropy per step against training
# steps for the three models, with the memoryless baseline dashed. A curve that
# stays on the dashed line has learned to output blanks but remembers nothing.
#
# What the committed figure shows (full mode: T = 200, 600 steps of batch 32 per
# model, jax): NC-GRU started as a scoRNN (gate biases -8 / +8) and scoRNN
# both go below the memoryless baseline within 250 to 300 steps and reach 0.040
# and 0.048 at 600 steps, recalling 73.7% and 66.0% of the held-out symbols
# (chance: 12.5%). The GRU sits on the baseline (0.0947; 11.9% recalled). The
# NC-GRU with zero gate biases never gets below the baseline: its loss climbs
# back up to 0.73 after 150 steps and stays there (0.0% recalled). Trained
# longer, the NC-GRU recalls 99.8% (the `ncgru_copying` preset, 4,263 steps),
# while a GRU trained the same way is still at 13%.

# %%
fig, ax = plt.subplots(figsize=(6, 3.8))
for kind, curve in curves.items():
    ax.plot(results["steps"], curve, label=kind)
ax.axhline(baseline, color="k", linestyle="--", label="memoryless 10 log 8 / (T + 20)")
ax.set_yscale("log")
ax.set_xlabel("training steps (batch 32)")
ax.set_ylabel("cross-entropy per step")
ax.set_title(f"copying task, T = {TIME_STEPS}")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(os.path.join(OUT_DIR, "ncgru_copying.png"), dpi=120)
