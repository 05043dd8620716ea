"""Recipe: a 16-layer self-normalizing MLP on scikit-learn's digits (preset snn_mlp_digits).

The model is `keras_gradstab.models.snn`: a `Normalization` layer adapted on the
training images (standardized inputs), 16 hidden `Dense(64)` layers with selu and
lecun_normal, `AlphaDropout(0.05)` after each, and a `Dense(10)` head (logits).
The baseline is the same stack with relu, he_normal and `BatchNormalization`
after each hidden layer (the usual way to train a deep plain MLP), trained with
the same optimizer, schedule, batch size, epochs and seed.

    KERAS_BACKEND=jax python model_zoo/snn_mlp_digits/train.py             # full
    KERAS_BACKEND=jax python model_zoo/snn_mlp_digits/train.py --quick --out /tmp/x

The full run writes the preset to `keras_gradstab/zoo/presets/snn_mlp_digits`
(or `--out DIR`) and prints both test accuracies.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)  # the checkout's package

import keras  # noqa: E402

from keras_gradstab import zoo  # noqa: E402
from keras_gradstab.models import snn  # noqa: E402
from model_zoo import _digits  # noqa: E402
from model_zoo._digits import COMPILE, DATA  # noqa: E402

NAME = "snn_mlp_digits"


def build_snn(depth=16, units=64, dropout_rate=0.05):
    return snn((8, 8, 1), units=units, depth=depth, output_units=10,
               dropout_rate=dropout_rate, standardize=True, name=NAME)


def build_baseline(depth=16, units=64):
    """The same depth and width, relu + he_normal + BatchNormalization, no SNN parts."""
    layers = [keras.Input((8, 8, 1)), keras.layers.Normalization(name="standardize"),
              keras.layers.Flatten(name="flatten")]
    for i in range(depth):
        layers += [keras.layers.Dense(units, kernel_initializer="he_normal", name=f"dense_{i}"),
                   keras.layers.BatchNormalization(name=f"batch_norm_{i}"),
                   keras.layers.Activation("relu", name=f"relu_{i}")]
    layers.append(keras.layers.Dense(10, name="output"))
    return keras.Sequential(layers, name="relu_bn_mlp_digits")


def train(model, data, epochs):
    model.get_layer("standardize").adapt(data[0][0])
    return _digits.train(model, data, epochs, learning_rate=1e-3)


def main(argv=None):
    parser = _digits.parser(__doc__.splitlines()[0], "a 4-layer model for 1 epoch on 256 examples",
                            60)
    args, out, data = _digits.parse(parser, argv, NAME)
    depth, epochs = (4, 1) if args.quick else (16, args.epochs)

    results = {}
    for kind, builder in (("snn", build_snn), ("baseline", build_baseline)):
        keras.utils.set_random_seed(args.seed)
        model = builder(depth=depth)
        accuracy, seconds = train(model, data, epochs)
        results[kind] = {"test_accuracy": accuracy, "train_seconds": round(seconds, 1)}
        print(f"{keras.config.backend():10s} {kind:9s} test accuracy {accuracy:.4f} "
              f"({seconds:.1f} s, {epochs} epochs)", flush=True)
        if kind == "snn":
            snn_model = model
    # The config records the compile settings of training, with jit_compile
    # resolved for the training backend (True on jax), which torch would turn into
    # torch.compile when loading: record backend-neutral ones instead.
    snn_model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                             metrics=["accuracy"], jit_compile=False)
    metadata = zoo.save_preset(
        snn_model, out, name=NAME,
        task="digit classification (scikit-learn digits, 8x8)",
        metric="accuracy", data=DATA, recipe=f"model_zoo/{NAME}/train.py", compile=COMPILE,
        extra={"depth": depth, "units": 64, "epochs": epochs, "seed": args.seed,
               "train_seconds": results["snn"]["train_seconds"],
               "baseline": {"model": "same depth/width, relu + he_normal + BatchNorm",
                            **results["baseline"]}},
    )
    print(json.dumps({k: metadata[k] for k in ("name", "metric", "value", "backend")}))
    return results


if __name__ == "__main__":
    main()
