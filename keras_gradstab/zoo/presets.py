"""Presets: pretrained models that ship inside the package and load with no network.

A preset is a directory in KerasHub's shape:

- `config.json`: the model's Keras config (`model.to_json()`);
- `model.weights.h5`: its weights;
- `metadata.json`: task, metric, recorded value, the data it was measured on
  (generator name, arguments and seed), recipe, Keras version, backend trained
  on, compile settings, the baseline it is compared with, and the sha256 of
  every file of the preset (`"sha256"`: one digest per file; the metadata's
  own digest is taken over its content without that field).

Built-in presets live in `keras_gradstab/zoo/presets/<name>/`; their recipes
(`train.py`, README) in the repository's `model_zoo/<name>/`.

A bare name (`"snn_mlp_digits"`) always means a built-in preset; a directory is
loaded only when given as a path: a `pathlib.Path`, or a string that holds a
path separator or starts with `.` or `~` (`"./my_preset"`).
"""

import collections
import hashlib
import json
import math
import os
import time

import keras
import numpy as np

PRESETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "presets")
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
PRESET_FILES = (CONFIG_FILE, METADATA_FILE, WEIGHTS_FILE)
HASH_KEY = "sha256"
_LEGACY_HASH_KEY = "weights_sha256"

MetricSpec = collections.namedtuple("MetricSpec", ["higher_is_better", "atol", "rtol", "percent"])

# The one table of the zoo's metrics: direction and re-measurement tolerance.
# Accuracies: within half a percentage point (the same predictions on another
# backend can flip a few borderline examples). Mean squared error: within 5% of
# the recorded value. Bits per character: within 0.01 bit (well under the
# differences between models of one task, several hundredths of a bit or more).
METRICS = {
    "accuracy": MetricSpec(higher_is_better=True, atol=0.005, rtol=0.0, percent=True),
    "symbol_accuracy": MetricSpec(higher_is_better=True, atol=0.005, rtol=0.0, percent=True),
    "mse": MetricSpec(higher_is_better=False, atol=1e-6, rtol=0.05, percent=False),
    "bits_per_character": MetricSpec(higher_is_better=False, atol=0.01, rtol=0.0, percent=False),
}

# A baseline record: the keys it must have and the ones it may have, with their types.
_BASELINE_KEYS = {"model": str, "metric": str, "value": float, "trained": str}
_BASELINE_OPTIONAL_KEYS = {"train_seconds": float, "parameters": int, "log": list}
_REQUIRED_METADATA = (
    "name",
    "task",
    "metric",
    "value",
    "data",
    "recipe",
    "keras_version",
    "backend",
    "baseline",
)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _metadata_sha256(metadata):
    """sha256 of the metadata's content without its own hash field (key order and
    indentation do not matter)."""
    content = {key: value for key, value in metadata.items() if key != HASH_KEY}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_sha256(directory, metadata, name):
    if name == METADATA_FILE:
        return _metadata_sha256(metadata)
    return _sha256(os.path.join(directory, name))


def metric_spec(metric):
    """What a preset metric means to the zoo: its direction, tolerance and display.

    The fields of the `MetricSpec`: `higher_is_better`, the direction of
    "better"; `atol` and `rtol`, a re-measured value agrees with the recorded
    one when `|measured - recorded| <= atol + rtol * |recorded|`; `percent`,
    shown as a percentage (a fraction of examples). All metrics are in the one
    table `keras_gradstab.zoo.presets.METRICS`.

    Args:
        metric: a key of `METRICS`.

    Returns:
        The `MetricSpec`.

    Raises:
        ValueError: the metric is not in `METRICS`.

    Example:

    >>> from keras_gradstab import zoo
    >>> zoo.metric_spec("accuracy").higher_is_better, zoo.metric_spec("mse").higher_is_better
    (True, False)
    """
    if metric not in METRICS:
        raise ValueError(f"`metric` must be one of {sorted(METRICS)}; received {metric!r}.")
    return METRICS[metric]


def within_tolerance(metric, measured, recorded):
    """Whether a re-measured metric agrees with the recorded one (the zoo's promise).

    The tolerance of each metric is in `METRICS` (half a percentage point for
    accuracies).

    Args:
        metric: a key of `METRICS`.
        measured: the value measured now.
        recorded: the value in the preset's metadata.

    Returns:
        A bool.

    Example:

    >>> from keras_gradstab import zoo
    >>> zoo.within_tolerance("accuracy", 0.951, 0.955), zoo.within_tolerance("accuracy", 0.94, 0.955)
    (True, False)
    """
    spec = metric_spec(metric)
    return bool(abs(measured - recorded) <= spec.atol + spec.rtol * abs(recorded))


