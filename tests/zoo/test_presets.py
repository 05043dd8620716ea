"""Presets: save/load round trip, lookup by name or path, the sha256 of every file,
the baseline schema, and the metrics' direction and tolerance table."""

import json
import math
import os
import pathlib
import shutil

import keras
import numpy as np
import pytest

from keras_gradstab import datasets, zoo
from keras_gradstab.zoo import presets

DATA = {"dataset": "digits", "kwargs": {"seed": 0}}
# The task, metric and data of the test presets saved here.
DIGITS_TASK = {"task": "digits", "metric": "accuracy", "data": DATA}
BASELINE = {
    "model": "chance",
    "metric": "accuracy",
    "value": 0.1,
    "trained": "not trained: one class in ten",
}


def small_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    (x, y), _ = datasets.digits(seed=0)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, epochs=5, batch_size=64, verbose=0)
    return model


def linear_model():
    """An untrained linear classifier of the digits (8x8x1 -> 10 logits)."""
    return keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )


def tiny_preset(directory, name, units, baseline=None):
    """An untrained preset whose parameter count tells which one was loaded."""
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    zoo.save_preset(
        model,
        os.path.join(directory, name),
        name=name,
        recipe="tests/zoo/test_presets.py",
        **DIGITS_TASK,
        baseline=baseline or {"none": "an untrained test preset"},
    )
    return 64 * units + units + units * 10 + 10


@pytest.fixture(scope="module")
def preset_dir(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("preset"))
    metadata = zoo.save_preset(
        small_model(),
        directory,
        name="tiny_digits",
        task="digits classification",
        metric="accuracy",
        data=DATA,
        recipe="tests/zoo/test_presets.py",
        compile={"loss": "mse"},
        baseline=BASELINE,
    )
    assert 0.8 < metadata["value"] <= 1.0
    return directory


def copy_of(preset_dir, destination):
    shutil.copytree(preset_dir, destination)
    return destination


def test_round_trip_gives_identical_predictions(preset_dir):
    (_, _), (x, y) = datasets.digits(seed=0)
    loaded = zoo.from_preset(pathlib.Path(preset_dir))
    metadata = zoo.preset_metadata(preset_dir)
    assert metadata["backend"] == keras.config.backend()
    assert metadata["baseline"] == BASELINE
    # The recorded accuracy is re-measured exactly from the regenerated test split.
    result = zoo.evaluate(preset_dir)
    assert result["measured"] == pytest.approx(result["recorded"], abs=1e-9)
    assert result["parameters"] == 8 * 8 * 16 + 16 + 16 * 10 + 10
    assert result["baseline"] == BASELINE
    assert result["improvement"] == pytest.approx(result["recorded"] - 0.1, abs=1e-12)
    predictions = loaded.predict(x, verbose=0)
    assert np.all(np.isfinite(predictions))
    assert np.mean(predictions.argmax(-1) == y) == pytest.approx(result["recorded"], abs=1e-9)


def _flip_a_weights_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_json(path, edit):
    content = json.loads(path.read_text())
    edit(content)
    path.write_text(json.dumps(content))


TAMPERINGS = {
    # The model's config: a different activation (the weights still fit it).
    "config.json": lambda p: p.write_text(p.read_text().replace('"relu"', '"selu"')),
    # The metadata: a better recorded value, a different baseline.
    "metadata.json": lambda p: _edit_json(p, lambda m: m.update(value=0.999)),
    "model.weights.h5": _flip_a_weights_byte,
}


@pytest.mark.parametrize("file", sorted(TAMPERINGS))
def test_each_tampered_file_is_refused_naming_it(preset_dir, tmp_path, file):
    copy = copy_of(preset_dir, tmp_path / "copy")
    before = (copy / file).read_bytes()
    TAMPERINGS[file](copy / file)
    assert (copy / file).read_bytes() != before
    for load in (zoo.from_preset, zoo.preset_metadata, zoo.evaluate, zoo.load):
        with pytest.raises(ValueError, match="tampered") as info:
            load(copy)
        assert str(copy / file) in str(info.value)


def test_the_baseline_in_the_metadata_is_covered_too(preset_dir, tmp_path):
    copy = copy_of(preset_dir, tmp_path / "copy")
    _edit_json(copy / "metadata.json", lambda m: m["baseline"].update(value=0.01))
    with pytest.raises(ValueError, match="metadata.json does not match"):
        zoo.load(copy)
    # Key order and indentation are not content: a reformatted file still loads.
    _edit_json(copy / "metadata.json", lambda m: m["baseline"].update(value=0.1))
    content = json.loads((copy / "metadata.json").read_text())
    (copy / "metadata.json").write_text(json.dumps(dict(reversed(list(content.items())))))
    assert zoo.preset_metadata(copy)["baseline"] == BASELINE


