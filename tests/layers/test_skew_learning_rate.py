"""skew_learning_rate_optimizer sends exactly the skew parameters to their own optimizer."""

import keras
import numpy as np
import pytest

from keras_gradstab.layers import NCGRU, ScoRNN, skew_learning_rate_optimizer


def test_skew_parameters_get_their_own_learning_rate():
    model = keras.Sequential([keras.Input((4, 3)), NCGRU(4, orthogonal_reset=True,
                                                         return_sequences=True),
                              ScoRNN(3), keras.layers.Dense(2)])
    optimizer = skew_learning_rate_optimizer(keras.optimizers.SGD(0.1), skew_learning_rate=0.0)
    model.compile(optimizer=optimizer, loss="mse")
    before = {w.path: keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights}
    x = np.random.default_rng(0).normal(size=(8, 4, 3)).astype("float32")
    model.fit(x, np.ones((8, 2), "float32"), batch_size=8, epochs=1, verbose=0)
    for w in model.trainable_weights:
        unchanged = np.array_equal(keras.ops.convert_to_numpy(w), before[w.path])
        assert unchanged == (w.name in ("recurrent_skew", "reset_skew")), w.path


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="skew_learning_rate"):
        skew_learning_rate_optimizer(keras.optimizers.Adam())
    with pytest.raises(ValueError, match="optimizer"):
        skew_learning_rate_optimizer("adam", 1e-4)
    with pytest.raises(ValueError, match="skew_optimizer"):
        skew_learning_rate_optimizer(keras.optimizers.Adam(), skew_optimizer="sgd")
