"""Recipe: a binarized CNN (1W/1A) on scikit-learn's digits with ReSTE, STE and ApproxSign.

As in the ReSTE paper, the first convolution and the last dense layer stay full
precision; every other convolution and the hidden dense layer binarize their
inputs and weights with the same estimator, followed by batch normalization.
ReSTE's `o` follows the paper's cosine schedule from 1 to 3 over the epochs
(`keras_gradstab.callbacks.ReSTESchedule`). Latent weights are clipped to [-1.5, 1.5]
(ReSTE's threshold; 1 for the clipped STE and ApproxSign windows).

Data: `keras_gradstab.datasets.digits(seed=0)` (the split that `zoo.evaluate`
regenerates).

    KERAS_BACKEND=jax python -m model_zoo.reste_bnn_digits.train            # full
    KERAS_BACKEND=jax python -m model_zoo.reste_bnn_digits.train --quick --out /tmp/x

The full run writes the ReSTE model as the zoo preset
`keras_gradstab/zoo/presets/reste_bnn_digits` (`keras_gradstab.zoo.save_preset`,
with the baselines' accuracies in its metadata), the 1-bit packed export
`packed_weights.npz` beside this file (`keras_gradstab.quantizers.pack_binary_weights`,
checked to round-trip to identical predictions) and `results_<backend>.json`.
With `--out DIR` (always in `--quick` mode) everything goes under DIR instead.
"""

import argparse
import json
import os
import tempfile

import keras
import numpy as np

import keras_gradstab as kg
from keras_gradstab.constraints import WeightClip
from keras_gradstab.layers import QuantConv2D, QuantDense
from model_zoo import _digits

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "reste_bnn_digits"
DATA = {"dataset": "digits", "kwargs": {"seed": 0}}
ESTIMATORS = {
    "reste": ("reste", 1.5),
    "ste": ("ste_sign", 1.0),
    "approx_sign": ("approx_sign", 1.0),
}
LOSS = {
    "module": "keras.losses",
    "class_name": "SparseCategoricalCrossentropy",
    "config": {"from_logits": True},
    "registered_name": None,
}


def load_data():
    """`((x_train, y_train), (x_test, y_test))` of `keras_gradstab.datasets.digits`."""
    return getattr(kg.datasets, DATA["dataset"])(**DATA["kwargs"])


def build_model(estimator, width=32):
    """The 1W/1A CNN with every binarized layer using `estimator`'s quantizer."""
    quantizer, clip = ESTIMATORS[estimator]

    def binary(**kwargs):
        return dict(
            input_quantizer=quantizer,
            kernel_quantizer=quantizer,
            kernel_constraint=WeightClip(clip),
            use_bias=False,
            **kwargs,
        )

    bn = keras.layers.BatchNormalization
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Rescaling(2.0, offset=-1.0)(inputs)  # pixels [0, 1] -> [-1, 1]
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)  # full precision
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


def train(estimator, epochs, data, seed=0, batch_size=64, width=32, max_train=None):
    (x_train, y_train), (x_test, y_test) = data
    if max_train is not None:
        x_train, y_train = x_train[:max_train], y_train[:max_train]
    keras.utils.set_random_seed(seed)
    model = build_model(estimator, width=width)
    callbacks = [kg.callbacks.ReSTESchedule(o_end=3.0)] if estimator == "reste" else []
    seconds = _digits.fit(model, x_train, y_train, epochs, batch_size, 3e-3, callbacks)
    accuracy = kg.zoo.presets.measure(model, "accuracy", x_test, y_test)
    return model, accuracy, seconds


BASELINE_MODELS = {
    "ste": "the same BNN with SteSign (clipped straight-through estimator)",
    "approx_sign": "the same BNN with ApproxSign (Bi-Real Net's piecewise-quadratic surrogate)",
}


def baseline_records(results, epochs, seed):
    """The STE and ApproxSign results as the zoo's baseline records (STE first)."""
    trained = (
        f"same data, architecture and loss, Adam with cosine decay from 3e-3, batch 64, "
        f"{epochs} epochs, seed {seed}"
    )
    return [
        {
            "model": BASELINE_MODELS[k],
            "metric": "accuracy",
            "value": results[k]["test_accuracy"],
            "trained": trained,
            "train_seconds": results[k]["train_seconds"],
        }
        for k in ("ste", "approx_sign")
        if k in results
    ]