def test_old_presets_are_refused_until_rehashed(preset_dir, tmp_path):
    copy = copy_of(preset_dir, tmp_path / "old")
    # What the metadata held before: the weights' digest only.
    weights_sha256 = zoo.preset_metadata(preset_dir)["sha256"]["model.weights.h5"]
    _edit_json(
        copy / "metadata.json", lambda m: (m.pop("sha256"), m.update(weights_sha256=weights_sha256))
    )
    with pytest.raises(ValueError, match="no sha256 record of the preset's files"):
        zoo.from_preset(copy)
    wrong = copy_of(copy, tmp_path / "old_tampered")
    _flip_a_weights_byte(wrong / "model.weights.h5")
    with pytest.raises(ValueError, match="weights_sha256.*not re-hashed"):
        presets.rehash(wrong)
    metadata = presets.rehash(copy)
    assert "weights_sha256" not in metadata
    assert metadata["sha256"] == zoo.preset_metadata(preset_dir)["sha256"]
    assert zoo.evaluate(copy)["measured"] == zoo.preset_metadata(preset_dir)["value"]


def test_a_bare_name_is_a_built_in_preset_never_a_folder_of_the_cwd(tmp_path, monkeypatch):
    shipped, cwd = tmp_path / "shipped", tmp_path / "cwd"
    params = {
        name: tiny_preset(str(shipped), name, units)
        for name, units in (("tiny_a", 4), ("tiny_b", 6))
    }
    # The current directory holds folders named like the presets: one holds another
    # preset, one is empty, and one holds a preset that does not ship.
    other = tiny_preset(str(cwd), "tiny_a", 9)
    (cwd / "tiny_b").mkdir()
    tiny_preset(str(cwd), "not_shipped", 5)
    monkeypatch.setattr(presets, "PRESETS_DIR", str(shipped))
    monkeypatch.chdir(cwd)
    for name in ("tiny_a", "tiny_b"):
        assert zoo.load(name).count_params() == params[name]
        assert zoo.from_preset(name).count_params() == params[name]
        assert zoo.evaluate(name)["parameters"] == params[name]
    with pytest.raises(ValueError, match=r"'not_shipped'.*\['tiny_a', 'tiny_b'\]"):
        zoo.load("not_shipped")
    # Given as a path, the folder is what loads.
    for path in (
        "./tiny_a",
        os.path.join("..", "cwd", "tiny_a"),
        pathlib.Path("tiny_a"),
        str(cwd / "tiny_a"),
    ):
        assert zoo.load(path).count_params() == other
    assert zoo.load("./not_shipped").count_params() == 64 * 5 + 5 + 50 + 10
    with pytest.raises(ValueError, match="not a preset directory"):
        zoo.load("./tiny_b")
    with pytest.raises(ValueError, match="built-in preset name"):
        zoo.load(3)


def test_a_cwd_folder_named_like_a_shipped_preset_is_ignored(tmp_path, monkeypatch):
    shipped = zoo.list_presets()
    assert shipped, "no built-in preset packaged"
    name = shipped[0]
    tiny_preset(str(tmp_path), name, 3)
    monkeypatch.chdir(tmp_path)
    metadata = zoo.preset_metadata(name)
    assert metadata["task"] != "digits"
    assert metadata == zoo.preset_metadata(os.path.join(presets.PRESETS_DIR, name))


BAD_BASELINES = {
    "missing key": ({"model": "m", "metric": "accuracy", "value": 0.5}, "missing \\['trained'\\]"),
    "unknown key": (dict(BASELINE, accuracy=0.5), "unknown \\['accuracy'\\]"),
    "other metric": (dict(BASELINE, metric="mse"), "must be the preset's metric 'accuracy'"),
    "no number": (dict(BASELINE, value="0.5"), "\\['value'\\]` must be a finite number"),
    "nan": (dict(BASELINE, value=math.nan), "\\['value'\\]` must be a finite number"),
    "empty text": (dict(BASELINE, trained=" "), "\\['trained'\\]` must be a non-empty str"),
    "none without why": ({"none": ""}, "exactly \\{'none'"),
    "none and more": ({"none": "why", "model": "m"}, "exactly \\{'none'"),
    "not a dict": ("GRU", "`baseline` must be a dict"),
}


