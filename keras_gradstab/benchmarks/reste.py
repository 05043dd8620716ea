"""The cost of ReSTE over SteSign in a training step of a binarized CNN, on this backend.

The same model (a full-precision first convolution, binarized convolutions and
dense layer with inputs and weights quantized, batch normalization, a
full-precision classifier; the `model_zoo/reste_bnn_digits` architecture on
16x16 inputs) is built twice, once with every quantizer `SteSign` and once
`ReSTE`, and one compiled training step (`train_on_batch`, `jit_compile` where
Keras uses it: JAX and TensorFlow XLA; torch eager) is timed for each.
"""

import keras
import numpy as np

from keras_gradstab.benchmarks.timing import median_seconds
from keras_gradstab.constraints import WeightClip
from keras_gradstab.layers import QuantConv2D, QuantDense

BATCH = 64


def _model(quantizer, width, size):
    def binary():
        return dict(input_quantizer=quantizer, kernel_quantizer=quantizer,
                    kernel_constraint=WeightClip(1.5), use_bias=False)

    bn = keras.layers.BatchNormalization
    inputs = keras.Input((size, size, 1))
    x = bn()(keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(inputs))
    x = bn()(QuantConv2D(width, 3, padding="same", pad_values=1.0, **binary())(x))
    x = keras.layers.MaxPooling2D(2)(x)
    x = bn()(QuantConv2D(2 * width, 3, padding="same", pad_values=1.0, **binary())(x))
    x = bn()(QuantConv2D(2 * width, 3, padding="same", pad_values=1.0, **binary())(x))
    x = keras.layers.MaxPooling2D(2)(x)
    x = bn()(QuantDense(4 * width, **binary())(keras.layers.Flatten()(x)))
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=keras.config.backend() != "torch")
    return model


def run(quick=False):
    width, size = (16, 8) if quick else (32, 16)
    repeats = 5 if quick else 30
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, size, size, 1)).astype("float32")
    y = rng.integers(0, 10, size=(BATCH,)).astype("int32")
    seconds = {}
    for quantizer in ("ste_sign", "reste"):
        keras.utils.set_random_seed(0)
        model = _model(quantizer, width, size)
        seconds[quantizer] = median_seconds(lambda m=model: m.train_on_batch(x, y), repeats,
                                            warmup=3)
    rows = []
    for quantizer, value in seconds.items():
        rows.append({
            "benchmark": "reste",
            "backend": keras.config.backend(),
            "case": f"train step, {quantizer}",
            "shape": f"B={BATCH} {size}x{size} width={width}",
            "seconds": value,
            "overhead vs ste_sign": value / seconds["ste_sign"] - 1.0,
        })
    return rows
