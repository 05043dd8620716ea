"""What the digits image presets' recipes share (snn_mlp_digits, orthogonal_cnn_digits,
orthogonal_cnn_certified_digits; also snn_mlp_breast_cancer, with its own data and
task): the command-line options and data of a run, the compile settings recorded
in the preset, and one training loop for the preset model and its baseline,
trained and measured the same way.

Not a preset (no `train.py`): `model_zoo/<name>/train.py` imports it.
"""

import argparse
import json
import os

import keras
import numpy as np

from keras_gradstab import datasets, zoo
from model_zoo import _fit

DATA = {"dataset": "digits", "kwargs": {"seed": 0}}
COMPILE = {
    "loss": {
        "class_name": "SparseCategoricalCrossentropy",
        "config": {"from_logits": True},
        "module": "keras.losses",
        "registered_name": None,
    },
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


def relu_bn_mlp(input_shape, depth, units, classes, *, name, standardize=False):
    """The deep plain MLP baseline: `depth` hidden `Dense(units)` (he_normal) +
    `BatchNormalization` + relu, and a `Dense(classes)` head (logits); with
    `standardize`, a `Normalization` layer named "standardize" comes first
    (`adapt` it on the training data). Inputs of rank > 1 are flattened."""
    layers = [keras.Input(input_shape)]
    if standardize:
        layers.append(keras.layers.Normalization(name="standardize"))
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten(name="flatten"))
    for i in range(depth):
        layers += [
            keras.layers.Dense(units, kernel_initializer="he_normal", name=f"dense_{i}"),
            keras.layers.BatchNormalization(name=f"batch_norm_{i}"),
            keras.layers.Activation("relu", name=f"relu_{i}"),
        ]
    layers.append(keras.layers.Dense(classes, name="output"))
    return keras.Sequential(layers, name=name)


def fit(model, x, y, epochs, batch_size, learning_rate, callbacks=()):
    """Compiles `model` (Adam with cosine decay from `learning_rate` to 0 over the run,
    sparse cross-entropy on logits, accuracy) and fits it; returns the seconds taken."""
    steps = epochs * int(np.ceil(len(x) / batch_size))
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(learning_rate, max(1, steps))
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return _fit.timed_fit(model, x, y, batch_size=batch_size, epochs=epochs, callbacks=callbacks)


def train(model, data, epochs, batch_size=64, learning_rate=1e-3):
    """`fit` on the training data; returns (test accuracy, seconds)."""
    (x_train, y_train), (x_test, y_test) = data
    seconds = fit(model, x_train, y_train, epochs, batch_size, learning_rate, [StepCounter()])
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return float(accuracy), seconds


def parser(description, quick_help, epochs, seeds=None):
    """The digits recipes' common options: `--quick`, `--out`, `--epochs`, `--seed`
    and, when `seeds` gives its default, `--seeds` (the number of seeds from `--seed`
    on). A recipe may add its own before `parse`."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--quick", action="store_true", help=quick_help)
    result.add_argument(
        "--out", default=None, help="where to write the preset (default: the package's presets)"
    )
    result.add_argument("--epochs", type=int, default=epochs)
    result.add_argument("--seed", type=int, default=0)
    if seeds is not None:
        result.add_argument(
            "--seeds",
            type=int,
            default=seeds,
            help="train every model with this many seeds, from --seed on",
        )
    return result


def parse(parser, argv, name):
    """`(args, out)`: the parsed arguments and the preset directory the recipe writes
    (`--out`, else the package's presets; a quick run must name `--out`)."""
    args = parser.parse_args(argv)
    if args.quick and args.out is None:
        parser.error("--quick needs --out (a quick run never writes into the package)")
    return args, args.out or os.path.join(zoo.presets.PRESETS_DIR, name)


def parse_args(doc, argv, *, name, epochs, quick_help, seeds=None):
    """`parse` of the common options alone (see `parser`)."""
    return parse(parser(doc.splitlines()[0], quick_help, epochs, seeds), argv, name)


def load_data(quick, size=256, data=DATA):
    """The recorded split of `data` (a preset's `metadata["data"]`, digits by
    default); a quick run trains on its first `size` examples."""
    (x, y), test = getattr(datasets, data["dataset"])(**data["kwargs"])
    return ((x[:size], y[:size]) if quick else (x, y)), test


def train_pair(builders, data, epochs, seed, train_fn):
    """Trains `{kind: build()}` in order with the same seed; returns the results
    `{kind: {test_accuracy, train_seconds}}` and the first kind's model."""
    results, first = {}, None
    for kind, build in builders.items():
        keras.utils.set_random_seed(seed)
        model = build()
        accuracy, seconds = train_fn(model, data, epochs)
        results[kind] = {"test_accuracy": accuracy, "train_seconds": round(seconds, 1)}
        print(
            f"{keras.config.backend():10s} {kind:10s} test accuracy {accuracy:.4f} "
            f"({seconds:.1f} s, {epochs} epochs)",
            flush=True,
        )
        first = model if first is None else first
    return results, first


def save(
    model,
    out,
    *,
    name,
    extra,
    baseline,
    more_baselines=None,
    task="digit classification (scikit-learn digits, 8x8)",
    data=DATA,
):
    """Saves `model` as the preset `name` in `out` (with its baseline records) and
    prints its headline."""
    # The config records the compile settings of training, with jit_compile
    # resolved for the training backend (True on jax), which torch would turn into
    # torch.compile when loading: record backend-neutral ones instead.
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,
    )
    metadata = zoo.save_preset(
        model,
        out,
        name=name,
        task=task,
        metric="accuracy",
        data=data,
        recipe=f"model_zoo/{name}/train.py",
        compile=COMPILE,
        extra=extra,
        baseline=baseline,
        more_baselines=more_baselines,
    )
    print(json.dumps({k: metadata[k] for k in ("name", "metric", "value", "backend")}))
    return metadata


def run_record(result, epochs, seed):
    """What a preset's metadata `extra` records of its run: `epochs`, `seed` and the
    `train_seconds` of `result` (the preset model's result of `train`)."""
    return {"epochs": epochs, "seed": seed, "train_seconds": result["train_seconds"]}


def baseline_record(model, result, epochs, seed):
    """The preset metadata's baseline: `result` of `train` for the baseline model."""
    return {
        "model": model,
        "metric": "accuracy",
        "value": result["test_accuracy"],
        "trained": "the same recipe as the preset: the same data, optimizer, schedule, "
        f"{epochs} epochs, seed {seed}",
        "train_seconds": result["train_seconds"],
    }