@pytest.mark.parametrize("case", sorted(BAD_BASELINES))
def test_save_preset_refuses_a_bad_baseline_before_writing(tmp_path, case):
    baseline, message = BAD_BASELINES[case]
    model = linear_model()
    with pytest.raises(ValueError, match=message):
        zoo.save_preset(
            model,
            str(tmp_path / "p"),
            name="p",
            recipe="test",
            baseline=baseline,
            **DIGITS_TASK,
        )
    assert not (tmp_path / "p").exists()


def test_more_baselines_and_reserved_extra_keys(tmp_path):
    model = linear_model()
    kwargs = dict(name="p", recipe="test", **DIGITS_TASK)
    second = dict(BASELINE, model="another", value=0.2, train_seconds=1.5, parameters=7)
    metadata = zoo.save_preset(
        model, str(tmp_path / "ok"), baseline=BASELINE, more_baselines=[second], **kwargs
    )
    assert zoo.preset_metadata(tmp_path / "ok")["more_baselines"] == [second]
    assert metadata["more_baselines"] == [second]
    for more, message in (([], "non-empty list"), ([{"model": "x"}], r"more_baselines\[0\]")):
        with pytest.raises(ValueError, match=message):
            zoo.save_preset(
                model, str(tmp_path / "bad"), baseline=BASELINE, more_baselines=more, **kwargs
            )
    with pytest.raises(ValueError, match="needs a `baseline` record"):
        zoo.save_preset(
            model,
            str(tmp_path / "bad"),
            baseline={"none": "why"},
            more_baselines=[second],
            **kwargs,
        )
    with pytest.raises(ValueError, match=r"`extra` must not hold.*\['baseline'\]"):
        zoo.save_preset(
            model, str(tmp_path / "bad"), baseline=BASELINE, extra={"baseline": BASELINE}, **kwargs
        )
    with pytest.raises(TypeError, match="baseline"):
        zoo.save_preset(model, str(tmp_path / "bad"), **kwargs)
    assert not (tmp_path / "bad").exists()


def test_loading_checks_the_baseline_schema(preset_dir, tmp_path):
    copy = copy_of(preset_dir, tmp_path / "copy")

    def old_style_baseline(metadata):
        # The keys recipes used before one schema (a value under the metric's name).
        metadata["baseline"] = {"model": "GRU", "test_accuracy": 0.5}
        metadata["sha256"]["metadata.json"] = presets._metadata_sha256(metadata)

    _edit_json(copy / "metadata.json", old_style_baseline)
    with pytest.raises(ValueError, match="metadata.json: `baseline` must be"):
        zoo.preset_metadata(copy)
    with pytest.raises(ValueError, match="`baseline` must be"):
        presets.rehash(copy)

    def no_baseline(metadata):
        metadata.pop("baseline")
        metadata["sha256"]["metadata.json"] = presets._metadata_sha256(metadata)

    _edit_json(copy / "metadata.json", no_baseline)
    with pytest.raises(ValueError, match=r"lacks the required keys \['baseline'\]"):
        zoo.from_preset(copy)


def test_metric_table_direction_tolerance_and_improvement():
    # Every shipped preset's metric, and its baseline's, is in the one table.
    root = pathlib.Path(presets.__file__).parent / "presets"
    for name in zoo.list_presets():
        metadata = json.loads((root / name / "metadata.json").read_text())
        assert metadata["metric"] in presets.METRICS, name
        assert metadata["baseline"].get("metric", metadata["metric"]) in presets.METRICS, name
    for metric in ("accuracy", "symbol_accuracy"):
        assert zoo.within_tolerance(metric, 0.950, 0.9549)
        assert not zoo.within_tolerance(metric, 0.950, 0.9551)
        assert zoo.improvement(metric, 0.97, 0.96) == pytest.approx(0.01)
    assert zoo.within_tolerance("mse", 0.104, 0.1) and not zoo.within_tolerance("mse", 0.106, 0.1)
    assert zoo.within_tolerance("bits_per_character", 1.509, 1.5)
    assert not zoo.within_tolerance("bits_per_character", 1.512, 1.5)
    # Lower is better: a smaller value than the baseline's is a positive improvement.
    assert zoo.improvement("mse", 0.2, 0.5) == pytest.approx(0.3)
    assert zoo.improvement("bits_per_character", 1.6, 1.5) == pytest.approx(-0.1)
    assert presets.format_improvement("accuracy", -0.0275) == "-2.75 pts"
    assert presets.format_value("symbol_accuracy", 0.9979) == "99.79%"
    assert presets.format_value("bits_per_character", 1.23456) == "1.2346"
    with pytest.raises(ValueError, match="`metric` must be one of"):
        zoo.within_tolerance("f1", 0.5, 0.5)


