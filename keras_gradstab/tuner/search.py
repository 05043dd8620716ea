"""Hyperparameter search on a preset's task: `tune(preset)` and `keras-gradstab tune`."""

import os
import tempfile

import keras
import keras_tuner
import numpy as np

from keras_gradstab.tuner.hypermodels import (
    OrthogonalCNNHyperModel,
    PLSTMHyperModel,
    RecurrentHyperModel,
    ReSTEBNNHyperModel,
    SNNHyperModel,
)

FAMILIES = {
    "snn": SNNHyperModel,
    "orthogonal_cnn": OrthogonalCNNHyperModel,
    "recurrent": RecurrentHyperModel,
    "reste_bnn": ReSTEBNNHyperModel,
    "plstm": PLSTMHyperModel,
}

_DIGITS = {"dataset": "digits", "kwargs": {"seed": 0}}

# Each preset's model family and data. `data` is used when the preset is not
# installed (with it, the preset's recorded data are used); `quick` replaces both
# with a tiny version, and `options` / `quick_options` narrow the search space.
TASKS = {
    "snn_mlp_digits": {
        "family": "snn",
        "data": _DIGITS,
        "quick_options": {"depth": (2, 4), "units": (32, 64)},
    },
    "orthogonal_cnn_digits": {
        "family": "orthogonal_cnn",
        "data": _DIGITS,
        "quick_options": {"filters": (8, 16)},
    },
    "reste_bnn_digits": {
        "family": "reste_bnn",
        "data": _DIGITS,
        "quick_options": {"width": (8, 16)},
    },
    "ncgru_copying": {
        "family": "recurrent",
        "options": {"cell": "ncgru", "return_sequences": True},
        "data": {
            "dataset": "copying",
            "kwargs": {"time_steps": 200, "num_train": 10000, "num_test": 1000, "seed": 0},
        },
        "quick_data": {
            "dataset": "copying",
            "kwargs": {"time_steps": 10, "num_train": 400, "num_test": 100, "seed": 0},
        },
        "quick_options": {"units": (16, 32)},
    },
    "enrnn_permuted_digits": {
        "family": "recurrent",
        "options": {"cell": "enrnn"},
        "data": {"dataset": "digits", "kwargs": {"sequential": True, "permuted": True, "seed": 0}},
        "quick_options": {"units": (16, 32), "normalized_units": (4, 8)},
    },
    "plstm2d_arrow": {
        "family": "plstm",
        # arrow_scale as the recipe: at the paper's proportions a small image's
        # arrow is a 1-px line whose head cannot be told from its tail.
        "data": {
            "dataset": "arrow_pointing",
            "kwargs": {
                "image_size": 32,
                "num_train": 2000,
                "num_test": 400,
                "arrow_scale": 2.5,
                "seed": 0,
            },
        },
        "quick_data": {
            "dataset": "arrow_pointing",
            "kwargs": {
                "image_size": 16,
                "num_train": 120,
                "num_test": 40,
                "arrow_scale": 2.5,
                "seed": 0,
            },
        },
        "quick_options": {"dim": (8,), "num_heads": (2,), "depth": (1, 1)},
    },
}


def list_tasks():
    """Names of the presets whose task `tune` can search on, sorted.

    Returns:
        A list of preset names (the built-in presets' names, installed or not).

    Example:

    >>> from keras_gradstab import tuner
    >>> tuner.list_tasks()[:2]
    ['enrnn_permuted_digits', 'ncgru_copying']
    """
    return sorted(TASKS)


def _data(data):
    from keras_gradstab import datasets

    generator = getattr(datasets, data["dataset"], None)
    if generator is None:
        raise ValueError(f"Unknown data set {data['dataset']!r} in a task description.")
    return generator(**data.get("kwargs", {}))


def task_data(preset, quick=False):
    """The data description (`{"dataset", "kwargs"}`) that `tune(preset)` trains on.

    Args:
        preset: a name of `TASKS` (the built-in presets' names).
        quick: the tiny version used by `--quick` and the tests.

    Returns:
        The dict: the installed preset's recorded data if there is one, else the
        task's default; in quick mode the task's tiny data.

    Example:

    >>> from keras_gradstab import tuner
    >>> tuner.task_data("ncgru_copying", quick=True)["kwargs"]["time_steps"]
    10
    """
    if preset not in TASKS:
        raise ValueError(f"Unknown preset {preset!r} for tuning; choose from {sorted(TASKS)}.")
    task = TASKS[preset]
    if quick:
        return task.get("quick_data", task["data"])
    from keras_gradstab import zoo

    if preset in zoo.list_presets():
        return zoo.preset_metadata(preset)["data"]
    return task["data"]