def export_packed(model, path, width, x_test):
    """Writes the 1-bit packed export and checks that it round-trips.

    Returns sizes (bytes of the packed kernels and of the float32 kernels they
    replace) and whether a fresh model loaded from the file predicts identically.
    """
    packed = kg.quantizers.pack_binary_weights(model, path)
    copy = build_model("reste", width=width)
    kg.quantizers.load_packed_weights(copy, path)
    same = bool(
        np.array_equal(
            keras.ops.convert_to_numpy(model(x_test, training=False)),
            keras.ops.convert_to_numpy(copy(x_test, training=False)),
        )
    )
    bits = sum(v.nbytes for k, v in packed.items() if k.endswith("/bits"))
    scales = sum(v.nbytes for k, v in packed.items() if k.endswith("/scale"))
    float_kernels = 4 * sum(int(np.prod(v)) for k, v in packed.items() if k.endswith("/shape"))
    return {
        "identical_predictions": same,
        "packed_kernel_bytes": bits + scales,
        "float32_kernel_bytes": float_kernels,
        "compression": float_kernels / (bits + scales),
        "file_bytes": os.path.getsize(path),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny model for a few steps; needs --out (or a temp dir)",
    )
    parser.add_argument(
        "--out", default=None, help="write everything here instead of the package / this folder"
    )
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--estimators", nargs="+", default=None, choices=list(ESTIMATORS))
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the initialization and shuffling (the preset: 0)",
    )
    parser.add_argument(
        "--no-preset",
        action="store_true",
        help="do not write the preset (e.g. a baseline-only run)",
    )
    args = parser.parse_args(argv)
    if keras.config.backend() != "torch":
        return run(args)
    # Two intra-op threads on a loaded 2-core machine make every small torch
    # kernel wait on a barrier (torch.exp of 131k floats: 25 ms against 0.4 ms
    # with one thread, measured); one thread is faster here. Restored afterwards.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run(args)
    finally:
        torch.set_num_threads(threads)


def run(args):
    backend = keras.config.backend()
    out = args.out
    if args.quick and out is None:
        out = tempfile.mkdtemp(prefix="reste_bnn_digits_")
    if out is not None:
        os.makedirs(out, exist_ok=True)
    width = 8 if args.quick else 32
    epochs = args.epochs or (1 if args.quick else 30)
    estimators = args.estimators or (["reste"] if args.quick else list(ESTIMATORS))
    max_train = 256 if args.quick else None
    data = load_data()
    results = {}
    models = {}
    for estimator in estimators:
        model, accuracy, seconds = train(
            estimator, epochs, data, seed=args.seed, width=width, max_train=max_train
        )
        models[estimator] = model
        results[estimator] = {"test_accuracy": accuracy, "train_seconds": round(seconds, 1)}
        print(
            f"{backend:10s} {estimator:12s} test accuracy {accuracy:.4f} "
            f"({seconds:.1f} s, {epochs} epochs)",
            flush=True,
        )
    summary = {
        "backend": backend,
        "epochs": epochs,
        "width": width,
        "seed": args.seed,
        "results": results,
    }
    if "reste" in models:
        model = models["reste"]
        packed_dir = out or (tempfile.mkdtemp() if args.no_preset else HERE)
        packed_path = os.path.join(packed_dir, "packed_weights.npz")
        summary["packed"] = export_packed(model, packed_path, width, data[1][0])
        if not args.no_preset:
            preset_dir = (
                os.path.join(out, NAME)
                if out is not None
                else os.path.join(kg.zoo.presets.PRESETS_DIR, NAME)
            )
            records = baseline_records(results, epochs, args.seed)
            # An uncompiled copy: a compiled model's config carries its compile
            # settings (jit_compile=True on JAX), which torch would turn into
            # torch.compile when the preset is loaded (minutes instead of seconds).
            plain = build_model("reste", width=width)
            plain.set_weights(model.get_weights())
            metadata = kg.zoo.save_preset(
                plain,
                preset_dir,
                name=NAME,
                task="digits classification, binarized CNN (1W/1A), ReSTE",
                metric="accuracy",
                data=DATA,
                recipe=f"model_zoo/{NAME}/train.py",
                compile={"loss": LOSS, "metrics": ["accuracy"]},
                baseline=records[0]
                if records
                else {"none": "not trained in this run (estimators: reste only)"},
                more_baselines=records[1:] or None,
                extra={
                    "epochs": epochs,
                    "seed": args.seed,
                    "estimator": "reste (o: 1 -> 3, cosine per epoch)",
                    "train_seconds": results["reste"]["train_seconds"],
                },
            )
            summary["preset"] = {"directory": preset_dir, "value": metadata["value"]}
    with open(os.path.join(out or HERE, f"results_{backend}.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