def improvement(metric, ours, baseline):
    """Ours minus the baseline, signed so that a positive value means ours is better.

    In the metric's units: for a higher-is-better metric `ours - baseline`,
    for a lower-is-better one (`mse`, `bits_per_character`) `baseline - ours`.

    Args:
        metric: a key of `METRICS`.
        ours: the preset's value.
        baseline: the baseline's value.

    Returns:
        A float.

    Example:

    >>> from keras_gradstab import zoo
    >>> round(zoo.improvement("accuracy", 0.97, 0.96), 6), round(zoo.improvement("mse", 0.2, 0.5), 6)
    (0.01, 0.3)
    """
    sign = 1.0 if metric_spec(metric).higher_is_better else -1.0
    return sign * (ours - baseline)


def format_value(metric, value):
    """A metric value as the zoo's tables show it: accuracies in percent, others to 4 decimals.

    Args:
        metric: a key of `METRICS`.
        value: the value, or None.

    Returns:
        A string ("-" for None).

    Example:

    >>> from keras_gradstab.zoo import presets
    >>> presets.format_value("accuracy", 0.97214), presets.format_value("mse", 0.12345)
    ('97.21%', '0.1235')
    """
    if value is None:
        return "-"
    return f"{100 * value:.2f}%" if metric_spec(metric).percent else f"{value:.4f}"


def format_improvement(metric, delta):
    """An `improvement` as the zoo's tables show it: signed, in the metric's units.

    Args:
        metric: a key of `METRICS`.
        delta: `improvement(metric, ours, baseline)`, or None (no baseline).

    Returns:
        A string: percentage points ("pts") for accuracies; "-" for None.

    Example:

    >>> from keras_gradstab.zoo import presets
    >>> presets.format_improvement("accuracy", 0.0111), presets.format_improvement("mse", -0.02)
    ('+1.11 pts', '-0.0200')
    """
    if delta is None:
        return "-"
    return f"{100 * delta:+.2f} pts" if metric_spec(metric).percent else f"{delta:+.4f}"


def _check_baseline_record(record, metric, argument):
    """Raises a ValueError unless `record` is one baseline record of `metric`."""
    allowed = (
        f"a dict with keys {sorted(_BASELINE_KEYS)} (optionally "
        f"{sorted(_BASELINE_OPTIONAL_KEYS)}) whose 'metric' is the preset's "
        f"{metric!r}"
    )
    if not isinstance(record, dict):
        raise ValueError(f"`{argument}` must be {allowed}; received {record!r}.")
    missing = sorted(set(_BASELINE_KEYS) - set(record))
    unknown = sorted(set(record) - set(_BASELINE_KEYS) - set(_BASELINE_OPTIONAL_KEYS))
    if missing or unknown:
        raise ValueError(
            f"`{argument}` must be {allowed}; received keys {sorted(record)} "
            f"(missing {missing}, unknown {unknown})."
        )
    for key, kind in {**_BASELINE_KEYS, **_BASELINE_OPTIONAL_KEYS}.items():
        if key not in record:
            continue
        value = record[key]
        ok = (
            (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
            )
            if kind is float
            else (isinstance(value, kind) and not isinstance(value, bool))
        )
        if kind is str and ok:
            ok = bool(value.strip())
        if not ok:
            raise ValueError(
                f"`{argument}['{key}']` must be a "
                f"{'finite number' if kind is float else 'non-empty ' + kind.__name__}"
                f"; received {value!r}."
            )
    if record["metric"] != metric:
        raise ValueError(
            f"`{argument}['metric']` must be the preset's metric {metric!r}; "
            f"received {record['metric']!r}."
        )


