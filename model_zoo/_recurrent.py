"""What the recurrent presets' recipes share: one training loop for the preset model and
the same-size `keras.layers.GRU` baseline, trained the same way and measured the same way.

Not a preset (no `train.py`): `model_zoo/<name>/train.py` imports it.
"""

import argparse
import json
import os
import time

import keras

from keras_gradstab import zoo
from keras_gradstab.layers import skew_learning_rate_optimizer
from keras_gradstab.zoo.presets import measure

PRESETS_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "keras_gradstab", "zoo", "presets"
)


def recipe_parser(doc, *, epochs, batch_size, lr, skew_lr, quick_help):
    """The arguments every recurrent recipe takes, with that recipe's defaults.

    `--epochs`, `--batch-size`, `--lr`, `--skew-lr` (the Cayley skew parameters'
    learning rate), `--clipnorm`, `--skip-baseline`, `--quick` (described by
    `quick_help`), `--out` and `--preset-dir`; the recipe adds its own.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--skew-lr", type=float, default=skew_lr)
    parser.add_argument("--clipnorm", type=float, default=1.0)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", default=None, help="write metrics (and a quick preset) here")
    parser.add_argument(
        "--preset-dir",
        default=None,
        help="where the full run writes the preset (default: the package)",
    )
    return parser


# Metrics where a smaller value is better: the target is reached from above.
LOWER_IS_BETTER = ("mse", "bits_per_character")


class _Target(keras.callbacks.Callback):
    """Measures the metric on held-out training data after each epoch; stops at the target."""

    def __init__(self, metric, x, y, target, log):
        super().__init__()
        self.metric, self.x, self.y, self.target, self.log = metric, x, y, target, log

    def on_epoch_end(self, epoch, logs=None):
        value = measure(self.model, self.metric, self.x, self.y)
        self.log.append({"epoch": epoch + 1, "loss": float(logs["loss"]), self.metric: value})
        print(f"  epoch {epoch + 1}: loss {logs['loss']:.4f}, validation {self.metric} {value:.4f}")
        if self.target is None:
            return
        if value <= self.target if self.metric in LOWER_IS_BETTER else value >= self.target:
            self.model.stop_training = True


def rmsprop(kind, lr, skew_lr, clipnorm):
    """RMSprop with `clipnorm`; for the preset model (`kind="preset"`) its skew
    parameters at their own learning rate `skew_lr`, as the orthogonal-RNN papers do."""
    base = keras.optimizers.RMSprop(lr, clipnorm=clipnorm)
    return skew_learning_rate_optimizer(base, skew_lr) if kind == "preset" else base


def train(
    model,
    optimizer,
    train_data,
    validation,
    *,
    metric,
    epochs,
    batch_size,
    target=None,
    seed=0,
    loss="sparse_categorical_crossentropy",
):
    """Compiles and fits `model`; returns (seconds, per-epoch log)."""
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=optimizer, loss=loss)
    log = []
    start = time.perf_counter()
    model.fit(
        *train_data,
        batch_size=batch_size,
        epochs=epochs,
        verbose=0,
        shuffle=True,
        callbacks=[_Target(metric, *validation, target, log)],
    )
    return time.perf_counter() - start, log


def _baseline_record(baseline, metric):
    """The metadata's baseline record: `baseline` itself when it is one (it says how
    it was `trained`), else built from `run_pair`'s summary of the baseline run."""
    if baseline is None:
        return {"none": "not trained in this run (--skip-baseline)"}
    if "trained" in baseline:
        return baseline
    return {
        "model": baseline["model"],
        "metric": metric,
        "value": baseline[metric],
        "trained": "the same recipe as the preset: the same data, optimizer and batch "
        f"size, {baseline['epochs_run']} epochs",
        "train_seconds": baseline["seconds"],
        "parameters": baseline["parameters"],
        "log": baseline["log"],
    }