def hypermodel_for(preset, input_shape, num_classes, vocabulary_size=None, quick=False, **options):
    """The hypermodel of a preset's family for data of the given shape.

    Args:
        preset: a name of `TASKS`.
        input_shape: shape of one example.
        num_classes: number of classes.
        vocabulary_size: number of token values for integer inputs (recurrent only).
        quick: use the task's narrower quick search space.
        **options: more constructor arguments of the hypermodel.

    Returns:
        A `keras_tuner.HyperModel`.

    Example:

    >>> from keras_gradstab import tuner
    >>> type(tuner.hypermodel_for("enrnn_permuted_digits", (64, 1), 10)).__name__
    'RecurrentHyperModel'
    """
    if preset not in TASKS:
        raise ValueError(f"Unknown preset {preset!r} for tuning; choose from {sorted(TASKS)}.")
    task = TASKS[preset]
    kwargs = dict(task.get("options", {}))
    if quick:
        kwargs.update(task.get("quick_options", {}))
    if vocabulary_size:
        kwargs["vocabulary_size"] = vocabulary_size
    kwargs.update(options)
    return FAMILIES[task["family"]](input_shape, num_classes, **kwargs)


def tune(
    preset,
    max_trials=3,
    epochs=2,
    max_train=2000,
    batch_size=64,
    quick=False,
    directory=None,
    seed=0,
    verbose=0,
):
    """Runs a keras-tuner `RandomSearch` on a preset's task and returns the best trial.

    The last 20% of the (capped) training split is held out for validation and
    the objective is the validation loss; the test split is never used. Under
    keras-tuner's distributed mode (`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`,
    `KERASTUNER_ORACLE_PORT` set; see the `keras_gradstab.tuner` docstring) the
    chief serves the search and returns its result, a worker runs trials and
    returns `None`.

    Args:
        preset: a name of `TASKS`.
        max_trials: number of trials.
        epochs: training epochs per trial.
        max_train: at most this many training examples (before the validation split).
        batch_size: the batch size.
        quick: tiny data and search space (a few seconds per trial).
        directory: where keras-tuner writes its trials (default: a new temporary one).
        seed: the search's seed (and the data subsample's).
        verbose: verbosity of `search`.

    Returns:
        A dict with `preset`, `best_hyperparameters`, `best_val_loss` and `trials`
        (one dict per trial: `trial_id`, `hyperparameters`, `val_loss`), or `None`
        on a distributed worker.

    Example:

    >>> from keras_gradstab import tuner
    >>> result = tuner.tune("snn_mlp_digits", max_trials=1, epochs=1, max_train=100,
    ...                     quick=True)
    >>> sorted(result["best_hyperparameters"])
    ['depth', 'dropout', 'learning_rate', 'units']
    """
    data = task_data(preset, quick=quick)
    (x, y), _ = _data(data)
    if len(x) > max_train:
        keep = np.sort(np.random.default_rng(seed).permutation(len(x))[:max_train])
        x, y = x[keep], y[keep]
    n_val = max(1, len(x) // 5)
    x_train, y_train, x_val, y_val = x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:]
    tokens = np.issubdtype(x.dtype, np.integer)
    hypermodel = hypermodel_for(
        preset,
        x.shape[1:],
        int(y.max()) + 1,
        vocabulary_size=int(x.max()) + 1 if tokens else None,
        quick=quick,
    )
    keras.utils.set_random_seed(seed)
    search = keras_tuner.RandomSearch(
        hypermodel,
        objective="val_loss",
        max_trials=max_trials,
        seed=seed,
        directory=directory or tempfile.mkdtemp(prefix="keras_gradstab_tune_"),
        project_name=preset,
        overwrite=True,
    )
    search.search(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=batch_size,
        verbose=verbose,
    )
    distributed = "KERASTUNER_ORACLE_IP" in os.environ
    if distributed and "chief" not in os.environ.get("KERASTUNER_TUNER_ID", ""):
        return None
    trials = sorted(search.oracle.trials.values(), key=lambda t: t.trial_id)
    best = search.oracle.get_best_trials(1)[0]
    return {
        "preset": preset,
        "best_hyperparameters": dict(best.hyperparameters.values),
        "best_val_loss": float(best.score),
        "trials": [
            {
                "trial_id": t.trial_id,
                "hyperparameters": dict(t.hyperparameters.values),
                "val_loss": None if t.score is None else float(t.score),
            }
            for t in trials
        ],
    }