def check_baseline(baseline, metric, more_baselines=None):
    """Validates a preset's baseline (and further baselines) against the zoo's schema.

    A baseline is `{"model": <what it is>, "metric": <the preset's metric>,
    "value": <float>, "trained": <how: same recipe, epochs, data, seed...>}`,
    optionally with `"train_seconds"`, `"parameters"` and `"log"` (the
    training log); or, when there is none, `{"none": <why>}`.
    `more_baselines` is None or a list of records of the first shape.

    Args:
        baseline: the baseline record.
        metric: the preset's metric (a key of `METRICS`).
        more_baselines: None or a list of baseline records.

    Raises:
        ValueError: naming the argument, what was received and what is allowed.

    Example:

    >>> from keras_gradstab import zoo
    >>> zoo.check_baseline({"none": "no comparable model exists"}, "accuracy")
    >>> zoo.check_baseline({"model": "keras.layers.GRU(64)", "metric": "accuracy",
    ...                     "value": 0.9, "trained": "the same recipe"}, "accuracy")
    """
    metric_spec(metric)
    if isinstance(baseline, dict) and "none" in baseline:
        if (
            set(baseline) != {"none"}
            or not isinstance(baseline["none"], str)
            or not baseline["none"].strip()
        ):
            raise ValueError(
                "`baseline` without a baseline must be exactly {'none': '<why "
                "there is none>'} (a non-empty string); "
                f"received {baseline!r}."
            )
    else:
        _check_baseline_record(baseline, metric, "baseline")
    if more_baselines is not None:
        if not isinstance(more_baselines, list) or not more_baselines:
            raise ValueError(
                "`more_baselines` must be None or a non-empty list of baseline "
                f"records; received {more_baselines!r}."
            )
        if "none" in baseline:
            raise ValueError(
                f"`more_baselines` needs a `baseline` record first; received baseline={baseline!r}."
            )
        for i, record in enumerate(more_baselines):
            _check_baseline_record(record, metric, f"more_baselines[{i}]")


def check_metadata(metadata, source="metadata"):
    """Validates a preset's metadata: the required keys, metric and baselines.

    Args:
        metadata: the dict of a `metadata.json`.
        source: where it was read from (named in the error).

    Raises:
        ValueError: a required key is missing, the metric is unknown, the value
            is not a finite number, or a baseline does not follow the schema
            (see `check_baseline`).

    Example:

    >>> from keras_gradstab import zoo
    >>> for name in zoo.list_presets():
    ...     zoo.check_metadata(zoo.preset_metadata(name))
    """
    missing = [key for key in _REQUIRED_METADATA if key not in metadata]
    if missing:
        raise ValueError(
            f"{source} lacks the required keys {missing} (a preset's metadata "
            f"has {list(_REQUIRED_METADATA)})."
        )
    metric_spec(metadata["metric"])
    value = metadata["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{source}: 'value' must be a finite number; received {value!r}.")
    try:
        check_baseline(metadata["baseline"], metadata["metric"], metadata.get("more_baselines"))
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None


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


def _is_path(name_or_directory):
    if isinstance(name_or_directory, os.PathLike):
        return True
    if not isinstance(name_or_directory, str) or not name_or_directory:
        raise ValueError(
            "A preset must be given as a built-in preset name (a string) or a "
            "directory path (a pathlib.Path, or a string with a path separator "
            f"or starting with '.' or '~'); received {name_or_directory!r}."
        )
    separators = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return any(s in name_or_directory for s in separators) or name_or_directory.startswith(
        (".", "~")
    )


def _resolve(name_or_directory):
    """The directory of a preset: a bare name is a built-in preset, a path a directory."""
    if _is_path(name_or_directory):
        directory = os.path.expanduser(os.fspath(name_or_directory))
        if not os.path.isfile(os.path.join(directory, METADATA_FILE)):
            raise ValueError(
                f"{os.fspath(name_or_directory)!r} is not a preset directory: it "
                f"has no {METADATA_FILE}."
            )
        return directory
    if name_or_directory not in list_presets():
        raise ValueError(
            f"Unknown preset {name_or_directory!r}; the built-in presets are "
            f"{list_presets()}. A directory is loaded only when given as a path "
            f"(e.g. './{name_or_directory}' or a pathlib.Path)."
        )
    return os.path.join(PRESETS_DIR, name_or_directory)


def _read_checked(directory):
    """The metadata of the preset in `directory`, after checking the sha256 of each of
    its files and the metadata's schema."""
    path = os.path.join(directory, METADATA_FILE)
    with open(path) as f:
        metadata = json.load(f)
    recorded = metadata.get(HASH_KEY)
    if not isinstance(recorded, dict) or sorted(recorded) != sorted(PRESET_FILES):
        raise ValueError(
            f"{path} has no sha256 record of the preset's files (a '{HASH_KEY}' dict with "
            f"one digest for each of {list(PRESET_FILES)}): it predates that record or has "
            "been altered. Nothing was loaded. A preset you trust can be re-hashed with "
            "`keras_gradstab.zoo.presets.rehash(directory)` or "
            "`python -m keras_gradstab rehash DIRECTORY`."
        )
    for name in PRESET_FILES:
        found = _file_sha256(directory, metadata, name)
        if found != recorded[name]:
            raise ValueError(
                f"The preset file {os.path.join(directory, name)} does not match the sha256 "
                f"recorded in {path} (found {found}, recorded {recorded[name]}): it is "
                "corrupted or has been tampered with. Nothing was loaded."
            )
    check_metadata(metadata, source=path)
    return metadata


