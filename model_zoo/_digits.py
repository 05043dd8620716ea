"""What the digits image presets' recipes share (snn_mlp_digits, orthogonal_cnn_digits,
orthogonal_cnn_certified_digits): the command-line options and data of a run,
the compile settings recorded in the preset, and one training loop for the preset
model and its baseline, trained and measured the same way.

Not a preset (no `train.py`): `model_zoo/<name>/train.py` imports it.
"""

import argparse
import os
import time

import keras
import numpy as np

PRESETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "keras_gradstab",
                           "zoo", "presets")

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


def parser(description, quick_help, epochs):
    """The recipes' common options: --quick, --out, --epochs, --seed (add more to it)."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--quick", action="store_true", help=quick_help)
    result.add_argument("--out", default=None,
                        help="where to write the preset (default: the package's presets)")
    result.add_argument("--epochs", type=int, default=epochs)
    result.add_argument("--seed", type=int, default=0)
    return result


def parse(parser, argv, name):
    """(args, preset directory, data): quick runs train on 256 examples and need --out."""
    from keras_gradstab import datasets

    args = parser.parse_args(argv)
    if args.quick and args.out is None:
        parser.error("--quick needs --out (a quick run never writes into the package)")
    out = args.out or os.path.join(PRESETS_DIR, name)
    data = datasets.digits(**DATA["kwargs"])
    if args.quick:
        (x, y), test = data
        data = ((x[:256], y[:256]), test)
    return args, out, data
