"""Presets: pretrained models that ship inside the package and load with no network.

A preset is a directory in KerasHub's shape:

- `config.json`: the model's Keras config (`model.to_json()`);
- `model.weights.h5`: its weights;
- `metadata.json`: task, metric, recorded value, the data it was measured on
  (generator name, arguments and seed), recipe, Keras version, backend trained
  on, compile settings, and the weights' sha256.

Built-in presets live in `keras_gradstab/zoo/presets/<name>/`; their recipes
(`train.py`, README) in the repository's `model_zoo/<name>/`.
"""

import hashlib
import json
import os
import time

import keras
import numpy as np

PRESETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "presets")
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
_METRICS = ("accuracy", "symbol_accuracy", "mse", "bits_per_character")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_presets():
    """Names of the built-in presets, sorted.

    Example:

    >>> from keras_gradstab import zoo
    >>> isinstance(zoo.list_presets(), list)
    True
    """
    if not os.path.isdir(PRESETS_DIR):
        return []
    return sorted(
        name
        for name in os.listdir(PRESETS_DIR)
        if os.path.isfile(os.path.join(PRESETS_DIR, name, METADATA_FILE))
    )


def _resolve(name_or_directory):
    if os.path.isdir(name_or_directory):
        return name_or_directory
    directory = os.path.join(PRESETS_DIR, name_or_directory)
    if os.path.isfile(os.path.join(directory, METADATA_FILE)):
        return directory
    raise ValueError(
        f"Unknown preset {name_or_directory!r}: not a directory and not one of the built-in "
        f"presets {list_presets()}."
    )


def preset_metadata(name_or_directory):
    """The metadata dict of a preset (name or directory).

    Args:
        name_or_directory: a built-in preset name or a preset directory.

    Returns:
        The dict stored in its `metadata.json`: `task`, `metric`, `value`,
        `data`, `recipe`, `keras_version`, `backend`, `weights_sha256`, ...

    Example:

    >>> from keras_gradstab import zoo
    >>> tasks = {name: zoo.preset_metadata(name)["task"] for name in zoo.list_presets()}
    >>> all(isinstance(task, str) for task in tasks.values())
    True
    """
    with open(os.path.join(_resolve(name_or_directory), METADATA_FILE)) as f:
        return json.load(f)


def from_preset(name_or_directory, compile=True):
    """Builds a preset's model and loads its weights, after checking their sha256.

    Args:
        name_or_directory: a built-in preset name (see `list_presets()`) or a
            directory holding `config.json`, `model.weights.h5`, `metadata.json`.
        compile: compile the model with the loss and metrics it was trained with.

    Returns:
        The `keras.Model`.

    Raises:
        ValueError: the preset is unknown, or its weights file does not match
            the sha256 recorded in its metadata (corrupted or tampered with).

    Example:

    >>> import tempfile
    >>> import keras
    >>> from keras_gradstab import zoo
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(10)])
    >>> directory = tempfile.mkdtemp()
    >>> _ = zoo.save_preset(model, directory, name="untrained_digits", task="digits",
    ...                     metric="accuracy", data={"dataset": "digits"},
    ...                     recipe="this docstring")
    >>> zoo.from_preset(directory).count_params()
    650
    """
    directory = _resolve(name_or_directory)
    metadata = preset_metadata(directory)
    weights = os.path.join(directory, WEIGHTS_FILE)
    found = _sha256(weights)
    if found != metadata.get("weights_sha256"):
        raise ValueError(
            f"The weights file {weights} does not match the sha256 recorded in its "
            f"metadata (found {found}, recorded {metadata.get('weights_sha256')}): it is "
            "corrupted or has been tampered with. Nothing was loaded."
        )
    import keras_gradstab  # noqa: F401  (registers every class the config may name)

    with open(os.path.join(directory, CONFIG_FILE)) as f:
        config = json.load(f)
    # A preset's compile settings live in its metadata. A compile config saved
    # with the model would carry the training backend's resolved `jit_compile`
    # (True on JAX), which torch turns into `torch.compile` (minutes to load).
    config.pop("compile_config", None)
    model = keras.models.model_from_json(json.dumps(config))
    model.load_weights(weights)
    if compile and metadata.get("compile"):
        model.compile(**metadata["compile"])
    return model


def load(name, compile=True):
    """Loads a built-in preset by name (`from_preset` for names).

    Args:
        name: one of `list_presets()`.
        compile: compile the model with its recorded compile settings.

    Returns:
        The `keras.Model` with the preset's weights.

    Example:

    >>> from keras_gradstab import zoo
    >>> models = {name: zoo.load(name) for name in zoo.list_presets()[:1]}
    >>> all(model.count_params() > 0 for model in models.values())
    True
    """
    if name not in list_presets():
        raise ValueError(f"Unknown preset {name!r}; built-in presets: {list_presets()}.")
    return from_preset(name, compile=compile)


def _test_data(data):
    from keras_gradstab import datasets

    generator = getattr(datasets, data["dataset"], None)
    if generator is None:
        raise ValueError(f"metadata names unknown data set {data['dataset']!r}")
    test = generator(**data.get("kwargs", {}))[-1]  # the last split (after any validation)
    return test[0], test[1]


def _even_batch(n, largest=512):
    """The largest batch size <= `largest` that divides `n` (n itself if small)."""
    if n <= largest:
        return n
    return max(d for d in range(1, largest + 1) if n % d == 0)


