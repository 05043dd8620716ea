"""What the recurrent presets' recipes share: one training loop for the preset model and
the same-size `keras.layers.GRU` baseline, trained the same way and measured the same way.

Not a preset (no `train.py`): `model_zoo/<name>/train.py` imports it.
"""

import argparse
import json
import os

import keras

from keras_gradstab import zoo
from keras_gradstab.layers import skew_learning_rate_optimizer
from keras_gradstab.zoo.presets import measure
from model_zoo import _fit


def recipe_parser(
    doc,
    quick_help,
    *,
    epochs,
    batch_size,
    lr,
    skew_lr=None,
    lr_help=None,
    units=None,
    baselines=None,
):
    """The arguments every recurrent recipe takes, with that recipe's defaults.

    `--epochs`, `--batch-size`, `--lr` (described by `lr_help`), `--skew-lr` (the
    Cayley skew parameters' learning rate; only where `skew_lr` is given),
    `--clipnorm`, `--units` (where `units` is given), `--skip-baseline` (or, where
    `baselines` = `{"gru": units, "lstm": units}` is given, `--baselines`, the
    comma-separated baselines to train, and `--gru-units` and `--lstm-units`),
    `--quick` (described by `quick_help`), `--out` and `--preset-dir`; the recipe
    adds its own.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr, help=lr_help)
    if skew_lr is not None:
        parser.add_argument("--skew-lr", type=float, default=skew_lr)
    parser.add_argument("--clipnorm", type=float, default=1.0)
    if units is not None:
        parser.add_argument("--units", type=int, default=units)
    if baselines is None:
        parser.add_argument("--skip-baseline", action="store_true")
    else:
        parser.add_argument(
            "--baselines",
            default=",".join(baselines),
            help="comma-separated baselines to train: gru, lstm (or none)",
        )
        for kind, default in baselines.items():
            parser.add_argument(f"--{kind}-units", type=int, default=default)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", default=None, help="write metrics (and a quick preset) here")
    parser.add_argument(
        "--preset-dir",
        default=None,
        help="where the full run writes the preset (default: the package)",
    )
    return parser


def digits_classifier(recurrent, name):
    """`recurrent` over the 64 pixels of a digit, one at a time, and a softmax over 10 classes."""
    return keras.Sequential(
        [keras.Input((64, 1)), recurrent, keras.layers.Dense(10, activation="softmax")],
        name=name,
    )


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
    seconds = _fit.timed_fit(
        model,
        *train_data,
        batch_size=batch_size,
        epochs=epochs,
        callbacks=[_Target(metric, *validation, target, log)],
    )
    return seconds, log


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


def training_settings(args, *names, optimizer):
    """The settings a preset's metadata records: the recipe's own options `names`,
    the common ones of `recipe_parser` the recipe has, and the `optimizer` text."""
    common = [
        k for k in ("units", "epochs", "batch_size", "lr", "skew_lr", "clipnorm") if k in args
    ]
    return {**{k: getattr(args, k) for k in (*names, *common)}, "optimizer": optimizer}


def finish(
    model,
    args,
    *,
    name,
    metric,
    data,
    task,
    test,
    baseline,
    settings,
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    more_baselines=None,
):
    """Writes the preset and a summary.

    The full run writes the preset into the package (or `args.preset_dir`); a quick
    run (`args.quick`) only under `args.out`, and only when `args.out` is given.
    """
    value = measure(model, metric, *test)
    summary = {
        "backend": keras.config.backend(),
        metric: value,
        "baseline": baseline,
        "more_baselines": more_baselines,
        **settings,
    }
    directory = preset_directory(name, args)
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
    return write_summary(summary, args.out)


def preset_directory(name, args):
    """Where a run writes the preset: the package (or `args.preset_dir`) for a full run,
    `args.out/name` for a quick one (None without `--out`: no preset then)."""
    if args.quick:
        return os.path.join(args.out, name) if args.out else None
    return args.preset_dir or os.path.join(zoo.presets.PRESETS_DIR, name)


def write_summary(summary, out):
    """Prints `summary` and writes it to `out/metrics.json` when `out` is given."""
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


def seeded(build, *args, seed=0):
    """`build(*args)` after seeding Keras's global generator, so that the layers
    built without a seed of their own start from the same weights in every run."""
    keras.utils.set_random_seed(seed)
    return build(*args)


def run_pair(
    build,
    optimizer,
    data,
    args,
    *,
    baseline_name,
    settings,
    metric="accuracy",
    target=None,
    baseline_epochs=None,
):
    """Trains the preset model (`build("preset")`) then the baseline (`build("baseline")`) the
    same way, on `data` = (train, validation, test) with `args.epochs` and
    `args.batch_size`; the baseline unless `args.skip_baseline`, for `baseline_epochs`
    (a function of the preset's epochs run; default: `args.epochs`).

    Returns (preset model, baseline summary or None, settings + training log).
    """
    train_data, validation, test = data
    fit = {"metric": metric, "batch_size": args.batch_size, "target": target}
    model = seeded(build, "preset")
    seconds, log = train(
        model, optimizer("preset"), train_data, validation, epochs=args.epochs, **fit
    )
    settings = {
        **settings,
        "seconds": round(seconds, 1),
        "epochs_run": len(log),
        "log": log,
        "parameters": int(model.count_params()),
    }
    print(f"preset model: test {metric} {measure(model, metric, *test):.4f}")
    if args.skip_baseline:
        return model, None, settings
    epochs = baseline_epochs(len(log)) if baseline_epochs else args.epochs
    gru = seeded(build, "baseline")
    seconds, log = train(gru, optimizer("baseline"), train_data, validation, epochs=epochs, **fit)
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


def train_with_baselines(build, optimizer, data, args, *, settings, trained, **fit):
    """Trains the preset model (`build("preset", args.units)`) then each baseline of
    `args.baselines` ("gru", "lstm"; `build(kind, units)` with `args.gru_units` or
    `args.lstm_units`) the same way, on `data` = (train, validation, test).

    `settings` gains the training's seconds, log and parameter count and each
    baseline's log; returns (preset model, the baselines' records for `finish`).
    """
    train_data, validation, test = data
    model = seeded(build, "preset", args.units)
    seconds, log = train(model, optimizer("preset"), train_data, validation, **fit)
    settings.update(seconds=round(seconds, 1), log=log, parameters=int(model.count_params()))
    records = []
    for kind in [k for k in args.baselines.split(",") if k in ("gru", "lstm")]:
        units = args.gru_units if kind == "gru" else args.lstm_units
        record, base_log = train_baseline(
            f"keras.layers.{kind.upper()}({units})",
            seeded(build, kind, units),
            optimizer(kind),
            train_data,
            validation,
            test,
            trained=trained,
            **fit,
        )
        records.append(record)
        settings[f"{kind}_log"] = base_log
    return model, records


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
