"""The snn builder: structure, save/load, and convergence to a non-default fixed point."""

import os

import keras
import numpy as np
import pytest

from keras_gradstab.activations import SELU
from keras_gradstab.layers import AlphaDropout
from keras_gradstab.models import snn


def test_structure_and_save_load(tmp_path):
    model = snn(
        (3, 4),
        units=8,
        depth=3,
        output_units=2,
        output_activation="softmax",
        dropout_rate=0.1,
        fixed_point=(-0.1, 2.0),
        standardize=True,
    )
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Normalization", "Flatten"] + ["Dense", "AlphaDropout"] * 3 + ["Dense"]
    dense = model.get_layer("dense_0")
    assert isinstance(dense.activation, SELU) and dense.activation.fixed_point == (-0.1, 2.0)
    assert isinstance(model.get_layer("alpha_dropout_0"), AlphaDropout)
    x = np.random.default_rng(0).normal(size=(5, 3, 4)).astype("float32")
    model.get_layer("standardize").adapt(x)
    path = os.path.join(str(tmp_path), "snn.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="depth"):
        snn((3,), depth=0)


def test_stays_at_fixed_point_with_alpha_dropout_in_training():
    # 24 layers of selu + lecun_normal + AlphaDropout(0.1), training mode.
    keras.utils.set_random_seed(0)
    model = snn((128,), units=128, depth=24, dropout_rate=0.1)
    x = np.random.default_rng(0).normal(size=(256, 128)).astype("float32")
    h = keras.ops.convert_to_tensor(x)
    for layer in model.layers:
        h = layer(h, training=True)
        if isinstance(layer, AlphaDropout):
            out = keras.ops.convert_to_numpy(h)
            assert abs(out.mean()) < 0.1 and abs(out.var() - 1.0) < 0.2, (
                layer.name,
                out.mean(),
                out.var(),
            )
