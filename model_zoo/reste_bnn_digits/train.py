"""Recipe: a binarized CNN (1W/1A) on scikit-learn's digits with ReSTE, STE and ApproxSign.

As in the ReSTE paper, the first convolution and the last dense layer stay full
precision; every other convolution and the hidden dense layer binarize their
inputs and weights with the same estimator, followed by batch normalization.
ReSTE's `o` follows the paper's cosine schedule from 1 to 3 over the epochs
(`keras_gradstab.callbacks.ReSTESchedule`). Latent weights are clipped to [-1.5, 1.5]
(ReSTE's threshold; 1 for the clipped STE and ApproxSign windows).

    KERAS_BACKEND=jax python model_zoo/reste_bnn_digits/train.py            # full
    KERAS_BACKEND=jax python model_zoo/reste_bnn_digits/train.py --quick    # smoke run

Writes `results_<backend>.json` (test accuracy per estimator) next to this file
and, in full mode, the ReSTE model: `config.json`, `packed_weights.npz` (1-bit
kernels and float32 rest, `keras_gradstab.quantizers.pack_binary_weights`; load with
`load_packed_weights(build_model("reste"), path)`) and `metadata.json`.
"""

import argparse
import hashlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # the checkout's package

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_gradstab as kg  # noqa: E402
from keras_gradstab.constraints import WeightClip  # noqa: E402
from keras_gradstab.layers import QuantConv2D, QuantDense  # noqa: E402

ESTIMATORS = {
    "reste": ("reste", 1.5),
    "ste": ("ste_sign", 1.0),
    "approx_sign": ("approx_sign", 1.0),
}


def load_data(seed=0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype("float32") / 16.0 - 0.5) * 2.0
    x = x[..., None]
    y = digits.target.astype("int32")
    return train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)


def build_model(estimator, width=32):
    quantizer, clip = ESTIMATORS[estimator]

    def binary(**kwargs):
        return dict(input_quantizer=quantizer, kernel_quantizer=quantizer,
                    kernel_constraint=WeightClip(clip), use_bias=False, **kwargs)

    bn = keras.layers.BatchNormalization
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(inputs)  # full precision
    x = bn()(x)
    x = QuantConv2D(width, 3, padding="same", pad_values=1.0, **binary())(x)
    x = bn()(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = QuantConv2D(2 * width, 3, padding="same", pad_values=1.0, **binary())(x)
    x = bn()(x)
    x = QuantConv2D(2 * width, 3, padding="same", pad_values=1.0, **binary())(x)
    x = bn()(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = QuantDense(4 * width, **binary())(x)
    x = bn()(x)
    outputs = keras.layers.Dense(10)(x)  # full precision
    return keras.Model(inputs, outputs, name=f"bnn_digits_{estimator}")


def train(estimator, epochs, data, seed=0, batch_size=64):
    x_train, x_test, y_train, y_test = data
    keras.utils.set_random_seed(seed)
    model = build_model(estimator)
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(3e-3, steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    callbacks = [kg.callbacks.ReSTESchedule(o_end=3.0)] if estimator == "reste" else []
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0,
              callbacks=callbacks, shuffle=True)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return model, float(accuracy), seconds


def save_preset(model, results, epochs):
    config_path = os.path.join(HERE, "config.json")
    with open(config_path, "w") as f:
        json.dump(keras.saving.serialize_keras_object(model), f, indent=1)
    # The 1-bit packed file is the shipped weights (~30 KB; model.weights.h5 is ~1.3 MB).
    packed_path = os.path.join(HERE, "packed_weights.npz")
    kg.quantizers.pack_binary_weights(model, packed_path)

    def sha256(path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    metadata = {
        "keras_version": keras.__version__,
        "keras_gradstab_version": kg.__version__,
        "backend": keras.config.backend(),
        "dataset": "sklearn.datasets.load_digits, 80/20 stratified split, random_state=0",
        "epochs": epochs,
        "estimator": "reste (o: 1 -> 3, cosine per epoch)",
        "test_accuracy": results["reste"]["test_accuracy"],
        "baselines": {k: v["test_accuracy"] for k, v in results.items() if k != "reste"},
        "files": {
            os.path.basename(p): sha256(p) for p in (config_path, packed_path)
        },
    }
    with open(os.path.join(HERE, "metadata.json"), "w") as f:
        json.dump(metadata, f, indent=1)


def check():
    """Test accuracy of the shipped packed ReSTE weights on this backend."""
    _, x_test, _, y_test = load_data()
    model = build_model("reste")
    kg.quantizers.load_packed_weights(model, os.path.join(HERE, "packed_weights.npz"))
    predictions = np.argmax(model.predict(x_test, verbose=0), axis=-1)
    accuracy = float(np.mean(predictions == y_test))
    print(f"{keras.config.backend():10s} shipped packed weights: test accuracy {accuracy:.4f}")
    return accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs, no preset files")
    parser.add_argument("--no-preset", action="store_true",
                        help="do not overwrite the shipped preset files")
    parser.add_argument("--check", action="store_true",
                        help="load the shipped packed weights and print their test accuracy")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS),
                        choices=list(ESTIMATORS))
    args = parser.parse_args(argv)
    if args.check:
        return check()
    epochs = args.epochs or (2 if args.quick else 40)
    data = load_data()
    results = {}
    models = {}
    for estimator in args.estimators:
        model, accuracy, seconds = train(estimator, epochs, data)
        models[estimator] = model
        results[estimator] = {"test_accuracy": accuracy, "train_seconds": seconds}
        print(f"{keras.config.backend():10s} {estimator:12s} test accuracy {accuracy:.4f} "
              f"({seconds:.1f} s, {epochs} epochs)", flush=True)
    suffix = "_quick" if args.quick else ""
    with open(os.path.join(HERE, f"results_{keras.config.backend()}{suffix}.json"), "w") as f:
        json.dump({"epochs": epochs, "results": results}, f, indent=1)
    if not args.quick and not args.no_preset and "reste" in models:
        save_preset(models["reste"], results, epochs)
    return results


if __name__ == "__main__":
    main()