def preset_metadata(name_or_directory):
    """The metadata dict of a preset, after checking its files' sha256 and its schema.

    Args:
        name_or_directory: a built-in preset name, or a preset directory given as
            a path (`pathlib.Path`, or a string with a path separator or
            starting with `.` or `~`).

    Returns:
        The dict stored in its `metadata.json`: `task`, `metric`, `value`,
        `data`, `recipe`, `keras_version`, `backend`, `baseline`, `sha256`, ...

    Raises:
        ValueError: the preset is unknown, a file does not match its recorded
            sha256, or the metadata does not follow the schema.

    Example:

    >>> from keras_gradstab import zoo
    >>> tasks = {name: zoo.preset_metadata(name)["task"] for name in zoo.list_presets()}
    >>> all(isinstance(task, str) for task in tasks.values())
    True
    """
    return _read_checked(_resolve(name_or_directory))


def from_preset(name_or_directory, compile=True):
    """Builds a preset's model and loads its weights, after checking every file's sha256.

    Args:
        name_or_directory: a built-in preset name (see `list_presets()`), or a
            directory holding `config.json`, `model.weights.h5`, `metadata.json`
            given as a path (`pathlib.Path`, or a string with a path separator or
            starting with `.` or `~`). A bare name never reads the current directory.
        compile: compile the model with the loss and metrics it was trained with.

    Returns:
        The `keras.Model`.

    Raises:
        ValueError: the preset is unknown, or one of its files does not match
            the sha256 recorded in its metadata (corrupted or tampered with;
            the error names the file), or its metadata does not follow the schema.

    Example:

    >>> import pathlib
    >>> import tempfile
    >>> import keras
    >>> from keras_gradstab import zoo
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(10)])
    >>> directory = pathlib.Path(tempfile.mkdtemp())
    >>> _ = zoo.save_preset(model, directory, name="untrained_digits", task="digits",
    ...                     metric="accuracy", data={"dataset": "digits"},
    ...                     recipe="this docstring", baseline={"none": "an example"})
    >>> zoo.from_preset(directory).count_params()
    650
    """
    directory = _resolve(name_or_directory)
    metadata = _read_checked(directory)
    import keras_gradstab  # noqa: F401  (registers every class the config may name)

    with open(os.path.join(directory, CONFIG_FILE)) as f:
        config = json.load(f)
    # A preset's compile settings live in its metadata. A compile config saved
    # with the model would carry the training backend's resolved `jit_compile`
    # (True on JAX), which torch turns into `torch.compile` (minutes to load).
    config.pop("compile_config", None)
    model = keras.models.model_from_json(json.dumps(config))
    model.load_weights(os.path.join(directory, WEIGHTS_FILE))
    if compile and metadata.get("compile"):
        model.compile(**metadata["compile"])
    return model


def load(name, compile=True):
    """Loads a preset: a built-in one by name, or a directory given as a path.

    The same as `from_preset`: a bare name is looked up among the built-in
    presets only, never in the current directory.

    Args:
        name: one of `list_presets()`, or a preset directory given as a path.
        compile: compile the model with its recorded compile settings.

    Returns:
        The `keras.Model` with the preset's weights.

    Raises:
        ValueError: as `from_preset`; an unknown name lists the built-in presets.

    Example:

    >>> from keras_gradstab import zoo
    >>> models = {name: zoo.load(name) for name in zoo.list_presets()[:1]}
    >>> all(model.count_params() > 0 for model in models.values())
    True
    """
    return from_preset(name, compile=compile)


