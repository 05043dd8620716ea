"""Recipe: a CNN of exactly orthogonal convolutions on scikit-learn's digits (preset orthogonal_cnn_digits).

Three `keras_gradstab.layers.OrthogonalConv2D` layers with circular padding
(16 filters; 32 filters at stride 2; 64 filters at stride 2), each followed by
relu, then `Flatten` and a `Dense(10)` head (logits). Every convolution is
orthogonal by construction (column-orthogonal for 1 -> 16 channels,
row-orthogonal after the stride's space-to-depth: 64 -> 32 and 128 -> 64).
The baseline is the same stack with plain `keras.layers.Conv2D` (kernel 3,
"same" zero padding, the same strides and filters), trained with the same
optimizer, schedule, batch size, epochs and seed.

    KERAS_BACKEND=jax python model_zoo/orthogonal_cnn_digits/train.py             # full
    KERAS_BACKEND=jax python model_zoo/orthogonal_cnn_digits/train.py --quick --out /tmp/x

The full run writes the preset to `keras_gradstab/zoo/presets/orthogonal_cnn_digits`
(or `--out DIR`) and prints both test accuracies and the largest |sigma - 1| of
the preset's convolutions.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)  # the checkout's package

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_gradstab import layers, ops, zoo  # noqa: E402
from model_zoo import _digits  # noqa: E402
from model_zoo._digits import COMPILE, DATA  # noqa: E402

NAME = "orthogonal_cnn_digits"
# (filters, strides) of the three convolutions.
BLOCKS = ((16, 1), (32, 2), (64, 2))


def build_orthogonal(blocks=BLOCKS):
    x = inputs = keras.Input((8, 8, 1))
    for i, (filters, strides) in enumerate(blocks):
        x = layers.OrthogonalConv2D(filters, 3, strides=strides, padding="circular",
                                    name=f"orthogonal_conv_{i}")(x)
        x = keras.layers.Activation("relu", name=f"relu_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(10, name="output")(x)
    return keras.Model(inputs, outputs, name=NAME)


def build_baseline(blocks=BLOCKS):
    x = inputs = keras.Input((8, 8, 1))
    for i, (filters, strides) in enumerate(blocks):
        x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same",
                                name=f"conv_{i}")(x)
        x = keras.layers.Activation("relu", name=f"relu_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(10, name="output")(x)
    return keras.Model(inputs, outputs, name="plain_cnn_digits")


def orthogonality_error(model):
    """The largest |sigma - 1| over the exact circular singular values of the
    model's orthogonal convolutions (the stride-1 kernel after space-to-depth)."""
    worst = 0.0
    for layer in model.layers:
        if isinstance(layer, layers.OrthogonalConv2D):
            grid = tuple(n // s for n, s in zip(layer.input.shape[1:3], layer.strides))
            sigma = keras.ops.convert_to_numpy(
                ops.conv_singular_values(layer.orthogonal_kernel(), grid))
            worst = max(worst, float(np.max(np.abs(sigma - 1.0))))
    return worst


def train(model, data, epochs):
    return _digits.train(model, data, epochs, learning_rate=3e-3)


def main(argv=None):
    parser = _digits.parser(__doc__.splitlines()[0], "two small convolutions for 1 epoch on 256 examples",
                            40)
    args, out, data = _digits.parse(parser, argv, NAME)
    blocks, epochs = (((8, 1), (8, 2)), 1) if args.quick else (BLOCKS, args.epochs)

    results = {}
    for kind, builder in (("orthogonal", build_orthogonal), ("baseline", build_baseline)):
        keras.utils.set_random_seed(args.seed)
        model = builder(blocks)
        accuracy, seconds = train(model, data, epochs)
        results[kind] = {"test_accuracy": accuracy, "train_seconds": round(seconds, 1)}
        print(f"{keras.config.backend():10s} {kind:10s} test accuracy {accuracy:.4f} "
              f"({seconds:.1f} s, {epochs} epochs)", flush=True)
        if kind == "orthogonal":
            orthogonal_model = model
    error = orthogonality_error(orthogonal_model)
    print(f"max |sigma - 1| of the orthogonal convolutions: {error:.2e}")
    # The config records the compile settings of training, with jit_compile
    # resolved for the training backend (True on jax), which torch would turn into
    # torch.compile when loading: record backend-neutral ones instead.
    orthogonal_model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                             metrics=["accuracy"], jit_compile=False)
    metadata = zoo.save_preset(
        orthogonal_model, out, name=NAME,
        task="digit classification (scikit-learn digits, 8x8)",
        metric="accuracy", data=DATA, recipe=f"model_zoo/{NAME}/train.py", compile=COMPILE,
        extra={"blocks": [list(b) for b in blocks], "epochs": epochs, "seed": args.seed,
               "train_seconds": results["orthogonal"]["train_seconds"],
               "max_singular_value_error": error,
               "baseline": {"model": "same filters/strides, keras.layers.Conv2D 'same'",
                            **results["baseline"]}},
    )
    print(json.dumps({k: metadata[k] for k in ("name", "metric", "value", "backend")}))
    return results


if __name__ == "__main__":
    main()
