"""Recipe: a CNN of exactly orthogonal convolutions on scikit-learn's digits (preset orthogonal_cnn_digits).

Three `keras_gradstab.layers.OrthogonalConv2D` layers with circular padding
(16 filters; 32 filters at stride 2; 64 filters at stride 2), each followed by
relu, then `Flatten` and a `Dense(10)` head (logits). Every convolution is
orthogonal by construction (column-orthogonal for 1 -> 16 channels,
row-orthogonal after the stride's space-to-depth: 64 -> 32 and 128 -> 64).
The baseline is the same stack with plain `keras.layers.Conv2D` (kernel 3,
"same" zero padding, the same strides and filters), trained with the same
optimizer, schedule, batch size, epochs and seed.

    KERAS_BACKEND=jax python -m model_zoo.orthogonal_cnn_digits.train             # full
    KERAS_BACKEND=jax python -m model_zoo.orthogonal_cnn_digits.train --quick --out /tmp/x

The full run writes the preset to `keras_gradstab/zoo/presets/orthogonal_cnn_digits`
(or `--out DIR`) and prints both test accuracies and the largest |sigma - 1| of
the preset's convolutions.
"""

import keras
import numpy as np

from keras_gradstab import layers, ops
from model_zoo import _digits

NAME = "orthogonal_cnn_digits"
# (filters, strides) of the three convolutions.
BLOCKS = ((16, 1), (32, 2), (64, 2))


def build_orthogonal(blocks=BLOCKS):
    x = inputs = keras.Input((8, 8, 1))
    for i, (filters, strides) in enumerate(blocks):
        x = layers.OrthogonalConv2D(
            filters, 3, strides=strides, padding="circular", name=f"orthogonal_conv_{i}"
        )(x)
        x = keras.layers.Activation("relu", name=f"relu_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(10, name="output")(x)
    return keras.Model(inputs, outputs, name=NAME)


def build_baseline(blocks=BLOCKS):
    x = inputs = keras.Input((8, 8, 1))
    for i, (filters, strides) in enumerate(blocks):
        x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", name=f"conv_{i}")(x)
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
                ops.conv_singular_values(layer.orthogonal_kernel(), grid)
            )
            worst = max(worst, float(np.max(np.abs(sigma - 1.0))))
    return worst


def train(model, data, epochs):
    return _digits.train(model, data, epochs, learning_rate=3e-3)


def main(argv=None):
    args, out = _digits.parse_args(
        __doc__,
        argv,
        name=NAME,
        epochs=40,
        quick_help="two small convolutions for 1 epoch on 256 examples",
    )
    blocks, epochs = (((8, 1), (8, 2)), 1) if args.quick else (BLOCKS, args.epochs)
    results, orthogonal_model = _digits.train_pair(
        {
            "orthogonal": lambda: build_orthogonal(blocks),
            "baseline": lambda: build_baseline(blocks),
        },
        _digits.load_data(args.quick),
        epochs,
        args.seed,
        train,
    )
    error = orthogonality_error(orthogonal_model)
    print(f"max |sigma - 1| of the orthogonal convolutions: {error:.2e}")
    _digits.save(
        orthogonal_model,
        out,
        name=NAME,
        extra={
            "blocks": [list(b) for b in blocks],
            **_digits.run_record(results["orthogonal"], epochs, args.seed),
            "max_singular_value_error": error,
        },
        baseline=_digits.baseline_record(
            "the same filters and strides with keras.layers.Conv2D (kernel 3, 'same' padding)",
            results["baseline"],
            epochs,
            args.seed,
        ),
    )
    return results


if __name__ == "__main__":
    main()