def test_measure_is_the_metric_of_save_preset_and_evaluate():
    x = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    identity = keras.Sequential([keras.Input((3,)), keras.layers.Identity()])
    assert zoo.measure(identity, "accuracy", x, np.array([0, 1, 1, 0])) == 0.75
    # symbol_accuracy counts only the non-blank (non-zero) labels.
    assert zoo.measure(identity, "symbol_accuracy", x, np.array([0, 1, 1, 2])) == 1 / 3
    assert zoo.measure(identity, "mse", x, np.zeros((4, 3))) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="`metric` must be one of"):
        zoo.measure(identity, "f1", x, np.zeros(4))


def _record_predict_batch_sizes(monkeypatch):
    """Wraps `keras.Model.predict` to append each call's `batch_size` to the list
    it returns."""
    seen = []
    original = keras.Model.predict

    def predict(self, x, batch_size=None, **kwargs):
        seen.append(batch_size)
        return original(self, x, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(keras.Model, "predict", predict)
    return seen


def test_evaluate_uses_the_preset_batch_size(preset_dir, tmp_path, monkeypatch):
    copy = copy_of(preset_dir, tmp_path / "batched")
    seen = _record_predict_batch_sizes(monkeypatch)
    result = zoo.evaluate(copy)
    n = len(datasets.digits(seed=0)[1][0])
    assert seen == [n if n <= 512 else seen[0]]  # the whole test set at once

    def set_batch_size(value):
        def edit(metadata):
            metadata["eval_batch_size"] = value
            metadata["sha256"]["metadata.json"] = presets._metadata_sha256(metadata)

        _edit_json(copy / "metadata.json", edit)

    for batch_size in (7, 64):
        set_batch_size(batch_size)
        seen.clear()
        batched = zoo.evaluate(copy)
        assert seen == [batch_size]
        assert batched["measured"] == pytest.approx(result["measured"], abs=1e-9)
    for bad in (0, 2.5, True):
        set_batch_size(bad)
        with pytest.raises(ValueError, match="eval_batch_size"):
            zoo.evaluate(copy)


def test_save_preset_measures_and_records_its_batch_size(tmp_path, monkeypatch):
    model = linear_model()
    seen = _record_predict_batch_sizes(monkeypatch)
    kwargs = dict(
        name="batched",
        recipe="tests/zoo/test_presets.py",
        baseline=BASELINE,
        **DIGITS_TASK,
    )
    metadata = zoo.save_preset(model, str(tmp_path / "a"), eval_batch_size=64, **kwargs)
    assert seen == [64] and metadata["eval_batch_size"] == 64
    seen.clear()
    assert zoo.evaluate(tmp_path / "a")["measured"] == metadata["value"]
    assert seen == [64]
    # Without it nothing is recorded (the metadata of earlier presets is unchanged).
    assert "eval_batch_size" not in zoo.save_preset(model, str(tmp_path / "b"), **kwargs)
    with pytest.raises(ValueError, match="eval_batch_size"):
        zoo.save_preset(model, str(tmp_path / "c"), eval_batch_size=0, **kwargs)
    assert not (tmp_path / "c").exists()  # refused before anything is written


def test_bits_per_character_is_the_cross_entropy_in_bits():
    # A model that predicts the same distribution softmax(bias) at every position:
    # its bits per character is the mean of -log2 p[label], computed here by hand.
    from keras_gradstab.zoo.presets import measure

    bias = np.array([0.5, -1.0, 2.0, 0.0], "float32")
    model = keras.Sequential(
        [
            keras.Input((6,), dtype="int32"),
            keras.layers.Embedding(4, 3),
            keras.layers.Dense(
                4,
                activation="softmax",
                kernel_initializer="zeros",
                bias_initializer=keras.initializers.Constant(bias),
            ),
        ]
    )
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (5, 6)).astype("int32")
    y = rng.integers(0, 4, (5, 6)).astype("int32")
    p = np.exp(bias) / np.exp(bias).sum()
    want = float(np.mean([-np.log2(p[label]) for label in y.ravel()]))
    assert measure(model, "bits_per_character", x, y) == pytest.approx(want, rel=1e-5)
