"""The cost of ReSTE over SteSign in a training step of a binarized CNN, on this backend.

The same model (a full-precision first convolution, binarized convolutions and
dense layer with inputs and weights quantized, batch normalization, a
full-precision classifier; the `model_zoo/reste_bnn_digits` architecture on
16x16 inputs) is built twice, once with every quantizer `SteSign` and once
`ReSTE`, and one compiled training step (`train_on_batch`, `jit_compile` where
Keras uses it: JAX and TensorFlow XLA; torch eager) is timed for each. The two
models are timed in alternation (one step of each per round), so that a change
of the machine's load hits both alike; the overhead is the median of the
per-round ratios (3 steps of each model per round, 30 rounds). Time (the
`seconds` column) is the process's CPU time (`time.process_time`, all threads),
which a loaded machine disturbs less than wall time. Each row records the 1-minute load average at the
end.
"""

import os
import statistics

import keras
import numpy as np

from keras_gradstab.benchmarks.timing import interleaved_samples
from keras_gradstab.constraints import WeightClip
from keras_gradstab.layers import QuantConv2D, QuantDense

BATCH = 64


def _model(quantizer, width, size):
    def binary():
        return dict(
            input_quantizer=quantizer,
            kernel_quantizer=quantizer,
            kernel_constraint=WeightClip(1.5),
            use_bias=False,
        )

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
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=keras.config.backend() != "torch",
    )
    return model


def run(quick=False):
    width, size = (16, 8) if quick else (32, 16)
    repeats, steps = (5, 1) if quick else (30, 3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, size, size, 1)).astype("float32")
    y = rng.integers(0, 10, size=(BATCH,)).astype("int32")
    quantizers = ("ste_sign", "reste")
    fns = {}
    for quantizer in quantizers:
        keras.utils.set_random_seed(0)
        model = _model(quantizer, width, size)
        fns[quantizer] = lambda m=model: [m.train_on_batch(x, y) for _ in range(steps)]
    # Warm-up compiles; then `steps` training steps per case and round, CPU time.
    samples = interleaved_samples(fns, repeats, warmup=3, clocks=("process",))["process"]
    times = {quantizer: [t / steps for t in samples[quantizer]] for quantizer in quantizers}
    ratios = [r / s for r, s in zip(times["reste"], times["ste_sign"])]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    for quantizer in quantizers:
        rows.append(
            {
                "benchmark": "reste",
                "backend": keras.config.backend(),
                "case": f"train step, {quantizer}",
                "shape": f"B={BATCH} {size}x{size} width={width}",
                "seconds": statistics.median(times[quantizer]),
                "overhead vs ste_sign": (
                    0.0 if quantizer == "ste_sign" else statistics.median(ratios) - 1.0
                ),
                "load average": load,
            }
        )
    return rows