def rehash(directory):
    """Records the sha256 of every file of the preset in `directory` in its metadata.

    For a preset written before the metadata held a digest of each file (it
    held only `weights_sha256`): the weights are checked against that old
    digest first (a mismatch is refused), the old field is dropped, the
    metadata's schema is checked, and `"sha256"` is written. The weights and
    the config are not changed. Run it only on a preset you trust: whatever
    the files hold now is what later loads will accept.

    Args:
        directory: the preset directory (a path).

    Returns:
        The metadata dict written.

    Raises:
        ValueError: the directory holds no preset, the weights do not match a
            recorded `weights_sha256`, or the metadata does not follow the schema.

    Example:

    >>> import json, os, tempfile
    >>> import keras
    >>> from keras_gradstab import zoo
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(10)])
    >>> directory = tempfile.mkdtemp()
    >>> _ = zoo.save_preset(model, directory, name="example", task="digits",
    ...                     metric="accuracy", data={"dataset": "digits"},
    ...                     recipe="this docstring", baseline={"none": "an example"})
    >>> path = os.path.join(directory, "metadata.json")
    >>> with open(path) as f:
    ...     metadata = json.load(f)
    >>> metadata["task"] = "an edited task"
    >>> with open(path, "w") as f:
    ...     json.dump(metadata, f)
    >>> zoo.from_preset(directory)
    Traceback (most recent call last):
    ...
    ValueError: The preset file ...metadata.json does not match the sha256 ...
    >>> zoo.rehash(directory)["task"]
    'an edited task'
    >>> zoo.from_preset(directory).count_params()
    650
    """
    directory = os.path.expanduser(os.fspath(directory))
    path = os.path.join(directory, METADATA_FILE)
    missing = [name for name in PRESET_FILES if not os.path.isfile(os.path.join(directory, name))]
    if missing:
        raise ValueError(
            f"`directory` must hold a preset ({list(PRESET_FILES)}); {directory!r} lacks {missing}."
        )
    with open(path) as f:
        metadata = json.load(f)
    legacy = metadata.pop(_LEGACY_HASH_KEY, None)
    if legacy is not None:
        found = _sha256(os.path.join(directory, WEIGHTS_FILE))
        if found != legacy:
            raise ValueError(
                f"The weights file {os.path.join(directory, WEIGHTS_FILE)} does not match the "
                f"weights_sha256 recorded in {path} (found {found}, recorded {legacy}): "
                "not re-hashed."
            )
    metadata.pop(HASH_KEY, None)
    check_metadata(metadata, source=path)
    metadata[HASH_KEY] = {name: _file_sha256(directory, metadata, name) for name in PRESET_FILES}
    with open(path, "w") as f:
        json.dump(metadata, f, indent=2, sort_keys=True)
        f.write("\n")
    return metadata


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
    """Computes a preset metric of `model` on (x, y), as `save_preset` and `evaluate` do.

    "accuracy": argmax of the last axis against the labels; "symbol_accuracy":
    the same only where the label is not blank (0); "mse": mean squared error;
    "bits_per_character": the mean cross-entropy of the predicted probabilities
    (the last axis) at the label, over every position, in bits (nats / ln 2).

    Args:
        model: a `keras.Model`.
        metric: the metric's name (see `METRICS` for its direction and tolerance).
        x: the inputs.
        y: the targets (class labels for the accuracies).
        batch_size: the prediction batch size; None: the largest batch of at
            most 512 examples that divides the data evenly.

    Returns:
        A float.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_gradstab import zoo
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Identity()])
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], "float32")
    >>> zoo.measure(model, "accuracy", x, np.array([0, 1, 1]))
    0.6666666666666666
    """
    if metric not in METRICS:
        raise ValueError(f"`metric` must be one of {tuple(METRICS)}; received {metric!r}.")
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
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValueError(
            "A preset's `eval_batch_size` must be a positive integer or None; "
            f"received eval_batch_size={batch_size!r}."
        )
    return batch_size