def finish(
    model,
    *,
    name,
    out,
    quick,
    metric,
    data,
    task,
    test,
    baseline,
    settings,
    preset_dir=None,
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    more_baselines=None,
):
    """Writes the preset and a summary.

    The full run writes the preset into the package (or `preset_dir`); a quick run
    only under `out`, and only when `out` is given.
    """
    value = measure(model, metric, *test)
    summary = {
        "backend": keras.config.backend(),
        metric: value,
        "baseline": baseline,
        "more_baselines": more_baselines,
        **settings,
    }
    if quick:
        directory = os.path.join(out, name) if out else None
    else:
        directory = preset_dir or os.path.join(PRESETS_DIR, name)
    if directory:
        # The preset holds the model's weights only: a compiled model's
        # `save_weights` would also write the optimizer's state (twice the size).
        config = json.loads(model.to_json())
        config.pop("compile_config", None)
        shipped = keras.models.model_from_json(json.dumps(config))
        shipped.set_weights(model.get_weights())
        zoo.save_preset(
            shipped,
            directory,
            name=name,
            task=task,
            metric=metric,
            data=data,
            recipe=f"model_zoo/{name}/train.py",
            compile={"loss": loss, "metrics": list(metrics)},
            baseline=_baseline_record(baseline, metric),
            more_baselines=more_baselines or None,
            extra={"training": settings},
        )
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "metrics.json"), "w") as f:
            json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))
    return summary


def validation_split(x, y, size, seed=0):
    """The last `size` training examples held out (the test split is never looked at)."""
    del seed
    return (x[:-size], y[:-size]), (x[-size:], y[-size:])


def run_pair(
    build,
    optimizer,
    train_data,
    validation,
    test,
    *,
    metric,
    epochs,
    batch_size,
    target,
    baseline_name,
    skip_baseline,
    settings,
):
    """Trains the preset model (`build("preset")`) then the baseline (`build("baseline")`) the
    same way; returns (preset model, baseline summary or None, settings + training log)."""
    model = build("preset")
    seconds, log = train(
        model,
        optimizer("preset"),
        train_data,
        validation,
        metric=metric,
        epochs=epochs,
        batch_size=batch_size,
        target=target,
    )
    settings = {
        **settings,
        "seconds": round(seconds, 1),
        "epochs_run": len(log),
        "log": log,
        "parameters": int(model.count_params()),
    }
    print(f"preset model: test {metric} {measure(model, metric, *test):.4f}")
    baseline = None
    if not skip_baseline:
        gru = build("baseline")
        seconds, log = train(
            gru,
            optimizer("baseline"),
            train_data,
            validation,
            metric=metric,
            epochs=epochs,
            batch_size=batch_size,
            target=target,
        )
        baseline = {
            "model": baseline_name,
            metric: measure(gru, metric, *test),
            "parameters": int(gru.count_params()),
            "seconds": round(seconds, 1),
            "epochs_run": len(log),
            "log": log,
        }
        print(f"baseline {baseline_name}: test {metric} {baseline[metric]:.4f}")
    return model, baseline, settings


def train_baseline(
    label,
    model,
    optimizer,
    train_data,
    validation,
    test,
    *,
    metric,
    epochs,
    batch_size,
    trained,
    loss="sparse_categorical_crossentropy",
    seed=0,
):
    """Trains a baseline the way the preset was trained (no target: all `epochs`).

    Returns (the baseline record of a preset's metadata, per-epoch log): `model`
    (`label` with the parameter count), `metric`, `value` on the test data,
    `trained` (how) and `train_seconds`.
    """
    seconds, log = train(
        model,
        optimizer,
        train_data,
        validation,
        metric=metric,
        epochs=epochs,
        batch_size=batch_size,
        loss=loss,
        seed=seed,
    )
    record = {
        "model": f"{label}, {model.count_params():,} parameters",
        "metric": metric,
        "value": measure(model, metric, *test),
        "trained": trained,
        "train_seconds": round(seconds, 1),
    }
    print(f"baseline {record['model']}: test {metric} {record['value']:.4f}")
    return record, log
