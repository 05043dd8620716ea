"""WeightClip against NumPy's clip, and its config."""

import keras
import numpy as np

from keras_gradstab.constraints import WeightClip


def test_weight_clip_matches_numpy_and_round_trips():
    w = np.random.default_rng(0).normal(scale=2.0, size=(5, 4)).astype("float32")
    got = keras.ops.convert_to_numpy(WeightClip(0.7)(w))
    np.testing.assert_array_equal(got, np.clip(w, -0.7, 0.7))
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(WeightClip(0.7))
    )
    assert isinstance(revived, WeightClip) and revived.clip_value == 0.7