def evaluate(name_or_directory):
    """Re-measures a preset's metric on its regenerated test data.

    The predictions are made in one batch of the whole test set where it has
    at most 512 examples, or in the batch size the metadata's
    `eval_batch_size` names (for models whose activations at that batch would
    take gigabytes).

    Args:
        name_or_directory: a built-in preset name, or a preset directory given
            as a path (see `from_preset`).

    Returns:
        A dict with `preset`, `task`, `metric`, `recorded`, `measured`,
        `baseline` (the metadata's baseline record), `more_baselines` (a list,
        maybe empty), `improvement` (the recorded
        value against the baseline's, positive when the preset is better; None
        without a baseline), `parameters` and `seconds` (the time this call took).

    Example:

    >>> import tempfile
    >>> import keras
    >>> from keras_gradstab import zoo
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(10)])
    >>> directory = tempfile.mkdtemp()
    >>> _ = zoo.save_preset(model, directory, name="untrained_digits", task="digits",
    ...                     metric="accuracy", data={"dataset": "digits"},
    ...                     recipe="this docstring",
    ...                     baseline={"model": "chance", "metric": "accuracy", "value": 0.1,
    ...                               "trained": "not trained: one class in ten"})
    >>> result = zoo.evaluate(directory)
    >>> result["measured"] == result["recorded"], result["baseline"]["model"]
    (True, 'chance')
    """
    start = time.perf_counter()
    directory = _resolve(name_or_directory)
    metadata = _read_checked(directory)
    model = from_preset(directory, compile=False)
    x, y = _test_data(metadata["data"])
    batch_size = _check_eval_batch_size(metadata.get("eval_batch_size"))
    measured = measure(model, metadata["metric"], x, y, batch_size=batch_size)
    baseline = metadata["baseline"]
    return {
        "preset": metadata["name"],
        "task": metadata["task"],
        "metric": metadata["metric"],
        "recorded": metadata["value"],
        "measured": measured,
        "baseline": baseline,
        "more_baselines": metadata.get("more_baselines", []),
        "improvement": (
            None
            if "none" in baseline
            else improvement(metadata["metric"], metadata["value"], baseline["value"])
        ),
        "parameters": int(model.count_params()),
        "seconds": time.perf_counter() - start,
    }


_RESERVED_EXTRA = set(_REQUIRED_METADATA) | {
    "more_baselines",
    "compile",
    "eval_batch_size",
    HASH_KEY,
    _LEGACY_HASH_KEY,
}


def save_preset(
    model,
    directory,
    *,
    name,
    task,
    metric,
    data,
    recipe,
    baseline,
    more_baselines=None,
    compile=None,
    eval_batch_size=None,
    extra=None,
):
    """Writes `model` as a preset and records its metric measured now on `data`.

    Args:
        model: a built `keras.Model` whose classes are registered.
        directory: where to write the three files (created if missing).
        name: the preset's name.
        task: a short description of the task.
        metric: the metric's name, a key of `METRICS` ("accuracy",
            "symbol_accuracy", "mse", ...).
        data: `{"dataset": <keras_gradstab.datasets function name>, "kwargs": {...}}`;
            its test split is what the metric is measured on, now and by `evaluate`.
        recipe: how the weights were made (e.g. "model_zoo/<name>/train.py").
        baseline: the model the preset is compared with: `{"model": <what it
            is>, "metric": <the same metric>, "value": <float>, "trained": <how:
            same recipe, epochs, data, seed...>}`, optionally with
            `"train_seconds"`, `"parameters"` and `"log"`; or `{"none": <why
            there is none>}` (see `check_baseline`).
        more_baselines: None or a list of further baseline records.
        compile: keyword arguments for `model.compile` when loading (JSON-able).
        eval_batch_size: the batch size the metric is predicted in, now and by
            `evaluate` (recorded in the metadata); None for the default (the
            whole test set at once when it has at most 512 examples).
        extra: more JSON-able metadata (e.g. training settings and logs).

    Returns:
        The metadata dict written (with the sha256 of each file).

    Raises:
        ValueError: a bad `metric`, `baseline`, `more_baselines`,
            `eval_batch_size`, or an `extra` key that the metadata reserves;
            checked before anything is written.

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
    ...     recipe="this docstring", baseline={"none": "an untrained example"})
    >>> sorted(metadata["sha256"])
    ['config.json', 'metadata.json', 'model.weights.h5']
    """
    check_baseline(baseline, metric, more_baselines)
    _check_eval_batch_size(eval_batch_size)
    reserved = sorted(set(extra or {}) & _RESERVED_EXTRA)
    if reserved:
        raise ValueError(
            f"`extra` must not hold the keys the metadata reserves "
            f"({sorted(_RESERVED_EXTRA)}); received {reserved}."
        )
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
        "baseline": baseline,
        **({} if more_baselines is None else {"more_baselines": more_baselines}),
        **({} if eval_batch_size is None else {"eval_batch_size": eval_batch_size}),
        **(extra or {}),
    }
    metadata = json.loads(json.dumps(metadata))  # what a reader of the file gets
    metadata[HASH_KEY] = {file: _file_sha256(directory, metadata, file) for file in PRESET_FILES}
    with open(os.path.join(directory, METADATA_FILE), "w") as f:
        json.dump(metadata, f, indent=2, sort_keys=True)
        f.write("\n")
    return metadata
