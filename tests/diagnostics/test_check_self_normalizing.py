"""check_self_normalizing names the layers that break the SNN recipe."""

import keras

from keras_gradstab.diagnostics import check_self_normalizing
from keras_gradstab.layers import AlphaDropout
from keras_gradstab.models import snn


def test_snn_passes():
    model = snn((10,), units=16, depth=3, output_units=4, output_activation="softmax")
    assert check_self_normalizing(model) == []
    findings = check_self_normalizing(model, check_output_layer=True)
    assert [f["layer"] for f in findings] == ["output"]


def test_each_breach_is_named():
    model = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(16, activation="selu", kernel_initializer="lecun_normal", name="ok"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Dropout(0.1, name="drop"),
            keras.layers.Dense(
                16, activation="selu", kernel_initializer="glorot_uniform", name="glorot"
            ),
            keras.layers.Dense(
                16, activation="relu", kernel_initializer="lecun_normal", name="relu"
            ),
            AlphaDropout(0.1, name="alpha"),
            keras.layers.Dense(16, kernel_initializer="lecun_normal", name="linear"),
            keras.layers.Activation("selu", name="act"),
            keras.layers.Dense(2, activation="softmax", name="head"),
        ]
    )
    findings = check_self_normalizing(model)
    named = {(f["layer"], f["problem"].split()[0]) for f in findings}
    assert named == {
        ("bn", "BatchNormalization"),
        ("drop", "Dropout"),
        ("glorot", "kernel"),
        ("relu", "activation"),
    }
