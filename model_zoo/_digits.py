"""What the digits image presets' recipes share (snn_mlp_digits, orthogonal_cnn_digits):
the compile settings recorded in the preset, and one training loop for the preset
model and its baseline, trained and measured the same way.

Not a preset (no `train.py`): `model_zoo/<name>/train.py` imports it.
"""

import time

import keras
import numpy as np

DATA = {"dataset": "digits", "kwargs": {"seed": 0}}
COMPILE = {
    "loss": {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": True},
             "module": "keras.losses", "registered_name": None},
    "metrics": ["accuracy"],
}


class StepCounter(keras.callbacks.Callback):
    """Counts optimizer steps. A callback with a batch hook also makes Keras run
    the batch callbacks in the training thread: its asynchronous dispatch
    (a thread pool converting the logs) deadlocked a JAX run here under load."""

    def __init__(self):
        super().__init__()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1


def train(model, data, epochs, batch_size=64, learning_rate=1e-3):
    """Adam with cosine decay, sparse cross-entropy on logits; returns (test accuracy, s)."""
    (x_train, y_train), (x_test, y_test) = data
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(
            learning_rate, max(1, steps))),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0,
              shuffle=True, callbacks=[StepCounter()])
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return float(accuracy), seconds


def baseline_record(model, result, epochs, seed):
    """The preset metadata's baseline: `result` of `train` for the baseline model."""
    return {"model": model, "metric": "accuracy", "value": result["test_accuracy"],
            "trained": "the same recipe as the preset: the same data, optimizer, schedule, "
                       f"{epochs} epochs, seed {seed}",
            "train_seconds": result["train_seconds"]}