def measure(model, metric, x, y, batch_size=None):
    """Computes a preset metric of `model` on (x, y).

    "accuracy": argmax of the last axis against the labels; "symbol_accuracy":
    the same only where the label is not blank (0); "mse": mean squared error;
    "bits_per_character": the mean cross-entropy of the predicted probabilities
    (the last axis) at the label, over every position, in bits (nats / ln 2).
    """
    if metric not in _METRICS:
        raise ValueError(f"`metric` must be one of {_METRICS}; received {metric!r}.")
    if batch_size is None:
        # Equal batches: a last, smaller batch would compile the model a second time.
        batch_size = _even_batch(len(x))
    predictions = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    if metric == "mse":
        return float(np.mean((predictions - y) ** 2))
    if metric == "bits_per_character":
        chosen = np.take_along_axis(predictions, np.asarray(y)[..., None], axis=-1)
        return float(-np.mean(np.log(np.maximum(chosen, 1e-12))) / np.log(2.0))
    # accuracy: class = argmax over the last axis; symbol_accuracy: only where the
    # target is not blank (0), as for the copying task's recalled symbols.
    classes = predictions.argmax(-1)
    mask = np.ones_like(y, bool) if metric == "accuracy" else y != 0
    return float(np.mean(classes[mask] == y[mask]))


def _check_eval_batch_size(batch_size):
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise ValueError("A preset's `eval_batch_size` must be a positive integer or None; "
                         f"received eval_batch_size={batch_size!r}.")
    return batch_size


def evaluate(name_or_directory):
    """Re-measures a preset's metric on its regenerated test data.

    The predictions are made in one batch of the whole test set where it has
    at most 512 examples, or in the batch size the metadata's
    `eval_batch_size` names (for models whose activations at that batch would
    take gigabytes).

    Args:
        name_or_directory: a built-in preset name or a preset directory.

    Returns:
        A dict with `preset`, `task`, `metric`, `recorded`, `measured`,
        `parameters` and `seconds`.

    Example:

    >>> import tempfile
    >>> import keras
    >>> from keras_gradstab import zoo
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(10)])
    >>> directory = tempfile.mkdtemp()
    >>> _ = zoo.save_preset(model, directory, name="untrained_digits", task="digits",
    ...                     metric="accuracy", data={"dataset": "digits"},
    ...                     recipe="this docstring")
    >>> result = zoo.evaluate(directory)
    >>> result["measured"] == result["recorded"]
    True
    """
    start = time.perf_counter()
    metadata = preset_metadata(name_or_directory)
    model = from_preset(name_or_directory, compile=False)
    x, y = _test_data(metadata["data"])
    batch_size = _check_eval_batch_size(metadata.get("eval_batch_size"))
    measured = measure(model, metadata["metric"], x, y, batch_size=batch_size)
    return {
        "preset": metadata.get("name", os.path.basename(os.path.normpath(name_or_directory))),
        "task": metadata["task"],
        "metric": metadata["metric"],
        "recorded": metadata["value"],
        "measured": measured,
        "parameters": int(model.count_params()),
        "seconds": time.perf_counter() - start,
    }


def save_preset(model, directory, *, name, task, metric, data, recipe, compile=None,
                eval_batch_size=None, extra=None):
    """Writes `model` as a preset and records its metric measured now on `data`.

    Args:
        model: a built `keras.Model` whose classes are registered.
        directory: where to write the three files (created if missing).
        name: the preset's name.
        task: a short description of the task.
        metric: one of "accuracy", "symbol_accuracy", "mse".
        data: `{"dataset": <keras_gradstab.datasets function name>, "kwargs": {...}}`;
            its test split is what the metric is measured on, now and by `evaluate`.
        recipe: how the weights were made (e.g. "model_zoo/<name>/train.py").
        compile: keyword arguments for `model.compile` when loading (JSON-able).
        eval_batch_size: the batch size the metric is predicted in, now and by
            `evaluate` (recorded in the metadata); None for the default (the
            whole test set at once when it has at most 512 examples).
        extra: more JSON-able metadata (e.g. the baseline trained beside it).

    Returns:
        The metadata dict written.

    Example:

    >>> import tempfile
    >>> import keras
    >>> from keras_gradstab import zoo
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(10)])
    >>> directory = tempfile.mkdtemp()
    >>> metadata = zoo.save_preset(
    ...     model, directory, name="untrained_digits", task="digits classification",
    ...     metric="accuracy", data={"dataset": "digits", "kwargs": {"seed": 0}},
    ...     recipe="this docstring")
    >>> sorted(metadata)[:3]
    ['backend', 'compile', 'data']
    """
    _check_eval_batch_size(eval_batch_size)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, CONFIG_FILE), "w") as f:
        config = json.loads(model.to_json())
        config.pop("compile_config", None)  # see `from_preset`
        json.dump(config, f)
    weights = os.path.join(directory, WEIGHTS_FILE)
    model.save_weights(weights)
    x, y = _test_data(data)
    metadata = {
        "name": name,
        "task": task,
        "metric": metric,
        "value": measure(model, metric, x, y, batch_size=eval_batch_size),
        "data": data,
        "recipe": recipe,
        "keras_version": keras.__version__,
        "backend": keras.config.backend(),
        "compile": compile,
        "weights_sha256": _sha256(weights),
        **({} if eval_batch_size is None else {"eval_batch_size": eval_batch_size}),
        **(extra or {}),
    }
    with open(os.path.join(directory, METADATA_FILE), "w") as f:
        json.dump(metadata, f, indent=2, sort_keys=True)
    return metadata
