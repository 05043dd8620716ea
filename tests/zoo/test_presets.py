"""Preset save/load round trip, tamper detection, and re-measured metrics."""

import json
import os

import keras
import numpy as np
import pytest

from keras_gradstab import datasets, zoo

DATA = {"dataset": "digits", "kwargs": {"seed": 0}}


def small_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(10),
    ])
    (x, y), _ = datasets.digits(seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=5, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def preset_dir(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("preset"))
    metadata = zoo.save_preset(
        small_model(), directory, name="tiny_digits", task="digits classification",
        metric="accuracy", data=DATA, recipe="tests/zoo/test_presets.py",
        compile={"loss": "mse"},
    )
    assert 0.8 < metadata["value"] <= 1.0
    return directory


def test_round_trip_gives_identical_predictions(preset_dir):
    (_, _), (x, _) = datasets.digits(seed=0)
    loaded = zoo.from_preset(preset_dir)
    metadata = zoo.preset_metadata(preset_dir)
    assert metadata["backend"] == keras.config.backend()
    # The recorded accuracy is re-measured exactly from the regenerated test split.
    result = zoo.evaluate(preset_dir)
    assert result["measured"] == pytest.approx(result["recorded"], abs=1e-9)
    assert result["parameters"] == 8 * 8 * 16 + 16 + 16 * 10 + 10
    predictions = loaded.predict(x, verbose=0)
    assert np.all(np.isfinite(predictions))


def test_tampered_weights_are_refused(preset_dir, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in os.listdir(preset_dir):
        (copy / name).write_bytes(open(os.path.join(preset_dir, name), "rb").read())
    weights = copy / "model.weights.h5"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted or has been tampered"):
        zoo.from_preset(str(copy))


def test_unknown_preset_and_metadata_names():
    with pytest.raises(ValueError, match="Unknown preset"):
        zoo.load("no_such_preset")
    for name in zoo.list_presets():
        metadata = zoo.preset_metadata(name)
        for key in ("task", "metric", "value", "data", "recipe", "keras_version", "backend",
                    "weights_sha256"):
            assert key in metadata, (name, key)
        json.dumps(metadata)


def test_evaluate_uses_the_preset_batch_size(preset_dir, tmp_path, monkeypatch):
    copy = tmp_path / "batched"
    copy.mkdir()
    for name in os.listdir(preset_dir):
        (copy / name).write_bytes(open(os.path.join(preset_dir, name), "rb").read())
    metadata = json.loads((copy / "metadata.json").read_text())
    seen = []
    original = keras.Model.predict

    def predict(self, x, batch_size=None, **kwargs):
        seen.append(batch_size)
        return original(self, x, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(keras.Model, "predict", predict)
    result = zoo.evaluate(str(copy))
    n = len(datasets.digits(seed=0)[1][0])
    assert seen == [n if n <= 512 else seen[0]]  # the whole test set at once
    for batch_size in (7, 64):
        (copy / "metadata.json").write_text(json.dumps(dict(metadata,
                                                            eval_batch_size=batch_size)))
        seen.clear()
        batched = zoo.evaluate(str(copy))
        assert seen == [batch_size]
        assert batched["measured"] == pytest.approx(result["measured"], abs=1e-9)
    for bad in (0, 2.5, True):
        (copy / "metadata.json").write_text(json.dumps(dict(metadata, eval_batch_size=bad)))
        with pytest.raises(ValueError, match="eval_batch_size"):
            zoo.evaluate(str(copy))


def test_save_preset_measures_and_records_its_batch_size(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    seen = []
    original = keras.Model.predict

    def predict(self, x, batch_size=None, **kwargs):
        seen.append(batch_size)
        return original(self, x, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(keras.Model, "predict", predict)
    kwargs = dict(name="batched", task="digits", metric="accuracy", data=DATA,
                  recipe="tests/zoo/test_presets.py")
    metadata = zoo.save_preset(model, str(tmp_path / "a"), eval_batch_size=64, **kwargs)
    assert seen == [64] and metadata["eval_batch_size"] == 64
    seen.clear()
    assert zoo.evaluate(str(tmp_path / "a"))["measured"] == metadata["value"]
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
    model = keras.Sequential([
        keras.Input((6,), dtype="int32"), keras.layers.Embedding(4, 3),
        keras.layers.Dense(4, activation="softmax", kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(bias)),
    ])
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (5, 6)).astype("int32")
    y = rng.integers(0, 4, (5, 6)).astype("int32")
    p = np.exp(bias) / np.exp(bias).sum()
    want = float(np.mean([-np.log2(p[label]) for label in y.ravel()]))
    assert measure(model, "bits_per_character", x, y) == pytest.approx(want, rel=1e-5)
